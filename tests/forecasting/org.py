"""A small organisation for forecasting tests, with every figure computed by hand.

    mia (manager, team North): ann, bob (reps)      max (manager, team South): cat (rep)
    bob moves from mia to max on 2026-04-01 (effective-dated re-org).

Bookings (USD), one per month on the 10th: ann 1,000 + 100 x (month index mod 4) from
2023-01 to 2026-01 (37 months); bob 500 in every month of 2023-01..2026-01; cat 300 in
2025-11 and 2025-12 only (a short history). Units (quantity): ann 1 + (month index mod 4),
everyone else 1 per booking. Quarterly history ends with FY2025-Q4 when the
forecast is made on 2026-02-10.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from attain.core.periods import add_months
from attain.crm.models import Booking, StageChange
from attain.people.models import Person, Role, Team
from tests.factories import make_booking, make_line, make_opportunity, make_person, make_stage

AS_OF = date(2026, 2, 10)


@dataclass
class Org:
    mia: Person
    max: Person
    ann: Person
    bob: Person
    cat: Person
    ops: Person
    north: Team
    south: Team


def build_org() -> Org:
    north, south = Team.objects.create(name="North"), Team.objects.create(name="South")
    ops = make_person("olga", Role.OPS)
    mia, max_ = make_person("mia", Role.MANAGER), make_person("max", Role.MANAGER)
    ann, bob, cat = make_person("ann"), make_person("bob"), make_person("cat")
    start = date(2023, 1, 1)
    make_line(mia, None, start, team=north)
    make_line(max_, None, start, team=south)
    make_line(ann, mia, start, team=north)
    make_line(bob, mia, start, date(2026, 4, 1), team=north)
    make_line(bob, max_, date(2026, 4, 1), team=south)
    make_line(cat, max_, start, team=south)
    month = start
    i = 0
    while month < date(2026, 2, 1):
        day = month.replace(day=10)
        make_booking(ann, f"{1000 + 100 * (i % 4)}.00", day, team=north,
                     quantity=Decimal(1 + i % 4))
        make_booking(bob, "500.00", day, team=north)
        if month >= date(2025, 11, 1):
            make_booking(cat, "300.00", day, team=south)
        month = add_months(month, 1)
        i += 1
    return Org(mia, max_, ann, bob, cat, ops, north, south)


def add_pipeline(org: Org) -> None:
    """A year of deals for ann (won every other one) and two open deals."""
    proposal = make_stage("Proposal", 3, won=False, probability="60")
    won = make_stage("Closed Won", 9, won=True)
    lost = make_stage("Closed Lost", 10, won=False, lost=True, probability="0")
    for k in range(24):
        created = datetime(2025, 1, 5, tzinfo=UTC).replace(month=1 + k // 2)
        closed = created.replace(day=20)
        stage = won if k % 2 == 0 else lost
        opp = make_opportunity(org.ann, "800.00", stage=stage, created_at=created,
                               close_date=closed.date())
        StageChange.objects.create(opportunity=opp, to_stage=proposal, changed_at=created)
        StageChange.objects.create(opportunity=opp, from_stage=proposal, to_stage=stage,
                                   changed_at=closed)
    for owner, amount in ((org.ann, "2000.00"), (org.bob, "1000.00")):
        opp = make_opportunity(owner, amount, stage=proposal,
                               created_at=datetime(2026, 1, 20, tzinfo=UTC),
                               close_date=date(2026, 3, 15))
        StageChange.objects.create(opportunity=opp, to_stage=proposal,
                                   changed_at=datetime(2026, 1, 20, tzinfo=UTC))


def quarter_total(person: Person, start: date, end: date) -> Decimal:
    return sum(Booking.objects.filter(owner=person, booked_on__gte=start, booked_on__lt=end)
               .values_list("amount", flat=True), Decimal(0))
