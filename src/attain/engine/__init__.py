"""attain.engine: Django-free calculations on logical tables (Ibis), run by DuckDB or Spark.

The engine imports neither Django nor any other `attain` package (import-linter checks it). An app
hands it Arrow tables (`schemas`), picks a backend (`backends.connect`), calls a calculation
(`calculations`) and gets Arrow back; `run` gives the version and inputs hash a run records.
"""
