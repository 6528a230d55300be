"""Calculations: pure functions from logical tables (Ibis) to Ibis expressions."""
