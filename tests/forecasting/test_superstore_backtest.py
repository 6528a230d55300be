"""Evidence on the public Superstore sample (`../shared/datasets/superstore/SOURCE.md`): monthly
sales, history 2016-2018, forecast 2019, for the company and per region (team) and category
(product family): the default method beats seasonal naive and the plain mean of AutoETS,
AutoARIMA and AutoTheta, measured in the same run, and its intervals cover about 80%/95%.

One rolling backtest with two origins, 2018-07 and 2019-01, horizon 12 (origin 2018-07 scores
2018-07..2019-06, origin 2019-01 scores 2019), on the bookings read back from the database by
the same code as `attain forecast backtest`. Slow (statsforecast fits, ~tens of seconds).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command

from attain.crm.models import Booking
from attain.engine.forecasting.backtest import score_points
from attain.engine.forecasting.timeseries import ForecastConfig
from attain.forecasting.engine_io import backtest_bookings
from tests.conftest import require
from tests.forecasting.superstore import SUPERSTORE, load_superstore


@pytest.fixture(autouse=True)
def superstore_present():
    require(SUPERSTORE.exists(), f"the Superstore sample is missing at {SUPERSTORE}")


@pytest.fixture
def superstore(db):
    load_superstore()


def test_superstore_load_matches_the_reference_totals(superstore):
    # SOURCE.md: 9,994 lines; 2019 sales 733,215.2552 (lines rounded to cents here, so the
    # total differs from the exact one by less than half a cent per line)
    assert Booking.objects.count() == 9994
    total = sum(Booking.objects.filter(booked_on__year=2019).values_list("amount", flat=True),
                Decimal(0))
    assert abs(total - Decimal("733215.2552")) < Decimal("0.005") * 9994 / 4


def test_default_method_beats_seasonal_naive_and_the_model_mean_on_2019(superstore):
    result, inputs = backtest_bookings(kind="month", horizon=12, origins=2, step=6,
                                       as_of=date(2020, 1, 1),
                                       levels=("company", "team", "family"))
    assert [inputs.axis[o].label for o in result.origins] == ["2018-07", "2019-01"]
    # company + 4 regions + 3 categories
    assert len(result.series_ids) == 8
    histories = {**inputs.primary, **{k: v for g in inputs.groupings.values()
                                      for k, v in g.items()}}
    config = ForecastConfig(horizon=12, season_length=12)
    year_2019 = [p for p in result.points if p.origin == 36]
    assert len(year_2019) == 8 * 12
    default, naive, mean3 = (score_points(m, year_2019, histories, config)
                             for m in ("ensemble", "seasonal_naive", "mean_ets_arima_theta"))
    # the company series alone reproduces SOURCE.md's seasonal-naive MASE of about 1.55
    company = [p for p in year_2019 if p.series_id == "company"]
    assert score_points("seasonal_naive", company, histories, config).mase == pytest.approx(
        1.55, abs=0.01)
    assert default.mase < naive.mase
    assert default.mase < mean3.mase
    assert default.wape < naive.wape
    assert default.wape < mean3.wape
    # calibrated intervals over both origins (192 held-out series-months): close to nominal
    rolling = result.score("ensemble")
    assert rolling.points == 8 * 12 * 2
    assert 0.70 <= rolling.coverage[80] <= 0.90
    assert 0.88 <= rolling.coverage[95] <= 1.0


def test_backtest_command_prints_and_saves_the_table(superstore, tmp_path, capsys):
    call_command("forecast", "backtest", "--period", "quarter", "--horizon", "4",
                 "--origins", "1", "--as-of", "2020-01-01", "--levels", "company,team",
                 "--output", str(tmp_path))
    out = capsys.readouterr().out
    assert "origins FY2019-Q1, horizon 4" in out
    for method in ("ensemble", "seasonal_naive", "ets", "arima", "theta",
                   "mean_ets_arima_theta"):
        assert f"\n{method} " in out
    saved = sorted(p.suffix for p in tmp_path.iterdir())
    assert saved == [".csv", ".json"]
