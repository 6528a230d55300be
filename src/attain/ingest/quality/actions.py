"""Writes of data quality: runs (queued or immediate), merging duplicate accounts and reassigning
opportunities in bulk. Every function is atomic and audited; a refused request writes nothing."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from attain.core.audit import model_state, record_event
from attain.core.errors import ActionError, acting_user, engine_backend
from attain.core.models import CalcRun
from attain.crm.models import Account, Lead, Opportunity
from attain.ingest.quality import engine_io
from attain.people.models import Person

# Account fields a merge copies from a merged account when the survivor's is empty.
FILLED_ON_MERGE = ("domain", "industry", "segment", "country", "owner_id")
MAX_RECORDS_PER_ACTION = 10_000


class QualityActionError(ActionError):
    """A data-quality action refused, naming the field and the value that caused it."""


_user = acting_user


def _backend(backend: str | None) -> str:
    return engine_backend(backend, QualityActionError)


def _stale_days(stale_days: int) -> int:
    if stale_days < engine_io.MIN_STALE_DAYS:
        raise QualityActionError(
            f"stale_days must be at least {engine_io.MIN_STALE_DAYS} days, got {stale_days}.",
            field="stale_days", value=stale_days)
    return stale_days


# --- runs ---------------------------------------------------------------------------------------


@transaction.atomic
def request_quality_run(actor: Any, backend: str | None = None,
                        stale_days: int = engine_io.DEFAULT_STALE_DAYS) -> CalcRun:
    """Queue a data-quality run for the task worker (pages and the API never compute)."""
    from attain.ingest.quality.tasks import run_quality_task

    name, days = _backend(backend), _stale_days(stale_days)
    run = CalcRun.objects.create(kind=engine_io.RUN_KIND, status=CalcRun.Status.QUEUED,
                                 requested_by=_user(actor), backend=name,
                                 params={"stale_days": days})
    record_event(actor, "request_calculation", run,
                 after={"kind": run.kind, "backend": name, "status": run.status,
                        "stale_days": days})
    transaction.on_commit(lambda: run_quality_task.enqueue(run.pk))
    return run


def run_quality_check(actor: Any, backend: str | None = None, *, run: CalcRun | None = None,
                      as_of: date | None = None,
                      stale_days: int = engine_io.DEFAULT_STALE_DAYS) -> CalcRun:
    """Run the data-quality checks now (or continue the queued `run`) and audit the outcome.

    Not one transaction on purpose, like every run: it is saved as running first, then its
    findings, scores and final status are written together (`engine_io.run_data_quality`).
    """
    name, days = _backend(backend), _stale_days(stale_days)
    run = engine_io.run_data_quality(_user(actor), name, run=run, as_of=as_of, stale_days=days)
    record_event(actor, "run_calculation", run, after={
        "kind": run.kind, "status": run.status, "backend": run.backend,
        "inputs_hash": run.inputs_hash, "output_rows": run.output_rows, "error": run.error})
    return run


# --- merging duplicate accounts -----------------------------------------------------------------


def _ids(values: Iterable[Any], field: str) -> list[int]:
    ids: list[int] = []
    for value in values:
        try:
            ids.append(int(value))
        except (TypeError, ValueError):
            raise QualityActionError(f"{field}: {value!r} is not a record id.", field=field,
                                     value=value) from None
    return list(dict.fromkeys(ids))


def _repoint_references(merged: list[int], survivor: Account) -> dict[str, list[int]]:
    """Point every foreign key to the `merged` accounts, of any model, at `survivor`; returns
    the ids moved per model label (e.g. {"crm.contact": [3, 9]}). One-to-one references cannot
    be shared, so they stay and make the deletion refuse the merge."""
    moved: dict[str, list[int]] = {}
    for relation in Account._meta.related_objects:
        if not relation.one_to_many:
            continue
        model, field = relation.related_model, relation.field.name
        rows = model._default_manager.filter(**{f"{field}__in": merged})
        ids = list(rows.order_by("pk").values_list("pk", flat=True))
        if ids:
            model._default_manager.filter(pk__in=ids).update(**{field: survivor})
            moved[model._meta.label_lower] = ids
    return moved


@transaction.atomic
def merge_accounts(actor: Any, survivor_id: Any, merged_ids: Iterable[Any]) -> dict[str, Any]:
    """Merge the accounts `merged_ids` into `survivor_id`: their contacts and opportunities move
    to the survivor, leads naming a merged account (exact company name) name the survivor, empty
    fields of the survivor (domain, industry, segment, country, owner) are filled from the merged
    accounts in id order, and the merged accounts are deleted. References from any other model
    (a foreign key to Account) move to the survivor too (`other` in the summary).

    All or nothing: refused (QualityActionError, nothing written) when the survivor or a merged
    account does not exist, when the survivor is among the merged ones, or with nothing to merge.
    The audit event ("merge_accounts" on the survivor) keeps the survivor before and after, every
    merged account's full row, and the ids of the contacts, opportunities and leads that moved.
    Returns that summary.
    """
    survivor_key = _ids([survivor_id], "survivor")[0]
    merged = _ids(merged_ids, "merged")
    if not merged:
        raise QualityActionError("Choose at least one account to merge into the survivor.",
                                 field="merged", value=[])
    if survivor_key in merged:
        raise QualityActionError(
            f"Account #{survivor_key} cannot be merged into itself; choose another survivor.",
            field="merged", value=survivor_key)
    if len(merged) > MAX_RECORDS_PER_ACTION:
        raise QualityActionError(f"At most {MAX_RECORDS_PER_ACTION} accounts per merge.",
                                 field="merged", value=len(merged))
    survivor = Account.objects.select_for_update().filter(pk=survivor_key).first()
    if survivor is None:
        raise QualityActionError(f"Survivor account #{survivor_key} does not exist.",
                                 field="survivor", value=survivor_key)
    accounts = list(Account.objects.select_for_update().filter(pk__in=merged).order_by("pk"))
    missing = sorted(set(merged) - {a.pk for a in accounts})
    if missing:
        raise QualityActionError(
            f"Account{'s' if len(missing) > 1 else ''} #{', #'.join(map(str, missing))} "
            "to merge do not exist (already merged?).", field="merged", value=missing)

    before = model_state(survivor)
    moved = _repoint_references(merged, survivor)
    contact_ids = moved.pop("crm.contact", [])
    opportunity_ids = moved.pop("crm.opportunity", [])
    names = {a.name for a in accounts} - {survivor.name}
    lead_ids = list(Lead.objects.filter(company__in=names).order_by("pk")
                    .values_list("pk", flat=True)) if names else []
    Lead.objects.filter(pk__in=lead_ids).update(company=survivor.name)
    for field in FILLED_ON_MERGE:
        if not getattr(survivor, field):
            filled = next((getattr(a, field) for a in accounts if getattr(a, field)), None)
            if filled:
                setattr(survivor, field, filled)
    survivor.save()
    merged_rows = [model_state(a) for a in accounts]
    try:
        Account.objects.filter(pk__in=merged).delete()
    except ProtectedError as error:  # a one-to-one reference cannot move to the survivor
        blockers = sorted({f"{o._meta.label_lower}#{o.pk}" for o in error.protected_objects})
        raise QualityActionError(
            f"Accounts #{', #'.join(map(str, merged))} are still referenced by "
            f"{', '.join(blockers[:10])}; nothing was merged.", field="merged",
            value=merged) from error
    summary = {"survivor_id": survivor.pk, "merged_ids": merged, "contact_ids": contact_ids,
               "opportunity_ids": opportunity_ids, "lead_ids": lead_ids, "other": moved}
    record_event(actor, "merge_accounts", survivor,
                 before={"survivor": before, "merged": merged_rows},
                 after={"survivor": model_state(survivor), **summary})
    return summary


# --- reassigning opportunities ------------------------------------------------------------------


@transaction.atomic
def reassign_opportunities(actor: Any, opportunity_ids: Iterable[Any], owner_id: Any, *,
                           as_of: date | None = None) -> dict[str, Any]:
    """Give the opportunities `opportunity_ids` to the person `owner_id`.

    All or nothing: refused (nothing written) when an opportunity does not exist, when the new
    owner does not exist or is not employed on `as_of` (default today: hired on or before, and
    `left_on` after it), or with nothing selected. Opportunities already owned by the new owner
    are left as they are. One audit event ("reassign_opportunities") keeps every moved
    opportunity's previous owner. Returns {owner_id, moved: {opportunity id: previous owner id},
    unchanged: [ids]}.
    """
    as_of = as_of or timezone.localdate()
    ids = _ids(opportunity_ids, "opportunities")
    if not ids:
        raise QualityActionError("Select at least one opportunity to reassign.",
                                 field="opportunities", value=[])
    if len(ids) > MAX_RECORDS_PER_ACTION:
        raise QualityActionError(f"At most {MAX_RECORDS_PER_ACTION} opportunities at once.",
                                 field="opportunities", value=len(ids))
    owner_key = _ids([owner_id], "owner")[0]
    owner = Person.objects.filter(pk=owner_key).first()
    if owner is None:
        raise QualityActionError(f"Person #{owner_key} does not exist.", field="owner",
                                 value=owner_key)
    if not owner.is_active_on(as_of):
        raise QualityActionError(
            f"{owner.name} is not employed on {as_of.isoformat()} "
            f"(left on {owner.left_on}); choose someone active." if owner.left_on else
            f"{owner.name} is not employed yet on {as_of.isoformat()}; choose someone active.",
            field="owner", value=owner_key)
    rows = dict(Opportunity.objects.select_for_update().filter(pk__in=ids)
                .values_list("pk", "owner_id"))
    missing = sorted(set(ids) - set(rows))
    if missing:
        raise QualityActionError(
            f"Opportunit{'ies' if len(missing) > 1 else 'y'} #{', #'.join(map(str, missing))} "
            "do not exist.", field="opportunities", value=missing)
    moved = {pk: previous for pk, previous in sorted(rows.items()) if previous != owner.pk}
    Opportunity.objects.filter(pk__in=list(moved)).update(owner=owner)
    summary = {"owner_id": owner.pk, "moved": moved,
               "unchanged": sorted(pk for pk in rows if pk not in moved)}
    record_event(actor, "reassign_opportunities", object_type="crm.opportunity",
                 object_id=",".join(map(str, moved))[:64],
                 before={"owners": {str(k): v for k, v in moved.items()}},
                 after={"owner_id": owner.pk, "opportunity_ids": list(moved),
                        "unchanged": summary["unchanged"]})
    return summary
