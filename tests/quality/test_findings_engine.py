"""The data-quality calculation on hand-built dirty tables, on every backend: exactly the
findings worked out in `tests/quality/engine_inputs.py`, nothing more."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from attain.engine.calculations.data_quality import compute_findings, light_key, strong_key
from attain.engine.schemas import DQ_FINDINGS
from tests.quality.engine_inputs import AS_OF, EXPECTED, dirty_inputs


def _keys(table: pa.Table) -> set[tuple]:
    return {(r["check"], r["object_type"], r["object_id"], r["group_key"], r["number"])
            for r in table.to_pylist()}


def test_dirty_tables_give_exactly_the_known_findings(backend):
    result = compute_findings(backend, dirty_inputs(), AS_OF)
    assert result.schema.equals(DQ_FINDINGS.schema)
    assert _keys(result) == EXPECTED
    assert result.num_rows == len(EXPECTED)


def test_findings_carry_the_record_label_owner_and_detail(backend):
    rows = {(r["check"], r["object_id"]): r
            for r in compute_findings(backend, dirty_inputs(), AS_OF).to_pylist()}
    regression = rows[("stage_regression", 106)]
    assert (regression["label"], regression["owner_id"], regression["day"],
            regression["note"]) == ("Backwards", 10, date(2026, 5, 1), "Negotiation → Discovery")
    gone = rows[("inactive_owner", 103)]
    assert (gone["owner_id"], gone["day"], gone["note"]) == (11, date(2026, 6, 1), "leo")
    assert rows[("stale_opportunity", 106)]["day"] == date(2026, 5, 1)


def test_a_higher_stale_threshold_keeps_only_older_deals(backend):
    result = compute_findings(backend, dirty_inputs(), AS_OF, min_stale_days=61)
    stale = {r["object_id"] for r in result.to_pylist() if r["check"] == "stale_opportunity"}
    assert stale == {103}  # 171 idle days; 106 has 60


def test_a_clean_snapshot_has_no_findings(backend):
    clean = {name: table.slice(0, 0) for name, table in dirty_inputs().items()}
    assert compute_findings(backend, clean, AS_OF).num_rows == 0


def test_stale_threshold_below_one_day_is_refused(backend):
    with pytest.raises(ValueError, match="min_stale_days"):
        compute_findings(backend, dirty_inputs(), AS_OF, min_stale_days=0)


@pytest.mark.parametrize(("name", "light", "strong"), [
    ("ACME,  Inc.", "acme inc", "acme"),
    ("Müller & Söhne GmbH", "müller söhne gmbh", "müller söhne"),
    ("  Globex Co. Ltd ", "globex co ltd", "globex"),
    ("Initech", "initech", "initech"),
])
def test_names_are_normalised_the_same_way_on_every_backend(backend, name, light, strong):
    from attain.engine.schemas import DQ_PRODUCTS

    products = backend.table("dq_products", pa.table(
        {"product_id": [1], "name": [name]}, schema=DQ_PRODUCTS.schema))
    expr = products.select(light=light_key(products.name), strong=strong_key(products.name))
    assert backend.execute(expr).to_pylist() == [{"light": light, "strong": strong}]
