"""Hand-built dirty snapshot tables for the data-quality calculation, with every finding known.

As of 2026-06-30 (min stale days 30). Stage order: Discovery 1, Proposal 3, Negotiation 5 (one
pipeline), Closed Won 9.

accounts                                      findings
 1 "Acme Inc"        acme.com                 duplicate_account name:acme (1, 2, 3) and
 2 "ACME, Ltd."      (no domain)              domain:acme.com (1, 3); no name variant: their
 3 "acme gmbh"       www.ACME.com             light keys differ ("acme inc", "acme ltd", …)
 4 "Northwind Traders"  nw.example            typo:4-5 ("northwind traders" vs "northwind tradrs")
 5 "Northwind Tradrs"   nw2.example
 6 "Contoso Labs 2"  c2.example               not a typo of 7: equal once digits are removed
 7 "Contoso Labs 3"  c3.example
 8 "Globex"          globex.com               account_name_variant name:globex (8 and lead 2)
leads: 1 "Initech" (matches no account spelling variant), 2 "GLOBEX" (variant of 8), 3 "" (none)
products: 1 "Widget Pro", 2 "widget  pro", 3 "Gadget" -> product_name_variant name:widget pro (1, 2)
people: 10 ann (active), 11 leo (left 2026-06-01), 12 kim (leaves 2026-07-01, still active)

opportunities (account, owner, amount, stage, closed, close date, created)
 100 "Acme renewal"   1, 10, 1000.00 USD, Proposal, open, 2026-07-15, 2026-05-01
 101 "ACME Renewal!"  1, 10,  950.00 USD, Proposal, open, 2026-07-30, 2026-06-20  dup of 100
 102 "Acme renewal"   1, 10, 1000.00 USD, Won,    closed, 2027-07-15, 2026-06-20  too far: no dup
 103 "Late deal"      8, 11,  500.00 USD, Discovery, open, 2026-06-01, 2026-01-10
       past_close_date (29 days), inactive_owner (leo, left 2026-06-01), stale (no change:
       idle since created 2026-01-10 = 171 days)
 104 "No amount"      8, 12,  (none),  Discovery, open, 2026-08-01, 2026-06-25   missing_amount
 105 "No owner"    None, None, 10.00 EUR, Proposal, open, 2026-08-01, 2026-06-25
       missing_owner, missing_account
 106 "Backwards"      4, 10,  300.00 USD, Discovery, open, 2026-09-01, 2026-03-01
       changes: 1 Discovery 2026-03-01, 2 Negotiation 2026-04-01, 3 Discovery 2026-05-01
       stage_regression change:3 "Negotiation → Discovery"; stale: last change 2026-05-01 →
       60 days idle
 107 "Fresh"          4, 12,  300.00 EUR, Proposal, open, 2026-09-01, 2026-06-01
       change 4 Proposal 2026-06-29: idle 1 day, not stale
 100 had a change 5 Proposal 2026-06-10 (20 days idle, not stale); 101 change 6 on 2026-06-20.
 104/105: created 2026-06-25, 5 days idle: not stale.
bookings: 1 with opportunity 102, 2 without (booking_without_opportunity), owner 10, 2026-06-02
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa

from attain.engine.schemas import (
    DQ_ACCOUNTS,
    DQ_BOOKINGS,
    DQ_LEADS,
    DQ_OPPORTUNITIES,
    DQ_PEOPLE,
    DQ_PRODUCTS,
    DQ_STAGE_CHANGES,
    DQ_STAGES,
)

AS_OF = date(2026, 6, 30)


def _table(logical, rows):
    return pa.Table.from_pylist([dict(zip(logical.schema.names, row, strict=True))
                                 for row in rows], schema=logical.schema)


def _seq(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, 9, tzinfo=UTC).timestamp() * 1_000_000)


def _opp(i, name, account, owner, amount, currency, stage, closed, close, created):
    return (i, name, account, owner, Decimal(amount) if amount else None, currency, stage,
            closed, close, created)


def dirty_inputs() -> dict[str, pa.Table]:
    d = date
    changes = [(1, 106, 1, d(2026, 3, 1)), (2, 106, 5, d(2026, 4, 1)),
               (3, 106, 1, d(2026, 5, 1)), (4, 107, 3, d(2026, 6, 29)),
               (5, 100, 3, d(2026, 6, 10)), (6, 101, 3, d(2026, 6, 20))]
    return {
        "dq_accounts": _table(DQ_ACCOUNTS, [
            (1, "Acme Inc", "acme.com"), (2, "ACME, Ltd.", None), (3, "acme gmbh", "www.ACME.com"),
            (4, "Northwind Traders", "nw.example"), (5, "Northwind Tradrs", "nw2.example"),
            (6, "Contoso Labs 2", "c2.example"), (7, "Contoso Labs 3", "c3.example"),
            (8, "Globex", "globex.com")]),
        "dq_leads": _table(DQ_LEADS, [(1, "Initech"), (2, "GLOBEX"), (3, "")]),
        "dq_products": _table(DQ_PRODUCTS, [(1, "Widget Pro"), (2, "widget  pro"),
                                            (3, "Gadget")]),
        "dq_people": _table(DQ_PEOPLE, [(10, "ann", None), (11, "leo", d(2026, 6, 1)),
                                        (12, "kim", d(2026, 7, 1))]),
        "dq_stages": _table(DQ_STAGES, [(1, "default", "Discovery", 1),
                                        (3, "default", "Proposal", 3),
                                        (5, "default", "Negotiation", 5),
                                        (9, "default", "Closed Won", 9)]),
        "dq_opportunities": _table(DQ_OPPORTUNITIES, [
            _opp(100, "Acme renewal", 1, 10, "1000.00", "USD", 3, False, d(2026, 7, 15),
                 d(2026, 5, 1)),
            _opp(101, "ACME Renewal!", 1, 10, "950.00", "USD", 3, False, d(2026, 7, 30),
                 d(2026, 6, 20)),
            _opp(102, "Acme renewal", 1, 10, "1000.00", "USD", 9, True, d(2027, 7, 15),
                 d(2026, 6, 20)),
            _opp(103, "Late deal", 8, 11, "500.00", "USD", 1, False, d(2026, 6, 1),
                 d(2026, 1, 10)),
            _opp(104, "No amount", 8, 12, None, "USD", 1, False, d(2026, 8, 1), d(2026, 6, 25)),
            _opp(105, "No owner", None, None, "10.00", "EUR", 3, False, d(2026, 8, 1),
                 d(2026, 6, 25)),
            _opp(106, "Backwards", 4, 10, "300.00", "USD", 1, False, d(2026, 9, 1),
                 d(2026, 3, 1)),
            _opp(107, "Fresh", 4, 12, "300.00", "EUR", 3, False, d(2026, 9, 1), d(2026, 6, 1)),
        ]),
        "dq_stage_changes": _table(DQ_STAGE_CHANGES, [
            (i, o, s, on, _seq(on)) for i, o, s, on in changes]),
        "dq_bookings": _table(DQ_BOOKINGS, [(1, "B-1", 102, 10, d(2026, 6, 2)),
                                            (2, "B-2", None, 10, d(2026, 6, 2))]),
    }


# (check, object_type, object_id, group_key, number) of every expected finding.
EXPECTED = {
    ("duplicate_account", "account", 1, "name:acme", None),
    ("duplicate_account", "account", 2, "name:acme", None),
    ("duplicate_account", "account", 3, "name:acme", None),
    ("duplicate_account", "account", 1, "domain:acme.com", None),
    ("duplicate_account", "account", 3, "domain:acme.com", None),
    ("duplicate_account", "account", 4, "typo:4-5", None),
    ("duplicate_account", "account", 5, "typo:4-5", None),
    ("account_name_variant", "account", 8, "name:globex", None),
    ("account_name_variant", "lead", 2, "name:globex", None),
    ("product_name_variant", "product", 1, "name:widget pro", None),
    ("product_name_variant", "product", 2, "name:widget pro", None),
    ("duplicate_opportunity", "opportunity", 100, "opp:100-101", None),
    ("duplicate_opportunity", "opportunity", 101, "opp:100-101", None),
    ("past_close_date", "opportunity", 103, "", 29),          # 1 June .. 30 June
    ("inactive_owner", "opportunity", 103, "", None),
    ("stale_opportunity", "opportunity", 103, "", 171),       # 10 Jan .. 30 Jun: 21+28+31+30+31+30
    ("stale_opportunity", "opportunity", 106, "", 60),        # 1 May .. 30 Jun: 30 + 30
    ("missing_amount", "opportunity", 104, "", None),
    ("missing_owner", "opportunity", 105, "", None),
    ("missing_account", "opportunity", 105, "", None),
    ("stage_regression", "opportunity", 106, "change:3", None),
    ("booking_without_opportunity", "booking", 2, "", None),
}
