"""The shortcuts of the import's hot loop (ADR 0012, addendum) read exactly what the general code
reads: per-column readers agree with `read_value` (values and problems), and a repeated order
line read through the shortcut still sums, warns and errs as a full reading does."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attain.crm.models import Account, Booking, Opportunity
from attain.ingest import entities as ent
from attain.ingest import parsing
from attain.ingest.loading import Context, ProblemLog
from attain.ingest.mappings import BUILTINS
from attain.ingest.models import ImportJob
from tests.ingest.conftest import database_state, run_file

# Texts close to what the readers accept, and arbitrary ones.
TEXTS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "true", "FALSE", "yes", "0", "usd", "EUR", "Germany", "uk",
                     "Enterprise", "smb", "2026-03-15", "3/15/2026", "15/3/2026",
                     "2026-03-15T10:00:00+0200", "1,234.50", "(12.5)", "€ 12,50", "-3",
                     "1e5", "12.345", "x@y.z", "nobody", "a" * 300]),
    st.from_regex(r"-?\d{1,6}(\.\d{1,3})?", fullmatch=True),
)
SPECS = [spec for entity in ent.ENTITIES.values() for spec in entity.fields]


def outcome(read, text):
    try:
        return "value", read(text)
    except parsing.ValueProblem as problem:
        return "problem", str(problem)


@pytest.mark.django_db
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=st.sampled_from(SPECS), text=TEXTS, twice=st.booleans())
def test_a_column_reader_reads_every_text_as_read_value_does(spec, text, twice):
    def context() -> Context:
        return Context(BUILTINS["salesforce-opportunities"], problems=ProblemLog(),
                       exported_at=datetime(2026, 3, 1, tzinfo=UTC))

    read = ent.value_reader(spec, context())
    if twice:  # a second reading comes from the column's memory of words and dates
        outcome(read, text)
    fresh = context()  # its own date cache: nothing shared with the reader's
    assert outcome(read, text) == outcome(lambda t: ent.read_value(spec, t, fresh), text)


HEADER = ("Row ID,Order ID,Order Date,Ship Date,Ship Mode,Customer ID,Customer Name,Segment,"
          "Country,City,State,Postal Code,Region,Product ID,Category,Sub-Category,Product Name,"
          "Sales,Quantity,Discount,Profit\n")


def line(row: int, order: str, customer_name: str, sales: str) -> str:
    return (f"{row},{order},11/8/2025,11/11/2025,Second Class,CG-1,{customer_name},Consumer,"
            f"United States,Henderson,Kentucky,42420,South,P-{row},Furniture,Chairs,"
            f"Chair {row},{sales},2,0,1.5\n")


def write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    return path


def test_repeated_lines_sum_and_a_differing_line_still_warns(crm, tmp_path):
    path = write(tmp_path, [
        line(1, "CA-1", "Claire Gute", "100.10"),
        line(2, "CA-1", "Claire Gute", "200.20"),   # same cells as row 2 of the file
        line(3, "CA-1", "Claire Gute", "300.30"),   # same again
        line(4, "CA-1", "Claire G.", "0.40"),       # another customer name: read in full
    ])

    job = run_file("", "superstore", path=path)

    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    # 100.10 + 200.20 + 300.30 + 0.40 = 601.00
    assert Opportunity.objects.get(external_id="CA-1").amount == Decimal("601.00")
    assert Booking.objects.count() == 4
    assert Account.objects.get(external_id="CG-1").name == "Claire Gute"  # row 2's is kept
    assert [(p["severity"], p["row"], p["column"], p["value"]) for p in job.problems] == [
        ("warning", 5, "Customer Name", "Claire G.")]


def test_a_bad_amount_on_a_repeated_line_is_an_error_and_nothing_is_written(crm, tmp_path):
    path = write(tmp_path, [
        line(1, "CA-1", "Claire Gute", "100.10"),
        line(2, "CA-1", "Claire Gute", "n/a"),  # not an amount
    ])
    before = database_state()

    job = run_file("", "superstore", path=path)

    assert job.status == ImportJob.Status.REJECTED
    assert database_state() == before
    errors = {(p["row"], p["column"], p["value"]) for p in job.problems
              if p["severity"] == "error"}
    # read by the opportunity target (summed) and the booking target: both name row 3
    assert errors == {(3, "Sales", "n/a")}
