"""Invariants of one generated tiny company (generated once for the module, deleted afterwards)."""

from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal
from itertools import pairwise

import pytest
from django.contrib.auth import get_user_model

from attain.core.models import AuditEvent, FiscalCalendar, Period
from attain.crm.models import (
    Account,
    Booking,
    Contact,
    ExchangeRate,
    Lead,
    Opportunity,
    Stage,
    StageChange,
)
from attain.demo.generator import delete_organisation, generate
from attain.demo.logins import DEMO_PASSWORD, ensure_demo_logins
from attain.people.models import Person, ReportingLine, Role, Team
from attain.people.visibility import lines_valid_on
from attain.performance.models import Quota

END = date(2026, 11, 23)
REORG = date(2026, 7, 1)

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module", autouse=True)
def tiny(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        summary = generate("tiny", end=END)
    yield summary
    with django_db_blocker.unblock():
        delete_organisation()
        for model in (Period, Stage, AuditEvent, FiscalCalendar):
            model.objects.all().delete()


def team_on(person_id: int, day: date) -> int | None:
    line = lines_valid_on(day).get(person_id=person_id)
    return line.team_id


def test_tiny_scale_has_eight_seats_two_teams_and_hundreds_of_deals(tiny):
    assert (tiny.start, tiny.end) == (date(2025, 10, 1), END)
    assert tiny.counts() == {
        "regions": 2, "teams": Team.objects.count(), "people": Person.objects.count(),
        "reporting_lines": ReportingLine.objects.count(), "accounts": Account.objects.count(),
        "contacts": Contact.objects.count(), "products": 9, "stages": 7,
        "leads": Lead.objects.count(), "opportunities": Opportunity.objects.count(),
        "stage_changes": StageChange.objects.count(), "bookings": Booking.objects.count(),
        "exchange_rates": ExchangeRate.objects.count(), "periods": tiny.periods,
        "quotas": Quota.objects.count(),
    }
    assert tiny.teams == 2
    assert 300 <= tiny.opportunities <= 1_500
    roles = Counter(Person.objects.values_list("role", flat=True))
    assert roles[Role.EXECUTIVE] == 1 and roles[Role.OPS] == 2 and roles[Role.FINANCE] == 2
    assert roles[Role.MANAGER] == 1 + 2 + 2  # VP, two regional directors, two team managers
    reps_today = lines_valid_on(END).filter(person__role=Role.REP).count()
    assert 6 <= reps_today <= 8


def test_every_opportunity_has_a_stage_history_from_creation_to_its_stage():
    changes = defaultdict(list)
    for change in StageChange.objects.order_by("opportunity_id", "changed_at", "id"):
        changes[change.opportunity_id].append(change)
    opportunities = list(Opportunity.objects.select_related("stage"))
    for opp in opportunities:
        history = changes[opp.pk]
        assert history[0].from_stage_id is None
        assert history[0].changed_at == opp.created_at
        assert history[-1].to_stage_id == opp.stage_id
        for before, after in pairwise(history):
            assert after.from_stage_id == before.to_stage_id
            assert before.changed_at < after.changed_at
        assert all(c.changed_at.utcoffset().total_seconds() == 0 for c in history)
    assert len(changes) == len(opportunities)


def test_flags_and_forecast_category_follow_the_stage():
    for opp in Opportunity.objects.select_related("stage"):
        assert opp.is_closed == opp.stage.is_closed
        assert opp.is_won == opp.stage.is_won
        assert opp.forecast_category == opp.stage.forecast_category
        assert (opp.loss_reason != "") == opp.stage.is_lost


def test_closed_deals_close_by_the_end_and_open_pipeline_exists_after_it():
    closed = Opportunity.objects.filter(is_closed=True)
    assert not closed.filter(close_date__gte=END).exists()
    open_deals = Opportunity.objects.filter(is_closed=False)
    assert open_deals.count() > 10
    assert not open_deals.filter(close_date__lt=END).exists()
    assert set(open_deals.values_list("stage__name", flat=True)) >= {"Prospecting", "Discovery"}
    reasons = set(closed.filter(is_won=False).values_list("loss_reason", flat=True))
    assert reasons == {"Price", "Competitor", "No decision", "Timing", "Product fit"}


def test_some_close_dates_slipped_and_closes_cluster_at_quarter_end():
    slipped = 0
    for opp_id in Opportunity.objects.filter(is_won=True).values_list("id", flat=True):
        dates = [c.close_date for c in StageChange.objects.filter(opportunity_id=opp_id)
                 .order_by("changed_at")]
        slipped += any(b > a for a, b in pairwise(dates[:-1]))
    assert slipped > 10
    won = list(Opportunity.objects.filter(is_won=True, close_date__lt=date(2026, 10, 1))
               .values_list("close_date", flat=True))
    last_week_of_quarter = sum(1 for d in won if d.month % 3 == 0 and d.day >= 24)
    assert last_week_of_quarter / len(won) > 0.15  # 8 % without quarter-end pressure


def test_won_deals_book_order_lines_that_sum_exactly_to_the_amount():
    bookings = defaultdict(list)
    for booking in Booking.objects.all():
        bookings[booking.opportunity_id].append(booking)
    won = list(Opportunity.objects.filter(is_won=True))
    assert len(won) > 50
    for opp in won:
        lines = bookings.pop(opp.pk)
        assert 1 <= len(lines) <= 3
        assert sum(line.amount for line in lines) == opp.amount
        assert {(b.currency, b.booked_on, b.owner_id) for b in lines} == {
            (opp.currency, opp.close_date, opp.owner_id)}
        assert all(b.amount == b.amount.quantize(Decimal("0.01")) for b in lines)
        assert lines[0].team_id == team_on(opp.owner_id, opp.close_date)
    assert bookings == {}  # only won deals book
    assert len(set(Opportunity.objects.values_list("currency", flat=True))) >= 3


def test_reporting_lines_never_overlap_and_the_reorg_moves_reps_on_one_day():
    lines = defaultdict(list)
    for line in ReportingLine.objects.order_by("person_id", "valid_from"):
        lines[line.person_id].append(line)
    for person_lines in lines.values():
        for before, after in pairwise(person_lines):
            assert before.valid_to is not None and before.valid_to <= after.valid_from
    moved = [pl for pl in lines.values() if len(pl) == 2]
    assert moved
    for before, after in moved:
        assert before.valid_to == after.valid_from == REORG
        assert before.team_id != after.team_id and before.manager_id != after.manager_id


def test_leavers_have_their_last_line_closed_and_new_hires_ramp():
    leavers = Person.objects.filter(left_on__isnull=False)
    assert leavers.exists()
    for person in leavers:
        last = person.reporting_lines.order_by("valid_from").last()
        assert last.valid_to == person.left_on
    new_hires = Person.objects.filter(role=Role.REP, hired_on__gte=date(2025, 10, 1))
    assert new_hires.exists()
    assert {p.ramp_months for p in new_hires} <= {3, 4, 5, 6}
    for person in new_hires:
        months = list(Quota.objects.filter(person=person, period__kind="month")
                      .order_by("period__start").values_list("amount", flat=True))
        assert months[0] < max(months)


def test_quarter_quotas_sum_months_and_years_sum_quarters_for_reps_and_teams():
    amounts = defaultdict(Decimal)
    for q in Quota.objects.select_related("period"):
        assert q.currency == "USD"
        owner = ("person", q.person_id) if q.person_id else ("team", q.team_id)
        amounts[(owner, q.period.kind, q.period.start)] = q.amount
    quarters = {p.start: p for p in Period.objects.filter(kind="quarter")}
    checked = 0
    for (owner, kind, start), amount in amounts.items():
        if kind != "quarter":
            continue
        end = quarters[start].end
        if owner[0] == "person":
            months = [a for (o, k, s), a in amounts.items()
                      if o == owner and k == "month" and start <= s < end]
            assert sum(months) == amount
            checked += 1
    assert checked > 10
    for (owner, kind, start), amount in amounts.items():
        if kind == "year":
            year_end = Period.objects.get(kind="year", start=start).end
            assert amount == sum(a for (o, k, s), a in amounts.items()
                                 if o == owner and k == "quarter" and start <= s < year_end)
    for (owner, kind, start), amount in amounts.items():
        if owner[0] == "team" and kind == "quarter":
            members = [o for (o, k, s) in amounts if o[0] == "person" and k == "quarter"
                       and s == start and team_on(o[1], max(start, Person.objects.get(
                           pk=o[1]).hired_on)) == owner[1]]
            assert amount == sum(amounts[(m, "quarter", start)] for m in members)


def test_exchange_rates_cover_every_month_for_every_currency():
    per_currency = Counter(ExchangeRate.objects.values_list("currency", flat=True))
    assert set(per_currency) == {"USD", "CAD", "EUR", "GBP", "AUD", "SGD"}
    assert len(set(per_currency.values())) == 1
    assert set(ExchangeRate.objects.filter(currency="USD").values_list("rate", flat=True)) == {
        Decimal("1")}


def test_converted_leads_point_at_deals_opened_when_they_converted():
    converted = Lead.objects.filter(status=Lead.Status.CONVERTED).select_related(
        "converted_opportunity")
    assert converted.exists()
    for lead in converted:
        assert lead.converted_at == lead.converted_opportunity.created_at
        assert lead.created_at <= lead.qualified_at <= lead.converted_at
        assert lead.source == lead.converted_opportunity.source
    sources = set(Lead.objects.values_list("source", flat=True))
    assert sources == {"Inbound", "Outbound", "Partner", "Event", "Referral"}
    assert {"disqualified", "converted"} <= set(Lead.objects.values_list("status", flat=True))


def test_demo_logins_link_to_a_manager_with_reps_and_their_rep_with_bookings():
    rows = ensure_demo_logins(as_of=END)
    assert [(u, p) for u, p, _ in rows] == [(u, DEMO_PASSWORD) for u in
                                            ("ops", "finance", "exec", "manager", "rep")]
    users = get_user_model().objects
    ops = users.get(username="ops")
    assert ops.is_staff and ops.is_superuser and ops.check_password(DEMO_PASSWORD)
    assert ops.person.role == Role.OPS
    assert users.get(username="exec").person.role == Role.EXECUTIVE
    manager = users.get(username="manager").person
    rep = users.get(username="rep").person
    assert lines_valid_on(END).get(person=rep).manager == manager
    assert Booking.objects.filter(owner=rep).exists()
    assert AuditEvent.objects.filter(action="create_login").count() == 5
    assert ensure_demo_logins(as_of=END) == rows
    assert users.count() == 5


def test_postgresql_has_the_statistics_of_the_generated_tables(tiny):
    """The generator ends with ANALYZE (PostgreSQL): each filled table's row estimate is its
    row count (every row sampled at this size), so the first pages are planned for them."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    for model in (Opportunity, StageChange, Person, ReportingLine, Booking):
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s",
                           [model._meta.db_table])
            assert cursor.fetchone()[0] == model.objects.count(), model.__name__
