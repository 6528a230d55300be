from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "attain.crm"
    label = "crm"
