"""`attain comp plan-import FILE | run --period 2026-Q3 | statement PERSON PERIOD`: plans kept in
version control imported as new versions, a compensation run of a period, a statement printed."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q
from django.utils import timezone

from attain.compensation import actions, engine_io
from attain.compensation import queries as cq
from attain.compensation.actions import CompensationError
from attain.compensation.models import CompPlan
from attain.core.models import Period
from attain.people.models import Person


def find_period(text: str) -> Period:
    """A period by label: `2026-Q3` or `FY2026-Q3` (quarter), `2026-07` (month), `FY2026`
    (year), or by id."""
    label = text.strip()
    candidates = [label, f"FY{label}"] if not label.upper().startswith("FY") else [label.upper()]
    period = Period.objects.filter(label__in=candidates).order_by("kind").first()
    if period is None and label.isdigit():
        period = Period.objects.filter(pk=int(label)).first()
    if period is None:
        raise CommandError(f"No period {text!r}; write it like 2026-Q3, 2026-07 or FY2026.")
    return period


def find_person(text: str) -> Person:
    """A person by employee id, database id or exact name."""
    query = Q(external_id=text) | Q(name=text)
    if text.isdigit():
        query |= Q(pk=int(text))
    people = list(Person.objects.filter(query)[:2])
    if len(people) != 1:
        raise CommandError(f"{'No' if not people else 'More than one'} person {text!r}; "
                           "use the employee id.")
    return people[0]


class Command(BaseCommand):
    help = ("Compensation. `plan-import FILE [--name NAME] [--from DATE] [--publish]`: a plan "
            "definition (YAML) as a new plan or a new draft version of the plan it names; "
            "`run --period 2026-Q3`: compute a period now and store the run; "
            "`statement PERSON PERIOD [--json]`: print a statement.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["plan-import", "run", "statement"])
        parser.add_argument("args", nargs="*")
        parser.add_argument("--period", help="run: the period (2026-Q3, 2026-07, FY2026)")
        parser.add_argument("--as-of", type=date.fromisoformat, default=None)
        parser.add_argument("--backend", default=None, help="duckdb (default) or spark")
        parser.add_argument("--name", default=None, help="plan-import: the plan's name "
                                                         "(default: the `plan:` in the file)")
        parser.add_argument("--from", dest="effective_from", type=date.fromisoformat,
                            default=None, help="plan-import: in force from (default: the first "
                                               "day of this month)")
        parser.add_argument("--publish", action="store_true", help="plan-import: publish it")
        parser.add_argument("--json", action="store_true", help="statement: print JSON")

    def handle(self, *args: str, **options: Any) -> None:
        try:
            action = options["action"]
            if action == "plan-import":
                self._import(args, options)
            elif action == "run":
                self._run(options)
            else:
                self._statement(args, options)
        except CompensationError as error:
            lines = [f"{error.field}: {error}" if error.field else str(error)]
            lines += [f"  {p.path or 'plan'} (line {p.line}): {p.reason}"
                      for p in error.problems]
            raise CommandError("\n".join(lines)) from error

    def _import(self, args: tuple[str, ...], options: dict[str, Any]) -> None:
        if len(args) != 1:
            raise CommandError("usage: attain comp plan-import FILE")
        path = Path(args[0])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        text = path.read_text(encoding="utf-8")
        checked = engine_io.check_plan(text, str(path))
        name = options["name"] or (checked.plan.name if checked.plan else path.stem)
        start = options["effective_from"] or timezone.localdate().replace(day=1)
        plan = CompPlan.objects.filter(name=name).first()
        if plan is None:
            version = actions.create_plan(None, name=name, text=text, effective_from=start)
        else:
            version = actions.new_version(None, plan.pk, effective_from=start)
            version = actions.save_draft(None, version.pk, text=text, effective_from=start)
        if options["publish"]:
            version = actions.publish_version(None, version.pk)
        self.stdout.write(f"{path}: {version.plan.name} v{version.number} ({version.status}), "
                          f"in force from {version.effective_from}.")
        for change in version.changes:
            self.stdout.write(f"  {change}")

    def _run(self, options: dict[str, Any]) -> None:
        if not options["period"]:
            raise CommandError("usage: attain comp run --period 2026-Q3")
        period = find_period(options["period"])
        run = actions.run_compensation(None, period_id=period.pk, as_of=options["as_of"],
                                       backend=options["backend"])
        calc = run.calc_run
        totals = ", ".join(f"{t} {c}" for c, t in run.currency_totals.items()) or "nothing"
        self.stdout.write(
            f"Compensation run #{run.pk} of {period.label}: {calc.status}, "
            f"{run.payouts.count()} payouts, total {totals}; inputs hash "
            f"{calc.inputs_hash[:12]}, {calc.timings.get('total', 0)} s on {calc.backend}"
            + (f"; adjusts closed run #{run.adjusts_id}" if run.adjusts_id else "") + ".")

    def _statement(self, args: tuple[str, ...], options: dict[str, Any]) -> None:
        if len(args) != 2:
            raise CommandError("usage: attain comp statement PERSON PERIOD")
        person, period = find_person(args[0]), find_period(args[1])
        run = cq.statement_run(period)
        if run is None:
            raise CommandError(f"No compensation run of {period.label} yet.")
        st = cq.statement(None, person.pk, run)
        assert st is not None
        if options["json"]:
            self.stdout.write(json.dumps({
                "person": person.external_id, "period": period.label, "run": run.pk,
                "payouts": [{"currency": p.currency, "payout": str(p.payout),
                             "earned": str(p.earned)} for p in st.payouts],
                "lines": [{"component": line.component, "kind": line.line_kind,
                           "booking_id": line.booking_id, "amount": str(line.amount),
                           "currency": line.currency, "trace": line.trace}
                          for line in st.lines]}, indent=2))
            return
        self.stdout.write(f"Statement of {person.name} ({person.external_id}), {period.label} "
                          f"[{period.start}, {period.end}), run #{run.pk} "
                          f"({run.get_approval_display()})")
        for line in st.lines:
            self.stdout.write(f"  {line.component or line.line_kind:<28} "
                              f"{line.amount:>14,.2f} {line.currency}")
        for payout in st.payouts:
            self.stdout.write(f"  {'Payout':<28} {payout.payout:>14,.2f} {payout.currency}")
        for currency, total in sorted(st.ytd.items()):
            self.stdout.write(f"  {'Year to date':<28} {total:>14,.2f} {currency}")

