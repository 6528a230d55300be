"""The sales model behind the demo data: how deals move through stages, how long, for how much.

Pure numpy, no Django: given who sells (skill), what (segment, deal type) and when (creation
instant), `simulate_deals` draws each deal's whole life. Times are integer seconds since the Unix
epoch (UTC); dates are integer days since the epoch.

The model, per deal:
- At each open stage s (Prospecting … Negotiation) it advances with probability
  `BASE_CONVERSION[s] ** (difficulty(segment) * ease(deal type) / skill)`, else it is lost there:
  a rep with skill 1.3 wins about 1.5x as often as one with skill 1.0 (25 % against 17 % of new
  mid-market deals) and one with skill 0.7 half as often (8 %); enterprise converts worse than SMB.
- Time in stage is lognormal around a segment's median (SMB weeks, enterprise months), shorter for
  renewals and expansions, divided by `skill ** 0.8`.
- Deal sizes are lognormal per segment (medians 12k, 45k, 180k USD), grown 6 % a year.
- Quarter-end pressure: many wins that would land in the last five weeks of a fiscal quarter are
  pushed to its final days, some early-next-quarter wins are pulled back into it, and lost deals
  are cleaned out at quarter end.
- The expected close date starts optimistic and is pushed to the end of a later month whenever a
  stage change happens on or after it (a "slipped" deal); each stage change records it.
- Half of the deals reaching Negotiation get a 3-15 % discount there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DAY = 86_400
NEVER = np.iinfo(np.int64).max

BASE_CONVERSION = np.array([0.72, 0.68, 0.66, 0.70, 0.74])
SEGMENT_DIFFICULTY = np.array([0.9, 1.0, 1.15])
TYPE_EASE = np.array([1.0, 0.7, 0.4])  # new business, expansion, renewal
TYPE_SPEED = np.array([1.0, 0.8, 0.6])
TYPE_SIZE = np.array([1.0, 0.5, 0.8])
TYPE_MIX = np.array([[0.7, 0.2, 0.1], [0.6, 0.25, 0.15], [0.5, 0.3, 0.2]])  # by segment
STAGE_DAYS = np.array([[4, 6, 8, 7, 5], [7, 10, 16, 12, 9], [12, 18, 30, 24, 20]], dtype=float)
DEAL_SIZE_MEDIAN_USD = np.array([12_000.0, 45_000.0, 180_000.0])
DEAL_SIZE_SIGMA = np.array([0.6, 0.6, 0.7])
YEARLY_GROWTH = 1.06
# Deals a fully ramped rep opens per month, by segment.
OPPS_PER_MONTH = np.array([9.0, 5.0, 2.4])
# Deal creation by calendar month (January first); averages 1.
SEASONALITY = np.array([0.85, 0.95, 1.08, 0.98, 1.0, 1.07, 0.86, 0.82, 1.06, 1.1, 1.12, 1.11])


@dataclass(frozen=True, slots=True)
class DealPaths:
    """The full simulated life of n deals. Event 0 is creation (entering Prospecting), events
    1..last_open[i] enter the next open stage, event last_open[i] + 1 closes the deal (won or lost);
    later columns are NEVER."""

    won: np.ndarray  # bool (n,)
    last_open: np.ndarray  # int (n,): the last open stage reached, 0..4
    events: np.ndarray  # int64 seconds (n, 6)
    close_days: np.ndarray  # int64 days (n, 6): the close date known at each event
    amount_usd: np.ndarray  # float (n, 6): the deal amount at each event


def _month_index(days: np.ndarray) -> np.ndarray:
    """Months since January 1970 of day numbers."""
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _month_start_day(month_index: np.ndarray) -> np.ndarray:
    return month_index.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def end_of_month(days: np.ndarray) -> np.ndarray:
    """The last day of each day's month."""
    return _month_start_day(_month_index(days) + 1) - 1


def quarter_bounds(days: np.ndarray, fiscal_start_month: int) -> tuple[np.ndarray, np.ndarray]:
    """First day of each day's fiscal quarter and first day of the next one."""
    months = _month_index(days)
    offset = (months - (fiscal_start_month - 1)) % 3
    first = months - offset
    return _month_start_day(first), _month_start_day(first + 3)


def deal_types(rng: np.random.Generator, segments: np.ndarray) -> np.ndarray:
    """New business, expansion or renewal (0, 1, 2) by the segment's mix."""
    cumulative = TYPE_MIX.cumsum(axis=1)[segments]
    return (rng.random(len(segments))[:, None] > cumulative[:, :2]).sum(axis=1)


def deal_sizes_usd(rng: np.random.Generator, segments: np.ndarray, types: np.ndarray,
                   years_in: np.ndarray) -> np.ndarray:
    """Lognormal deal sizes in USD by segment and type, grown by `YEARLY_GROWTH` per year."""
    sizes = DEAL_SIZE_MEDIAN_USD[segments] * rng.lognormal(0.0, DEAL_SIZE_SIGMA[segments])
    return sizes * TYPE_SIZE[types] * YEARLY_GROWTH ** years_in


def simulate_deals(
    rng: np.random.Generator,
    segments: np.ndarray,
    types: np.ndarray,
    skills: np.ndarray,
    created: np.ndarray,
    amount_usd: np.ndarray,
    fiscal_start_month: int = 1,
) -> DealPaths:
    """Draw the stage path, timing, close dates and amounts of each deal (see the module doc)."""
    n = len(segments)
    rows = np.arange(n)
    exponent = SEGMENT_DIFFICULTY[segments] * TYPE_EASE[types] / skills
    advance = rng.random((n, 5)) < BASE_CONVERSION[None, :] ** exponent[:, None]
    fail = np.where(advance.all(axis=1), 5, advance.argmin(axis=1))
    won = fail == 5
    last_open = np.minimum(fail, 4)

    days = STAGE_DAYS[segments] * rng.lognormal(0.0, 0.55, (n, 5))
    days *= (TYPE_SPEED[types] / skills**0.8)[:, None]
    days[rows[~won], last_open[~won]] *= 1.4  # deals stall before they die
    days = np.maximum(days, 0.25)
    cumulative = created[:, None] + np.cumsum(days * DAY, axis=1).astype(np.int64)

    events = np.full((n, 6), NEVER, dtype=np.int64)
    events[:, 0] = created
    events[:, 1:6] = cumulative
    column = np.arange(6)[None, :]
    events[column > (last_open + 1)[:, None]] = NEVER

    previous = events[rows, last_open]
    closing = _quarter_end_pressure(rng, cumulative[rows, last_open], previous, won,
                                    fiscal_start_month)
    events[rows, last_open + 1] = closing

    # Expected close date: optimistic at creation, pushed when a stage change reaches it.
    expected = created // DAY + np.round(
        STAGE_DAYS[segments].sum(axis=1) * TYPE_SPEED[types] * 0.85
        * rng.lognormal(0.0, 0.35, n)
    ).astype(np.int64)
    close_days = np.zeros((n, 6), dtype=np.int64)
    close_days[:, 0] = expected
    push_to = rng.integers(15, 50, (n, 6))
    for k in range(1, 6):
        valid = events[:, k] != NEVER
        event_day = np.where(valid, events[:, k] // DAY, 0)
        slipped = valid & (event_day >= expected)
        expected = np.where(slipped, end_of_month(event_day + push_to[:, k]), expected)
        close_days[:, k] = expected
    close_days[rows, last_open + 1] = closing // DAY

    discount = np.where(rng.random(n) < 0.5, rng.uniform(0.03, 0.15, n), 0.0)
    amounts = np.repeat(amount_usd[:, None], 6, axis=1)
    amounts[:, 4:] *= (1.0 - discount)[:, None]
    return DealPaths(won=won, last_open=last_open, events=events, close_days=close_days,
                     amount_usd=amounts)


def _quarter_end_pressure(rng: np.random.Generator, closing: np.ndarray, previous: np.ndarray,
                          won: np.ndarray, fiscal_start_month: int) -> np.ndarray:
    """Move closes toward fiscal quarter ends; never before the deal's previous event."""
    n = len(closing)
    q_start, q_end = quarter_bounds(closing // DAY, fiscal_start_month)
    days_left = q_end - closing / DAY
    days_in = closing / DAY - q_start
    draw = rng.random(n)
    late = q_end * DAY - (rng.uniform(0.05, 5.0, n) * DAY).astype(np.int64)
    push = (days_left > 5) & (
        (won & (days_left <= 35) & (draw < 0.55)) | (~won & (days_left <= 30) & (draw < 0.3))
    )
    closing = np.where(push, late, closing)
    early = q_start * DAY - (rng.uniform(0.05, 4.0, n) * DAY).astype(np.int64)
    pull = won & ~push & (days_in <= 12) & (draw < 0.35) & (early > previous + 3600)
    return np.where(pull, early, closing)


def expected_bookings_per_deal(seed: int, segment: int, samples: int = 40_000) -> float:
    """Mean won amount (USD, before growth) of a deal opened by a rep of skill 1 in `segment`."""
    rng = np.random.default_rng([seed, 9_999, segment])
    segments = np.full(samples, segment)
    types = deal_types(rng, segments)
    amounts = deal_sizes_usd(rng, segments, types, np.zeros(samples))
    paths = simulate_deals(rng, segments, types, np.ones(samples), np.zeros(samples, np.int64),
                           amounts)
    return float((paths.amount_usd[:, 5] * paths.won).mean())
