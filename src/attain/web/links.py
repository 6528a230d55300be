"""URLs of the records behind a figure: every number on a page links to one of these lists."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from django.urls import reverse


def _with_query(url: str, **params: object) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None and v != ""})
    return f"{url}?{query}" if query else url


def person_url(person_id: int, period_id: int | None = None) -> str:
    return _with_query(reverse("person", args=[person_id]), period=period_id)


def bookings_url(*, owner: int | None = None, start: date | None = None,
                 end: date | None = None, currency: str | None = None,
                 manager: int | None = None) -> str:
    """Order lines booked in [start, end) (`to` is excluded); with `manager`, those credited
    to that manager's roll-up."""
    return _with_query(reverse("bookings"), owner=owner,
                       **{"from": start.isoformat() if start else None,
                          "to": end.isoformat() if end else None}, currency=currency,
                       manager=manager)


def opportunities_url(*, owner: int | None = None, stage: str | None = None,
                      status: str | None = None, team: int | None = None,
                      manager: int | None = None, segment: str | None = None,
                      source: str | None = None,
                      created: tuple[date | None, date | None] | None = None,
                      closed: tuple[date, date] | None = None, product: str | None = None
                      ) -> str:
    """Opportunities behind a figure; `created`/`closed` are half-open [start, end) days
    (either end of `created` may be open: None); `product` is a product name as pipeline
    analytics counts it."""
    return _with_query(
        reverse("opportunities"), owner=owner, stage=stage, status=status, team=team,
        manager=manager, segment=segment, source=source, product=product,
        created_from=created[0].isoformat() if created and created[0] else None,
        created_to=created[1].isoformat() if created and created[1] else None,
        close_from=closed[0].isoformat() if closed else None,
        close_to=closed[1].isoformat() if closed else None)


def attainment_url(*, period_id: int | None = None, low: int | None = None,
                   high: int | None = None, csv: bool = False) -> str:
    return _with_query(reverse("attainment"), period=period_id, min=low, max=high,
                       format="csv" if csv else None)
