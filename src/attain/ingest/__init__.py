"""Imports of CRM exports and spreadsheets, column mappings, data quality."""
