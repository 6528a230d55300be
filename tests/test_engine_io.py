"""core.engine_io.snapshot: instants read into date columns become the company's calendar days."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from django.utils import timezone

from attain.core.engine_io import business_day, snapshot
from attain.crm.models import Opportunity
from attain.engine.schemas import LogicalTable
from tests.factories import make_opportunity, make_person

pytestmark = pytest.mark.django_db

DAYS = LogicalTable("days", pa.schema([pa.field("id", pa.int64(), nullable=False),
                                       pa.field("created_on", pa.date32())]), key=("id",))


def created_days(zone: str, batch_size: int = 2) -> list[date]:
    rows = (Opportunity.objects.order_by("created_at")
            .values("id", created_on=business_day("created_at")))
    with timezone.override(ZoneInfo(zone)):
        table = snapshot(rows, DAYS, batch_size=batch_size)
    return table.column("created_on").to_pylist()


def test_instants_become_the_company_calendar_day_across_daylight_saving():
    """Berlin is UTC+1 in winter and UTC+2 in summer (from 2026-03-29 01:00 UTC to
    2026-10-25 01:00 UTC). By hand:
      2026-03-28 22:30 UTC = 23:30 CET   → 28 March
      2026-03-29 22:30 UTC = 00:30 CEST  → 30 March (22:30 would still be the 29th in winter)
      2026-10-24 22:30 UTC = 00:30 CEST  → 25 October
      2026-10-25 22:30 UTC = 23:30 CET   → 25 October (the day after the clocks went back)
      2026-01-05 03:00 UTC = 04:00 CET   → 5 January
    In UTC every one of them stays on its UTC day; in Los Angeles (UTC-8 in January, UTC-7 from
    8 March) 2026-01-05 03:00 UTC is 19:00 on 4 January and the evenings stay on their day."""
    ann = make_person("ann")
    for month, day, hour, minute in ((1, 5, 3, 0), (3, 28, 22, 30), (3, 29, 22, 30),
                                     (10, 24, 22, 30), (10, 25, 22, 30)):
        make_opportunity(ann, created_at=datetime(2026, month, day, hour, minute, tzinfo=UTC))

    assert created_days("Europe/Berlin") == [date(2026, 1, 5), date(2026, 3, 28),
                                             date(2026, 3, 30), date(2026, 10, 25),
                                             date(2026, 10, 25)]
    assert created_days("UTC") == [date(2026, 1, 5), date(2026, 3, 28), date(2026, 3, 29),
                                   date(2026, 10, 24), date(2026, 10, 25)]
    assert created_days("America/Los_Angeles", batch_size=3) == [
        date(2026, 1, 4), date(2026, 3, 28), date(2026, 3, 29), date(2026, 10, 24),
        date(2026, 10, 25)]


MIXED = LogicalTable("mixed", pa.schema([
    pa.field("id", pa.int64(), nullable=False), pa.field("name", pa.string()),
    pa.field("source", pa.string()), pa.field("owner_id", pa.int64()),
    pa.field("amount", pa.decimal128(18, 2)), pa.field("is_won", pa.bool_()),
    pa.field("close_date", pa.date32())]), key=("id",))


def test_text_nulls_booleans_decimals_and_dates_keep_their_values():
    """Whatever the database (CSV through COPY on PostgreSQL, the cursor on SQLite): a name
    with a comma, quotes and a line break stays whole; an empty text stays empty (not null);
    a null owner and a null amount stay null; booleans and exact decimals keep their values."""
    from attain.core.engine_io import as_text
    from tests.factories import make_stage

    ann = make_person("ann")
    won = make_stage()
    first = make_opportunity(ann, "1234.56", name='Acme, "the big one"\nphase 2',
                             source="", stage=won, is_won=True, close_date=date(2026, 2, 28))
    second = make_opportunity(None, "0.01", name="", source="Web",
                              stage=make_stage("Prospecting", 1, won=False, probability="10"),
                              close_date=date(2026, 3, 1))
    second.amount = None
    second.save()
    rows = Opportunity.objects.order_by("id").values_list(
        "id", "name", "source", "owner_id", as_text("amount"), "is_won", "close_date")

    table = snapshot(rows, MIXED, batch_size=1)

    assert table.to_pylist() == [
        {"id": first.pk, "name": 'Acme, "the big one"\nphase 2', "source": "",
         "owner_id": ann.pk, "amount": first.amount, "is_won": True,
         "close_date": date(2026, 2, 28)},
        {"id": second.pk, "name": "", "source": "Web", "owner_id": None, "amount": None,
         "is_won": False, "close_date": date(2026, 3, 1)}]
    assert len(table.to_batches()) == 2


def test_an_empty_query_gives_an_empty_table_of_the_schema():
    table = snapshot(Opportunity.objects.values_list("id", "created_at"), DAYS)

    assert table.num_rows == 0 and table.schema.equals(DAYS.schema)


@pytest.mark.django_db(transaction=True)
def test_after_a_bulk_write_postgresql_gets_fresh_statistics():
    """`refresh_statistics` outside a transaction: PostgreSQL vacuums and analyzes the table at
    once (so a fresh run's rows are planned with real counts); SQLite is left alone."""
    from django.db import connection

    from attain.core.bulk_write import refresh_statistics
    from attain.people.models import Person

    make_person("ann")
    refresh_statistics([Person])

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT last_vacuum IS NOT NULL, last_analyze IS NOT NULL "
                       "FROM pg_stat_user_tables WHERE relname = %s", ["people_person"])
        assert cursor.fetchone() == (True, True)
