from django.apps import AppConfig


class PerformanceConfig(AppConfig):
    name = "attain.performance"
    label = "performance"
