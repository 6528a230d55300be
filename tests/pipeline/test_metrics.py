"""The derived ratios of the metric catalogue, worked by hand, and its band labels."""

from datetime import date
from decimal import Decimal

from attain.engine.calculations.pipeline import AGE_BANDS, CYCLE_BANDS
from attain.pipeline.metrics import (
    AGE_BAND_DAYS,
    AGE_BAND_LABELS,
    CATALOGUE,
    CYCLE_BAND_LABELS,
    age_band_created,
    average_money,
    mean_days,
    ratio_pct,
    velocity,
)


def test_velocity_is_created_times_win_rate_times_deal_size_over_cycle():
    # 20 x (3 / 6) x (30,000.00 / 3) / (180 / 3) = 20 x 0.5 x 10,000.00 / 60 = 1,666.666… → 1,666.67
    assert velocity(20, 3, 3, Decimal("30000.00"), 180) == Decimal("1666.67")
    assert velocity(20, 0, 3, Decimal("0.00"), 0) is None


def test_ratios_and_averages_round_once():
    assert ratio_pct(1, 3) == Decimal("33.3")
    assert ratio_pct(2, 3) == Decimal("66.7")
    assert ratio_pct(1, 0) is None
    assert average_money(Decimal("100.00"), 3) == Decimal("33.33")
    assert mean_days(50, 4) == Decimal("12.5")


def test_pages_band_labels_match_the_engines():
    assert tuple(label for label, *_ in CYCLE_BANDS) == CYCLE_BAND_LABELS
    assert tuple(label for label, *_ in AGE_BANDS) == AGE_BAND_LABELS


def test_every_metric_states_its_window_and_censoring():
    assert all(m.definition and m.window and m.censoring for m in CATALOGUE)


def test_an_aging_band_is_a_range_of_creation_days():
    as_of = date(2026, 6, 30)
    # 31..60 days old on 30 June: created 1 May (60 days) up to 31 May (30 days) excluded
    assert age_band_created("31-60 d", as_of) == (date(2026, 5, 1), date(2026, 5, 31))
    assert age_band_created("0-30 d", as_of) == (date(2026, 5, 31), None)
    # older than 180 days: created before 1 January 2026 (180 days before 30 June)
    assert age_band_created("> 180 d", as_of) == (None, date(2026, 1, 1))
    assert tuple((label, low, high) for label, low, high in AGE_BANDS) == AGE_BAND_DAYS
