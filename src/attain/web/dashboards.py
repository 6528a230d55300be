"""The home page of each role, assembled from queries: figures, tables and chart options.

Everything here reads materialised results and cheap aggregates through `queries` modules; the
functions only arrange them for the templates and attach the drill-down link of every figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from attain.compensation import queries as comp_queries
from attain.core.money import round_money
from attain.core.periods import PeriodKind, add_months
from attain.crm import queries as crm_queries
from attain.crm.queries import StagePipeline
from attain.performance import queries as perf
from attain.web import charts, links
from attain.web.viewer import Viewer

RECENT_WINS = 10
TOP_REPS = 10


def _freshness() -> dict[str, Any]:
    return {"latest_run": perf.latest_bookings_run(), "pending_run": perf.pending_bookings_run()}


def _trend_chart(months: Sequence[perf.MonthBookings], owner: int | None = None
                 ) -> dict[str, Any]:
    return charts.bar_chart(
        [m.start.strftime("%b %y") for m in months],
        [("Bookings", [m.amount for m in months],
          [links.bookings_url(owner=owner, start=m.start, end=m.end) for m in months])],
    )


def _pipeline(rows: Sequence[StagePipeline], as_of: date, owner: int | None = None
              ) -> dict[str, Any]:
    """The pipeline table (per stage and currency, with links) and a chart per stage in the
    company currency, converted at the latest month's rates (amounts without a rate are listed
    as not converted rather than added)."""
    currency = perf.company_currency()
    rates = crm_queries.rates_to(currency, as_of, (r.currency for r in rows))
    stages = list(dict.fromkeys(r.stage for r in rows))
    converted = dict.fromkeys(stages, Decimal("0"))
    unconverted: dict[str, Decimal] = {}
    for r in rows:
        if r.currency in rates:
            converted[r.stage] += r.amount * rates[r.currency]
        else:
            unconverted[r.currency] = unconverted.get(r.currency, Decimal("0.00")) + r.amount
    by_stage = {stage: round_money(amount) for stage, amount in converted.items()}
    stage_links = [links.opportunities_url(owner=owner, stage=s, status="open") for s in stages]
    chart = charts.bar_chart(stages, [(f"Open pipeline ({currency})",
                                       [by_stage[s] for s in stages], stage_links)])
    return {
        "pipeline_rows": [
            {"row": r, "link": links.opportunities_url(owner=owner, stage=r.stage, status="open")}
            for r in rows
        ],
        "pipeline_total": round_money(sum(by_stage.values(), Decimal("0"))),
        "pipeline_count": sum(r.count for r in rows),
        "pipeline_unconverted": unconverted,
        "pipeline_converted": any(c != currency for c in rates),
        "pipeline_link": links.opportunities_url(owner=owner, status="open"),
        "pipeline_chart": chart if rows else None,
        "currency": currency,
    }


def rep_home(viewer: Viewer, as_of: date) -> dict[str, Any]:
    """A rep: this quarter's bookings vs quota, pay earned so far (the latest compensation run of
    the month or quarter containing `as_of`), the monthly trend, open pipeline, recent wins."""
    user, me = viewer.user, viewer.person_id
    assert me is not None
    span, period = perf.current_period(PeriodKind.QUARTER, as_of)
    mine = perf.person_attainment(user, as_of, me, period)
    months = perf.monthly_bookings(user, as_of, *perf.last_twelve_months(as_of), person_ids=[me])
    wins = crm_queries.opportunities(user, as_of, owner_id=me, is_won=True,
                                     ordering="-close_date")[:RECENT_WINS]
    earned = comp_queries.earnings_so_far(me, as_of)
    return {
        "span": span, "period": period, "mine": mine,
        "earned": None if earned is None else {"period": earned[0], "amount": earned[1],
                                               "currency": earned[2]},
        "mine_link": links.person_url(me, period.pk if period else None),
        "quarter_bookings_link": links.bookings_url(owner=me, start=span.start, end=span.end),
        "gauge_chart": charts.gauge_chart(mine.pct, link=links.person_url(
            me, period.pk if period else None)),
        "trend_chart": _trend_chart(months, owner=me),
        "wins": list(wins),
        **_pipeline(crm_queries.open_pipeline_by_stage(user, as_of, owner_ids=[me]), as_of,
                    owner=me),
        **_freshness(),
    }


def _team_totals(rows: Sequence[perf.PersonAttainment]) -> dict[str, Any]:
    bookings = sum((r.bookings for r in rows), Decimal("0.00"))
    quota = sum((r.quota for r in rows if r.quota is not None), Decimal("0.00"))
    return {"bookings": bookings, "quota": quota, "pct": perf.attainment_pct(bookings, quota),
            "at_or_above": sum(1 for r in rows if r.pct is not None and r.pct >= 100),
            "people": len(rows)}


def manager_home(viewer: Viewer, as_of: date) -> dict[str, Any]:
    """A manager: attainment of each person in their subtree, the team trend and pipeline."""
    user = viewer.user
    span, period = perf.current_period(PeriodKind.QUARTER, as_of)
    rows = perf.attainment(user, as_of, span, period, exclude_person_id=viewer.person_id)
    months = perf.monthly_bookings(user, as_of, *perf.last_twelve_months(as_of))
    return {
        "span": span, "period": period,
        "team_rows": _attainment_rows(rows, period.pk if period else None, span),
        "team": _team_totals(rows),
        "quarter_bookings_link": links.bookings_url(start=span.start, end=span.end),
        "attainment_link": links.attainment_url(period_id=period.pk if period else None),
        "attainment_csv_link": links.attainment_url(
            period_id=period.pk if period else None, csv=True),
        "currency": perf.company_currency(),
        "trend_chart": _trend_chart(months),
        **_pipeline(crm_queries.open_pipeline_by_stage(user, as_of), as_of),
        **_freshness(),
    }


def _attainment_rows(rows: Sequence[perf.PersonAttainment], period_id: int | None,
                     span: Any) -> list[dict[str, Any]]:
    return [
        {"row": r, "person_link": links.person_url(r.person_id, period_id),
         "bookings_link": links.bookings_url(owner=r.person_id, start=span.start, end=span.end)}
        for r in rows
    ]


def company_home(viewer: Viewer, as_of: date) -> dict[str, Any]:
    """Ops, finance and executives: the company's bookings, quota, attainment spread, top reps."""
    user = viewer.user
    rules = perf.calendar_rules()
    span, period = perf.current_period(PeriodKind.QUARTER, as_of)
    year = rules.span(PeriodKind.YEAR, as_of)
    last_year = rules.span(PeriodKind.YEAR, add_months(year.start, -12))
    this_months = perf.monthly_bookings(user, as_of, year.start, year.end)
    last_months = perf.monthly_bookings(user, as_of, last_year.start, last_year.end)
    year_chart = charts.bar_chart(
        [m.start.strftime("%b") for m in this_months],
        [(year.label, [m.amount for m in this_months],
          [links.bookings_url(start=m.start, end=m.end) for m in this_months]),
         (last_year.label, [m.amount for m in last_months],
          [links.bookings_url(start=m.start, end=m.end) for m in last_months])],
    )
    rows = perf.attainment(user, as_of, span, period)
    quarter_bookings = perf.bookings_total(user, as_of, period)
    quarter_quota = perf.quota_total(user, as_of, period)
    period_id = period.pk if period else None
    bands = perf.attainment_distribution(rows)
    band_chart = charts.bar_chart(
        [b.label for b in bands],
        [("People", [b.people for b in bands],
          [links.attainment_url(period_id=period_id, low=b.low, high=b.high) for b in bands])],
        counts=True, colors=charts.BAND_COLORS,
    )
    context: dict[str, Any] = {
        "span": span, "period": period, "year": year, "last_year": last_year,
        "year_chart": year_chart,
        "year_total": perf.bookings_total(user, as_of, perf.stored_period(year)),
        "last_year_total": perf.bookings_total(user, as_of, perf.stored_period(last_year)),
        "quarter_bookings": quarter_bookings, "quarter_quota": quarter_quota,
        "quarter_pct": perf.attainment_pct(quarter_bookings, quarter_quota),
        "quarter_bookings_link": links.bookings_url(start=span.start, end=span.end),
        "year_bookings_link": links.bookings_url(start=year.start, end=year.end),
        "attainment_link": links.attainment_url(period_id=period_id),
        "attainment_csv_link": links.attainment_url(period_id=period_id, csv=True),
        "at_or_above_link": links.attainment_url(period_id=period_id, low=100),
        "bands": [{"band": b, "link": links.attainment_url(period_id=period_id, low=b.low,
                                                           high=b.high)} for b in bands],
        "band_chart": band_chart,
        "at_or_above": sum(1 for r in rows if r.pct is not None and r.pct >= 100),
        "with_quota": sum(1 for r in rows if r.pct is not None),
        "top_rows": _attainment_rows(rows[:TOP_REPS], period_id, span),
        "currency": perf.company_currency(),
        **_freshness(),
    }
    if viewer.is_finance:
        context["by_currency"] = [
            {"row": c, "link": links.bookings_url(start=span.start, end=span.end,
                                                  currency=c.currency)}
            for c in crm_queries.bookings_by_currency(user, as_of, span.start, span.end)
        ]
    if viewer.is_ops:
        context["record_counts"] = perf.record_counts(user, as_of)
        context["runs"] = perf.recent_runs()
    return context
