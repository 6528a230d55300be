"""What an import keeps across the whole file (`ingest.spill`, ADR 0012) behaves as a dict whether
or not it spilled to the temporary store, and an import beyond the memory limits reads as one
within them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from attain.crm.models import Opportunity
from attain.ingest import loading
from attain.ingest.models import ImportJob
from attain.ingest.spill import SpillMap
from tests.ingest.conftest import run_file


def test_a_spill_map_reads_as_a_dict_after_spilling():
    """Limit 4: the fifth key moves the oldest 3 (5 - 4 // 2) to the store."""
    spilled = SpillMap(4, order=lambda value: value[0])
    for row, key in enumerate(["a", "b", "c", "d", "e"], start=2):
        spilled[key] = [row]

    assert spilled.spilled and len(spilled.memory) == 2 and len(spilled) == 5
    found = spilled.get("a")
    found.append("changed")  # moved back to memory: changed in place, as a held record is
    assert spilled.get("a") == [2, "changed"]
    assert spilled.get("zz") is None and "zz" not in spilled and "b" in spilled
    spilled["c"] = [4, "again"]  # a stored key set anew replaces its stored value
    assert len(spilled) == 5
    # every value once, by `order` (the first row), whatever moved where
    assert list(spilled.values_in_order()) == [[2, "changed"], [3], [4, "again"], [5], [6]]
    spilled.clear()
    assert len(spilled) == 0 and not spilled.spilled


def test_a_spill_map_as_a_set_and_with_other_keys():
    keys = SpillMap(2)
    for key in ["x", "y", "z", "x"]:
        keys.add(key)
    assert all(k in keys for k in "xyz") and "w" not in keys and len(keys) == 3

    tuples = SpillMap(2)  # tuple keys are never stored (their pickles need not be equal)
    for n in range(5):
        tuples[(str(n), n)] = n
    assert not tuples.spilled and tuples.get(("3", 3)) == 3


@pytest.mark.django_db
def test_order_lines_beyond_the_memory_limits_import_as_within_them(crm, tmp_path,
                                                                     monkeypatch):
    """Nine order lines, three per order, imported with held records, seen keys and referenced
    keys limited to 2 in memory (so most go through the temporary store): the orders sum as in
    memory — order CA-2's lines 10.00 + 20.00 + 30.00 = 60.00 — and a repeated line id is still
    a duplicate, reported on its row."""
    monkeypatch.setattr(loading, "HELD_LIMIT", 2)
    monkeypatch.setattr(loading, "KEYS_LIMIT", 2)
    header = ("Row ID,Order ID,Order Date,Ship Date,Ship Mode,Customer ID,Customer Name,"
              "Segment,Country,City,State,Postal Code,Region,Product ID,Category,"
              "Sub-Category,Product Name,Sales,Quantity,Discount,Profit\n")

    def line(row: int, order: int, sales: str) -> str:
        return (f"{row},CA-{order},11/8/2025,11/11/2025,Second Class,CG-{order},Customer "
                f"{order},Consumer,United States,Henderson,Kentucky,42420,South,P-{row % 4},"
                f"Furniture,Chairs,Chair {row % 4},{sales},2,0,1.5\n")

    lines = [line(row, (row - 1) // 3 + 1, f"{10 * ((row - 1) % 3 + 1)}.00")
             for row in range(1, 10)]
    path = tmp_path / "orders.csv"
    path.write_text(header + "".join(lines), encoding="utf-8")

    job = run_file("", "superstore", path=path)

    assert job.status == ImportJob.Status.SUCCEEDED, job.problems
    assert {o.external_id: o.amount for o in Opportunity.objects.filter(
        external_id__startswith="CA-")} == {f"CA-{n}": Decimal("60.00") for n in (1, 2, 3)}
    assert job.counts["booking"]["created"] == 9

    path.write_text(header + "".join(lines) + line(4, 9, "1.00"), encoding="utf-8")
    again = run_file("", "superstore", path=path)
    assert again.status == ImportJob.Status.REJECTED
    assert [(p["row"], p["value"], p["reason"]) for p in again.problems
            if p["severity"] == "error"] == [
        (11, "4", "duplicate id '4' in the file (first on row 5)")]
