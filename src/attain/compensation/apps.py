from django.apps import AppConfig


class CompensationConfig(AppConfig):
    name = "attain.compensation"
    label = "compensation"
