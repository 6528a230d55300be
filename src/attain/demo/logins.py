"""The demo logins (ops, finance, exec, manager, rep), linked to people of the generated company."""

from __future__ import annotations

from datetime import date

from django.contrib.auth import get_user_model
from django.db.models import Count
from django.utils import timezone

from attain.people.actions import create_login
from attain.people.models import Person, Role
from attain.people.visibility import lines_valid_on

DEMO_PASSWORD = "attain-demo"


class DemoLoginError(RuntimeError):
    """The database holds no organisation with the people a demo login needs."""


def ensure_demo_logins(as_of: date | None = None) -> list[tuple[str, str, str]]:
    """Create the demo logins that do not exist yet; return (username, password, description).

    `ops` is an ops person with Django admin rights, `finance` and `exec` a finance person and the
    chief executive, `manager` a front-line manager with reps reporting on `as_of` (default today)
    and `rep` the active rep under that manager with the most bookings. Existing logins are kept.
    """
    as_of = as_of or timezone.localdate()
    users = get_user_model().objects
    manager, rep = _manager_and_rep(as_of)
    wanted = [
        ("ops", Role.OPS, _first_of_role(Role.OPS), "Sales operations, Django admin"),
        ("finance", Role.FINANCE, _first_of_role(Role.FINANCE), "Finance"),
        ("exec", Role.EXECUTIVE, _first_of_role(Role.EXECUTIVE), "Executive"),
        ("manager", Role.MANAGER, manager, "Front-line sales manager"),
        ("rep", Role.REP, rep, "Sales rep"),
    ]
    rows = []
    for username, role, person, description in wanted:
        if not users.filter(username=username).exists():
            create_login(None, username=username, password=DEMO_PASSWORD, role=role,
                         person=person, email=person.email, superuser=username == "ops")
        linked = Person.objects.filter(user__username=username).first()
        who = f"{linked.name}, {linked.title}" if linked else "no person linked"
        rows.append((username, DEMO_PASSWORD, f"{description} ({who})"))
    return rows


def _first_of_role(role: str) -> Person:
    person = Person.objects.filter(role=role).order_by("external_id").first()
    if person is None:
        raise DemoLoginError(f"No person with role {role!r}: generate an organisation first "
                             "(attain generate --scale demo).")
    return person


def _manager_and_rep(as_of: date) -> tuple[Person, Person]:
    """A manager with reps reporting on `as_of`, and their active rep with the most bookings."""
    current = lines_valid_on(as_of).filter(person__role=Role.REP, manager__isnull=False)
    reps = (
        Person.objects.filter(pk__in=current.values("person_id"))
        .annotate(booking_count=Count("booking"))
        .filter(booking_count__gt=0)
        .order_by("-booking_count", "external_id")
    )
    rep = reps.first()
    if rep is None:
        raise DemoLoginError(f"No rep with bookings reports to a manager on {as_of}: generate an "
                             "organisation first (attain generate --scale demo).")
    manager = current.filter(person=rep).select_related("manager").get().manager
    assert manager is not None  # filtered above
    return manager, rep
