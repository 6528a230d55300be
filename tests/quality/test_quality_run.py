"""A data-quality run over the dirty CRM of `tests/quality/dirty.py`: the stored findings are
exactly the known ones, the scores are those worked out by hand, and the run is recorded."""

from __future__ import annotations

from decimal import Decimal

import pytest

from attain.core.models import AuditEvent, CalcRun
from attain.ingest.models import QualityFinding, QualityScore
from attain.ingest.quality import actions, engine_io, queries
from attain.ingest.quality.tasks import run_quality_task
from tests.quality.dirty import AS_OF, build_dirty

pytestmark = pytest.mark.django_db


@pytest.fixture
def dirty():
    return build_dirty()


def _stored(run) -> set[tuple]:
    return {(f.check_name, f.object_type, f.object_id,
             "change" if f.group_key.startswith("change:") else f.group_key, f.number)
            for f in QualityFinding.objects.filter(run=run)}


def test_run_stores_exactly_the_known_findings(dirty):
    run = actions.run_quality_check(dirty.people["olga"].user, as_of=AS_OF)
    assert run.status == CalcRun.Status.SUCCEEDED, run.error
    assert _stored(run) == dirty.expected()
    assert run.output_rows == 22


def test_scores_are_the_ones_worked_out_by_hand(dirty):
    run = actions.run_quality_check(None, as_of=AS_OF)
    got = {s.category: (s.checked, s.flagged, s.findings, s.score)
           for s in QualityScore.objects.filter(run=run)}
    assert got == {
        "accounts": (8, 5, 7, Decimal("37.50")),       # 100 x (1 - 5/8)
        "opportunities": (8, 6, 9, Decimal("25.00")),  # 100 x (1 - 6/8)
        "bookings": (2, 1, 1, Decimal("50.00")),       # 100 x (1 - 1/2)
        "names": (14, 4, 4, Decimal("71.43")),         # 100 x (1 - 4/14) = 71.428…
        "overall": (32, 16, 21, Decimal("50.00")),     # 100 x (1 - 16/32)
    }


def test_a_lower_stale_threshold_counts_the_sixty_day_deal_too(dirty):
    run = actions.run_quality_check(None, as_of=AS_OF, stale_days=60)
    opportunities = QualityScore.objects.get(run=run, category="opportunities")
    # 106 is already flagged (stage regression): 6 records still, one more finding
    assert (opportunities.flagged, opportunities.findings) == (6, 10)


def test_score_formula_by_hand():
    assert engine_io.score(3, 200) == Decimal("98.50")   # 100 x 197/200
    assert engine_io.score(7, 330) == Decimal("97.88")   # 100 x 323/330 = 97.878…
    assert engine_io.score(1, 8) == Decimal("87.50")
    assert engine_io.score(0, 0) == Decimal("100.00")    # nothing to check
    assert engine_io.score(5, 5) == Decimal("0.00")


def test_the_run_is_recorded_and_the_same_data_gives_the_same_hash(dirty):
    first = actions.run_quality_check(dirty.people["olga"].user, as_of=AS_OF)
    second = actions.run_quality_check(None, as_of=AS_OF)
    assert first.kind == "data_quality" and first.calc_version == "1"
    assert first.backend == "duckdb"
    assert first.params == {"as_of": "2026-06-30", "stale_days": 90, "min_stale_days": 30}
    assert first.inputs_hash == second.inputs_hash and len(first.inputs_hash) == 64
    assert set(first.timings) >= {"snapshot", "hash", "compute", "store", "total"}
    assert queries.latest_run() == second
    assert AuditEvent.objects.filter(action="run_calculation", object_id=str(first.pk)).exists()


def test_a_failed_run_keeps_its_error_and_no_findings(dirty):
    run = engine_io.run_data_quality(None, "duckdb", as_of=AS_OF, stale_days=5)
    assert run.status == CalcRun.Status.FAILED
    assert "stale_days must be at least 30" in run.error
    assert not QualityFinding.objects.filter(run=run).exists()
    assert not QualityScore.objects.filter(run=run).exists()
    assert queries.latest_run() is None


def test_requesting_a_run_queues_it_and_the_task_runs_it(dirty, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        run = actions.request_quality_run(dirty.people["olga"].user, stale_days=60)
    assert run.status == CalcRun.Status.QUEUED and len(callbacks) == 1
    result = run_quality_task.call(run.pk)
    run.refresh_from_db()
    assert result["status"] == run.status == CalcRun.Status.SUCCEEDED
    assert run.params["stale_days"] == 60
    assert run_quality_task.call(run.pk)["skipped"] == "not queued"


def test_a_run_with_a_too_small_stale_threshold_is_refused_before_queueing(dirty):
    with pytest.raises(actions.QualityActionError) as refused:
        actions.request_quality_run(None, stale_days=10)
    assert refused.value.field == "stale_days" and refused.value.value == 10
    assert not CalcRun.objects.filter(kind="data_quality").exists()


def test_the_quality_command_runs_the_checks_and_prints_the_scores(dirty):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    out = StringIO()
    call_command("quality", "--stale-days", "60", "--as-of", "2026-06-30", stdout=out)
    text = out.getvalue()
    assert "findings stored (stale from 60 days)" in text
    assert "opportunities   25.00  6 of 8 records flagged" in text
    with pytest.raises(CommandError, match="stale_days must be at least 30"):
        call_command("quality", "--stale-days", "3", stdout=StringIO())
