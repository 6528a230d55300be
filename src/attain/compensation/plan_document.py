"""The readable plan document: a plan definition (the engine's `Plan`) told in plain sentences,
section by section, for the HTML page and the PDF. Generated from the same definition the
engine computes with, so the document cannot drift from the plan."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

HUNDRED = Decimal(100)
PERIOD_WORDS = {"month": "month", "quarter": "quarter", "year": "year"}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


def pct(fraction: Decimal | None) -> str:
    if fraction is None:
        return "—"
    text = f"{(fraction * HUNDRED).normalize():f}"
    return f"{text}%"


def amount(value: Decimal | None, currency: str) -> str:
    return "—" if value is None else f"{value:,.2f} {currency}"


def _where(where: Any) -> str:
    parts = []
    if where.product_families:
        parts.append("product family " + " or ".join(where.product_families))
    if where.deal_types:
        parts.append("deal type " + " or ".join(where.deal_types))
    if where.segments:
        parts.append("segment " + " or ".join(where.segments))
    if where.partner is not None:
        parts.append("partner deals" if where.partner else "direct deals")
    return " and ".join(parts)


def _bound(value: Decimal | None, basis: str, currency: str) -> str:
    if value is None:
        return "and above"
    return pct(value) if basis == "attainment" else amount(value, currency)


def _tiers(tiers: Any, currency: str) -> list[str]:
    what = "attainment (credited ÷ quota)" if tiers.basis == "attainment" else \
        "credited amount"
    how = ("each rate applies only to the slice of the period inside its band (marginal)"
           if tiers.mode == "marginal" else
           "the rate of the highest band reached applies to everything in the period "
           "(retroactive)")
    lines = [f"Tiers on {what}: {how}."]
    for band in tiers.bands:
        low = _bound(band.lower, tiers.basis, currency)
        high = (f"up to {_bound(band.upper, tiers.basis, currency)}" if band.upper is not None
                else "and above")
        if band.rate is not None:
            pays = f"pays {pct(band.rate)}"
        else:
            pays = f"pays the base rate times {band.multiplier.normalize():f}"
        lines.append(f"From {low} {high}: {pays}.")
    return lines


def _caps(caps: Any, currency: str) -> list[str]:
    found = [(label, value) for label, value in (
        ("per line", caps.per_line), ("per period", caps.per_period),
        ("per plan year", caps.per_plan_year)) if value is not None]
    if not found:
        return []
    return ["Capped at " + ", ".join(f"{amount(v, currency)} {label}" for label, v in found)
            + "."]


def component_paragraphs(component: Any, currency: str, period: str) -> list[str]:
    lines: list[str] = []
    if component.description:
        lines.append(component.description)
    kind = component.kind
    if kind == "commission":
        credits = ", ".join(c.replace("_", "-") for c in component.credits)
        scope = _where(component.where)
        lines.append(f"Commission on credited amounts ({credits} credit"
                     f"{' of ' + scope if scope else ''}), measured "
                     f"{'year to date' if component.measurement == 'ytd' else 'per ' + period}.")
        if component.rate is not None:
            lines.append(f"Base rate: {pct(component.rate)} of the credited amount.")
        if component.share_of_target_incentive is not None:
            lines.append(f"Base rate: {pct(component.share_of_target_incentive)} of target "
                         "incentive ÷ the period's quota, so reaching quota earns that share of "
                         "target incentive.")
        for rule in component.rates:
            scope = " and ".join(f"{k.replace('_', ' ')} {v}" for k, v in (
                ("product_family", rule.product_family), ("deal_type", rule.deal_type),
                ("segment", rule.segment)) if v)
            lines.append(f"Deals of {scope} earn {pct(rule.rate)} instead.")
        if component.tiers is not None:
            lines.extend(_tiers(component.tiers, currency))
        if component.threshold is not None:
            lines.append(f"Nothing is paid below {pct(component.threshold)} attainment.")
        lines.extend(_caps(component.caps, currency))
    elif kind == "team":
        lines.append(f"{pct(component.share_of_target_incentive)} of target incentive is paid "
                     f"on the team's attainment, measured "
                     f"{'year to date' if component.measurement == 'ytd' else 'per ' + period}.")
        if component.tiers is not None:
            lines.extend(_tiers(component.tiers, currency))
        if component.threshold is not None:
            lines.append(f"Nothing is paid below {pct(component.threshold)} team attainment.")
        lines.extend(_caps(component.caps, currency))
    elif kind == "bonus":
        basis = "the team's" if component.on == "team" else "your"
        when = {"period": f"each {period}", "ytd": "on year-to-date attainment",
                "plan_year": "once, for the plan year"}[component.measurement]
        for step in component.steps:
            pays = (amount(step.amount, currency) if step.amount is not None
                    else f"{pct(step.share_of_target_incentive)} of target incentive")
            lines.append(f"When {basis} attainment reaches {pct(step.at)} ({when}): {pays} "
                         "(the highest step reached is paid).")
        if component.linear is not None:
            low, high = component.linear
            lines.append(f"Paid on a straight line from {amount(low.amount, currency)} at "
                         f"{pct(low.attainment)} to {amount(high.amount, currency)} at "
                         f"{pct(high.attainment)} of {basis} attainment ({when}), flat outside.")
    elif kind == "spiff":
        scope = _where(component.where)
        window = f"booked from {component.starts_on} until {component.ends_on} (excluded)"
        if component.source == "manual":
            lines.append(f"A SPIFF entered by managers for deals {window}.")
        elif component.amount_per_deal is not None:
            lines.append(f"{amount(component.amount_per_deal, currency)} per deal"
                         f"{' of ' + scope if scope else ''} {window}.")
        else:
            lines.append(f"{pct(component.rate)} of credited amounts"
                         f"{' of ' + scope if scope else ''} {window}.")
        lines.extend(_caps(component.caps, currency))
    elif kind == "mbo":
        limit = (amount(component.max_amount, currency) if component.max_amount is not None
                 else f"{pct(component.share_of_target_incentive)} of target incentive"
                 if component.share_of_target_incentive is not None else "no set maximum")
        lines.append(f"Objectives set and scored by your manager, who enters the payout (at most "
                     f"{limit}).")
    return lines


def plan_document(plan: Any) -> list[dict[str, Any]]:
    """Sections of the plan document: `{"title": str, "paragraphs": [str, ...]}`."""
    period = PERIOD_WORDS[plan.period]
    credit = plan.crediting
    crediting = ["You are credited with the deals you own"
                 + (", or with your share of an opportunity's revenue splits (which sum to "
                    "100%)" if credit.splits else "") + "."]
    if credit.roll_up_levels:
        crediting.append(f"Managers up to {credit.roll_up_levels} level(s) above the seller "
                         "receive roll-up credit through the reporting hierarchy in force on "
                         "the booking date.")
    if credit.multi_year_percents:
        crediting.append("Multi-year deals are credited per contract year: " + ", ".join(
            f"year {i + 1} {pct(p)}" for i, p in enumerate(credit.multi_year_percents)) + ".")
    if credit.partner_basis == "net":
        crediting.append(f"Partner deals are credited at their net value with an uplift of "
                         f"{pct(credit.partner_uplift)}.")
    sections = [
        {"title": "About this plan", "paragraphs": [
            *([plan.description] if plan.description else []),
            f"Pay is calculated per {period} in {plan.currency}; the plan year starts in "
            f"{MONTHS[plan.plan_year_start_month - 1]}.",
            "Every earning line is rounded once, to the cent ("
            + ("banker's rounding" if plan.rounding == "half_even" else "half up")
            + "); your payout is the exact sum of your lines.",
            "Starting, leaving or changing plan mid-period is prorated by the days in force."
            if plan.proration == "days" else "Pay is not prorated for part periods.",
        ]},
        {"title": "Crediting", "paragraphs": crediting},
    ]
    for index, component in enumerate(plan.components, start=1):
        sections.append({"title": f"{index}. {component.name}",
                         "paragraphs": component_paragraphs(component, plan.currency, period)})
    sections.append({"title": "Payment, draws and clawbacks",
                     "paragraphs": list(plan.payout.describe())})
    return sections
