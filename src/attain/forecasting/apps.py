from django.apps import AppConfig


class ForecastingConfig(AppConfig):
    name = "attain.forecasting"
    label = "forecasting"
