"""Data-quality findings over CRM snapshots: duplicates, name variants, and records that are stale,
incomplete or inconsistent. Every check is a set-based Ibis expression; `compute_findings` runs
them all on one backend and returns one Arrow table of findings (logical `dq_findings`).

Names are compared through two normal forms, built the same way on every backend:

    light key  lower case; every run of characters that is not a letter or digit becomes one
               space; trimmed.            "ACME,  Inc."  -> "acme inc"
    strong key the light key without trailing legal-form words (Inc, Ltd, LLC, GmbH, AG, …).
                                          "ACME,  Inc."  -> "acme"     "Acme GmbH" -> "acme"

The checks (each finding names one record; group checks share a `group_key` per group):

- `duplicate_account`: accounts with the same strong key (`group_key` "name:<key>"), the same
  domain (lower case, "www." dropped; "domain:<domain>"), or strong keys one typo apart
  (Levenshtein distance 1, both at least 8 characters, and still different once digits are
  removed, so "Northwind 2" and "Northwind 3" are not a typo;
  "typo:<smaller id>-<larger id>").
- `duplicate_opportunity`: two opportunities of one account with similar names (equal light keys
  or Levenshtein distance at most 2 between light keys of at least 6 characters), close dates at
  most `DUPLICATE_CLOSE_DAYS` apart, and similar amounts (both empty, or one currency and the
  smaller at least 90 % of the larger). `group_key` "opp:<smaller id>-<larger id>".
- `past_close_date`: open opportunities whose close date is before `as_of` (`number` = days late).
- `stale_opportunity`: open opportunities whose last stage change (or creation, without any) is
  at least `min_stale_days` before `as_of` (`number` = idle days, `day` = last change day). Pages
  filter the stored rows by their own N ≥ `min_stale_days`.
- `missing_amount`, `missing_owner`, `missing_account`: opportunities with that field empty.
- `stage_regression`: a stage change into a stage of lower order than the stage the opportunity
  was in before (its previous change's `to_stage`, ordered by time then id), within one pipeline.
  `day` is the change's day, `note` "<from stage> → <to stage>", `group_key` "change:<id>".
- `inactive_owner`: open opportunities owned by a person whose `left_on` is on or before `as_of`.
- `booking_without_opportunity`: order lines with no opportunity.
- `account_name_variant`, `product_name_variant`: records whose names are case, spacing or
  punctuation variants of one light key with more than one spelling (account names together with
  the `company` of leads, which reference accounts by name; product names). `group_key`
  "name:<light key>", `note` the spelling of the record.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from attain.engine.backends.base import Backend
from attain.engine.schemas import DQ_FINDINGS, conform

FINDING_TYPES = DQ_FINDINGS.schema
DUPLICATE_CLOSE_DAYS = 30
DEFAULT_MIN_STALE_DAYS = 30
LEGAL_FORMS = (
    "inc", "incorporated", "corp", "corporation", "co", "company", "ltd", "limited", "llc",
    "llp", "lp", "plc", "gmbh", "mbh", "ag", "kg", "se", "sa", "sas", "sarl", "srl", "spa", "bv",
    "nv", "ab", "oy", "as", "aps", "pty", "kk", "pte", "ug",
)
_NOT_WORD = r"[^\p{L}\p{N}]+"
_LEGAL_TAIL = r"( (" + "|".join(LEGAL_FORMS) + r"))+$"

CHECKS = (
    "duplicate_account", "account_name_variant", "product_name_variant",
    "duplicate_opportunity", "past_close_date", "stale_opportunity", "missing_amount",
    "missing_owner", "missing_account", "stage_regression", "inactive_owner",
    "booking_without_opportunity",
)


def light_key(name: ir.StringValue) -> ir.StringValue:
    """Lower case, runs of non-letters/digits as one space, trimmed."""
    return name.lower().re_replace(_NOT_WORD, " ").strip()


def strong_key(name: ir.StringValue) -> ir.StringValue:
    """The light key without trailing legal-form words ("acme gmbh" → "acme")."""
    return light_key(name).re_replace(_LEGAL_TAIL, "").strip()


def _finding(table: ir.Table, check: str, object_type: str, object_id: ir.Value, *,
             label: ir.Value, group_key: ir.Value | None = None, owner_id: ir.Value | None = None,
             day: ir.Value | None = None, number: ir.Value | None = None,
             note: ir.Value | None = None) -> ir.Table:
    return table.select(
        check=ibis.literal(check),
        object_type=ibis.literal(object_type),
        object_id=object_id.cast(dt.int64),
        group_key=(group_key if group_key is not None else ibis.literal("")).cast(dt.string),
        label=label.cast(dt.string),
        owner_id=(owner_id if owner_id is not None else ibis.null()).cast(dt.int64),
        day=(day if day is not None else ibis.null()).cast(dt.date),
        number=(number if number is not None else ibis.null()).cast(dt.int64),
        note=(note if note is not None else ibis.null()).cast(dt.string),
    )


def _pair_text(left: ir.IntegerValue, right: ir.IntegerValue, prefix: str) -> ir.StringValue:
    return ibis.literal(prefix) + left.cast(dt.string) + ibis.literal("-") + right.cast(dt.string)


# --- accounts -------------------------------------------------------------------------------


def duplicate_accounts(accounts: ir.Table) -> ir.Table:
    keyed = accounts.select(
        "account_id", "name",
        key=strong_key(accounts.name),
        site=accounts.domain.lower().strip().re_replace(r"^www\.", ""),
    )
    by_name = keyed.filter(keyed.key != "")
    name_groups = by_name.group_by("key").aggregate(members=by_name.count()).filter(
        lambda t: t.members > 1)
    same_name = by_name.semi_join(name_groups, "key")
    named = _finding(same_name, "duplicate_account", "account", same_name.account_id,
                     label=same_name.name, group_key=ibis.literal("name:") + same_name.key,
                     note=same_name.key)

    with_site = keyed.filter(keyed.site.notnull() & (keyed.site != ""))
    site_groups = with_site.group_by("site").aggregate(members=with_site.count()).filter(
        lambda t: t.members > 1)
    same_site = with_site.semi_join(site_groups, "site")
    by_site = _finding(same_site, "duplicate_account", "account", same_site.account_id,
                       label=same_site.name, group_key=ibis.literal("domain:") + same_site.site,
                       note=same_site.site)

    long = keyed.filter(keyed.key.length() >= 8).mutate(
        head=keyed.key.substr(0, 4), tail=keyed.key.right(4),
        letters=keyed.key.re_replace(r"[0-9]", ""))
    other = long.view()

    def candidates(block: str) -> ir.Table:
        return long.join(
            other,
            [long[block] == other[block], long.account_id < other.account_id,
             (long.key.length() - other.key.length()).abs() <= 1,
             long.key != other.key, long.letters != other.letters],
        ).select(left_id=long.account_id, right_id=other.account_id, left_name=long.name,
                 right_name=other.name, left_key=long.key, right_key=other.key)

    # one edit leaves the first or the last four characters of an 8+ character key intact, so
    # comparing only pairs that share either finds every pair at distance 1
    pairs = candidates("head").union(candidates("tail"), distinct=True)
    typos = pairs.filter(pairs.left_key.levenshtein(pairs.right_key) == 1)
    typo_key = _pair_text(typos.left_id, typos.right_id, "typo:")
    left = _finding(typos, "duplicate_account", "account", typos.left_id,
                    label=typos.left_name, group_key=typo_key, note=typos.right_name)
    right = _finding(typos, "duplicate_account", "account", typos.right_id,
                     label=typos.right_name, group_key=typo_key, note=typos.left_name)
    return named.union(by_site).union(left).union(right)


def _variants(names: ir.Table, check: str) -> ir.Table:
    """Rows (object_type, object_id, name) whose light key has more than one spelling."""
    keyed = names.mutate(key=light_key(names.name)).filter(lambda t: t.key != "")
    spellings = keyed.group_by("key").aggregate(spellings=keyed.name.nunique()).filter(
        lambda t: t.spellings > 1)
    varied = keyed.semi_join(spellings, "key")
    return varied.select(
        check=ibis.literal(check), object_type=varied.object_type,
        object_id=varied.object_id.cast(dt.int64),
        group_key=(ibis.literal("name:") + varied.key).cast(dt.string),
        label=varied.name.cast(dt.string), owner_id=ibis.null().cast(dt.int64),
        day=ibis.null().cast(dt.date), number=ibis.null().cast(dt.int64),
        note=varied.name.cast(dt.string),
    )


def account_name_variants(accounts: ir.Table, leads: ir.Table) -> ir.Table:
    names = accounts.select(object_type=ibis.literal("account"),
                            object_id=accounts.account_id.cast(dt.int64),
                            name=accounts.name.cast(dt.string))
    with_company = leads.filter(leads.company.notnull() & (leads.company.strip() != ""))
    referenced = with_company.select(object_type=ibis.literal("lead"),
                                     object_id=with_company.lead_id.cast(dt.int64),
                                     name=with_company.company.cast(dt.string))
    return _variants(names.union(referenced), "account_name_variant")


def product_name_variants(products: ir.Table) -> ir.Table:
    names = products.select(object_type=ibis.literal("product"),
                            object_id=products.product_id.cast(dt.int64),
                            name=products.name.cast(dt.string))
    return _variants(names, "product_name_variant")


# --- opportunities --------------------------------------------------------------------------


def duplicate_opportunities(opportunities: ir.Table) -> ir.Table:
    o = opportunities.filter(opportunities.account_id.notnull()).mutate(
        key=light_key(opportunities.name))
    p = o.view()
    pairs = o.join(p, [o.account_id == p.account_id, o.opportunity_id < p.opportunity_id]).select(
        left_id=o.opportunity_id, right_id=p.opportunity_id, left_name=o.name,
        right_name=p.name, left_owner=o.owner_id, right_owner=p.owner_id,
        left_key=o.key, right_key=p.key, left_close=o.close_date, right_close=p.close_date,
        left_amount=o.amount, right_amount=p.amount, left_currency=o.currency,
        right_currency=p.currency)
    similar_name = (pairs.left_key == pairs.right_key) | (
        (pairs.left_key.length() >= 6) & (pairs.right_key.length() >= 6)
        & (pairs.left_key.levenshtein(pairs.right_key) <= 2))
    gap = pairs.left_close.delta(pairs.right_close, unit="day").abs()
    low = ibis.least(pairs.left_amount, pairs.right_amount)
    high = ibis.greatest(pairs.left_amount, pairs.right_amount)
    similar_amount = (pairs.left_amount.isnull() & pairs.right_amount.isnull()) | (
        (pairs.left_currency == pairs.right_currency)
        & (low * 10 >= high * 9))
    dupes = pairs.filter(similar_name & (gap <= DUPLICATE_CLOSE_DAYS)
                         & similar_amount.fill_null(False))
    key = _pair_text(dupes.left_id, dupes.right_id, "opp:")
    left = _finding(dupes, "duplicate_opportunity", "opportunity", dupes.left_id,
                    label=dupes.left_name, group_key=key, owner_id=dupes.left_owner,
                    day=dupes.left_close, note=dupes.right_name)
    right = _finding(dupes, "duplicate_opportunity", "opportunity", dupes.right_id,
                     label=dupes.right_name, group_key=key, owner_id=dupes.right_owner,
                     day=dupes.right_close, note=dupes.left_name)
    return left.union(right)


def _opportunity_finding(rows: ir.Table, check: str, **values: ir.Value) -> ir.Table:
    return _finding(rows, check, "opportunity", rows.opportunity_id, label=rows.name,
                    owner_id=rows.owner_id, **values)


def simple_opportunity_checks(opportunities: ir.Table, as_of: date) -> ir.Table:
    """Past close dates, missing amount/owner/account."""
    day = ibis.literal(as_of, type=dt.date)
    o = opportunities
    late = o.filter(~o.is_closed & (o.close_date < day))
    past = _opportunity_finding(late, "past_close_date", day=late.close_date,
                                number=day.delta(late.close_date, unit="day"))
    no_amount = o.filter(o.amount.isnull())
    no_owner = o.filter(o.owner_id.isnull())
    no_account = o.filter(o.account_id.isnull())
    return (past
            .union(_opportunity_finding(no_amount, "missing_amount"))
            .union(_opportunity_finding(no_owner, "missing_owner"))
            .union(_opportunity_finding(no_account, "missing_account")))


def stale_opportunities(opportunities: ir.Table, changes: ir.Table, as_of: date,
                        min_stale_days: int) -> ir.Table:
    day = ibis.literal(as_of, type=dt.date)
    last = changes.group_by("opportunity_id").aggregate(last_change=changes.changed_on.max())
    open_ = opportunities.filter(~opportunities.is_closed)
    joined = open_.left_join(last, "opportunity_id").select(
        open_.opportunity_id, open_.name, open_.owner_id,
        since=ibis.coalesce(last.last_change, open_.created_on))
    idle = joined.mutate(idle=day.delta(joined.since, unit="day"))
    stale = idle.filter(idle.idle >= min_stale_days)
    return _opportunity_finding(stale, "stale_opportunity", day=stale.since, number=stale.idle)


def stage_regressions(opportunities: ir.Table, changes: ir.Table, stages: ir.Table) -> ir.Table:
    staged = changes.join(stages, changes.to_stage_id == stages.stage_id).select(
        changes.change_id, changes.opportunity_id, changes.changed_on, changes.changed_seq,
        stage_order=stages.order, pipeline=stages.pipeline, stage_name=stages.name)
    window = ibis.window(group_by=staged.opportunity_id,
                         order_by=[staged.changed_seq, staged.change_id])
    ordered = staged.mutate(
        previous_order=staged.stage_order.lag().over(window),
        previous_pipeline=staged.pipeline.lag().over(window),
        previous_name=staged.stage_name.lag().over(window))
    back = ordered.filter(ordered.previous_order.notnull()
                          & (ordered.previous_pipeline == ordered.pipeline)
                          & (ordered.stage_order < ordered.previous_order))
    rows = back.join(opportunities, "opportunity_id").select(
        back.change_id, back.opportunity_id, back.changed_on, back.previous_name,
        back.stage_name, opportunities.name, opportunities.owner_id)
    return _opportunity_finding(
        rows, "stage_regression", group_key=ibis.literal("change:") + rows.change_id.cast(
            dt.string),
        day=rows.changed_on, note=rows.previous_name + ibis.literal(" → ") + rows.stage_name)


def inactive_owners(opportunities: ir.Table, people: ir.Table, as_of: date) -> ir.Table:
    day = ibis.literal(as_of, type=dt.date)
    gone = people.filter(people.left_on.notnull() & (people.left_on <= day))
    open_ = opportunities.filter(~opportunities.is_closed)
    rows = open_.join(gone, open_.owner_id == gone.person_id).select(
        open_.opportunity_id, open_.name, open_.owner_id, gone.left_on,
        owner_name=gone.name)
    return _opportunity_finding(rows, "inactive_owner", day=rows.left_on, note=rows.owner_name)


def bookings_without_opportunity(bookings: ir.Table) -> ir.Table:
    rows = bookings.filter(bookings.opportunity_id.isnull())
    return _finding(rows, "booking_without_opportunity", "booking", rows.booking_id,
                    label=rows.external_id, owner_id=rows.owner_id, day=rows.booked_on)


def findings(tables: dict[str, ir.Table], as_of: date,
             min_stale_days: int = DEFAULT_MIN_STALE_DAYS) -> ir.Table:
    """Every finding of every check, as the logical `dq_findings` table."""
    opportunities = tables["dq_opportunities"]
    parts = [
        duplicate_accounts(tables["dq_accounts"]),
        account_name_variants(tables["dq_accounts"], tables["dq_leads"]),
        product_name_variants(tables["dq_products"]),
        duplicate_opportunities(opportunities),
        simple_opportunity_checks(opportunities, as_of),
        stale_opportunities(opportunities, tables["dq_stage_changes"], as_of, min_stale_days),
        stage_regressions(opportunities, tables["dq_stage_changes"], tables["dq_stages"]),
        inactive_owners(opportunities, tables["dq_people"], as_of),
        bookings_without_opportunity(tables["dq_bookings"]),
    ]
    result = parts[0]
    for part in parts[1:]:
        result = result.union(part)
    return result.order_by(["check", "group_key", "object_type", "object_id"])


INPUT_TABLES = ("dq_accounts", "dq_leads", "dq_products", "dq_opportunities", "dq_stages",
                "dq_stage_changes", "dq_people", "dq_bookings")


def compute_findings(backend: Backend, inputs: dict[str, pa.Table], as_of: date,
                     min_stale_days: int = DEFAULT_MIN_STALE_DAYS) -> pa.Table:
    """Bind the snapshot tables on `backend`, run every check, return the findings as Arrow."""
    if min_stale_days < 1:
        raise ValueError(f"min_stale_days must be at least 1, got {min_stale_days}")
    bound = {name: backend.table(name, inputs[name]) for name in INPUT_TABLES}
    result = backend.execute(findings(bound, as_of, min_stale_days))
    return conform("dq_findings", result)


__all__ = ["CHECKS", "compute_findings", "findings", "light_key", "strong_key"]
