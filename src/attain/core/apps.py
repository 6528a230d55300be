from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "attain.core"
    label = "core"
    verbose_name = "Core"
