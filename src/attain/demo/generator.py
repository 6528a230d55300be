"""Generates a deterministic demo organisation of any size: people and effective-dated reporting
lines, accounts and contacts, leads, opportunities with full stage histories, bookings, exchange
rates, fiscal periods and quotas.

`generate("tiny" | "demo" | "large" | reps, seed=7, end=...)` writes everything in bulk. The same
seed, scale and end date give identical rows (primary keys aside). Memory stays bounded: deals are
drawn and written one creation month at a time, in slices of `DEAL_SLICE` opportunities, each slice
in its own transaction; only per-person and per-account arrays live for the whole run. The big
tables (accounts, contacts, leads, opportunities, stage changes, order lines, quotas) are written
as plain tuples through `attain.core.bulk_write` (executemany on SQLite, COPY on PostgreSQL), with
ids allocated here; order lines and stage changes are streamed to the database, never held whole.

Choices worth knowing (the sales model itself is described in `attain.demo.simulation`):
- The history starts on the first day of the fiscal quarter `years` years before `end`; deals are
  opened from six months earlier so the first quarter already has a pipeline (deals that closed
  before the start are dropped). Events happen strictly before the `end` day: deals still open then
  are open pipeline, with close dates after `end`.
- `reps` counts sales seats: the headcount of reps at the end of the history. Most seats exist from
  the start, some open during it (growth hires); reps leave (about one in four a year is replaced)
  and their replacements ramp up over 3-6 months. Vacant seats' deals are carried by the team's
  manager until the new hire arrives.
- A mid-year re-org on the first day of the latest fiscal half-year moves some seats to another team
  (and manager); their accounts move with them.
- Products: every deal names its main product (`Opportunity.product`), drawn by segment from
  `cat.MAIN_PRODUCT_MIX_BY_SEGMENT` (SMB 75 % Starter / 25 % Professional; mid-market 15 / 70 / 15
  Starter / Professional / Enterprise; enterprise 30 % Professional / 70 % Enterprise), lost and
  open deals included, so win rates by product compare like with like.
- Order lines: a won deal books 1-3 product lines (its main product and add-ons/services) whose
  amounts add up to the deal amount to the cent. `lines_per_deal` (default per scale: the
  catalogue's mean of 1.7 for tiny and demo, `LINES_PER_DEAL_LARGE` for large) raises the mean
  number of lines of a won deal: each product line is then split by site and billing period, a
  deal's number of splits being 1 + Poisson, weighted by segment (`cat.SPLIT_WEIGHT_BY_SEGMENT`:
  enterprise orders carry far more lines than SMB ones), drawn from a random stream of its own so
  everything else stays identical. Splits share the product line's cents exactly.
- Exchange rates: one row per currency (USD included, rate 1) per month from the first deal month
  to the end of the current fiscal year: `rate` is the USD value of one unit. Deal amounts are
  converted at the rate of the deal's creation month.
- Quotas (USD) are set from the model's expected productivity of a skill-1 rep in the segment, with
  5 % stretch, seasonality, growth, ramp and part-month proration; months are whole dollars, a
  quarter is the sum of its months and a year the sum of its quarters. The first fiscal year may be
  partial (quotas from the history's start only). Team quotas (quarter and year) are the sums of the
  quotas of the reps in the team on each month's first working day.
"""

from __future__ import annotations

import math
import re
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from attain.core.actions import ensure_periods, fiscal_calendar
from attain.core.audit import record_event
from attain.core.bulk_write import IdAllocator, TableWriter, refresh_statistics, reset_sequences
from attain.core.periods import FiscalCalendarRules, add_months
from attain.crm.models import (
    Account,
    Booking,
    Contact,
    DealType,
    ExchangeRate,
    Lead,
    Opportunity,
    Product,
    Stage,
    StageChange,
)
from attain.demo import catalogue as cat
from attain.demo import simulation as sim
from attain.people.models import Person, Region, ReportingLine, Role, Team
from attain.performance.models import Quota

SCALES: dict[str, tuple[int, int]] = {"tiny": (8, 1), "demo": (120, 3), "large": (10_000, 3)}
# Mean order lines per won deal at `large`: about 10 million lines for 10,000 reps over 3 years.
LINES_PER_DEAL_LARGE = 20.0
MAX_LINES_PER_DEAL = 1_000.0
MAX_REPS = 100_000
WARMUP_MONTHS = 6
REPS_PER_TEAM = 8
DEAL_SLICE = 10_000
BATCH_SIZE = 2_000
QUOTA_STRETCH = 1.05
MONTH_IN_QUARTER = np.array([0.28, 0.31, 0.41])
MEAN_TENURE_DAYS = 1_300.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_DAY = date(1970, 1, 1)
COMPANY_EMAIL_DOMAIN = "attain-demo.example"


# Columns of the rows the fast write path inserts (model field names, in tuple order).
ACCOUNT_FIELDS = ("id", "external_id", "name", "domain", "industry", "segment", "country",
                  "owner", "created_at")
CONTACT_FIELDS = ("id", "external_id", "account", "name", "email", "title", "created_at")
OPPORTUNITY_FIELDS = ("id", "external_id", "name", "account", "owner", "amount", "currency",
                      "stage", "forecast_category", "deal_type", "source", "segment",
                      "created_at", "close_date", "is_closed", "is_won", "loss_reason", "product")
STAGE_CHANGE_FIELDS = ("id", "opportunity", "from_stage", "to_stage", "changed_at", "amount",
                       "close_date")
LEAD_FIELDS = ("id", "external_id", "name", "company", "source", "status", "owner", "created_at",
               "qualified_at", "converted_at", "converted_opportunity")
BOOKING_FIELDS = ("id", "external_id", "opportunity", "owner", "team", "product", "quantity",
                  "amount", "currency", "booked_on", "invoiced_on", "paid_on")
QUOTA_FIELDS = ("id", "person", "team", "period", "kind", "amount", "currency")
FAST_WRITTEN_MODELS = (Account, Contact, Opportunity, StageChange, Lead, Booking, Quota)
# Plain strings for the enumerations written through the fast path (psycopg would write an
# Enum member's name, not its value).
SEGMENT_VALUES = tuple(str(segment) for segment in cat.SEGMENTS)
BOOKINGS_QUOTA = str(Quota.Kind.BOOKINGS)
LEAD_NEW, LEAD_WORKING, LEAD_QUALIFIED, LEAD_CONVERTED, LEAD_DISQUALIFIED = (
    str(Lead.Status.NEW), str(Lead.Status.WORKING), str(Lead.Status.QUALIFIED),
    str(Lead.Status.CONVERTED), str(Lead.Status.DISQUALIFIED))


class GenerationError(ValueError):
    """Generation refused: a bad scale or an organisation already in the database."""


@dataclass(frozen=True, slots=True)
class GenerationSummary:
    """What one `generate` call wrote (periods: the periods the quotas use, existing or new)."""

    scale: str
    seed: int
    start: date
    end: date
    regions: int
    teams: int
    people: int
    reporting_lines: int
    accounts: int
    contacts: int
    products: int
    stages: int
    leads: int
    opportunities: int
    stage_changes: int
    bookings: int
    exchange_rates: int
    periods: int
    quotas: int
    seconds: float
    lines_per_deal: float = cat.PRODUCT_LINES_PER_DEAL

    def counts(self) -> dict[str, int]:
        skip = {"scale", "seed", "start", "end", "seconds", "lines_per_deal"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}

    def rows(self) -> int:
        """Rows written (periods, stages and products included, though they may have existed)."""
        return sum(self.counts().values()) - self.regions - self.teams

    def __str__(self) -> str:
        counts = ", ".join(f"{n:,} {name.replace('_', ' ')}" for name, n in self.counts().items())
        rate = self.rows() / self.seconds if self.seconds > 0 else 0.0
        return (f"scale {self.scale} (seed {self.seed}), {self.start} .. {self.end}: {counts} "
                f"in {self.seconds:.1f} s ({rate:,.0f} rows/s)")


def parse_scale(scale: str | int) -> tuple[int, int]:
    """(number of reps, default years of history) for a scale name or a rep count."""
    if isinstance(scale, str) and scale.strip().lower() in SCALES:
        return SCALES[scale.strip().lower()]
    try:
        reps = int(scale)
    except (TypeError, ValueError):
        reps = 0
    if isinstance(scale, bool) or not 2 <= reps <= MAX_REPS:
        raise GenerationError(
            f"Unknown scale {scale!r}: use tiny, demo, large or a number of reps from 2 to "
            f"{MAX_REPS:,}."
        )
    return reps, 3


def default_lines_per_deal(scale: str | int) -> float:
    """The mean order lines per won deal a scale gets unless told otherwise."""
    if isinstance(scale, str) and scale.strip().lower() == "large":
        return LINES_PER_DEAL_LARGE
    return cat.PRODUCT_LINES_PER_DEAL


def day_number(day: date) -> int:
    return (day - EPOCH_DAY).days


def day_of(number: int) -> date:
    return EPOCH_DAY + timedelta(days=int(number))


def instant_of(seconds: int) -> datetime:
    return EPOCH + timedelta(seconds=int(seconds))


def cents_decimal(cents: int) -> Decimal:
    return Decimal(int(cents)).scaleb(-2)


def ensure_default_stages(pipeline: str = "default") -> list[Stage]:
    """The default sales stages (Prospecting … Closed Won, Closed Lost), created if missing."""
    existing = {s.name: s for s in Stage.objects.filter(pipeline=pipeline)}
    missing = [
        Stage(pipeline=pipeline, name=spec.name, order=spec.order,
              probability=Decimal(spec.probability), forecast_category=spec.forecast_category,
              is_won=spec.is_won, is_lost=spec.is_lost)
        for spec in cat.DEFAULT_STAGES if spec.name not in existing
    ]
    if missing:
        Stage.objects.bulk_create(missing)
        existing = {s.name: s for s in Stage.objects.filter(pipeline=pipeline)}
    return [existing[spec.name] for spec in cat.DEFAULT_STAGES]


def organisation_counts() -> dict[str, int]:
    return {"people": Person.objects.count(), "teams": Team.objects.count(),
            "accounts": Account.objects.count(), "opportunities": Opportunity.objects.count()}


def delete_organisation() -> None:
    """Delete every generated record: CRM data, quotas, people (and their logins), teams, rates.

    Children go first, so the large tables are removed with plain DELETE statements.
    Stages, products' history-free configuration and periods are kept.
    """
    with transaction.atomic():
        for model in (Booking, StageChange, Lead, Quota):
            model.objects.all()._raw_delete(model.objects.db)
        Opportunity.objects.all()._raw_delete(Opportunity.objects.db)
        Contact.objects.all()._raw_delete(Contact.objects.db)
        Account.objects.all()._raw_delete(Account.objects.db)
        ReportingLine.objects.all()._raw_delete(ReportingLine.objects.db)
        get_user_model().objects.filter(person__isnull=False).delete()
        Person.objects.all().delete()
        Team.objects.all().delete()
        Region.objects.all().delete()
        ExchangeRate.objects.all().delete()
        Product.objects.all().delete()
        record_event(None, "delete_demo_organisation", object_type="demo.organisation")


def generate(
    scale: str | int,
    *,
    seed: int = 7,
    end: date | None = None,
    years: int | None = None,
    progress: bool = False,
    replace: bool = False,
    lines_per_deal: float | None = None,
) -> GenerationSummary:
    """Generate a whole sales organisation into an empty database (see the module docstring).

    `years` defaults to the scale's (1 for tiny, 3 otherwise). With `replace=True` the previous
    organisation is deleted first; otherwise a database that already holds one is refused.
    `lines_per_deal` is the mean number of order lines of a won deal (default by scale); values
    up to the catalogue's 1.7 keep the plain 1-3 product lines.
    """
    reps, default_years = parse_scale(scale)
    years = default_years if years is None else years
    if not 1 <= years <= 20:
        raise GenerationError(f"years must be from 1 to 20, got {years}.")
    lines_per_deal = default_lines_per_deal(scale) if lines_per_deal is None else lines_per_deal
    if not 1 <= lines_per_deal <= MAX_LINES_PER_DEAL:
        raise GenerationError(
            f"lines per deal must be from 1 to {MAX_LINES_PER_DEAL:,.0f}, got {lines_per_deal}.")
    counts = organisation_counts()
    if any(counts.values()):
        if not replace:
            found = ", ".join(f"{n:,} {name}" for name, n in counts.items() if n)
            raise GenerationError(
                f"The database already holds an organisation ({found}). Generate into an empty "
                "database, or pass replace=True (attain generate --replace) to delete it first."
            )
        delete_organisation()
    started = time.perf_counter()
    builder = _Builder(reps, seed=seed, end=end or timezone.localdate(), years=years,
                       progress=progress, scale=str(scale), lines_per_deal=lines_per_deal)
    try:
        summary = builder.run(started)
    finally:
        # Rows were written with explicit ids: move PostgreSQL's sequences past them, also
        # after a failure (the slices committed before it keep their ids).
        reset_sequences(FAST_WRITTEN_MODELS)
    # the planner's statistics of every table the organisation filled (PostgreSQL)
    refresh_statistics((*FAST_WRITTEN_MODELS, Person, ReportingLine, Team, Region, Product,
                        ExchangeRate), vacuum=False)
    record_event(None, "generate_demo_organisation", object_type="demo.organisation",
                 after={k: v for k, v in summary.counts().items()}
                 | {"scale": str(scale), "seed": seed, "end": summary.end.isoformat(),
                    "lines_per_deal": lines_per_deal})
    return summary


# --- the organisation ------------------------------------------------------------------------


@dataclass
class _Occupant:
    person: Person
    seat: int
    hired: int  # day number
    left: int | None
    skill: float
    ramp_months: int


@dataclass
class _Seat:
    team_before: int
    team_after: int
    segment: int
    region: str
    occupants: list[_Occupant] = field(default_factory=list)


def _ascii_slug(text: str, separator: str = "") -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", separator, plain.lower()).strip(separator)


class _Builder:
    """One generation run; holds the small per-person and per-account arrays."""

    def __init__(self, reps: int, *, seed: int, end: date, years: int, progress: bool,
                 scale: str, lines_per_deal: float = cat.PRODUCT_LINES_PER_DEAL) -> None:
        self.reps = reps
        self.seed = seed
        self.scale = scale
        self.lines_per_deal = lines_per_deal
        # Mean splits (sites x billing periods) of each product line of a won deal.
        self.splits_per_line = max(1.0, lines_per_deal / cat.PRODUCT_LINES_PER_DEAL)
        self.end = end
        self.rules: FiscalCalendarRules = fiscal_calendar().rules
        quarter = self.rules.span("quarter", date(end.year - years, end.month, 1))
        self.start = quarter.start
        self.gen_start = add_months(self.start, -WARMUP_MONTHS)
        self.quota_end = self.rules.span("year", end).end
        self.start_day = day_number(self.start)
        self.cutoff_day = day_number(end)
        self.cutoff = self.cutoff_day * sim.DAY
        mid_year = add_months(self.rules.year_start(end), 6)
        if mid_year > end - timedelta(days=30):
            mid_year = add_months(mid_year, -12)
        self.reorg: date | None = mid_year if mid_year > self.start else None
        self.reorg_day = day_number(self.reorg) if self.reorg else 10**9
        self.progress = progress
        self.person_seq = 0
        self.name_seen: Counter[str] = Counter()
        self.people: list[Person] = []
        self.lines: list[ReportingLine] = []
        self.counts: Counter[str] = Counter()

    def rng(self, *stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, *stream])

    # -- driver --

    def run(self, started: float) -> GenerationSummary:
        months = list(self._months(self.gen_start, self.end))
        bar = tqdm(total=len(months) + 4, disable=not self.progress, file=sys.stderr,
                   unit="step", desc="generate")
        with transaction.atomic():
            self.stages = ensure_default_stages()
            self._build_organisation()
        bar.update()
        with transaction.atomic():
            self._write_rates_and_products()
        bar.update()
        self._write_accounts()
        bar.update()
        self._write_quotas()
        bar.update()
        self._prepare_deal_arrays()
        for index, month in enumerate(months):
            written = sum(self.counts.values())
            bar.set_postfix_str(f"{month:%Y-%m}, {written:,} rows", refresh=False)
            self._write_month(index, month)
            bar.update()
        bar.close()
        return GenerationSummary(
            scale=self.scale, seed=self.seed, start=self.start, end=self.end,
            regions=len(self.regions), teams=len(self.teams), people=len(self.people),
            reporting_lines=len(self.lines), accounts=self.counts["accounts"],
            contacts=self.counts["contacts"], products=len(self.products),
            stages=len(self.stages), leads=self.counts["leads"],
            opportunities=self.counts["opportunities"],
            stage_changes=self.counts["stage_changes"], bookings=self.counts["bookings"],
            exchange_rates=self.counts["exchange_rates"], periods=self.counts["periods"],
            quotas=self.counts["quotas"], seconds=time.perf_counter() - started,
            lines_per_deal=self.lines_per_deal,
        )

    @staticmethod
    def _months(first: date, last: date) -> Iterator[date]:
        month = date(first.year, first.month, 1)
        while month <= last:
            yield month
            month = add_months(month, 1)

    # -- people --

    def _new_person(self, rng: np.random.Generator, role: str, title: str, hired: date,
                    currency: str = "USD", **extra: Any) -> Person:
        self.person_seq += 1
        first = cat.FIRST_NAMES[rng.integers(len(cat.FIRST_NAMES))]
        last = cat.LAST_NAMES[rng.integers(len(cat.LAST_NAMES))]
        name = f"{first} {last}"
        self.name_seen[name] += 1
        suffix = "" if self.name_seen[name] == 1 else str(self.name_seen[name])
        email = f"{_ascii_slug(first)}.{_ascii_slug(last)}{suffix}@{COMPANY_EMAIL_DOMAIN}"
        person = Person(external_id=f"EMP-{self.person_seq:06d}", name=name, email=email,
                        role=role, title=title, currency=currency, hired_on=hired, **extra)
        self.people.append(person)
        return person

    def _line(self, person: Person, manager: Person | None, team: Team | None, start: date,
              end: date | None = None) -> None:
        self.lines.append(ReportingLine(person=person, manager=manager, team=team,
                                        valid_from=start, valid_to=end))

    def _veteran_hire(self, rng: np.random.Generator) -> date:
        return self.start - timedelta(days=int(rng.integers(365, 3_000)))

    def _build_organisation(self) -> None:
        rng = self.rng(1)
        hire = self._veteran_hire
        ceo = self._new_person(rng, Role.EXECUTIVE, "Chief Executive Officer", hire(rng))
        vp = self._new_person(rng, Role.MANAGER, "VP Sales", hire(rng))
        staff = [
            (self._new_person(rng, Role.OPS, "Director of Sales Operations", hire(rng)), vp),
            (self._new_person(rng, Role.OPS, "Sales Operations Analyst", hire(rng)), vp),
            (self._new_person(rng, Role.FINANCE, "Financial Controller", hire(rng)), ceo),
            (self._new_person(rng, Role.FINANCE, "Commissions Analyst", hire(rng)), ceo),
        ]
        n_teams = min(self.reps, max(2, math.ceil(self.reps / REPS_PER_TEAM)))
        plans = self._team_plans(n_teams)
        region_names = list(dict.fromkeys(region for region, _ in plans))
        self.regions = [Region(name=name) for name in region_names]
        Region.objects.bulk_create(self.regions)
        region_by_name = {r.name: r for r in self.regions}
        directors = {
            name: self._new_person(rng, Role.MANAGER, f"Regional Vice President, {name}",
                                   hire(rng), cat.REGIONS[name][1])
            for name in region_names
        }
        per_combo: Counter[tuple[str, int]] = Counter()
        self.teams: list[Team] = []
        self.team_segment: list[int] = []
        self.managers: list[Person] = []
        for region, segment in plans:
            per_combo[(region, segment)] += 1
            name = (f"{cat.REGIONS[region][0]} {cat.SEGMENT_LABELS[segment]} "
                    f"{per_combo[(region, segment)]}")
            self.teams.append(Team(name=name, region=region_by_name[region],
                                   segment=cat.SEGMENTS[segment]))
            self.team_segment.append(segment)
            self.managers.append(self._new_person(
                rng, Role.MANAGER, f"Sales Manager, {name}", hire(rng), cat.REGIONS[region][1]))
        Team.objects.bulk_create(self.teams)

        self.seats = self._plan_seats(rng, plans)
        self._move_seats_in_reorg(rng, plans)
        self._staff_seats(rng)
        Person.objects.bulk_create(self.people, batch_size=BATCH_SIZE)

        self._line(ceo, None, None, ceo.hired_on)
        self._line(vp, ceo, None, vp.hired_on)
        for person, boss in staff:
            self._line(person, boss, None, person.hired_on)
        for director in directors.values():
            self._line(director, vp, None, director.hired_on)
        for team, manager, (region, _) in zip(self.teams, self.managers, plans, strict=True):
            self._line(manager, directors[region], team, manager.hired_on)
        for seat in self.seats:
            for occupant in seat.occupants:
                self._rep_lines(seat, occupant)
        ReportingLine.objects.bulk_create(self.lines, batch_size=BATCH_SIZE)

    def _team_plans(self, n_teams: int) -> list[tuple[str, int]]:
        pattern = cat.TEAM_PATTERN
        return [pattern[i % len(pattern)] for i in range(n_teams)]

    def _plan_seats(self, rng: np.random.Generator,
                    plans: list[tuple[str, int]]) -> list[_Seat]:
        return [
            _Seat(team_before=i % len(plans), team_after=i % len(plans),
                  segment=plans[i % len(plans)][1], region=plans[i % len(plans)][0])
            for i in range(self.reps)
        ]

    def _move_seats_in_reorg(self, rng: np.random.Generator,
                             plans: list[tuple[str, int]]) -> None:
        if self.reorg is None or len(plans) < 2:
            return
        moving = max(1, round(0.15 * len(self.seats)))
        # Growth seats are the last ones; only seats that exist before the re-org move.
        candidates = np.arange(len(self.seats) - self._growth_seat_count())
        for index in sorted(rng.choice(candidates, size=min(moving, len(candidates)),
                                       replace=False).tolist()):
            seat = self.seats[index]
            others = [t for t in range(len(plans)) if t != seat.team_before]
            same_segment = [t for t in others if plans[t][1] == seat.segment]
            same_region = [t for t in same_segment if plans[t][0] == seat.region]
            choices = same_region or same_segment or others
            seat.team_after = choices[int(rng.integers(len(choices)))]

    def _growth_seat_count(self) -> int:
        return max(1, round(0.15 * self.reps))

    def _staff_seats(self, rng: np.random.Generator) -> None:
        history_days = self.cutoff_day - self.start_day
        growth_from = len(self.seats) - self._growth_seat_count()
        for index, seat in enumerate(self.seats):
            if index < growth_from:
                hired = day_number(self._veteran_hire(rng)) + int(rng.integers(-200, 300))
                hired = min(hired, self.start_day - 30)
                left = self.start_day + int(rng.exponential(MEAN_TENURE_DAYS))
            else:
                hired = self.start_day + int(rng.integers(0, max(1, history_days - 60)))
                left = hired + max(120, int(rng.exponential(MEAN_TENURE_DAYS)))
            while True:
                still_here = left >= self.cutoff_day
                self._add_occupant(rng, seat, index, hired, None if still_here else left)
                if still_here:
                    break
                hired = left + int(rng.integers(14, 75))
                if hired >= self.cutoff_day:
                    break
                left = hired + max(120, int(rng.exponential(MEAN_TENURE_DAYS)))
        if not any(o.left is not None for seat in self.seats for o in seat.occupants):
            self._force_a_leaver(rng)

    def _force_a_leaver(self, rng: np.random.Generator) -> None:
        seat = self.seats[0]
        first = seat.occupants[0]
        first.left = self.start_day + (self.cutoff_day - self.start_day) // 2
        first.person.left_on = day_of(first.left)
        self._add_occupant(rng, seat, 0, first.left + 30, None)

    def _add_occupant(self, rng: np.random.Generator, seat: _Seat, index: int, hired: int,
                      left: int | None) -> None:
        skill = round(float(np.clip(rng.normal(1.0, 0.15), 0.6, 1.45)), 2)
        ramp = int(rng.integers(3, 7))
        segment = seat.segment
        title = ("Account Executive", "Account Executive, Mid-market",
                 "Enterprise Account Executive")[segment]
        if skill >= 1.15:
            title = "Senior " + title
        person = self._new_person(
            rng, Role.REP, title, day_of(hired), cat.REGIONS[seat.region][1],
            left_on=day_of(left) if left is not None else None, ramp_months=ramp,
            skill=Decimal(f"{skill:.2f}"),
        )
        seat.occupants.append(_Occupant(person, index, hired, left, skill, ramp))

    def _rep_lines(self, seat: _Seat, occupant: _Occupant) -> None:
        person = occupant.person
        left = person.left_on
        before = self.teams[seat.team_before]
        after = self.teams[seat.team_after]
        if seat.team_before == seat.team_after or self.reorg is None:
            self._line(person, self.managers[seat.team_before], before, person.hired_on, left)
            return
        if occupant.hired >= self.reorg_day:
            self._line(person, self.managers[seat.team_after], after, person.hired_on, left)
        elif left is not None and left <= self.reorg:
            self._line(person, self.managers[seat.team_before], before, person.hired_on, left)
        else:
            self._line(person, self.managers[seat.team_before], before, person.hired_on,
                       self.reorg)
            self._line(person, self.managers[seat.team_after], after, self.reorg, left)

    # -- reference data --

    def _write_rates_and_products(self) -> None:
        rng = self.rng(2)
        months = list(self._months(self.gen_start, add_months(self.quota_end, -1)))
        self.first_month_index = self.gen_start.year * 12 + self.gen_start.month - 1
        self.rates: dict[str, np.ndarray] = {"USD": np.ones(len(months))}
        for currency, start_rate in cat.START_RATES.items():
            walk = np.cumsum(rng.normal(0.0, 0.012, len(months)))
            self.rates[currency] = np.round(start_rate * np.exp(walk), 6)
        rows = [
            ExchangeRate(currency=currency, month_start=month,
                         rate=Decimal(f"{float(series[i]):.6f}"))
            for currency, series in self.rates.items() for i, month in enumerate(months)
        ]
        ExchangeRate.objects.bulk_create(rows, batch_size=BATCH_SIZE, ignore_conflicts=True)
        self.counts["exchange_rates"] = len(rows)
        existing = {p.external_id: p for p in Product.objects.all()}
        missing = [
            Product(external_id=ext, name=name, family=family, list_price=Decimal(price),
                    currency="USD")
            for ext, name, family, price in cat.PRODUCTS if ext not in existing
        ]
        Product.objects.bulk_create(missing)
        by_ext = {p.external_id: p for p in Product.objects.all()}
        self.products = [by_ext[ext] for ext, *_ in cat.PRODUCTS]
        self.product_ids = [p.pk for p in self.products]
        self.product_prices = np.array([float(price) for *_, price in cat.PRODUCTS])

    # -- accounts --

    def _write_accounts(self) -> None:
        rng = self.rng(3)
        pool = np.array([(60, 35, 15)[seat.segment] for seat in self.seats])
        pool = np.maximum(5, np.round(pool * rng.uniform(0.8, 1.2, len(pool)))).astype(np.int64)
        self.account_first = np.concatenate([[0], np.cumsum(pool)[:-1]])
        self.account_count = pool
        total = int(pool.sum())
        self.account_ids = np.zeros(total, dtype=np.int64)
        self.account_names: list[str] = [""] * total
        self.account_currency: list[str] = [""] * total
        name_seen: Counter[str] = Counter()
        account_seq = 0
        contact_seq = 0
        account_ids = IdAllocator(Account)
        contact_ids = IdAllocator(Contact)
        account_writer = TableWriter(Account, ACCOUNT_FIELDS)
        contact_writer = TableWriter(Contact, CONTACT_FIELDS)
        seats_per_chunk = max(1, 20_000 // int(pool.mean()))
        for chunk_start in range(0, len(self.seats), seats_per_chunk):
            accounts: list[tuple[Any, ...]] = []
            for seat_index in range(chunk_start,
                                    min(len(self.seats), chunk_start + seats_per_chunk)):
                seat = self.seats[seat_index]
                countries, weights = zip(*cat.REGIONS[seat.region][2], strict=True)
                owner = self._owner_at(seat_index, self.cutoff_day - 1)
                for _ in range(int(pool[seat_index])):
                    country = countries[int(rng.choice(len(countries), p=weights))]
                    base = (f"{cat.COMPANY_PREFIXES[rng.integers(len(cat.COMPANY_PREFIXES))]} "
                            f"{cat.COMPANY_NOUNS[rng.integers(len(cat.COMPANY_NOUNS))]}")
                    name_seen[base] += 1
                    repeat = name_seen[base]
                    label = base if repeat == 1 else f"{base} {repeat}"
                    created = self.gen_start - timedelta(days=int(rng.integers(30, 1_500)))
                    self.account_names[account_seq] = (
                        f"{label} {cat.COMPANY_SUFFIX_BY_COUNTRY[country]}")
                    self.account_currency[account_seq] = cat.COUNTRY_CURRENCY[country]
                    self.account_ids[account_seq] = account_ids.take()
                    account_seq += 1
                    accounts.append((
                        int(self.account_ids[account_seq - 1]), f"ACC-{account_seq:07d}",
                        self.account_names[account_seq - 1], f"{_ascii_slug(label, '-')}.example",
                        cat.INDUSTRIES[rng.integers(len(cat.INDUSTRIES))],
                        SEGMENT_VALUES[seat.segment], country, owner,
                        datetime(created.year, created.month, created.day, 9, tzinfo=UTC),
                    ))
            contacts: list[tuple[Any, ...]] = []
            for account_id, _, _, domain, _, _, _, _, account_created in accounts:
                for _ in range(int(rng.integers(1, 4))):
                    contact_seq += 1
                    first = cat.FIRST_NAMES[rng.integers(len(cat.FIRST_NAMES))]
                    last = cat.LAST_NAMES[rng.integers(len(cat.LAST_NAMES))]
                    contacts.append((
                        contact_ids.take(), f"CON-{contact_seq:07d}", account_id,
                        f"{first} {last}", f"{_ascii_slug(first)}.{_ascii_slug(last)}@{domain}",
                        cat.CONTACT_TITLES[rng.integers(len(cat.CONTACT_TITLES))],
                        account_created + timedelta(days=int(rng.integers(0, 400))),
                    ))
            with transaction.atomic():
                self.counts["accounts"] += account_writer.write(accounts)
                self.counts["contacts"] += contact_writer.write(contacts)

    # -- who owns what, when --

    def _team_at(self, seat_index: int, day: int) -> int:
        seat = self.seats[seat_index]
        return seat.team_after if day >= self.reorg_day else seat.team_before

    def _owner_at(self, seat_index: int, day: int) -> int:
        """The person id of the seat's rep on `day`, or of the team's manager if it is vacant."""
        for occupant in self.seats[seat_index].occupants:
            if occupant.hired <= day and (occupant.left is None or day < occupant.left):
                return int(occupant.person.pk)
        return int(self.managers[self._team_at(seat_index, day)].pk)

    # -- quotas --

    def _quota_months(self) -> list[date]:
        return list(self._months(self.start, add_months(self.quota_end, -1)))

    def _write_quotas(self) -> None:
        periods = ensure_periods(self.rules.year_start(self.start), self.quota_end)
        self.counts["periods"] = len(periods)
        period_id = {(p.kind, p.start): p.pk for p in periods}
        expected = [sim.expected_bookings_per_deal(self.seed, s) for s in range(3)]
        annual = sim.OPPS_PER_MONTH * 12 * np.array(expected) * QUOTA_STRETCH
        months = self._quota_months()
        month_days = np.array([day_number(m) for m in months])
        next_days = np.array([day_number(add_months(m, 1)) for m in months])
        month_factor = np.array([self._quota_month_factor(m) for m in months])
        growth = sim.YEARLY_GROWTH ** ((month_days - self.start_day) / 365.25)
        quarter_of = [self.rules.span("quarter", m).start for m in months]
        year_of = [self.rules.span("year", m).start for m in months]
        month_number = np.array([m.year * 12 + m.month - 1 for m in months])

        team_totals: Counter[tuple[int, str, date]] = Counter()
        rows: list[tuple[Any, ...]] = []
        quota_ids = IdAllocator(Quota)
        writer = TableWriter(Quota, QUOTA_FIELDS)

        def flush() -> None:
            first = quota_ids.take(len(rows))
            with transaction.atomic():
                self.counts["quotas"] += writer.write(
                    (first + offset, *row) for offset, row in enumerate(rows))
            rows.clear()

        for seat_index, seat in enumerate(self.seats):
            for occupant in seat.occupants:
                left = occupant.left if occupant.left is not None else 10**9
                low = np.maximum(month_days, occupant.hired)
                high = np.minimum(next_days, left)
                share = np.clip(high - low, 0, None) / (next_days - month_days)
                hired = day_of(occupant.hired)
                since_hire = month_number - (hired.year * 12 + hired.month - 1)
                ramp = np.clip((since_hire + 0.5) / (occupant.ramp_months + 1), 0.0, 1.0)
                amounts = np.round(annual[seat.segment] / 12 * month_factor * growth * ramp
                                   * share).astype(np.int64)
                quarters: Counter[date] = Counter()
                years: Counter[date] = Counter()
                for i in np.flatnonzero(amounts > 0).tolist():
                    amount = int(amounts[i])
                    rows.append(self._quota(occupant.person.pk, None,
                                            period_id[("month", months[i])], amount))
                    quarters[quarter_of[i]] += amount
                    years[year_of[i]] += amount
                    team = self._team_at(seat_index, int(low[i]))
                    team_totals[(team, "quarter", quarter_of[i])] += amount
                    team_totals[(team, "year", year_of[i])] += amount
                for start, amount in quarters.items():
                    rows.append(self._quota(occupant.person.pk, None,
                                            period_id[("quarter", start)], amount))
                for start, amount in years.items():
                    rows.append(self._quota(occupant.person.pk, None,
                                            period_id[("year", start)], amount))
            if len(rows) >= 20_000:
                flush()
        for (team, kind, start), amount in sorted(team_totals.items(),
                                                  key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
            rows.append(self._quota(None, self.teams[team].pk, period_id[(kind, start)], amount))
        flush()

    def _quota_month_factor(self, month: date) -> float:
        quarter = self.rules.span("quarter", month)
        quarter_months = [add_months(quarter.start, i) for i in range(3)]
        seasonal = float(np.mean([sim.SEASONALITY[m.month - 1] for m in quarter_months]))
        position = quarter_months.index(month)
        return seasonal * float(MONTH_IN_QUARTER[position]) * 3

    @staticmethod
    def _quota(person_id: int | None, team_id: int | None, period_id: int,
               amount: int) -> tuple[Any, ...]:
        """A quota row without its id (person, team, period, kind, amount, currency)."""
        return (person_id, team_id, period_id, BOOKINGS_QUOTA, Decimal(amount), "USD")

    # -- deals --

    def _prepare_deal_arrays(self) -> None:
        occupants = [o for seat in self.seats for o in seat.occupants]
        self.occ = occupants
        self.occ_seat = np.array([o.seat for o in occupants])
        self.occ_hired = np.array([o.hired for o in occupants])
        self.occ_left = np.array([o.left if o.left is not None else 10**9 for o in occupants])
        self.occ_skill = np.array([o.skill for o in occupants])
        self.occ_ramp = np.array([o.ramp_months for o in occupants])
        self.occ_segment = np.array([self.seats[o.seat].segment for o in occupants])
        self.occ_person = np.array([o.person.pk for o in occupants])
        hired_months = [day_of(o.hired) for o in occupants]
        self.occ_hired_month = np.array([d.year * 12 + d.month - 1 for d in hired_months])
        self.stage_ids = [s.pk for s in self.stages]
        self.stage_category = [s.forecast_category for s in self.stages]
        self.opp_seq = 0
        self.lead_seq = 0
        self.booking_seq = 0
        self.opp_ids = IdAllocator(Opportunity)
        self.change_ids = IdAllocator(StageChange)
        self.lead_ids = IdAllocator(Lead)
        self.booking_ids = IdAllocator(Booking)
        self.opp_writer = TableWriter(Opportunity, OPPORTUNITY_FIELDS)
        self.change_writer = TableWriter(StageChange, STAGE_CHANGE_FIELDS)
        self.lead_writer = TableWriter(Lead, LEAD_FIELDS)
        self.booking_writer = TableWriter(Booking, BOOKING_FIELDS)

    def _write_month(self, index: int, month: date) -> None:
        rng = self.rng(100, index)
        first = day_number(month)
        after = min(day_number(add_months(month, 1)), self.cutoff_day)
        if after <= first:
            return
        low = np.maximum(self.occ_hired, first)
        high = np.minimum(self.occ_left, after)
        active_days = np.clip(high - low, 0, None)
        months_in = month.year * 12 + month.month - 1 - self.occ_hired_month
        ramp = np.clip((months_in + 1) / self.occ_ramp, 0.0, 1.0)
        rate = (sim.OPPS_PER_MONTH[self.occ_segment] * sim.SEASONALITY[month.month - 1] * ramp
                * active_days / (day_number(add_months(month, 1)) - first))
        per_rep = rng.poisson(rate)
        creator = np.repeat(np.arange(len(self.occ)), per_rep)
        days = low[creator] + np.floor(rng.random(len(creator)) * active_days[creator]).astype(
            np.int64)
        weekday = (days + 3) % 7  # 0 = Monday
        days = np.maximum(days - np.where(weekday >= 5, weekday - 4, 0), low[creator])
        created = days * sim.DAY + 8 * 3_600 + rng.integers(0, 9 * 3_600, len(creator))
        order = np.argsort(created, kind="stable")
        creator, created = creator[order], created[order]
        for slice_start in range(0, len(creator), DEAL_SLICE):
            part = slice(slice_start, slice_start + DEAL_SLICE)
            self._write_deals(rng, index, slice_start // DEAL_SLICE, creator[part],
                              created[part])
        if month >= self.start:
            self._write_open_leads(rng, month, first, after, per_rep)

    def _write_deals(self, rng: np.random.Generator, month_index: int, slice_number: int,
                     creator: np.ndarray, created: np.ndarray) -> None:
        n = len(creator)
        if n == 0:
            return
        seat = self.occ_seat[creator]
        segment = self.occ_segment[creator]
        types = sim.deal_types(rng, segment)
        years_in = (created / sim.DAY - self.start_day) / 365.25
        amount_usd = sim.deal_sizes_usd(rng, segment, types, years_in)
        paths = sim.simulate_deals(rng, segment, types, self.occ_skill[creator], created,
                                   amount_usd, self.rules.start_month)
        account = self.account_first[seat] + np.floor(
            rng.random(n) * self.account_count[seat]).astype(np.int64)
        source = rng.choice(len(cat.LEAD_SOURCES), size=n, p=cat.LEAD_SOURCE_WEIGHTS)
        from_lead = (types == 0) & (rng.random(n) < 0.5)
        early_reason = rng.choice(len(cat.LOSS_REASONS), size=n, p=cat.EARLY_LOSS_WEIGHTS)
        late_reason = rng.choice(len(cat.LOSS_REASONS), size=n, p=cat.LATE_LOSS_WEIGHTS)
        line_count = 1 + (rng.random(n) < 0.5) + (rng.random(n) < 0.2)
        main_share = rng.uniform(0.6, 0.9, n)
        extra_product = np.argsort(rng.random((n, len(cat.EXTRA_PRODUCTS))), axis=1)[:, :2]
        lead_lead_days = rng.uniform(3, 30, n)
        lead_qualify = rng.uniform(0.2, 0.9, n)
        pushed_close = sim.end_of_month(np.full(n, self.cutoff_day) + rng.integers(10, 45, n))
        main_product = self._main_products(month_index, slice_number, segment)

        valid = paths.events < self.cutoff
        current = valid.sum(axis=1) - 1
        rows = np.arange(n)
        closed = current == paths.last_open + 1
        close_day = paths.close_days[rows, current]
        close_day = np.where(~closed & (close_day < self.cutoff_day), pushed_close, close_day)
        keep = ~(closed & (close_day < self.start_day))
        owner_day = np.where(closed, close_day, self.cutoff_day - 1)

        month_of_creation = (created // sim.DAY).astype("datetime64[D]").astype(
            "datetime64[M]").astype(np.int64) - (self.first_month_index - 1970 * 12)
        kept = np.flatnonzero(keep).tolist()
        first_id = self.opp_ids.take(len(kept))
        opportunities: list[tuple[Any, ...]] = []
        local_amounts: dict[int, list[int]] = {}
        for offset, i in enumerate(kept):
            currency = self.account_currency[int(account[i])]
            rate = float(self.rates[currency][int(month_of_creation[i])])
            local = [round(a / rate) * 100 for a in paths.amount_usd[i].tolist()]
            local_amounts[i] = local
            stage = self._stage_index(paths, i, int(current[i]))
            is_closed = bool(closed[i])
            lost = is_closed and not paths.won[i]
            creator_i = int(creator[i])
            owner = (int(self.occ_person[creator_i])
                     if self.occ_left[creator_i] > owner_day[i] and
                     self.occ_hired[creator_i] <= owner_day[i]
                     else self._owner_at(int(seat[i]), int(owner_day[i])))
            reason = (early_reason[i] if paths.last_open[i] < 2 else late_reason[i])
            self.opp_seq += 1
            opportunities.append((
                first_id + offset, f"OPP-{self.opp_seq:08d}",
                f"{self.account_names[int(account[i])]} - "
                f"{DealType(cat.DEAL_TYPES[types[i]]).label}",
                int(self.account_ids[int(account[i])]), owner,
                cents_decimal(local[int(current[i])]), currency, self.stage_ids[stage],
                self.stage_category[stage], cat.DEAL_TYPES[types[i]],
                (cat.LEAD_SOURCES[source[i]] if types[i] == 0 else cat.EXISTING_CUSTOMER_SOURCE),
                SEGMENT_VALUES[segment[i]], instant_of(created[i]), day_of(close_day[i]),
                is_closed, is_closed and bool(paths.won[i]),
                cat.LOSS_REASONS[reason] if lost else "",
                self.product_ids[int(main_product[i])],
            ))
        deals = list(zip(opportunities, kept, strict=True))
        leads = [self._converted_lead(opp, i, created, lead_lead_days, lead_qualify, creator)
                 for opp, i in deals if from_lead[i]]
        splits = self._line_splits(month_index, slice_number, segment, keep & closed & paths.won)
        with transaction.atomic():
            self.counts["opportunities"] += self.opp_writer.write(opportunities)
            self.counts["stage_changes"] += self.change_writer.write(
                self._stage_changes(deals, paths, current, local_amounts))
            self.counts["leads"] += self.lead_writer.write(leads)
            self.counts["bookings"] += self.booking_writer.write(
                line for opp, i in deals if opp[_OPP_IS_WON]
                for line in self._order_lines(
                    opp, local_amounts[i][int(current[i])], int(line_count[i]),
                    float(main_share[i]), extra_product[i], int(main_product[i]),
                    int(seat[i]), int(close_day[i]), int(splits[i])))

    def _stage_changes(self, deals: list[tuple[tuple[Any, ...], int]], paths: sim.DealPaths,
                       current: np.ndarray, local_amounts: dict[int, list[int]],
                       ) -> Iterator[tuple[Any, ...]]:
        """Each deal's stage history, from creation to its current stage (rows with ids)."""
        for opp, i in deals:
            local = local_amounts[i]
            previous = None
            events = paths.events[i].tolist()
            close_days = paths.close_days[i].tolist()
            for k in range(int(current[i]) + 1):
                stage = self.stage_ids[self._stage_index(paths, i, k)]
                yield (self.change_ids.take(), opp[_OPP_ID], previous, stage,
                       instant_of(events[k]), cents_decimal(local[k]), day_of(close_days[k]))
                previous = stage

    def _main_products(self, month_index: int, slice_number: int, segment: np.ndarray
                       ) -> np.ndarray:
        """Each deal's main product (index into `cat.PRODUCTS`), drawn by segment from
        `cat.MAIN_PRODUCT_MIX_BY_SEGMENT` (SMB mostly Starter, mid-market mostly Professional,
        enterprise mostly Enterprise), from its own random stream so that no other draw moves.
        The deal's `product` and its first order line name this product."""
        rng = self.rng(301, month_index, slice_number)
        mix = np.cumsum(np.asarray(cat.MAIN_PRODUCT_MIX_BY_SEGMENT, dtype=np.float64), axis=1)
        draw = rng.random(len(segment))
        choice = (draw[:, None] >= mix[segment][:, :-1]).sum(axis=1)
        return np.asarray(cat.MAIN_PRODUCTS, dtype=np.int64)[choice]

    def _line_splits(self, month_index: int, slice_number: int, segment: np.ndarray,
                     won: np.ndarray) -> np.ndarray:
        """How many lines (sites x billing periods) each product line of each deal becomes.

        1 everywhere unless `lines_per_deal` is above the catalogue's 1.7 product lines; then
        1 + Poisson, weighted by segment and normalised over this slice's won deals so that the
        mean is `splits_per_line`. Drawn from its own random stream.
        """
        if self.splits_per_line <= 1.0 or not won.any():
            return np.ones(len(segment), dtype=np.int64)
        rng = self.rng(300, month_index, slice_number)
        weight = np.asarray(cat.SPLIT_WEIGHT_BY_SEGMENT)[segment]
        mean = (self.splits_per_line - 1.0) * weight / weight[won].mean()
        return 1 + rng.poisson(mean)

    @staticmethod
    def _stage_index(paths: sim.DealPaths, i: int, event: int) -> int:
        """Index into DEFAULT_STAGES of the stage entered at `event` of deal i."""
        if event <= paths.last_open[i]:
            return event
        return 5 if paths.won[i] else 6

    def _converted_lead(self, opp: tuple[Any, ...], i: int, created: np.ndarray,
                        lead_days: np.ndarray, qualify: np.ndarray,
                        creator: np.ndarray) -> tuple[Any, ...]:
        converted = int(created[i])
        lead_created = converted - int(lead_days[i] * sim.DAY)
        qualified = lead_created + int((converted - lead_created) * float(qualify[i]))
        self.lead_seq += 1
        return (
            self.lead_ids.take(), f"LEAD-{self.lead_seq:08d}", self._contact_name(i),
            opp[_OPP_NAME].rsplit(" - ", 1)[0], opp[_OPP_SOURCE], LEAD_CONVERTED,
            int(self.occ_person[int(creator[i])]), instant_of(lead_created),
            instant_of(qualified), instant_of(converted), opp[_OPP_ID],
        )

    @staticmethod
    def _contact_name(i: int) -> str:
        first = cat.FIRST_NAMES[(i * 7 + 3) % len(cat.FIRST_NAMES)]
        last = cat.LAST_NAMES[(i * 13 + 5) % len(cat.LAST_NAMES)]
        return f"{first} {last}"

    def _order_lines(self, opp: tuple[Any, ...], total_cents: int, count: int,
                     main_share: float, extras: np.ndarray, main_product: int, seat: int,
                     close_day: int, splits: int) -> Iterator[tuple[Any, ...]]:
        """1-3 product lines, each split into `splits` lines, adding up exactly to the deal.

        Worked example: 1,000.01 USD, two products with main share 0.7 and 2 splits: the add-on
        gets int(100001 * 0.3) = 30000 cents, the main product the rest, 70001; split in two,
        35001 + 35000 and 15000 + 15000 cents.
        """
        products = [main_product]
        products += [cat.EXTRA_PRODUCTS[int(e)] for e in extras[: count - 1]]
        shares = [main_share] + [(1 - main_share) / (count - 1)] * (count - 1) if count > 1 else [1]
        cents = [int(total_cents * share) for share in shares[1:]]
        cents.insert(0, total_cents - sum(cents))
        # At least a dollar a line.
        splits = max(1, min(splits, min(cents) // 100))
        team = self.teams[self._team_at(seat, close_day)].pk
        opp_id, owner, currency, booked_on = (opp[_OPP_ID], opp[_OPP_OWNER], opp[_OPP_CURRENCY],
                                              opp[_OPP_CLOSE_DATE])
        for product, product_cents in zip(products, cents, strict=True):
            product_id = self.product_ids[product]
            price = self.product_prices[product]
            share, remainder = divmod(product_cents, splits)
            for k in range(splits):
                amount = share + (k < remainder)
                self.booking_seq += 1
                quantity = max(1, round(amount / 100 / price))
                invoiced_on, paid_on = self._billing_days(booked_on, self.booking_seq)
                yield (self.booking_ids.take(), f"BKG-{self.booking_seq:08d}", opp_id, owner,
                       team, product_id, Decimal(quantity), cents_decimal(amount), currency,
                       booked_on, invoiced_on, paid_on)

    def _billing_days(self, booked_on: date, seq: int) -> tuple[date | None, date | None]:
        """Invoice 0 to 14 days after booking, payment 30 to 60 days after the invoice; a day not
        reached by the end of the data stays empty (not invoiced / not paid yet). Spread by the
        line's sequence number, not drawn from a random stream, so no other value moves."""
        invoiced_on = booked_on + timedelta(days=seq * 7 % 15)
        paid_on = invoiced_on + timedelta(days=30 + seq * 11 % 31)
        if invoiced_on >= self.end:
            return None, None
        return invoiced_on, paid_on if paid_on < self.end else None

    # -- leads that did not (yet) become deals --

    def _write_open_leads(self, rng: np.random.Generator, month: date, first: int, after: int,
                          per_rep: np.ndarray) -> None:
        expected = per_rep * 0.6 * 0.5 * 1.6
        count = rng.poisson(expected)
        owner = np.repeat(np.arange(len(self.occ)), count)
        n = len(owner)
        if n == 0:
            return
        created = (first * sim.DAY + (rng.random(n) * (after - first) * sim.DAY).astype(np.int64))
        created = np.minimum(created, self.cutoff - 3_600)
        age_days = (self.cutoff - created) / sim.DAY
        draw = rng.random(n)
        source = rng.choice(len(cat.LEAD_SOURCES), size=n, p=cat.LEAD_SOURCE_WEIGHTS)
        qualify_after = (rng.uniform(1, 10, n) * sim.DAY).astype(np.int64)
        company = rng.random(n)
        names = rng.integers(0, 10**6, n)
        leads = []
        for i in range(n):
            seat = int(self.occ_seat[owner[i]])
            qualified_at = None
            if age_days[i] < 14:
                status = LEAD_NEW if draw[i] < 0.5 else LEAD_WORKING
            elif age_days[i] < 45:
                status = (LEAD_WORKING if draw[i] < 0.4 else LEAD_QUALIFIED
                          if draw[i] < 0.6 else LEAD_DISQUALIFIED)
            else:
                status = LEAD_QUALIFIED if draw[i] < 0.15 else LEAD_DISQUALIFIED
            if status == LEAD_QUALIFIED:
                qualified = int(created[i] + qualify_after[i])
                if qualified >= self.cutoff:
                    status = LEAD_WORKING
                else:
                    qualified_at = instant_of(qualified)
            account = int(self.account_first[seat] + company[i] * self.account_count[seat])
            self.lead_seq += 1
            leads.append((
                self.lead_ids.take(), f"LEAD-{self.lead_seq:08d}",
                self._contact_name(int(names[i])), self.account_names[account],
                cat.LEAD_SOURCES[source[i]], status, int(self.occ_person[owner[i]]),
                instant_of(created[i]), qualified_at, None, None,
            ))
        with transaction.atomic():
            self.counts["leads"] += self.lead_writer.write(leads)


# Positions in an opportunity row (OPPORTUNITY_FIELDS).
_OPP_ID, _OPP_NAME, _OPP_OWNER, _OPP_CURRENCY = (
    OPPORTUNITY_FIELDS.index(name) for name in ("id", "name", "owner", "currency"))
_OPP_SOURCE, _OPP_CLOSE_DATE, _OPP_IS_WON, _OPP_PRODUCT = (
    OPPORTUNITY_FIELDS.index(name) for name in ("source", "close_date", "is_won", "product"))
