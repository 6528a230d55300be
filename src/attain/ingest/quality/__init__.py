"""Data quality: findings for sales operations (duplicates, stale or incomplete records, name
variants), a score per category over time, and the audited fixes (merge accounts, reassign).

`engine_io` snapshots the CRM and runs `attain.engine.calculations.data_quality`; `actions` holds
every write (runs, merges, reassignments); `queries` the reads of stored runs for pages and API.
"""
