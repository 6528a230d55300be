"""A real interruption: `attain import` killed (SIGKILL) while it writes leaves the database as
it was before the import, and the same job then runs to completion.

Runs in subprocesses against a SQLite file, like a worker on a real installation."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.cases import case_opportunities_csv

ROWS = 20_000
SETUP = """
import django; django.setup()
from decimal import Decimal
from datetime import UTC, datetime
from attain.crm.models import Account, ForecastCategory, Stage
from attain.people.models import Person
from bench.cases import IMPORT_ACCOUNTS, IMPORT_PEOPLE, IMPORT_STAGES
for order, (name, won, lost) in enumerate(IMPORT_STAGES, start=1):
    Stage.objects.create(name=name, order=order, probability=Decimal(50),
                         forecast_category=ForecastCategory.PIPELINE, is_won=won, is_lost=lost)
Person.objects.bulk_create([Person(external_id=f"P{i}", name=f"P {i}")
                            for i in range(IMPORT_PEOPLE)])
Account.objects.bulk_create([Account(external_id=f"A{i}", name=f"A {i}",
                                     created_at=datetime(2019, 1, 1, tzinfo=UTC))
                             for i in range(IMPORT_ACCOUNTS)])
"""
STATE = """
import django, json; django.setup()
from attain.crm.models import Opportunity, StageChange
from attain.ingest.models import ImportJob
print(json.dumps({"opportunities": Opportunity.objects.count(),
                  "changes": StageChange.objects.count(),
                  "jobs": list(ImportJob.objects.values_list("pk", "status"))}))
"""
RERUN = """
import django, sys; django.setup()
from attain.ingest.actions import run_import
from attain.ingest.models import ImportJob
job = run_import(ImportJob.objects.get(pk=int(sys.argv[1])))
print(job.status, job.counts["opportunity"])
"""


def python(env, code, *args):
    result = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip()


def test_a_killed_import_leaves_the_database_unchanged_and_runs_again(tmp_path):
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'attain.sqlite3'}",
               ATTAIN_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="attain.settings",
               PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    attain = [sys.executable, "-m", "attain.cli"]
    subprocess.run([*attain, "migrate", "--run-syncdb", "-v0"], env=env, check=True)
    python(env, SETUP)
    export = tmp_path / "opportunities.csv"
    case_opportunities_csv(str(export), ROWS)
    progress = tmp_path / "var" / "uploads" / "imports" / "progress"

    worker = subprocess.Popen([*attain, "import", str(export), "--mapping",
                               "salesforce-opportunities", "--no-progress"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    phase = ""
    while worker.poll() is None and not phase.startswith("writing"):
        for path in progress.glob("*.json") if progress.exists() else []:
            with contextlib.suppress(OSError, ValueError, KeyError):
                phase = json.loads(path.read_text())["phase"]
        time.sleep(0.05)
    assert worker.poll() is None, "the import finished before it could be stopped"
    worker.send_signal(signal.SIGKILL)
    worker.wait()

    killed = json.loads(python(env, STATE))
    assert killed["opportunities"] == 0 and killed["changes"] == 0
    [(job_id, status)] = killed["jobs"]
    assert status == "running"  # what a killed worker leaves behind

    assert python(env, RERUN, str(job_id)) == f"succeeded {{'created': {ROWS}}}"
    done = json.loads(python(env, STATE))
    assert (done["opportunities"], done["changes"]) == (ROWS, ROWS)
