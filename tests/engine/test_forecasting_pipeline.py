"""Pipeline forecast on hand-built histories with known win probabilities.

numpy calculations (no Ibis, no engine backend): no `backend` fixture."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest

from attain.engine.forecasting.pipeline import (
    OpportunityHistory,
    WinModel,
    _OwnerRates,
    fit_win_model,
    pipeline_forecast,
    training_rows,
    win_probability,
)

QUARTER_ENDS = [date(y, m, 1) for y in (2024, 2025, 2026) for m in (1, 4, 7, 10)] + [
    date(2027, 1, 1)]


def deal(i: int, stage: str, created: date, *, closed: date | None = None, won: bool = False,
         amount: str = "1000", close_date: date | None = None, probability: str = "0",
         owner: int | None = None) -> OpportunityHistory:
    stages = ((created, stage),)
    if closed is not None:
        stages = (*stages, (closed, "Won" if won else "Lost"))
    return OpportunityHistory(i, owner, "smb", Decimal(amount), created, stages, (),
                              closed, won, close_date or closed, Decimal(probability))


def known_history(rng: np.random.Generator) -> list[OpportunityHistory]:
    """1,400 deals over two years; each closes 10 days after it is created; a deal created in
    stage A is won with probability 0.2, in stage B with 0.7."""
    history = []
    start = date(2024, 1, 1)
    for i in range(1400):
        created = start + timedelta(days=i // 2)
        stage = "A" if i % 2 == 0 else "B"
        won = bool(rng.random() < (0.2 if stage == "A" else 0.7))
        history.append(deal(i, stage, created, closed=created + timedelta(days=10), won=won))
    return history


def test_win_model_recovers_known_probabilities_by_stage():
    history = known_history(np.random.default_rng(11))
    cutoff = date(2026, 1, 1)
    model = fit_win_model(history, cutoff, QUARTER_ENDS, sample_days=3)
    owners = _OwnerRates(history)
    day = date(2026, 1, 5)
    fresh_a = deal(9001, "A", day - timedelta(days=1))
    fresh_b = deal(9002, "B", day - timedelta(days=1))
    # a 60-day window holds the whole 10-day life of the deal: P = the stage's win rate
    end = day + timedelta(days=60)
    assert win_probability(model, fresh_a, day, end, owners) == pytest.approx(0.2, abs=0.08)
    assert win_probability(model, fresh_b, day, end, owners) == pytest.approx(0.7, abs=0.08)
    # calibration: in every populated decile the predicted mean is near the observed rate
    for predicted, observed, rows in model.calibration:
        if rows >= 200:
            assert predicted == pytest.approx(observed, abs=0.1)


def test_training_leaves_out_windows_that_end_after_the_cutoff():
    # deal 1 is open from 2025-12-02 on; deal 2 is open 2025-11-02 .. 2025-11-20 and won.
    # Their windows end with the quarter (2026-01-01) and the next (2026-04-01).
    history = [deal(1, "A", date(2025, 12, 1)), deal(2, "A", date(2025, 11, 1),
                                                      closed=date(2025, 11, 20), won=True)]
    # cut-off 2025-12-25: no outcome by 2026-01-01 is known yet (right-censored): no rows,
    # and in particular deal 1 is not counted as a loss
    assert training_rows(history, date(2025, 12, 25), QUARTER_ENDS, sample_days=1) == ([], [])
    # cut-off 2026-01-10: the 2026-01-01 windows are known, the 2026-04-01 ones are not
    rows, labels = training_rows(history, date(2026, 1, 10), QUARTER_ENDS, sample_days=1)
    assert {end for _, _, end in rows} == {date(2026, 1, 1)}
    by_deal = {(opp.opportunity_id, label) for (opp, _, _), label in zip(rows, labels,
                                                                          strict=True)}
    assert by_deal == {(1, False), (2, True)}
    # deal 2: one row per day it was open at the start of (2025-11-02 .. 2025-11-20)
    assert sum(1 for opp, _, _ in rows if opp.opportunity_id == 2) == 19


def constant_model(p: float) -> WinModel:
    """A model whose every prediction is `p` (only the intercept)."""
    coefficients = np.zeros(1 + 0 + 5 + 0 + 1)
    coefficients[0] = math.log(p / (1 - p))
    return WinModel(("A",), ("smb",), coefficients, p, 0, 0)


def test_pipeline_forecast_adds_closed_won_open_expected_and_created_and_won():
    as_of, period = date(2026, 2, 15), (date(2026, 1, 1), date(2026, 4, 1))
    history = [
        # won inside the quarter before as_of: closed-won to date 500
        deal(1, "A", date(2025, 12, 1), closed=date(2026, 1, 20), won=True, amount="500"),
        # open, 1,000, CRM probability 50% with a close date inside the quarter
        deal(2, "A", date(2026, 1, 10), amount="1000", close_date=date(2026, 3, 10),
             probability="50"),
        # last quarter: created 45 days in (on/after 2025-11-15) and won before its end: 100
        deal(3, "A", date(2025, 11, 20), closed=date(2025, 12, 10), won=True, amount="100"),
    ]
    result = pipeline_forecast(constant_model(0.4), history, as_of, period,
                               [(date(2025, 10, 1), date(2026, 1, 1))])
    # 500 + 0.4 x 1,000 + 100 = 1,000; CRM baseline 500 + 0.5 x 1,000 = 1,000
    assert result.closed_won == Decimal("500.00")
    assert result.open_expected == Decimal("400.00")
    assert result.created_expected == Decimal("100.00")
    assert result.total == Decimal("1000.00")
    assert result.crm_baseline == Decimal("1000.00")
    assert [d.opportunity_id for d in result.deals] == [2]


def test_next_period_counts_only_wins_after_the_current_period():
    as_of = date(2026, 2, 15)
    history = [deal(2, "A", date(2026, 1, 10), amount="1000")]
    result = pipeline_forecast(constant_model(0.4), history, as_of,
                               (date(2026, 4, 1), date(2026, 7, 1)), [],
                               current_end=date(2026, 4, 1))
    # P(won by 2026-07-01) - P(won by 2026-04-01) = 0.4 - 0.4 under a constant model
    assert result.open_expected == Decimal("0.00")
    assert result.closed_won == Decimal("0.00")
