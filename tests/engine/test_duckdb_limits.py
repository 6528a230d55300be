"""DuckDB runs under the memory limit and spill directory the environment gives it."""

import duckdb

from attain.engine.backends import connect


def settings_of(backend):
    return backend._ibis.con.sql(
        "SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchall()[0]


def as_duckdb_shows(megabytes: int) -> str:
    """How DuckDB itself shows a limit set in MB (it prints MiB/GiB)."""
    plain = duckdb.connect()
    plain.execute(f"SET memory_limit = '{megabytes}MB'")
    return plain.sql("SELECT current_setting('memory_limit')").fetchall()[0][0]


def test_the_limit_and_spill_directory_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ATTAIN_ENGINE_MEMORY_MB", "1024")
    monkeypatch.setenv("ATTAIN_ENGINE_TEMP_DIR", str(tmp_path / "spill"))

    with connect("duckdb") as backend:
        assert settings_of(backend) == (as_duckdb_shows(1024), str(tmp_path / "spill"))


def test_without_a_limit_duckdb_keeps_its_own_default(monkeypatch):
    monkeypatch.delenv("ATTAIN_ENGINE_MEMORY_MB", raising=False)
    monkeypatch.delenv("ATTAIN_ENGINE_TEMP_DIR", raising=False)

    with connect("duckdb") as backend:
        limit, spill = settings_of(backend)

    plain = duckdb.connect().sql("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert limit == plain
    assert spill.endswith("attain-engine")
