"""Forecasts (statistical and pipeline), forecast calls rolled up the hierarchy, accuracy."""
