from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "attain.people"
    label = "people"
