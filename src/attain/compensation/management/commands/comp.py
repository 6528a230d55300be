"""`attain comp plan-import FILE | run --period 2026-Q3 | statement PERSON PERIOD |
model DRAFT --period 2026-Q2`: plans kept in version control imported as new versions, a
compensation run of a period, a statement printed, a draft plan modelled on past periods."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q
from django.utils import timezone

from attain.compensation import actions, engine_io
from attain.compensation import queries as cq
from attain.compensation.actions import CompensationError
from attain.compensation.models import CompPlan, PlanVersion
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


def _import_draft(path: Path, options: dict[str, Any]) -> PlanVersion:
    """The plan text in `path` as a new plan, or as a new draft version of the plan it names."""
    text = path.read_text(encoding="utf-8")
    checked = engine_io.check_plan(text, str(path))
    name = options["name"] or (checked.plan.name if checked.plan else path.stem)
    start = options["effective_from"] or timezone.localdate().replace(day=1)
    plan = CompPlan.objects.filter(name=name).first()
    if plan is None:
        return actions.create_plan(None, name=name, text=text, effective_from=start)
    version = actions.new_version(None, plan.pk, effective_from=start)
    return actions.save_draft(None, version.pk, text=text, effective_from=start)


def find_draft(text: str, options: dict[str, Any]) -> PlanVersion:
    """The draft to model: a YAML file (imported as a new draft first), a version id, or a plan
    name (its newest draft)."""
    path = Path(text)
    if path.suffix.lower() in (".yaml", ".yml"):
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        return _import_draft(path, options)
    if text.isdigit():
        version = PlanVersion.objects.filter(pk=int(text)).select_related("plan").first()
        if version is None:
            raise CommandError(f"No plan version #{text}.")
        return version
    version = (PlanVersion.objects.filter(plan__name=text, status=PlanVersion.Status.DRAFT)
               .select_related("plan").order_by("-number").first())
    if version is None:
        raise CommandError(f"No draft of a plan named {text!r}; give a version id, a plan "
                           "with a draft, or a YAML file.")
    return version


class Command(BaseCommand):
    help = ("Compensation. `plan-import FILE [--name NAME] [--from DATE] [--publish]`: a plan "
            "definition (YAML) as a new plan or a new draft version of the plan it names; "
            "`run --period 2026-Q3`: compute a period now and store the run; "
            "`statement PERSON PERIOD [--json]`: print a statement; "
            "`model DRAFT --period 2026-Q2 [--period ...] [--json]`: model a draft version (its "
            "id, its plan's name, or a YAML file imported as a new draft) on past periods "
            "against the plan in force.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["plan-import", "run", "statement", "model"])
        parser.add_argument("args", nargs="*")
        parser.add_argument("--period", action="append", default=[],
                            help="run: the period (2026-Q3, 2026-07, FY2026); model: a past "
                                 "period, repeatable")
        parser.add_argument("--as-of", type=date.fromisoformat, default=None)
        parser.add_argument("--backend", default=None, help="duckdb (default) or spark")
        parser.add_argument("--name", default=None, help="plan-import: the plan's name "
                                                         "(default: the `plan:` in the file)")
        parser.add_argument("--from", dest="effective_from", type=date.fromisoformat,
                            default=None, help="plan-import: in force from (default: the first "
                                               "day of this month)")
        parser.add_argument("--publish", action="store_true", help="plan-import: publish it")
        parser.add_argument("--json", action="store_true", help="statement, model: print JSON")

    def handle(self, *args: str, **options: Any) -> None:
        try:
            action = options["action"]
            if action == "plan-import":
                self._import(args, options)
            elif action == "run":
                self._run(options)
            elif action == "model":
                self._model(args, options)
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
        version = _import_draft(path, options)
        if options["publish"]:
            version = actions.publish_version(None, version.pk)
        self.stdout.write(f"{path}: {version.plan.name} v{version.number} ({version.status}), "
                          f"in force from {version.effective_from}.")
        for change in version.changes:
            self.stdout.write(f"  {change}")

    def _run(self, options: dict[str, Any]) -> None:
        if len(options["period"]) != 1:
            raise CommandError("usage: attain comp run --period 2026-Q3")
        period = find_period(options["period"][0])
        run = actions.run_compensation(None, period_id=period.pk, as_of=options["as_of"],
                                       backend=options["backend"])
        calc = run.calc_run
        totals = ", ".join(f"{t} {c}" for c, t in run.currency_totals.items()) or "nothing"
        self.stdout.write(
            f"Compensation run #{run.pk} of {period.label}: {calc.status}, "
            f"{run.payouts.count()} payouts, total {totals}; inputs hash "
            f"{calc.inputs_hash[:12]}, {calc.timings.get('total', 0)} s on {calc.backend}"
            + (f"; adjusts closed run #{run.adjusts_id}" if run.adjusts_id else "") + ".")

    def _model(self, args: tuple[str, ...], options: dict[str, Any]) -> None:
        if len(args) != 1 or not options["period"]:
            raise CommandError("usage: attain comp model DRAFT --period 2026-Q2 [--period ...]")
        version = find_draft(args[0], options)
        periods = [find_period(label) for label in options["period"]]
        model = actions.model_plan_now(None, version_id=version.pk,
                                       period_ids=[p.pk for p in periods],
                                       backend=options["backend"])
        calc = model.calc_run
        if calc.status != calc.Status.SUCCEEDED:
            raise CommandError(f"Modelling run #{model.pk} of {version.plan.name} "
                               f"v{version.number} failed: {calc.error}")
        totals = model.summary.get("totals", [])
        if options["json"]:
            self.stdout.write(json.dumps({
                "model": model.pk, "plan": version.plan.name, "version": version.number,
                "periods": [p.label for p in periods], "totals": totals}, indent=2))
            return
        self.stdout.write(f"Modelling run #{model.pk}: {version.plan.name} v{version.number} "
                          f"(draft) against the plan in force, "
                          f"{', '.join(p.label for p in periods)}")
        for total in totals:
            scope = "All periods" if total["scope"] == "all" else total["scope"]
            pct = f" ({total['change_pct']}%)" if total["change_pct"] is not None else ""
            self.stdout.write(
                f"  {scope:<12} {total['currency']}  {total['rows']:>5} people  in force "
                f"{Decimal(total['in_force']):>14,.2f}  draft {Decimal(total['draft']):>14,.2f}"
                f"  change {Decimal(total['change']):>+14,.2f}{pct}  "
                f"{total['gainers']} gain, {total['losers']} lose")
            for side in ("in_force", "draft"):
                spread = total[f"{side}_distribution"]
                if spread:
                    self.stdout.write(f"  {'':<12}     {side.replace('_', ' '):>8}: " + ", ".join(
                        f"{name} {Decimal(value):,.2f}" for name, value in spread.items()))

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

