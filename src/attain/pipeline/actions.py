"""Writes of the pipeline app: the sales process (stages of each pipeline) and pipeline analytics
runs. Every function here is atomic where it can be and audited.

`Stage` lives in `crm` (ADR 0009); the sales process is configured only through these actions.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from attain.core.audit import model_state, record_event
from attain.core.errors import ActionError, acting_user, engine_backend
from attain.core.models import CalcRun
from attain.crm.models import ForecastCategory, Opportunity, Stage, StageChange
from attain.pipeline import engine_io


class SalesProcessError(ActionError):
    """A sales-process change refused, naming the field, the value and what is accepted."""


class CalculationError(SalesProcessError):
    """A calculation request refused (an unknown backend)."""


_user = acting_user


# --- the sales process ---------------------------------------------------------------------------


def _clean_stage(pipeline: str, name: str, order: Any, probability: Any,
                 forecast_category: str, is_won: bool, is_lost: bool,
                 stage_id: int | None = None) -> dict[str, Any]:
    pipeline, name = (pipeline or "").strip(), (name or "").strip()
    if not pipeline or len(pipeline) > 64:
        raise SalesProcessError("A pipeline name of 1 to 64 characters is required.",
                                field="pipeline", value=pipeline)
    if not name or len(name) > 64:
        raise SalesProcessError("A stage name of 1 to 64 characters is required.",
                                field="name", value=name)
    try:
        order_value = int(order)
    except (TypeError, ValueError):
        raise SalesProcessError(f"Order must be a whole number from 0 to 32767, got {order!r}.",
                                field="order", value=order) from None
    if not 0 <= order_value <= 32767:
        raise SalesProcessError(f"Order must be a whole number from 0 to 32767, got {order!r}.",
                                field="order", value=order)
    try:
        pct = Decimal(str(probability))
    except (InvalidOperation, ValueError):
        raise SalesProcessError(f"Probability must be a percentage from 0 to 100, got "
                                f"{probability!r}.", field="probability",
                                value=probability) from None
    if not pct.is_finite() or not Decimal(0) <= pct <= Decimal(100) or pct != round(pct, 2):
        raise SalesProcessError(f"Probability must be a percentage from 0 to 100 with at most "
                                f"two decimals, got {probability!r}.", field="probability",
                                value=probability)
    if forecast_category not in ForecastCategory.values:
        raise SalesProcessError(
            f"Forecast category {forecast_category!r} is not one of "
            f"{', '.join(ForecastCategory.values)}.", field="forecast_category",
            value=forecast_category)
    if is_won and is_lost:
        raise SalesProcessError("A stage cannot be both won and lost.", field="is_lost",
                                value=True)
    clash = Stage.objects.filter(pipeline=pipeline, name__iexact=name)
    if stage_id is not None:
        clash = clash.exclude(pk=stage_id)
    if clash.exists():
        raise SalesProcessError(f"Pipeline {pipeline!r} already has a stage named {name!r}.",
                                field="name", value=name)
    return {"pipeline": pipeline, "name": name, "order": order_value, "probability": pct,
            "forecast_category": forecast_category, "is_won": bool(is_won),
            "is_lost": bool(is_lost)}


@transaction.atomic
def create_stage(actor: Any, *, pipeline: str, name: str, order: Any, probability: Any,
                 forecast_category: str, is_won: bool = False, is_lost: bool = False) -> Stage:
    """Add a stage to a pipeline (a new pipeline starts with its first stage)."""
    values = _clean_stage(pipeline, name, order, probability, forecast_category, is_won,
                          is_lost)
    stage = Stage.objects.create(**values)
    record_event(actor, "create_stage", stage, after=model_state(stage))
    return stage


@transaction.atomic
def update_stage(actor: Any, stage_id: int, *, pipeline: str, name: str, order: Any,
                 probability: Any, forecast_category: str, is_won: bool = False,
                 is_lost: bool = False) -> Stage:
    """Change a stage's name, order, default probability, forecast category or won/lost flags.

    Won and lost flags may not change while opportunities sit in the stage: their own flags
    would disagree with their stage (re-import or move them first).
    """
    stage = Stage.objects.select_for_update().filter(pk=stage_id).first()
    if stage is None:
        raise SalesProcessError(f"No stage with id {stage_id}.", field="stage_id",
                                value=stage_id)
    values = _clean_stage(pipeline, name, order, probability, forecast_category, is_won,
                          is_lost, stage_id=stage.pk)
    flags_changed = (values["is_won"], values["is_lost"]) != (stage.is_won, stage.is_lost)
    in_use = Opportunity.objects.filter(stage=stage).count()
    if flags_changed and in_use:
        raise SalesProcessError(
            f"Stage {stage.name!r} holds {in_use} opportunit{'y' if in_use == 1 else 'ies'}; "
            "its won/lost flags cannot change while deals sit in it.", field="is_won",
            value=values["is_won"])
    if values["pipeline"] != stage.pipeline and in_use:
        raise SalesProcessError(
            f"Stage {stage.name!r} holds {in_use} opportunities and cannot move to another "
            "pipeline.", field="pipeline", value=values["pipeline"])
    before = model_state(stage)
    for key, value in values.items():
        setattr(stage, key, value)
    stage.save()
    record_event(actor, "update_stage", stage, before=before, after=model_state(stage))
    return stage


@transaction.atomic
def delete_stage(actor: Any, stage_id: int) -> None:
    """Remove a stage no opportunity or stage change refers to."""
    stage = Stage.objects.select_for_update().filter(pk=stage_id).first()
    if stage is None:
        raise SalesProcessError(f"No stage with id {stage_id}.", field="stage_id",
                                value=stage_id)
    used = (Opportunity.objects.filter(stage=stage).count()
            + StageChange.objects.filter(to_stage=stage).count()
            + StageChange.objects.filter(from_stage=stage).count())
    if used:
        raise SalesProcessError(f"Stage {stage.name!r} is used by {used} opportunities or "
                                "stage changes and cannot be removed.", field="stage_id",
                                value=stage_id)
    before = model_state(stage)
    stage.delete()
    record_event(actor, "delete_stage", object_type="crm.stage", object_id=str(stage_id),
                 before=before)


@transaction.atomic
def reorder_stages(actor: Any, pipeline: str, stage_ids: list[int]) -> list[Stage]:
    """Give the stages of `pipeline` the order of `stage_ids` (1, 2, 3 …); every stage of the
    pipeline must be listed once."""
    stages = {s.pk: s for s in Stage.objects.select_for_update().filter(pipeline=pipeline)}
    if sorted(stage_ids) != sorted(stages) or len(set(stage_ids)) != len(stage_ids):
        raise SalesProcessError(
            f"List every stage of pipeline {pipeline!r} exactly once "
            f"(ids {sorted(stages)}), got {stage_ids}.", field="stage_ids", value=stage_ids)
    before = {str(pk): s.order for pk, s in stages.items()}
    for position, pk in enumerate(stage_ids, start=1):
        stages[pk].order = position
    Stage.objects.bulk_update(stages.values(), ["order"])
    record_event(actor, "reorder_stages", object_type="crm.stage", object_id=pipeline,
                 before=before, after={str(pk): s.order for pk, s in stages.items()})
    return sorted(stages.values(), key=lambda s: s.order)


# --- analytics runs -------------------------------------------------------------------------------


def _backend(backend: str | None) -> str:
    return engine_backend(backend, CalculationError)


@transaction.atomic
def request_pipeline_analytics(actor: Any, backend: str | None = None) -> CalcRun:
    """Queue a pipeline analytics run for the task worker; returns the queued run (the task is
    enqueued when this transaction commits)."""
    from attain.pipeline.tasks import run_pipeline_analytics_task

    name = _backend(backend)
    run = CalcRun.objects.create(kind=engine_io.RUN_KIND, status=CalcRun.Status.QUEUED,
                                 requested_by=_user(actor), backend=name)
    record_event(actor, "request_calculation", run,
                 after={"kind": run.kind, "backend": name, "status": run.status})
    transaction.on_commit(lambda: run_pipeline_analytics_task.enqueue(run.pk))
    return run


def run_pipeline_analytics(actor: Any, backend: str | None = None, *,
                           run: CalcRun | None = None) -> CalcRun:
    """Compute and store pipeline analytics now (or continue the queued `run`); audited.

    Not one transaction on purpose: the run is saved as running first, then its results and
    final status are written together (`engine_io.run_pipeline_analytics`).
    """
    name = _backend(backend)
    run = engine_io.run_pipeline_analytics(requested_by=_user(actor), backend=name, run=run)
    record_event(actor, "run_calculation", run, after={
        "status": run.status, "backend": run.backend, "calc_version": run.calc_version,
        "inputs_hash": run.inputs_hash, "input_rows": run.input_rows,
        "output_rows": run.output_rows, "error": run.error})
    return run
