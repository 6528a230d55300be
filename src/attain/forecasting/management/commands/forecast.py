"""`attain forecast run|backtest|schedule`: make a forecast now, backtest the forecast methods
on the bookings in the database and save the accuracy table, or queue a forecast if the
schedule says one is due (`attain.forecasting.schedule`)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from attain.forecasting.actions import run_forecast
from attain.forecasting.engine_io import (
    BACKTEST_LEVELS,
    MEASURES,
    ForecastError,
    backtest_bookings,
)

COLUMNS = ("method", "mase", "smape", "wape", "bias", "coverage_80", "coverage_95", "points",
           "mase_vs_seasonal_naive", "wape_vs_seasonal_naive")


def backtest_table(result: Any) -> list[dict[str, Any]]:
    """Rows of the accuracy table, each method next to seasonal naive (ratios < 1 are better)."""
    naive = result.score("seasonal_naive")
    rows = []
    for score in result.scores:
        rows.append({
            "method": score.method, "mase": round(score.mase, 4), "smape": round(score.smape, 4),
            "wape": round(score.wape, 4), "bias": round(score.bias, 4),
            "coverage_80": round(score.coverage.get(80, float("nan")), 4),
            "coverage_95": round(score.coverage.get(95, float("nan")), 4),
            "points": score.points,
            "mase_vs_seasonal_naive": round(score.mase / naive.mase, 4),
            "wape_vs_seasonal_naive": round(score.wape / naive.wape, 4),
        })
    return rows


class Command(BaseCommand):
    help = ("Forecasts. `run`: forecast bookings and the pipeline now and store the run. "
            "`schedule`: queue a forecast run if the latest is older than "
            "ATTAIN_FORECAST_EVERY_HOURS. "
            "`backtest`: rolling-origin backtest of the default method against seasonal naive, "
            "AutoETS, AutoARIMA, AutoTheta and their mean on the bookings in the database; "
            "prints the table and saves it as CSV and JSON under ATTAIN_VAR_DIR/forecast/.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["run", "backtest", "schedule"])
        parser.add_argument("--period", choices=["month", "quarter"], default="month")
        parser.add_argument("--horizon", type=int, default=None,
                            help="Periods ahead (default 12 months or 4 quarters)")
        parser.add_argument("--origins", type=int, default=2,
                            help="backtest: how many rolling origins (default 2)")
        parser.add_argument("--step", type=int, default=None,
                            help="backtest: periods between origins (default: the horizon)")
        parser.add_argument("--as-of", type=date.fromisoformat, default=None,
                            help="run: the day to forecast for; backtest: history ends before "
                                 "its period (default today / after the last booking)")
        parser.add_argument("--levels", default=",".join(BACKTEST_LEVELS),
                            help="backtest: series levels (company,team,person,family,segment)")
        parser.add_argument("--output", default=None, help="backtest: directory for the table")
        parser.add_argument("--measure", choices=list(MEASURES), default=None,
                            help="run: forecast only this measure (default: amount and "
                                 "quantity); backtest: the measure scored (default amount)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "run":
                self._run(options)
            elif options["action"] == "schedule":
                self._schedule()
            else:
                self._backtest(options)
        except ForecastError as error:
            raise CommandError(str(error)) from error

    def _run(self, options: dict[str, Any]) -> None:
        forecast = run_forecast(None, period_kind=options["period"], as_of=options["as_of"],
                                horizon=options["horizon"],
                                measures=[options["measure"]] if options["measure"]
                                else MEASURES)
        run = forecast.calc_run
        timings = ", ".join(f"{step} {seconds:.2f} s" for step, seconds in run.timings.items())
        self.stdout.write(f"Forecast run #{run.pk} ({forecast.period_kind}, as of "
                          f"{forecast.as_of}): {run.status}. {run.output_rows:,} rows stored.\n"
                          f"Timings: {timings}.\nInputs hash {run.inputs_hash}.")

    def _schedule(self) -> None:
        from attain.forecasting.schedule import check, interval, schedule_state

        every = interval()
        latest, pending, _ = schedule_state()
        queued = check()
        if queued is not None:
            self.stdout.write(f"Forecast run #{queued.pk} queued (latest finished "
                              f"{latest or 'never'}; schedule every {every}).")
        elif every.total_seconds() <= 0:
            self.stdout.write("The forecast schedule is off (ATTAIN_FORECAST_EVERY_HOURS=0).")
        else:
            why = "a run is queued or running" if pending else f"latest finished {latest}"
            self.stdout.write(f"No forecast due: {why}; schedule every {every}.")

    def _backtest(self, options: dict[str, Any]) -> None:
        levels = [level.strip() for level in options["levels"].split(",") if level.strip()]
        result, inputs = backtest_bookings(
            kind=options["period"], horizon=options["horizon"], origins=options["origins"],
            step=options["step"], as_of=options["as_of"], levels=levels,
            measure=options["measure"] or "amount")
        rows = backtest_table(result)
        axis = inputs.axis
        origins = ", ".join(axis[o].label for o in result.origins)
        self.stdout.write(
            f"Rolling-origin backtest: {len(result.series_ids)} series "
            f"({', '.join(levels)}), {options['period']}s {axis[0].label}..{axis[-1].label}, "
            f"origins {origins}, horizon {result.horizon}.")
        widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in COLUMNS}
        self.stdout.write("  ".join(c.ljust(widths[c]) for c in COLUMNS))
        for row in rows:
            self.stdout.write("  ".join(str(row[c]).ljust(widths[c]) for c in COLUMNS))
        folder = Path(options["output"] or settings.VAR_DIR / "forecast")
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        csv_path = folder / f"backtest-{stamp}.csv"
        with csv_path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        json_path = folder / f"backtest-{stamp}.json"
        json_path.write_text(json.dumps({
            "period_kind": options["period"], "horizon": result.horizon,
            "origins": [axis[o].label for o in result.origins],
            "series": list(result.series_ids), "levels": levels, "table": rows}, indent=2))
        self.stdout.write(f"Saved {csv_path} and {json_path}.")
