"""`attain demo --no-serve`: loads the organisation once, materialises every page's results,
runs one compensation period, queues the forecast, prints the logins; a second call reuses what
exists."""

from io import StringIO

import pytest
from django.core.management import call_command

from attain.core.models import CalcRun
from attain.people.models import Person

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_loads_calculates_and_prints_logins_then_reuses():
    out = StringIO()
    call_command("demo", scale="tiny", no_serve=True, stdout=out)

    finished = dict(CalcRun.objects.exclude(kind="forecast").values_list("kind", "status"))
    assert finished == {"bookings_by_person_period": "succeeded", "performance": "succeeded",
                        "pipeline_analytics": "succeeded", "data_quality": "succeeded",
                        "compensation": "succeeded"}
    assert list(CalcRun.objects.filter(kind="forecast").values_list("status", flat=True)) == [
        "queued"]
    text = out.getvalue()
    for username in ("ops", "finance", "exec", "manager", "rep"):
        assert f"  {username} " in text
    people = Person.objects.count()

    again = StringIO()
    call_command("demo", scale="tiny", no_serve=True, stdout=again)

    assert "already loaded" in again.getvalue()
    assert Person.objects.count() == people
    assert CalcRun.objects.count() == 6
