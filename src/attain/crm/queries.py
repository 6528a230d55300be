"""Reads of CRM records for pages and the API, always through the visibility scope."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Min, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from attain.core.money import round_money
from attain.crm.models import Account, Booking, ExchangeRate, Opportunity, StageChange
from attain.engine.calculations.performance import MAX_DEPTH as ROLLUP_DEPTH
from attain.people.visibility import subtree_spans

# Orderings the API accepts for opportunities (a leading "-" is descending); id breaks ties.
OPPORTUNITY_ORDERINGS = ("close_date", "amount", "created_at", "name", "id")


def _day_start(day: date) -> datetime:
    """The first instant of `day` in the company's time zone."""
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def accounts(
    user: Any, as_of: date, *, owner_id: int | None = None, segment: str | None = None,
    q: str | None = None,
) -> QuerySet[Account]:
    """The accounts `user` may see on `as_of` (by owner), by name."""
    rows: QuerySet[Account] = Account.objects.visible_to(user, as_of).select_related("owner")
    if owner_id is not None:
        rows = rows.filter(owner_id=owner_id)
    if segment:
        rows = rows.filter(segment=segment)
    if q:
        rows = rows.filter(name__icontains=q)
    return rows.order_by("name", "id")


def account(user: Any, as_of: date, account_id: int) -> Account | None:
    return accounts(user, as_of).filter(pk=account_id).first()


def opportunities(
    user: Any, as_of: date, *, owner_id: int | None = None, account_id: int | None = None,
    stage: str | None = None, is_closed: bool | None = None, is_won: bool | None = None,
    close_date_from: date | None = None, close_date_to: date | None = None,
    created_from: date | None = None, created_to: date | None = None,
    deal_type: str | None = None, source: str | None = None, segment: str | None = None,
    q: str | None = None, ordering: str = "close_date",
    owner_ids: Iterable[int] | None = None,
) -> QuerySet[Opportunity]:
    """The opportunities `user` may see on `as_of`, filtered and ordered.

    `owner_ids` narrows to deals owned by those people (a team or a manager's subtree).

    Date ranges are half-open: `close_date_from <= close_date < close_date_to`, and
    `created_from`/`created_to` are days in the company's time zone, the `_to` day excluded.
    `stage` is a stage name; `q` matches the opportunity name; `ordering` is one of
    OPPORTUNITY_ORDERINGS, optionally prefixed with "-".
    """
    if ordering.removeprefix("-") not in OPPORTUNITY_ORDERINGS:
        raise ValueError(f"Unknown ordering {ordering!r}")
    rows: QuerySet[Opportunity] = Opportunity.objects.visible_to(user, as_of).select_related(
        "owner", "account", "stage")
    exact = {"owner_id": owner_id, "account_id": account_id, "stage__name": stage,
             "is_closed": is_closed, "is_won": is_won, "deal_type": deal_type,
             "source": source, "segment": segment}
    rows = rows.filter(**{k: v for k, v in exact.items() if v is not None and v != ""})
    if owner_ids is not None:
        rows = rows.filter(owner_id__in=list(owner_ids))
    if close_date_from is not None:
        rows = rows.filter(close_date__gte=close_date_from)
    if close_date_to is not None:
        rows = rows.filter(close_date__lt=close_date_to)
    if created_from is not None:
        rows = rows.filter(created_at__gte=_day_start(created_from))
    if created_to is not None:
        rows = rows.filter(created_at__lt=_day_start(created_to))
    if q:
        rows = rows.filter(name__icontains=q)
    tie = "-id" if ordering.startswith("-") else "id"
    return rows.order_by(*dict.fromkeys([ordering, tie]))


def stage_history(opportunity_id: int) -> QuerySet[StageChange]:
    """The stage changes of one opportunity, oldest first (visibility checked by the caller)."""
    return (StageChange.objects.filter(opportunity_id=opportunity_id)
            .select_related("from_stage", "to_stage").order_by("changed_at", "id"))


def opportunity(user: Any, as_of: date, opportunity_id: int) -> Opportunity | None:
    """One opportunity with its stage history prefetched, or None if missing or not visible."""
    history = Prefetch("stage_changes", queryset=stage_history(opportunity_id))
    return (opportunities(user, as_of).filter(pk=opportunity_id)
            .prefetch_related(history).first())


def opportunity_stage_history(
    user: Any, as_of: date, opportunity_id: int
) -> QuerySet[StageChange] | None:
    """The stage history of an opportunity `user` may see, or None if missing or not visible."""
    if not opportunities(user, as_of).filter(pk=opportunity_id).exists():
        return None
    return stage_history(opportunity_id)


def bookings(
    user: Any, as_of: date, *, owner_id: int | None = None, opportunity_id: int | None = None,
    booked_from: date | None = None, booked_to: date | None = None,
    currency: str | None = None, manager_id: int | None = None,
) -> QuerySet[Booking]:
    """The bookings `user` may see on `as_of`; `booked_from <= booked_on < booked_to`.
    `manager_id` keeps the bookings that manager's roll-up credits: the owner was in their
    subtree (effective-dated reporting lines) on the booking day, or is the manager."""
    rows: QuerySet[Booking] = Booking.objects.visible_to(user, as_of).select_related(
        "owner", "team", "product")
    if manager_id is not None:
        rows = rows.filter(_credited_to_manager(rows, manager_id, booked_from, booked_to))
    if owner_id is not None:
        rows = rows.filter(owner_id=owner_id)
    if opportunity_id is not None:
        rows = rows.filter(opportunity_id=opportunity_id)
    if booked_from is not None:
        rows = rows.filter(booked_on__gte=booked_from)
    if booked_to is not None:
        rows = rows.filter(booked_on__lt=booked_to)
    if currency:
        rows = rows.filter(currency=currency.upper())
    return rows.order_by("booked_on", "id")


def _credited_to_manager(rows: QuerySet[Booking], manager_id: int, booked_from: date | None,
                         booked_to: date | None) -> Q:
    """The condition "booked while the owner was in `manager_id`'s subtree" over the days
    asked (or the days `rows` were booked on): one `owner in (…) and day in [from, to)` term per
    distinct day range, as `people.visibility.subtree_spans` gives them."""
    if booked_from is None or booked_to is None:
        first_last = rows.aggregate(first=Min("booked_on"), last=Max("booked_on"))
        if first_last["first"] is None:
            return Q(pk__in=[])
        booked_from = booked_from or first_last["first"]
        booked_to = booked_to or first_last["last"] + timedelta(days=1)
    owners_by_range: dict[tuple[date, date], list[int]] = defaultdict(list)
    spans = subtree_spans(manager_id, booked_from, booked_to, depth=ROLLUP_DEPTH)
    for person_id, ranges in spans.items():
        for day_range in ranges:
            owners_by_range[day_range].append(person_id)
    condition = Q(pk__in=[])
    # the largest group first (usually everyone there the whole time): most rows stop there
    for (start, end), owners in sorted(owners_by_range.items(), key=lambda item: -len(item[1])):
        condition |= Q(owner_id__in=owners, booked_on__gte=start, booked_on__lt=end)
    return condition


def booking(user: Any, as_of: date, booking_id: int) -> Booking | None:
    return bookings(user, as_of).filter(pk=booking_id).first()


# --- aggregates for the home pages (cheap ORM group-bys) ---------------------------------------


@dataclass(frozen=True, slots=True)
class StagePipeline:
    """Open opportunities in one stage and currency."""

    stage: str
    stage_order: int
    currency: str
    count: int
    amount: Decimal


def open_pipeline_by_stage(
    user: Any, as_of: date, *, owner_ids: Iterable[int] | None = None,
) -> list[StagePipeline]:
    """Open opportunities `user` may see on `as_of`, counted and summed per stage and currency,
    in sales-process order. Amounts stay in each deal's currency (no conversion in a request)."""
    rows = opportunities(user, as_of, is_closed=False)
    if owner_ids is not None:
        rows = rows.filter(owner_id__in=list(owner_ids))
    totals = (rows.order_by().values("stage__name", "stage__order", "currency")
              .annotate(count=Count("id"), amount=Sum("amount"))
              .order_by("stage__order", "stage__name", "currency"))
    return [
        StagePipeline(r["stage__name"], r["stage__order"], r["currency"], r["count"],
                      round_money(r["amount"] or Decimal("0")))
        for r in totals
    ]


@dataclass(frozen=True, slots=True)
class CurrencyTotal:
    currency: str
    count: int
    amount: Decimal


def totals_by_currency(rows: QuerySet[Any]) -> list[CurrencyTotal]:
    """Count and amount of already-scoped `rows` (bookings or opportunities) per currency."""
    totals = (rows.order_by().values("currency").annotate(count=Count("id"), amount=Sum("amount"))
              .order_by("currency"))
    return [CurrencyTotal(r["currency"], r["count"], round_money(r["amount"] or Decimal("0")))
            for r in totals]


def bookings_by_currency(
    user: Any, as_of: date, booked_from: date, booked_to: date,
) -> list[CurrencyTotal]:
    """Order lines `user` may see, booked in [booked_from, booked_to), summed per currency."""
    return totals_by_currency(
        bookings(user, as_of, booked_from=booked_from, booked_to=booked_to))


def rates_to(company_currency: str, as_of: date, currencies: Iterable[str]) -> dict[str, Decimal]:
    """Units of `company_currency` per unit of each currency, from the latest stored month on or
    before the month of `as_of`; the company currency is 1. Currencies without a rate are left
    out, so callers can say which amounts they could not convert."""
    month = date(as_of.year, as_of.month, 1)
    rates: dict[str, Decimal] = {}
    for currency in set(currencies):
        if currency == company_currency:
            rates[currency] = Decimal(1)
            continue
        rate = (ExchangeRate.objects.filter(currency=currency, month_start__lte=month)
                .order_by("-month_start").values_list("rate", flat=True).first())
        if rate is not None:
            rates[currency] = rate
    return rates
