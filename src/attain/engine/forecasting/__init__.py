"""Forecasting calculations: time-series forecasts with backtests, reconciliation, and pipeline
forecasts. Django-free like the rest of `attain.engine`; numbers are floats inside the models and
leave the engine as decimals rounded to cents (`timeseries.to_arrow`).
"""
