"""The people table's order (`performance.queries.ATTAINMENT_ORDER`: attainment descending with
people without a quota last, then bookings descending) as an index, so that a page of 50 of a
10,000-rep company reads about 50 rows instead of sorting them all.

Written per database: PostgreSQL sorts NULLs first in a descending index unless told
`NULLS LAST`; SQLite refuses the words in an index, and its descending order already puts NULLs
last."""

from django.db import migrations

TABLE = "performance_personperiodperformance"
NAME = "person_performance_rank"


def create(apps, schema_editor):
    nulls = " NULLS LAST" if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f'CREATE INDEX "{NAME}" ON "{TABLE}" '
                          f'("run_id", "period_id", "attainment_pct" DESC{nulls}, "bookings" DESC)')


def drop(apps, schema_editor):
    schema_editor.execute(f'DROP INDEX "{NAME}"')


class Migration(migrations.Migration):

    dependencies = [
        ("performance", "0005_trend_sums_index"),
    ]

    operations = [migrations.RunPython(create, drop)]
