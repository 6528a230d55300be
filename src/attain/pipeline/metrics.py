"""The pipeline metric catalogue: what each figure means, which deals it counts, its time window
and how deals still open at the end of the data (right-censored) are treated. The pages show
these texts next to the figures; `attain.engine.calculations.pipeline` computes them.

Derived ratios (win rate, conversion, averages, velocity) are computed on read from the stored
counts and sums with exact Decimals, so a figure and its parts always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

from attain.core.money import round_money

TENTH = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    name: str
    definition: str
    window: str
    censoring: str


CATALOGUE: tuple[Metric, ...] = (
    Metric("created", "Pipeline created",
           "Opportunities created, and their amount in the company currency (converted at the "
           "rate of the month each was created in; a missing amount counts 0.00).",
           "Creation date (company time zone) in the period.",
           "Counted whatever happened later."),
    Metric("won", "Closed-won",
           "Opportunities whose won flag is set (their stage is a won stage).",
           "Close date in the period.", "Open deals are not closed: not counted."),
    Metric("lost", "Closed-lost",
           "Opportunities closed and not won (a lost stage); the loss reason as recorded.",
           "Close date in the period.", "Open deals are not counted."),
    Metric("win_rate", "Win rate",
           "Closed-won ÷ (closed-won + closed-lost), by count.",
           "Deals closed in the period.", "Open deals are left out (not counted as losses)."),
    Metric("deal_size", "Average deal size", "Won amount ÷ won deals.",
           "Deals won in the period.", "—"),
    Metric("cycle", "Sales cycle length",
           "Days from creation to close date of won deals; the median and mean are shown, the "
           "distribution in bands.",
           "Deals won in the period.",
           "Deals still open have no cycle yet and are left out, so long cycles appear late."),
    Metric("velocity", "Pipeline velocity",
           "Opportunities created x win rate x average deal size ÷ mean sales cycle (days): the "
           "company-currency value the pipeline turns into per day.",
           "Created, won and lost in the period.", "As for its parts."),
    Metric("cohort_funnel", "Funnel (cohort)",
           "Of the opportunities created in the period, how many reached each stage: the highest "
           "non-lost stage a deal ever entered is at or after the stage (a won deal reached "
           "every stage). Conversion = reached next stage ÷ reached this stage.",
           "Creation date in the period; reaching may happen later.",
           "Deals still open are counted where they are now; 'still open' shows how many of a "
           "stage's deals may yet move on, so recent cohorts look worse than they will be."),
    Metric("flow_funnel", "Funnel (flow)",
           "Stage changes in the period: deals entering each stage, leaving it for a later stage "
           "(advanced) or for a lost stage (lost). Flow conversion = advanced ÷ (advanced + "
           "lost).",
           "Change date in the period.",
           "Deals that neither advanced nor were lost in the period are not in the ratio."),
    Metric("time_in_stage", "Time in stage",
           "Days from entering an open stage to the deal's next stage change.",
           "Stays that ended in the period.",
           "Stays not ended by the end of the data are left out."),
    Metric("leads", "Lead conversion",
           "Of the leads created in the period: qualified, converted to an opportunity, and "
           "converted to an opportunity that was won.",
           "Lead creation date in the period.",
           "Later qualification or conversion counts, so recent cohorts are still filling up."),
    Metric("slipped", "Slipped deals",
           "Deals with a stage change in the period that recorded a later expected close date "
           "than the change before it (pushes counts every such change).",
           "Change date in the period.", "—"),
    Metric("aging", "Open pipeline aging",
           "Open deals by days since creation, at the end of the data.",
           "The day of the run.", "Only open deals."),
    Metric("bottleneck", "Where deals get stuck",
           "For each person against their team (and each team against the company): per "
           "stage, the relative gap in flow conversion and in mean days in stage; the stage with "
           "the largest positive gap (needs 5 exits or stays). Leads are flagged when at least "
           "10 arrived and fewer than half the benchmark's share qualified.",
           "Quarter or year.", "As for flow conversion and time in stage."),
)
CATALOGUE_BY_KEY = {m.key: m for m in CATALOGUE}

# Labels of the bands the engine stores, in display order (the engine's CYCLE_BANDS and
# AGE_BANDS; a test keeps them equal, so pages need not import the engine).
CYCLE_BAND_LABELS = ("0-14 d", "15-30 d", "31-60 d", "61-90 d", "91-180 d", "181-365 d",
                     "> 365 d")
# (label, lowest age, first age past the band or None) in days since the deal was created, as of
# the run's day (the engine's AGE_BANDS; a test keeps them equal)
AGE_BAND_DAYS: tuple[tuple[str, int, int | None], ...] = (
    ("0-30 d", 0, 31), ("31-60 d", 31, 61), ("61-90 d", 61, 91), ("91-180 d", 91, 181),
    ("> 180 d", 181, None),
)
AGE_BAND_LABELS = tuple(label for label, _, _ in AGE_BAND_DAYS)


def age_band_created(label: str, as_of: date) -> tuple[date | None, date | None]:
    """The creation days [from, to) of the open deals a run dated `as_of` counts in the aging
    band `label`: age = days from creation to `as_of`, a deal created after `as_of` counting as
    0 days old. Worked example, as of 30 June 2026: "31-60 d" holds ages 31..60, so deals
    created from 1 May (60 days before) up to, not including, 31 May (30 days before);
    "0-30 d" has no first day, "> 180 d" no last one."""
    low, high = next((low, high) for name, low, high in AGE_BAND_DAYS if name == label)
    first = as_of - timedelta(days=high - 1) if high is not None else None
    end = as_of - timedelta(days=low - 1) if low > 0 else None
    return first, end


def ratio_pct(part: int, whole: int) -> Decimal | None:
    """`part` ÷ `whole` in percent, one decimal (half up); None when `whole` is 0.

    >>> ratio_pct(1, 3)
    Decimal('33.3')
    """
    if whole <= 0:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(TENTH, rounding=ROUND_HALF_UP)


def average_money(amount: Decimal, count: int) -> Decimal | None:
    """Amount per item, rounded to cents half to even; None for no items."""
    if count <= 0:
        return None
    return round_money(amount / count)


def mean_days(days: int, count: int) -> Decimal | None:
    if count <= 0:
        return None
    return (Decimal(days) / count).quantize(TENTH, rounding=ROUND_HALF_EVEN)


def velocity(created: int, won: int, lost: int, won_amount: Decimal, cycle_days_sum: int
             ) -> Decimal | None:
    """Pipeline velocity per day: created x win rate x average deal size ÷ mean cycle days.

    Worked example: 20 created, 3 won of 6 closed (win rate 0.5), 30,000.00 won (10,000.00 a
    deal), cycles of 30 + 60 + 90 = 180 days (mean 60): 20 x 0.5 x 10,000.00 ÷ 60 = 1,666.67 a
    day. Exactly: created x won_amount x won ÷ ((won + lost) x cycle_days_sum), rounded once.

    >>> velocity(20, 3, 3, Decimal("30000.00"), 180)
    Decimal('1666.67')
    """
    if won <= 0 or cycle_days_sum <= 0:
        return None
    exact = Decimal(created) * won_amount * won / (Decimal(won + lost) * cycle_days_sum)
    return round_money(exact)
