from datetime import date

import pytest
from django.contrib.auth import get_user_model

from attain.people.models import Person, ReportingLine, Role


def person(name, role=Role.REP):
    user = get_user_model().objects.create_user(username=name, password="x")
    return Person.objects.create(external_id=name, name=name, role=role, user=user)


def line(who, manager, start, end=None):
    ReportingLine.objects.create(person=who, manager=manager, valid_from=start, valid_to=end)


@pytest.fixture
def org(db):
    """vp ← m1 ← (a, b); vp ← m2 ← c; on 2026-07-01 rep b moves from m1 to m2."""
    vp = person("vp", Role.MANAGER)
    m1, m2 = person("m1", Role.MANAGER), person("m2", Role.MANAGER)
    a, b, c = person("a"), person("b"), person("c")
    ops = person("ops", Role.OPS)
    for who, boss in [(m1, vp), (m2, vp), (a, m1), (c, m2)]:
        line(who, boss, date(2026, 1, 1))
    line(b, m1, date(2026, 1, 1), date(2026, 7, 1))
    line(b, m2, date(2026, 7, 1))
    return {p.name: p for p in [vp, m1, m2, a, b, c, ops]}


def names(user, as_of):
    return sorted(Person.objects.visible_to(user, as_of).values_list("name", flat=True))


def test_manager_sees_subtree_as_of_the_date_viewed(org):
    assert names(org["m1"].user, date(2026, 6, 30)) == ["a", "b", "m1"]
    assert names(org["m1"].user, date(2026, 7, 1)) == ["a", "m1"]
    assert names(org["m2"].user, date(2026, 7, 1)) == ["b", "c", "m2"]


def test_senior_manager_sees_the_whole_subtree(org):
    assert names(org["vp"].user, date(2026, 8, 1)) == ["a", "b", "c", "m1", "m2", "vp"]


def test_rep_sees_only_themselves(org):
    assert names(org["a"].user, date(2026, 8, 1)) == ["a"]


def test_ops_sees_everyone(org):
    assert len(names(org["ops"].user, date(2026, 8, 1))) == 7


def test_user_without_person_sees_nothing(db):
    stranger = get_user_model().objects.create_user(username="stranger", password="x")
    assert names(stranger, date(2026, 8, 1)) == []


def test_subtree_spans_follow_the_reporting_lines_day_by_day(org):
    """vp's subtree over Q2 and Q3 2026: everyone all along (b moves from m1 to m2, both under vp);
    m1's: a all along, b only until 2026-07-01 (excluded), m1 itself all along."""
    from attain.people.visibility import subtree_spans

    start, end = date(2026, 4, 1), date(2026, 10, 1)
    whole = [(start, end)]
    ids = {p.pk: name for name, p in org.items()}
    vp = {ids[pid]: ranges for pid, ranges in subtree_spans(org["vp"].pk, start, end).items()}
    assert vp == {"vp": whole, "m1": whole, "m2": whole, "a": whole, "b": whole, "c": whole}
    m1 = {ids[pid]: ranges for pid, ranges in subtree_spans(org["m1"].pk, start, end).items()}
    assert m1 == {"m1": whole, "a": whole, "b": [(start, date(2026, 7, 1))]}
    m2 = {ids[pid]: ranges for pid, ranges in subtree_spans(org["m2"].pk, start, end).items()}
    assert m2 == {"m2": whole, "c": whole, "b": [(date(2026, 7, 1), end)]}
    # one level only: vp's direct reports, not theirs
    direct = subtree_spans(org["vp"].pk, start, end, depth=1)
    assert sorted(ids[pid] for pid in direct) == ["m1", "m2", "vp"]
    # a rep without reports: themselves only
    assert subtree_spans(org["a"].pk, start, end) == {org["a"].pk: whole}


def test_subtree_spans_of_someone_who_returns_are_two_ranges(org):
    """c leaves m2 on 2026-05-01 and comes back on 2026-06-01: two ranges in Q2."""
    from attain.people.visibility import subtree_spans

    ReportingLine.objects.filter(person=org["c"]).update(valid_to=date(2026, 5, 1))
    line(org["c"], None, date(2026, 5, 1), date(2026, 6, 1))
    line(org["c"], org["m2"], date(2026, 6, 1))
    spans = subtree_spans(org["m2"].pk, date(2026, 4, 1), date(2026, 7, 1))
    assert spans[org["c"].pk] == [(date(2026, 4, 1), date(2026, 5, 1)),
                                  (date(2026, 6, 1), date(2026, 7, 1))]


def test_a_page_reads_the_reporting_lines_once_and_the_next_request_sees_a_change(org, client):
    """vp's pipeline page asks for vp's subtree several times (the person filter, the scope,
    the people); the lines in force are read once per request. After m2 (and so c, and b since
    July) leaves vp's subtree, the next page no longer offers c (nothing is kept between
    requests)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def page_and_line_reads():
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/pipeline/")
        assert response.status_code == 200
        return response.content.decode(), sum(
            '"people_reportingline"."manager_id"' in q["sql"] for q in queries.captured_queries)

    client.force_login(org["vp"].user)
    c_option = f'<option value="{org["c"].pk}">c</option>'
    page, reads = page_and_line_reads()
    assert reads == 1 and c_option in page
    ReportingLine.objects.filter(person=org["m2"]).update(manager=None)
    page, reads = page_and_line_reads()
    assert reads == 1 and c_option not in page
