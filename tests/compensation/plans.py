"""Plan texts and an organisation shared by the compensation tests."""

from __future__ import annotations

from datetime import date

from attain.compensation import actions
from attain.compensation.models import PlanVersion
from attain.people.models import Role
from tests.factories import make_line, make_person

FLAT_8 = """plan: AE flat
currency: USD
period: quarter
components:
  - name: Commission
    kind: commission
    rate: "8%"
"""

# The worked example: 6 % on the first 3,000, 8 % on the next 5,000, 10 % above 8,000.
MARGINAL = """plan: AE marginal
currency: USD
period: quarter
components:
  - name: Commission
    kind: commission
    rate: "6%"
    tiers:
      basis: amount
      mode: marginal
      bands:
        - {from: 0, to: 3000, rate: "6%"}
        - {from: 3000, to: 8000, rate: "8%"}
        - {from: 8000, rate: "10%"}
"""

GAPPED = """plan: AE gapped
currency: USD
period: quarter
components:
  - name: Commission
    kind: commission
    rate: "6%"
    tiers:
      basis: amount
      mode: marginal
      bands:
        - {from: 0, to: 3000, rate: "6%"}
        - {from: 4000, rate: "8%"}
"""


def org():  # type: ignore[no-untyped-def]
    """ops, finance, a manager with two reps (Ann, Bob) and a rep in another team (Cid)."""
    ops = make_person("olga", Role.OPS)
    fin = make_person("fiona", Role.FINANCE)
    mgr = make_person("mia", Role.MANAGER)
    other_mgr = make_person("max", Role.MANAGER)
    ann = make_person("ann")
    bob = make_person("bob")
    cid = make_person("cid")
    start = date(2025, 1, 1)
    make_line(mgr, None, start)
    make_line(other_mgr, None, start)
    make_line(ann, mgr, start)
    make_line(bob, mgr, start)
    make_line(cid, other_mgr, start)
    return {"ops": ops, "fin": fin, "mgr": mgr, "other_mgr": other_mgr, "ann": ann, "bob": bob,
            "cid": cid}


def published(ops_user, text: str = FLAT_8, name: str = "AE", start: date = date(2026, 1, 1)
              ) -> PlanVersion:
    version = actions.create_plan(ops_user, name=name, text=text, effective_from=start)
    return actions.publish_version(ops_user, version.pk)
