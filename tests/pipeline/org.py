"""A small organisation for pipeline tests, dated in the current fiscal quarter (days after its
start, d0 = the quarter's first day), with every figure worked out by hand.

    person role      manager team   deals (USD, created at 10:00 UTC on the day given)
    eve    executive
    mia    manager   eve
    max    manager   eve
    ann    rep       mia     East   X1 d0+1 2,000.00 smb: Discovery, Proposal d0+11, Won d0+21
                                    X2 d0+2 1,000.00 smb: Discovery, Lost d0+12 (Price)
    bob    rep       mia     East   X3 d0+3 4,000.00 mid: Discovery, Proposal d0+8 (close date
                                       pushed from the quarter's last day to 30 days after it)
    cat    rep       max     West   X4 d0+4   500.00 smb: Discovery
    olga   ops;  fay finance

This quarter, company: created 4 deals, 7,500.00; won 1 (2,000.00), lost 1 (1,000.00), win rate
1 / 2 = 50.0%; cycle X1 = 20 days; velocity = 4 x 2,000.00 x 1 / (2 x 20) = 200.00 a day;
1 slipped deal (X3). Cohort funnel: Discovery 4, Proposal 2 (X1, X3), Closed Won 1.
mia's team (mia, ann, bob): 3 created, 7,000.00. ann: 2 created, 3,000.00. Team West: 500.00.
Segment smb (company): X1, X2, X4 = 3 created, 3,500.00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from attain.core.periods import FiscalCalendarRules, PeriodKind
from attain.crm.models import StageChange
from attain.people.models import Role, Team
from tests.factories import make_line, make_opportunity, make_person, make_stage

RULES = FiscalCalendarRules()


@dataclass
class PipelineOrg:
    people: dict[str, Any]
    teams: dict[str, Team]
    stages: dict[str, Any]
    deals: dict[str, Any]
    quarter_start: date

    def __getitem__(self, name: str) -> Any:
        return self.people[name]


def at(day: date) -> datetime:
    return datetime.combine(day, time(10), tzinfo=UTC)


def build_pipeline_org() -> PipelineOrg:
    d0 = RULES.span(PeriodKind.QUARTER, timezone.localdate()).start
    quarter_end = RULES.span(PeriodKind.QUARTER, timezone.localdate()).end
    day = timedelta(days=1)
    eve = make_person("eve", Role.EXECUTIVE)
    mia, max_ = make_person("mia", Role.MANAGER), make_person("max", Role.MANAGER)
    ann, bob, cat = make_person("ann"), make_person("bob"), make_person("cat")
    olga, fay = make_person("olga", Role.OPS), make_person("fay", Role.FINANCE)
    east, west = Team.objects.create(name="East"), Team.objects.create(name="West")
    start = date(2020, 1, 1)
    for who, boss, team in [(mia, eve, east), (max_, eve, west), (ann, mia, east),
                            (bob, mia, east), (cat, max_, west)]:
        make_line(who, boss, start, team=team)
    discovery = make_stage("Discovery", 1, won=False, probability="10")
    proposal = make_stage("Proposal", 3, won=False, probability="50")
    won = make_stage("Closed Won", 9)
    lost = make_stage("Closed Lost", 10, won=False, lost=True, probability="0")
    deals = {
        "X1": make_opportunity(ann, "2000.00", stage=won, name="X1 won", segment="smb",
                               source="Inbound", created_at=at(d0 + day),
                               close_date=d0 + 21 * day),
        "X2": make_opportunity(ann, "1000.00", stage=lost, name="X2 lost", segment="smb",
                               source="Outbound", created_at=at(d0 + 2 * day),
                               close_date=d0 + 12 * day, loss_reason="Price"),
        "X3": make_opportunity(bob, "4000.00", stage=proposal, name="X3 open", segment="mid",
                               source="Inbound", created_at=at(d0 + 3 * day),
                               close_date=quarter_end + 30 * day),
        "X4": make_opportunity(cat, "500.00", stage=discovery, name="X4 open", segment="smb",
                               source="Partner", created_at=at(d0 + 4 * day),
                               close_date=quarter_end - day),
    }
    history = [
        ("X1", None, discovery, 1, d0 + 21 * day), ("X1", discovery, proposal, 11, d0 + 21 * day),
        ("X1", proposal, won, 21, d0 + 21 * day),
        ("X2", None, discovery, 2, d0 + 12 * day), ("X2", discovery, lost, 12, d0 + 12 * day),
        ("X3", None, discovery, 3, quarter_end - day),
        ("X3", discovery, proposal, 8, quarter_end + 30 * day),
        ("X4", None, discovery, 4, quarter_end - day),
    ]
    for name, before, after, offset, close in history:
        StageChange.objects.create(opportunity=deals[name], from_stage=before, to_stage=after,
                                   changed_at=at(d0 + offset * day), close_date=close,
                                   amount=deals[name].amount)
    olga.user.is_staff = True
    olga.user.save()
    people = {p.name: p for p in [eve, mia, max_, ann, bob, cat, olga, fay]}
    return PipelineOrg(people, {"East": east, "West": west},
                       {"Discovery": discovery, "Proposal": proposal, "Closed Won": won,
                        "Closed Lost": lost}, deals, d0)


def money(value: str) -> Decimal:
    return Decimal(value)
