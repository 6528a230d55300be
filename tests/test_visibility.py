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
