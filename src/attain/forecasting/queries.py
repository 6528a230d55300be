"""Reads of forecasts and forecast calls for pages and the API, through the visibility scope.

Series of the company, product families and segments belong to nobody: company-wide roles see
them. A manager sees the series of the teams of the people they may see and of those people; a
rep sees their own. Figures come from stored runs only (the latest succeeded one by default, or
any past run by id: a past forecast is shown as it was).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet

from attain.core.models import CalcRun, Period
from attain.forecasting.models import (
    CallCategory,
    DealForecast,
    ForecastCall,
    ForecastRun,
    ForecastSeries,
    ForecastValue,
    Measure,
    PipelineForecast,
)
from attain.people.models import Person
from attain.people.visibility import lines_valid_on, visible_person_ids

ZERO = Decimal("0.00")


def latest_run(period_kind: str | None = None) -> ForecastRun | None:
    """The newest succeeded forecast run (of `period_kind` when given)."""
    rows = ForecastRun.objects.filter(calc_run__status=CalcRun.Status.SUCCEEDED)
    if period_kind:
        rows = rows.filter(period_kind=period_kind)
    return rows.select_related("calc_run").order_by("-calc_run__finished_at", "-id").first()


def run_by_id(run_id: int | None, period_kind: str | None = None) -> ForecastRun | None:
    """Forecast run `run_id` if it succeeded, else None; without an id, the latest."""
    if run_id is None:
        return latest_run(period_kind)
    return (ForecastRun.objects.filter(pk=run_id, calc_run__status=CalcRun.Status.SUCCEEDED)
            .select_related("calc_run").first())


def runs(limit: int = 20) -> list[ForecastRun]:
    return list(ForecastRun.objects.select_related("calc_run")
                .order_by("-calc_run__created_at", "-id")[:limit])


def pending_run() -> CalcRun | None:
    return (CalcRun.objects.filter(kind="forecast", status__in=[CalcRun.Status.QUEUED,
                                                                 CalcRun.Status.RUNNING])
            .order_by("-created_at", "-id").first())


def visible_series(user: Any, as_of: date, run: ForecastRun | None,
                   measure: str | None = Measure.AMOUNT) -> QuerySet[ForecastSeries]:
    """The series of `run` of `measure` (None: every measure) that `user` may see on
    `as_of`."""
    if run is None:
        return ForecastSeries.objects.none()
    rows = ForecastSeries.objects.filter(run=run)
    if measure is not None:
        rows = rows.filter(measure=measure)
    ids = visible_person_ids(user, as_of)
    if ids is None:
        return rows.order_by("level", "label", "id")
    teams = set(lines_valid_on(as_of).filter(person_id__in=ids).exclude(team_id=None)
                .values_list("team_id", flat=True))
    me = Person.objects.filter(user_id=getattr(user, "pk", None)).values_list(
        "role", flat=True).first()
    team_rows = Q(level="team", team_id__in=teams) if me == "manager" else Q(pk__in=[])
    return rows.filter(Q(level="person", person_id__in=ids) | team_rows).order_by(
        "level", "label", "id")


def series_by_id(user: Any, as_of: date, series_id: int) -> ForecastSeries | None:
    row = ForecastSeries.objects.filter(pk=series_id).select_related("run").first()
    if row is None:
        return None
    return visible_series(user, as_of, row.run, None).filter(pk=series_id).first()


def series_values(series: ForecastSeries) -> list[ForecastValue]:
    return list(series.values.select_related("period").order_by("period__start"))


def default_series(user: Any, as_of: date, run: ForecastRun | None,
                   measure: str = Measure.AMOUNT) -> ForecastSeries | None:
    """What a viewer sees first: the company for company-wide roles, else their team (a
    manager) or themselves (a rep)."""
    rows = visible_series(user, as_of, run, measure)
    for level in ("company", "team", "person"):
        first = rows.filter(level=level).first()
        if first is not None:
            return first
    return None


def pipeline_rows(user: Any, as_of: date, run: ForecastRun | None,
                  *, person_ids: Iterable[int] | None = None) -> QuerySet[PipelineForecast]:
    """Pipeline forecasts of `run`: the company row for company-wide roles, people's rows for
    the people `user` may see."""
    if run is None:
        return PipelineForecast.objects.none()
    rows = PipelineForecast.objects.filter(run=run).select_related("period", "person")
    ids = visible_person_ids(user, as_of)
    if ids is not None:
        rows = rows.filter(person_id__in=ids)
    if person_ids is not None:
        rows = rows.filter(person_id__in=list(person_ids))
    return rows.order_by("period__start", "person__name", "id")


@dataclass(frozen=True, slots=True)
class PipelineSummary:
    period: Period
    closed_won: Decimal
    open_expected: Decimal
    created_expected: Decimal
    crm_baseline: Decimal
    open_amount: Decimal
    open_deals: int

    @property
    def total(self) -> Decimal:
        return self.closed_won + self.open_expected + self.created_expected


def pipeline_summary(user: Any, as_of: date, run: ForecastRun | None,
                     person_ids: Iterable[int] | None = None) -> list[PipelineSummary]:
    """Per period: the company row for company-wide roles (no `person_ids`), else the sum of
    the visible people's rows (created-and-won is a company figure: left at 0 for a subset)."""
    if run is None:
        return []
    company = visible_person_ids(user, as_of) is None and person_ids is None
    rows = (PipelineForecast.objects.filter(run=run, person__isnull=True)
            if company else pipeline_rows(user, as_of, run, person_ids=person_ids))
    sums: dict[int, list[Any]] = {}
    periods: dict[int, Period] = {}
    for row in rows.select_related("period"):
        periods[row.period_id] = row.period
        acc = sums.setdefault(row.period_id, [ZERO] * 5 + [0])
        for i, value in enumerate((row.closed_won, row.open_expected, row.created_expected,
                                   row.crm_baseline, row.open_amount, row.open_deals)):
            acc[i] += value
    return [PipelineSummary(periods[pid], *values)
            for pid, values in sorted(sums.items(), key=lambda kv: periods[kv[0]].start)]


def deals_at_risk(user: Any, as_of: date, run: ForecastRun | None, period: Period | None,
                  *, person_ids: Iterable[int] | None = None,
                  limit: int = 50) -> QuerySet[DealForecast]:
    """Open deals the CRM counts on in `period` (stage probability ≥ 50%) that the model
    gives less than half that chance of closing in it, biggest gap in money first."""
    if run is None or period is None:
        return DealForecast.objects.none()
    rows = (DealForecast.objects.visible_to(user, as_of)
            .filter(run=run, period=period, crm_probability__gte=Decimal("0.5"))
            .select_related("opportunity", "owner"))
    if person_ids is not None:
        rows = rows.filter(owner_id__in=list(person_ids))
    at_risk = [d.pk for d in rows if d.probability * 2 < d.crm_probability]
    return (DealForecast.objects.filter(pk__in=at_risk).select_related("opportunity", "owner")
            .order_by("-amount", "id")[:limit])


# --- forecast calls -----------------------------------------------------------------------------


def calls(user: Any, as_of: date, *, period_id: int | None = None,
          person_id: int | None = None) -> QuerySet[ForecastCall]:
    """Every submission `user` may see (newest first): the history of who said what, when."""
    rows = ForecastCall.objects.visible_to(user, as_of).select_related(
        "person", "period", "submitted_by_person", "adjusts")
    if period_id is not None:
        rows = rows.filter(period_id=period_id)
    if person_id is not None:
        rows = rows.filter(person_id=person_id)
    return rows.order_by("-submitted_at", "-id")


@dataclass(frozen=True, slots=True)
class CallLine:
    """One person's calls for a period: their latest (possibly adjusted) number per category,
    and for a manager the roll-up of their direct reports' figures."""

    person_id: int
    name: str
    role: str
    manager_id: int | None
    depth: int
    latest: dict[str, ForecastCall | None]
    rollup: dict[str, Decimal]

    @property
    def cells(self) -> list[ForecastCall | None]:
        """The latest call per category, in `CallCategory` order (for tables)."""
        return [self.latest.get(c) for c in CallCategory.values]

    def figure(self, category: str) -> Decimal | None:
        call = self.latest.get(category)
        return call.amount if call is not None else None


def call_board(user: Any, as_of: date, period: Period, root_id: int | None = None
               ) -> list[CallLine]:
    """The call sheet of a period for the people `user` may see, in hierarchy order.

    The hierarchy is the one in force on the period's start (or on `as_of` if later, inside the
    period): effective-dated. A manager's roll-up in a category is the sum over their direct
    reports of each report's own submitted number, or, for a report who manages others and has
    not submitted, that report's roll-up.
    """
    on = max(period.start, min(as_of, period.end))
    visible = visible_person_ids(user, on)
    lines = list(lines_valid_on(on).values_list("person_id", "manager_id"))
    managers = dict(lines)
    reports: dict[int | None, list[int]] = defaultdict(list)
    for person, manager in lines:
        reports[manager].append(person)
    people = {p.pk: p for p in Person.objects.filter(
        pk__in=[p for p, _ in lines] if visible is None else visible,
        role__in=["rep", "manager"])}
    latest: dict[tuple[int, str], ForecastCall] = {}
    for call in ForecastCall.objects.filter(period=period, person_id__in=people).order_by(
            "submitted_at", "id"):
        latest[(call.person_id, call.category)] = call

    def rollup(person_id: int, category: str) -> Decimal:
        total = ZERO
        for report in reports.get(person_id, []):
            call = latest.get((report, category))
            if call is not None:
                total += call.amount
            elif reports.get(report):
                total += rollup(report, category)
        return total

    roots = ([root_id] if root_id is not None else
             [p for p in people if managers.get(p) not in people])
    out: list[CallLine] = []

    def walk(person_id: int, depth: int) -> None:
        person = people.get(person_id)
        if person is None:
            return
        out.append(CallLine(
            person_id, person.name, person.role, managers.get(person_id), depth,
            {c: latest.get((person_id, c)) for c in CallCategory.values},
            {c: rollup(person_id, c) for c in CallCategory.values}
            if reports.get(person_id) else {}))
        for report in sorted(reports.get(person_id, []), key=lambda r: (
                people[r].name if r in people else "")):
            walk(report, depth + 1)

    for root in sorted(roots, key=lambda r: people[r].name if r in people else ""):
        walk(root, 0)
    return out


# --- accuracy of closed periods -----------------------------------------------------------------

OPTIMISM_THRESHOLD = Decimal("0.10")
OPTIMISM_PERIODS = 4
OPTIMISM_MIN = 3


@dataclass(frozen=True, slots=True)
class AccuracyRow:
    """One forecast of a closed period against what happened."""

    source: str  # "statistical" or the person's name
    person_id: int | None
    period: Period
    made_on: date
    forecast: Decimal
    actual: Decimal
    low_80: Decimal | None = None
    high_80: Decimal | None = None
    low_95: Decimal | None = None
    high_95: Decimal | None = None

    @property
    def error(self) -> Decimal:
        """Forecast minus actual: positive = over-forecast (optimistic)."""
        return self.forecast - self.actual

    @property
    def pct_error(self) -> Decimal | None:
        return (self.error / self.actual).quantize(Decimal("0.0001")) if self.actual else None

    @property
    def inside_80(self) -> bool | None:
        if self.low_80 is None or self.high_80 is None:
            return None
        return self.low_80 <= self.actual <= self.high_80

    @property
    def inside_95(self) -> bool | None:
        if self.low_95 is None or self.high_95 is None:
            return None
        return self.low_95 <= self.actual <= self.high_95


@dataclass(frozen=True, slots=True)
class AccuracySummary:
    source: str
    forecasts: int
    mape: Decimal | None
    wape: Decimal | None
    bias: Decimal | None
    coverage_80: Decimal | None
    coverage_95: Decimal | None


def weeks_of(period: Period) -> list[date]:
    """The start of each week of `period`: its first day, then every 7 days before its end."""
    return [date.fromordinal(day) for day in range(period.start.toordinal(),
                                                   period.end.toordinal(), 7)]


def _weekly(period: Period, dated: list[tuple[date, Any]]) -> list[tuple[date, Any]]:
    """(week start, the newest item made on or before it) for each week of `period` that has
    one; `dated` is in date order."""
    out = []
    for week in weeks_of(period):
        known = [item for made_on, item in dated if made_on <= week]
        if known:
            out.append((week, known[-1]))
    return out


def _actuals(user: Any, as_of: date, series_key: str, measure: str) -> dict[int, Decimal]:
    """{period id: actual} of a series as the newest run stored its history."""
    run = latest_run()
    if run is None:
        return {}
    current = visible_series(user, as_of, run, measure).filter(key=series_key).first()
    if current is None:
        return {}
    return {v.period_id: v.point for v in current.values.filter(is_forecast=False)}


def statistical_accuracy(user: Any, as_of: date, series_key: str,
                         measure: str = Measure.AMOUNT) -> list[AccuracyRow]:
    """The statistical forecast of series `series_key` for every closed period as it stood at
    the start of each week of the period (the newest run made on or before that day),
    against the actual as stored by the newest run whose history covers that period."""
    actuals = _actuals(user, as_of, series_key, measure)
    by_period: dict[int, list[tuple[date, ForecastValue]]] = defaultdict(list)
    periods: dict[int, Period] = {}
    for value in (ForecastValue.objects.filter(
            series__key=series_key, series__measure=measure, is_forecast=True,
            period_id__in=actuals,
            series__run__calc_run__status=CalcRun.Status.SUCCEEDED)
            .select_related("period", "series__run").order_by(
                "period__start", "series__run__as_of", "series__run__calc_run__finished_at",
                "series__run_id")):
        periods[value.period_id] = value.period
        by_period[value.period_id].append((value.series.run.as_of, value))
    rows = []
    for period_id, dated in by_period.items():
        for week, value in _weekly(periods[period_id], dated):
            rows.append(AccuracyRow("statistical", None, value.period, week, value.point,
                                    actuals[period_id], value.low_80, value.high_80,
                                    value.low_95, value.high_95))
    return sorted(rows, key=lambda r: (r.period.start, r.made_on))


def pipeline_accuracy(user: Any, as_of: date) -> list[AccuracyRow]:
    """For company-wide viewers: the company's pipeline forecast and the CRM's
    stage-probability forecast of every closed period, as they stood at the start of each
    week of the period, against the period's company bookings."""
    if visible_person_ids(user, as_of) is not None:
        return []
    actuals = _actuals(user, as_of, "company", Measure.AMOUNT)
    by_period: dict[int, list[tuple[date, PipelineForecast]]] = defaultdict(list)
    for row in (PipelineForecast.objects.filter(
            person__isnull=True, period_id__in=actuals, period__end__lte=as_of,
            run__calc_run__status=CalcRun.Status.SUCCEEDED)
            .select_related("period", "run").order_by("period__start", "run__as_of",
                                                      "run__calc_run__finished_at", "run_id")):
        by_period[row.period_id].append((row.run.as_of, row))
    rows = []
    for period_id, dated in by_period.items():
        for week, item in _weekly(dated[0][1].period, dated):
            rows.append(AccuracyRow("pipeline", None, item.period, week, item.total,
                                    actuals[period_id]))
            # the baseline already counts what was closed-won by then
            rows.append(AccuracyRow("crm stage probabilities", None, item.period, week,
                                    item.crm_baseline, actuals[period_id]))
    return sorted(rows, key=lambda r: (r.source, r.period.start, r.made_on))


def call_actuals(user: Any, as_of: date, quarters: int = 8) -> dict[tuple[int, int], Decimal]:
    """{(person id, period id): bookings} of the people `user` may see in the last `quarters`
    closed quarters (the materialised bookings per person), for scoring calls."""
    from attain.performance import queries as perf

    closed = Period.objects.filter(kind="quarter", end__lte=as_of).order_by("-start")[:quarters]
    return {(pid, p.pk): amount for p in closed
            for pid, (amount, _) in perf.bookings_by_person(user, as_of, p).items()}


def accuracy_rows(user: Any, as_of: date, series_key: str | None,
                  measure: str = Measure.AMOUNT) -> list[AccuracyRow]:
    """Every scored weekly forecast `user` may see: the statistical forecast of `series_key`,
    the company's pipeline and CRM forecasts (amounts), and people's commit calls."""
    rows = statistical_accuracy(user, as_of, series_key, measure) if series_key else []
    if measure == Measure.AMOUNT:
        rows += pipeline_accuracy(user, as_of)
        rows += call_accuracy(user, as_of, call_actuals(user, as_of))
    return rows


def call_accuracy(user: Any, as_of: date, actuals: dict[tuple[int, int], Decimal],
                  category: str = CallCategory.COMMIT) -> list[AccuracyRow]:
    """Each person's `category` call as it stood at the start of each week of every closed
    period with an actual ({(person_id, period_id): amount}), against that actual."""
    rows = []
    by_key: dict[tuple[int, int], list[ForecastCall]] = defaultdict(list)
    for call in (calls(user, as_of).filter(category=category, period__end__lte=as_of)
                 .order_by("submitted_at", "id")):
        by_key[(call.person_id, call.period_id)].append(call)
    for (person_id, period_id), submissions in by_key.items():
        if (person_id, period_id) not in actuals:
            continue
        period = submissions[0].period
        week = period.start
        while week < period.end:
            known = [c for c in submissions if c.submitted_at.date() < week] or None
            if known is not None:
                rows.append(AccuracyRow(known[-1].person.name, person_id, period, week,
                                        known[-1].amount, actuals[(person_id, period_id)]))
            week = date.fromordinal(week.toordinal() + 7)
    return sorted(rows, key=lambda r: (r.source, r.period.start, r.made_on))


def summarise(rows: list[AccuracyRow]) -> list[AccuracySummary]:
    """Per source: MAPE, WAPE, bias (Σ error / Σ actual) and interval coverage."""
    grouped: dict[str, list[AccuracyRow]] = defaultdict(list)
    for row in rows:
        grouped[row.source].append(row)
    out = []
    four = Decimal("0.0001")
    for source, items in sorted(grouped.items()):
        actual = sum((r.actual for r in items), ZERO)
        pct = [abs(r.pct_error) for r in items if r.pct_error is not None]
        inside80 = [r.inside_80 for r in items if r.inside_80 is not None]
        inside95 = [r.inside_95 for r in items if r.inside_95 is not None]
        out.append(AccuracySummary(
            source, len(items),
            (sum(pct, Decimal(0)) / len(pct)).quantize(four) if pct else None,
            (sum((abs(r.error) for r in items), ZERO) / actual).quantize(four)
            if actual else None,
            (sum((r.error for r in items), ZERO) / actual).quantize(four) if actual else None,
            (Decimal(sum(inside80)) / len(inside80)).quantize(four) if inside80 else None,
            (Decimal(sum(inside95)) / len(inside95)).quantize(four) if inside95 else None))
    return out


def optimistic_forecasters(rows: list[AccuracyRow]) -> set[int]:
    """People whose final call over-forecast by more than 10% in at least 3 of their last 4
    closed periods."""
    final: dict[tuple[int, int], AccuracyRow] = {}
    for row in rows:
        if row.person_id is not None:
            final[(row.person_id, row.period.pk)] = row  # rows are in week order
    by_person: dict[int, list[AccuracyRow]] = defaultdict(list)
    for (person_id, _), row in final.items():
        by_person[person_id].append(row)
    flagged = set()
    for person_id, items in by_person.items():
        recent = sorted(items, key=lambda r: r.period.start)[-OPTIMISM_PERIODS:]
        over = sum(1 for r in recent if r.actual > 0
                   and r.error / r.actual > OPTIMISM_THRESHOLD)
        if over >= OPTIMISM_MIN:
            flagged.add(person_id)
    return flagged


# --- planning hooks -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TeamGap:
    """A team's forecast for a period next to its quota, and the quota the forecast suggests."""

    series: ForecastSeries
    forecast: Decimal
    low_80: Decimal | None
    quota: Decimal | None
    period: Period | None = None

    @property
    def gap(self) -> Decimal | None:
        """Forecast minus quota: negative = the forecast falls short."""
        return self.forecast - self.quota if self.quota is not None else None

    @property
    def suggested_quota(self) -> Decimal:
        """The forecast's point: by construction about an even chance of being met. (The 80%
        interval's low end, `low_80`, would be met about 9 times in 10.)"""
        return self.forecast


def team_gaps(user: Any, as_of: date, run: ForecastRun | None, period: Period | None
              ) -> list[TeamGap]:
    """For each team series of `run` that `user` may see: its forecast for `period` and the
    team's quota (the team's own quota, else the sum of its members' quotas, by the reporting
    lines in force on the period's start)."""
    if run is None or period is None:
        return []
    from attain.performance.models import Quota

    out = []
    for series in visible_series(user, as_of, run).filter(level="team"):
        value = series.values.filter(period=period, is_forecast=True).first()
        if value is None:
            continue
        quota = (Quota.objects.filter(team_id=series.team_id, period=period)
                 .values_list("amount", flat=True).first())
        if quota is None and series.team_id is not None:
            members = lines_valid_on(period.start).filter(team_id=series.team_id).values(
                "person_id")
            amounts = list(Quota.objects.filter(person_id__in=members, period=period)
                           .values_list("amount", flat=True))
            quota = sum(amounts, ZERO) if amounts else None
        out.append(TeamGap(series, value.point, value.low_80, quota, period))
    return out
