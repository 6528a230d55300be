"""Pipeline forecast: closed-won to date + the expected value of the open pipeline + the business
expected to be created and won inside the period, with win probabilities learnt from the
organisation's own history.

Win probability. For an open opportunity on day d, P(won before day E) comes from a logistic
model (L2-regularised, fitted by Newton's method in numpy) on features of its state on d:
stage (one-hot), log age, log days in stage, close-date pushes so far, log amount, the owner's
smoothed win rate on deals closed before d, segment (one-hot) and log days until E. Training
rows are every opportunity open on each sampling day d of the history (every `sample_days`),
with E the end of the period containing d and of the next one; the label is "won before E".
Right-censoring: a row whose E lies after the data's cut-off is left out (its outcome is not yet
known), never counted as a loss. The probability of a win inside the next period is
P(won before its end) - P(won before the current period's end), never below 0.

Business created and won inside the period: for each of the last `lookback` periods of the same
kind, the amount won before that period's end on deals created after the same offset into it
(as many days in as today is into the current period); their mean.

The baseline is the CRM's: closed-won to date + Σ stage probability x amount over open deals
whose close date falls in the period.

Worked example (one open deal of 1,000 with P = 0.4, closed-won 500, expected created-and-won
100): forecast = 500 + 0.4 x 1,000 + 100 = 1,000. The amounts are money: they enter and leave as
Decimal; the expected values are rounded once, to cents.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
CENT = Decimal("0.01")
PIPELINE_CALC_VERSION = "1"


@dataclass(frozen=True)
class OpportunityHistory:
    """An opportunity and its dated history (`stages`: (day, stage name), oldest first, the
    first one being the stage it was created in; `close_dates`: (day, new expected close))."""

    opportunity_id: int
    owner_id: int | None
    segment: str
    amount: Decimal
    created_on: date
    stages: tuple[tuple[date, str], ...]
    close_dates: tuple[tuple[date, date], ...] = ()
    closed_on: date | None = None
    won: bool = False
    close_date: date | None = None  # the current expected close date
    crm_probability: Decimal = Decimal(0)  # percent, 0..100, of its current stage

    def stage_on(self, day: date) -> tuple[str, date]:
        """(stage, day it was entered) at the start of `day`: changes made on `day` itself
        are not known yet (the stage it was created in always is)."""
        days = [d for d, _ in self.stages]
        i = bisect.bisect_left(days, day) - 1
        entered, name = self.stages[max(i, 0)]
        return name, entered

    def pushes_by(self, day: date) -> int:
        """How many times the expected close date moved later, before `day`."""
        pushes, previous = 0, None
        for changed, new in self.close_dates:
            if changed >= day:
                break
            if previous is not None and new > previous:
                pushes += 1
            previous = new
        return pushes


@dataclass(frozen=True)
class WinModel:
    """A fitted win-probability model: feature names and coefficients (intercept first)."""

    stages: tuple[str, ...]
    segments: tuple[str, ...]
    coefficients: Floats
    prior_win_rate: float
    training_rows: int
    positives: int
    calibration: tuple[tuple[float, float, int], ...] = field(default=())  # (mean p, rate, n)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return ("intercept", *(f"stage={s}" for s in self.stages[1:]), "log_age",
                "log_days_in_stage", "pushes", "log_amount", "owner_win_rate",
                *(f"segment={s}" for s in self.segments[1:]), "log_days_left")


class _OwnerRates:
    """Owners' win rates on deals closed before a day, smoothed towards the company's."""

    def __init__(self, history: Sequence[OpportunityHistory], strength: float = 5.0) -> None:
        closed = sorted((o.closed_on, o.owner_id, o.won) for o in history
                        if o.closed_on is not None)
        self._days = [c[0] for c in closed]
        self._rows = closed
        self._strength = strength
        self._cache: dict[date, tuple[dict[int | None, tuple[int, int]], float]] = {}
        self._tally: tuple[int, dict[int | None, tuple[int, int]], int] = (0, {}, 0)

    def rates_on(self, day: date) -> tuple[dict[int | None, tuple[int, int]], float]:
        if day not in self._cache:
            upto = bisect.bisect_left(self._days, day)
            # days come mostly in order: extend the last tally instead of recounting
            start, base, wins = self._tally if self._tally[0] <= upto else (0, {}, 0)
            counts = dict(base)
            for _, owner, won in self._rows[start:upto]:
                w, n = counts.get(owner, (0, 0))
                counts[owner] = (w + int(won), n + 1)
                wins += int(won)
            self._tally = (upto, counts, wins)
            company = (wins + 1) / (upto + 2)
            self._cache[day] = (counts, company)
        return self._cache[day]

    def rate(self, owner: int | None, day: date) -> float:
        counts, company = self.rates_on(day)
        w, n = counts.get(owner, (0, 0))
        return (w + self._strength * company) / (n + self._strength)


def _features(opp: OpportunityHistory, day: date, end: date, stages: Sequence[str],
              segments: Sequence[str], owners: _OwnerRates) -> list[float]:
    stage, entered = opp.stage_on(day)
    row = [1.0]
    row += [1.0 if stage == s else 0.0 for s in stages[1:]]
    row.append(math.log1p(max((day - opp.created_on).days, 0)))
    row.append(math.log1p(max((day - entered).days, 0)))
    row.append(float(opp.pushes_by(day)))
    row.append(math.log1p(max(float(opp.amount), 0.0)))
    row.append(owners.rate(opp.owner_id, day))
    row += [1.0 if opp.segment == s else 0.0 for s in segments[1:]]
    row.append(math.log1p(max((end - day).days, 0)))
    return row


def open_on(opp: OpportunityHistory, day: date) -> bool:
    """Open at the start of `day`: created before it, not closed before it."""
    return opp.created_on < day and (opp.closed_on is None or opp.closed_on >= day)


def training_rows(history: Sequence[OpportunityHistory], cutoff: date,
                  period_ends: Sequence[date], sample_days: int = 14
                  ) -> tuple[list[tuple[OpportunityHistory, date, date]], list[bool]]:
    """(opportunity, day, window end) rows and their labels: open on `day`, won before `end`.

    `period_ends` are the ends (excluded days) of the periods, in order; for a sampling day the
    windows end at the end of its period and of the next. Rows whose window ends after
    `cutoff` are censored and left out.
    """
    if not history:
        return [], []
    first = min(o.created_on for o in history)
    rows: list[tuple[OpportunityHistory, date, date]] = []
    labels: list[bool] = []
    day = first
    ends = sorted(period_ends)
    while day < cutoff:
        i = bisect.bisect_right(ends, day)
        windows = [e for e in ends[i:i + 2] if e <= cutoff]
        if windows:
            for opp in history:
                if not open_on(opp, day):
                    continue
                for end in windows:
                    rows.append((opp, day, end))
                    labels.append(bool(opp.won and opp.closed_on is not None
                                       and opp.closed_on < end))
        day += timedelta(days=sample_days)
    return rows, labels


def _fit_logistic(x: Floats, y: Floats, l2: float) -> Floats:
    """Newton's method for L2-penalised logistic regression (intercept not penalised)."""
    beta = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(x @ beta, -30, 30)))
        gradient = x.T @ (p - y) + penalty * beta
        hessian = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty) + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hessian, gradient)
        beta = beta - step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return beta


def _standardise(x: Floats) -> tuple[Floats, Floats, Floats]:
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    mean[0], std[0] = 0.0, 1.0
    std = np.where(std > 0, std, 1.0)
    return (x - mean) / std, mean, std


def calibration_table(predicted: Floats, outcome: Floats, bins: int = 10
                      ) -> tuple[tuple[float, float, int], ...]:
    """(mean predicted, observed rate, rows) per decile bin of the predictions."""
    edges = np.linspace(0, 1, bins + 1)
    table = []
    for low, high in itertools.pairwise(edges):
        mask = (predicted >= low) & ((predicted < high) | (high == 1.0))
        if mask.any():
            table.append((float(predicted[mask].mean()), float(outcome[mask].mean()),
                          int(mask.sum())))
    return tuple(table)


def fit_win_model(history: Sequence[OpportunityHistory], cutoff: date,
                  period_ends: Sequence[date], *, l2: float = 1.0, sample_days: int = 14,
                  max_rows: int = 200_000, seed: int = 7) -> WinModel:
    """Fit the win-probability model on `history` as known on `cutoff` (see the module)."""
    rows, labels = training_rows(history, cutoff, period_ends, sample_days)
    stages = tuple(sorted({name for o in history for _, name in o.stages}))
    segments = tuple(sorted({o.segment for o in history}))
    owners = _OwnerRates([o for o in history if o.closed_on is not None
                          and o.closed_on < cutoff])
    if len(rows) > max_rows:
        keep = np.random.default_rng(seed).choice(len(rows), max_rows, replace=False)
        keep.sort()
        rows = [rows[i] for i in keep]
        labels = [labels[i] for i in keep]
    prior = (sum(labels) + 1) / (len(labels) + 2)
    width = 1 + max(len(stages) - 1, 0) + 5 + max(len(segments) - 1, 0) + 1
    if len(set(labels)) < 2:
        beta = np.zeros(width)
        beta[0] = math.log(prior / (1 - prior))
        return WinModel(stages, segments, beta, prior, len(rows), sum(labels))
    x = np.array([_features(o, d, e, stages, segments, owners) for o, d, e in rows])
    y = np.array(labels, dtype=np.float64)
    z, mean, std = _standardise(x)
    beta_z = _fit_logistic(z, y, l2)
    beta = beta_z / std
    beta[0] = beta_z[0] - float(np.sum(beta_z[1:] * mean[1:] / std[1:]))
    predicted = 1 / (1 + np.exp(-np.clip(x @ beta, -30, 30)))
    return WinModel(stages, segments, beta, prior, len(rows), int(y.sum()),
                    calibration_table(predicted, y))


def win_probability(model: WinModel, opp: OpportunityHistory, day: date, end: date,
                    owners: _OwnerRates) -> float:
    """P(`opp`, open on `day`, is won before `end`)."""
    if end <= day:
        return 0.0
    # a stage never seen in history has no stage effect (every stage column is 0)
    x = np.array(_features(opp, day, end, model.stages, model.segments, owners))
    return float(1 / (1 + math.exp(-max(-30.0, min(30.0, float(x @ model.coefficients))))))


@dataclass(frozen=True)
class OpenDealForecast:
    opportunity_id: int
    owner_id: int | None
    amount: Decimal
    probability: float  # won inside the period
    crm_probability: float
    expected: Decimal


@dataclass(frozen=True)
class PipelinePeriodForecast:
    """The pipeline forecast of one period and one owner group (all when `owner_id` is None)."""

    period_start: date
    period_end: date
    closed_won: Decimal
    open_expected: Decimal
    created_expected: Decimal
    crm_baseline: Decimal
    deals: tuple[OpenDealForecast, ...]
    closed_won_by_owner: Mapping[int | None, Decimal] = field(default_factory=dict)
    crm_by_owner: Mapping[int | None, Decimal] = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return self.closed_won + self.open_expected + self.created_expected


def cents(value: Decimal | float) -> Decimal:
    number = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    return number.quantize(CENT, rounding=ROUND_HALF_EVEN)


def created_and_won(history: Sequence[OpportunityHistory], periods: Sequence[tuple[date, date]],
                    offset_days: int) -> Decimal:
    """Mean over `periods` of the amount won before each period's end on deals created on or
    after `offset_days` into it."""
    if not periods:
        return Decimal(0)
    totals = []
    for start, end in periods:
        since = start + timedelta(days=offset_days)
        totals.append(sum((o.amount for o in history
                           if o.won and o.closed_on is not None and since <= o.created_on
                           and o.closed_on < end), Decimal(0)))
    return sum(totals, Decimal(0)) / len(totals)


def pipeline_forecast(model: WinModel, history: Sequence[OpportunityHistory], as_of: date,
                      period: tuple[date, date], previous_periods: Sequence[tuple[date, date]],
                      *, current_end: date | None = None) -> PipelinePeriodForecast:
    """The forecast for `period` [start, end) as known on `as_of` (history known up to it).

    For a period after the current one, `current_end` is the current period's end: an open
    deal's chance inside `period` is P(won before its end) - P(won before `current_end`).
    `previous_periods` (same kind, same length) give the created-and-won expectation.
    """
    start, end = period
    known = [o for o in history if o.created_on < as_of]
    owners = _OwnerRates([o for o in known if o.closed_on is not None and o.closed_on < as_of])
    won_by_owner: dict[int | None, Decimal] = {}
    for o in known:
        if o.won and o.closed_on is not None and start <= o.closed_on < as_of:
            won_by_owner[o.owner_id] = won_by_owner.get(o.owner_id, Decimal(0)) + o.amount
    closed_won = sum(won_by_owner.values(), Decimal(0))
    crm_by_owner: dict[int | None, Decimal] = {
        owner: cents(amount) for owner, amount in won_by_owner.items()}
    deals = []
    open_total = Decimal(0)
    crm_total = Decimal(0)
    for opp in known:
        if opp.closed_on is not None and opp.closed_on < as_of:
            continue
        p = win_probability(model, opp, as_of, end, owners)
        if current_end is not None and current_end > as_of:
            p = max(0.0, p - win_probability(model, opp, as_of, current_end, owners))
        expected = cents(opp.amount * Decimal(repr(p)))
        crm = (float(opp.crm_probability) / 100
               if opp.close_date is not None and start <= opp.close_date < end else 0.0)
        deals.append(OpenDealForecast(opp.opportunity_id, opp.owner_id, opp.amount, p, crm,
                                      expected))
        open_total += expected
        crm_value = cents(opp.amount * Decimal(repr(crm)))
        crm_total += crm_value
        crm_by_owner[opp.owner_id] = crm_by_owner.get(opp.owner_id, Decimal(0)) + crm_value
    offset = max((as_of - start).days, 0)
    created = cents(created_and_won(history, previous_periods, offset))
    return PipelinePeriodForecast(
        start, end, cents(closed_won), open_total, created, cents(closed_won) + crm_total,
        tuple(deals), {owner: cents(a) for owner, a in won_by_owner.items()}, crm_by_owner)
