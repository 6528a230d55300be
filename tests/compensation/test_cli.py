"""`attain comp plan-import | statement` (the run is covered by test_run_compensation)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from attain.compensation.models import CompPlan, PlanVersion
from tests.compensation.plans import FLAT_8, GAPPED, org
from tests.compensation.stored import quarter, stored_run

pytestmark = pytest.mark.django_db


def test_plan_import_creates_then_versions_a_plan_with_its_diff(tmp_path):
    path = tmp_path / "ae.yaml"
    path.write_text(FLAT_8)
    out = StringIO()
    call_command("comp", "plan-import", str(path), "--from", "2026-01-01", "--publish",
                 stdout=out)
    assert "AE flat v1 (published), in force from 2026-01-01." in out.getvalue()
    path.write_text(FLAT_8.replace('"8%"', '"9%"'))
    out = StringIO()
    call_command("comp", "plan-import", str(path), "--from", "2026-07-01", "--publish",
                 stdout=out)
    assert "AE flat v2 (published)" in out.getvalue()
    assert 'components[0] "Commission" rate: 8% → 9%' in out.getvalue()
    assert PlanVersion.objects.filter(plan__name="AE flat").count() == 2


def test_plan_import_of_invalid_text_names_path_and_line_and_writes_nothing(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(GAPPED)
    with pytest.raises(CommandError) as refused:
        call_command("comp", "plan-import", str(path))
    assert "components[0].tiers.bands[1].from (line 13)" in str(refused.value)
    assert CompPlan.objects.count() == 0


def test_statement_prints_lines_and_payout():
    people = org()
    stored_run(quarter(), {people["ann"].pk: "800.00"})
    out = StringIO()
    call_command("comp", "statement", people["ann"].external_id, "2026-Q1", stdout=out)
    text = out.getvalue()
    assert "Statement of ann" in text and "FY2026-Q1" in text
    assert "Payout" in text and "800.00 USD" in text


def test_unknown_period_is_refused():
    with pytest.raises(CommandError, match="No period '2031-Q9'"):
        call_command("comp", "run", "--period", "2031-Q9")
