"""The import run itself: survey the file (infer date order and decimal separator), validate every
row (streamed, in batches), then — only when no error was found — write every target in batches.

`validate` never writes (a dry run). `write` checks every row as `validate` does and writes
through the fast write path (`attain.core.bulk_write`); it must be called inside one transaction
(the caller's `transaction.atomic()` in `ingest.actions`), which it makes roll back by raising
`Rejected` when any row has an error (ADR 0012). It streams the file once per target, so memory
holds one batch of rows plus the keys seen (for duplicate detection) and the records of targets
that gather several rows into one (a customer repeated on each order line).

Problems are collected by a `ProblemLog`: every one goes to a CSV report file as it is found,
the first `PREVIEW_LIMIT` are also kept in memory for the page, and counts by severity are kept.
"""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from attain.core.models import FiscalCalendar
from attain.core.periods import FiscalCalendarRules
from attain.crm.models import Opportunity, Stage
from attain.ingest import entities as ent
from attain.ingest.mappings import Mapping, Target, normalise
from attain.ingest.parsing import (
    DateOrder,
    ValueProblem,
    date_order_evidence,
    decimal_separator_evidence,
)
from attain.ingest.reading import TableSource
from attain.ingest.spill import SpillMap
from attain.people.models import Region, Team

BATCH_SIZE = 2000
# What a run keeps across the whole file, in memory up to these counts, beyond them in a
# temporary store (`ingest.spill`): held records (~1 KB each), keys seen, keys referenced.
HELD_LIMIT = 50_000
KEYS_LIMIT = 500_000
PREVIEW_LIMIT = 500
REPORT_HEADER = ["severity", "row", "column", "value", "problem", "entity"]
ERROR, WARNING = "error", "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    severity: str
    row: int
    column: str
    value: str
    reason: str
    entity: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"severity": self.severity, "row": self.row, "column": self.column,
                "value": self.value, "reason": self.reason, "entity": self.entity}

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row else "file"
        column = f", column {self.column!r}" if self.column else ""
        value = f", value {self.value!r}" if self.value else ""
        return f"{where}{column}{value}: {self.reason}"


class ProblemLog:
    """Every problem written to a CSV report as found; the first few kept; counts kept."""

    def __init__(self, report_path: Path | None = None, preview_limit: int = PREVIEW_LIMIT):
        self.preview: list[Problem] = []
        self.preview_limit = preview_limit
        self.errors = 0
        self.warnings = 0
        self.by_reason: dict[str, int] = defaultdict(int)
        self.report_path = report_path
        self._handle = None
        self._writer: Any = None
        if report_path is not None:
            report_path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = report_path.open("w", newline="", encoding="utf-8")
            self._writer = csv.writer(self._handle)
            self._writer.writerow(REPORT_HEADER)

    def add(self, problem: Problem) -> None:
        if problem.severity == ERROR:
            self.errors += 1
        else:
            self.warnings += 1
        self.by_reason[f"{problem.severity}: {_reason_kind(problem.reason)}"] += 1
        if len(self.preview) < self.preview_limit:
            self.preview.append(problem)
        if self._writer is not None:
            self._writer.writerow([problem.severity, problem.row, problem.column,
                                   _neutral(problem.value), problem.reason, problem.entity])

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _neutral(text: str) -> str:
    """A value as a spreadsheet must show it, never run it as a formula."""
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


def _reason_kind(reason: str) -> str:
    """The reason without the value it names, for counts (`unknown owner`, …)."""
    return reason.split(" '")[0].split(" \"")[0].split(";")[0].split(" (")[0][:80]


class ImportRefused(ValueError):
    """Validation found errors (or the write step met one): nothing is written."""

    def __init__(self, message: str, problems: ProblemLog | None = None) -> None:
        super().__init__(message)
        self.problems = problems


def _first_row(record: ent.Record) -> int:
    return record.row


@dataclass
class BoundTarget:
    """A target with its fields bound to the file's column positions."""

    target: Target
    entity: ent.Entity
    positions: dict[str, tuple[int, str]]
    filter_position: int | None = None
    seen: SpillMap = field(default_factory=lambda: SpillMap(KEYS_LIMIT))
    held: SpillMap = field(default_factory=lambda: SpillMap(HELD_LIMIT, order=_first_row))
    filter_values: frozenset[str] = frozenset()
    plan: dict[str, tuple[ent.FieldSpec, dict[str, str] | None, Callable[[str], Any]]] | None \
        = None  # built by `parse_row` on the first row, once the file is surveyed

    @cached_property
    def cell_positions(self) -> list[tuple[str, int]]:
        return [(name, position) for name, (position, _) in self.positions.items()]

    # repeated records (`repeat` first / sum): the rows already read, by their cells
    signatures: dict[tuple[str, ...], Any] = field(default_factory=dict)

    @cached_property
    def signature_positions(self) -> list[int]:
        return [position for name, (position, _) in self.positions.items()
                if name not in self.target.sum]

    @cached_property
    def summed(self) -> list[tuple[str, int | None, str, ent.FieldSpec, dict[str, str] | None,
                                   Callable[[str], Any]]]:
        """Per `sum` field: its name, cell position (None when only a constant fills it), the
        constant, then its plan (spec, value map, reader) — for `_repeat_of_held`."""
        assert self.plan is not None
        return [(name, self.positions[name][0] if name in self.positions else None,
                 self.target.constants.get(name, ""), *self.plan[name])
                for name in self.target.sum if name in self.plan]

    def column(self, field_name: str) -> str:
        if field_name in self.positions:
            return self.positions[field_name][1]
        if field_name in self.target.constants:
            return f"({field_name}, fixed in the mapping)"
        return self.entity.field(field_name).label if field_name in self.entity.field_names \
            else field_name


def bind(mapping: Mapping, header: list[str]) -> tuple[list[BoundTarget], list[Problem]]:
    """Bind each target's fields to columns of `header`; problems for missing columns."""
    index: dict[str, int] = {}
    for position, name in enumerate(header):
        index.setdefault(normalise(name), position)
    bound, problems = [], []
    for target in mapping.targets:
        entity = ent.entity(target.entity)
        positions: dict[str, tuple[int, str]] = {}
        for field_name, candidates in target.columns.items():
            for candidate in candidates:
                found = index.get(normalise(candidate))
                if found is not None:
                    positions[field_name] = (found, header[found])
                    break
        available = set(positions) | set(target.constants)
        for alternatives in _required_groups(entity):
            if not any(set(group) <= available for group in alternatives):
                names = [" + ".join(_column_names(target, entity, f) for f in group)
                         for group in alternatives]
                problems.append(Problem(ERROR, 1, names[0], "",
                                        f"missing required column {' or '.join(names)} "
                                        f"({entity.label.lower()} "
                                        f"{' / '.join(alternatives[0])})", entity.name))
        filter_position = None
        if target.filter_columns:
            for candidate in target.filter_columns:
                filter_position = index.get(normalise(candidate))
                if filter_position is not None:
                    break
        bound.append(BoundTarget(target, entity, positions, filter_position,
                                 filter_values=frozenset(normalise(v)
                                                         for v in target.filter_values)))
    return bound, problems


def _column_names(target: Target, entity: ent.Entity, field_name: str) -> str:
    candidates = target.columns.get(field_name) or (entity.field(field_name).label,)
    return " / ".join(repr(c) for c in candidates[:3])


def _required_groups(entity: ent.Entity) -> list[list[tuple[str, ...]]]:
    """Entity.required as alternatives: name may be given as first + last name, a quota's
    owner as a person or a team."""
    groups: list[list[tuple[str, ...]]] = []
    fields = [group[0] for group in entity.required]
    if entity.name == "quota":
        return [[("period",)], [("amount",)], [("person",), ("team",)]]
    for name in fields:
        if name == "last_name":
            continue
        if name == "name" and "last_name" in fields:
            groups.append([("name",), ("last_name",)])
        else:
            groups.append([(name,)])
    return groups


class Context:
    """Everything one run needs: options, the problem log, reference look-ups, counts."""

    def __init__(self, mapping: Mapping, *, problems: ProblemLog, exported_at: datetime,
                 writing: bool = False, pipeline: str = "default", actor: Any = None,
                 reason: str = "imported") -> None:
        self.mapping = mapping
        self.actor = actor  # who the writes are audited as (the job's requester)
        self.reason = reason[:200]  # why, for records that keep one (quota versions)
        self.problems = problems
        self.zone = timezone.get_default_timezone()
        self.today = timezone.localdate()
        self.exported_at = exported_at
        self.writing = writing
        self.pipeline = pipeline
        self.date_order: str = mapping.date_order
        self.decimal_separator = mapping.decimal_separator
        self.company_currency = str(settings.ATTAIN_COMPANY_CURRENCY)
        self.currency = mapping.currency or self.company_currency
        stored = FiscalCalendar.objects.filter(pk=1).first()  # read only: validation never writes
        self.calendar: FiscalCalendarRules = stored.rules if stored else FiscalCalendarRules()
        self.references = ent.References(self)
        # keys of the file's records, for the kinds its targets reference (`_remember_keys`)
        self.file_keys: dict[str, SpillMap] = defaultdict(lambda: SpillMap(KEYS_LIMIT))
        # (teams and regions are also named by `team_id` / `region_id`, outside `ref_kinds`)
        self.referenced_kinds = {"team", "region"} | {
            kind for t in mapping.targets for kind in ent.entity(t.entity).ref_kinds.values()}
        self.counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.pending_lines: list[tuple[Any, ...]] = []
        self.touched_opportunities: set[int] = set()
        self.current: BoundTarget | None = None
        self.record_ok = True
        self.skipped_rows = 0
        self._owners: dict[int, int | None] = {}
        self.mapping_entities = {t.entity for t in mapping.targets}
        self.entity_state: dict[str, Any] = {}  # what an entity gathers for its `finish`
        self.value_cache: dict[tuple[str, str], Any] = {}  # parsed dates (`read_value`)
        self.classify = True  # validation compares with stored records (a dry run's counts)

    # problems
    def problem(self, severity: str, record: ent.Record | None, field_name: str, reason: str,
                *, row: int = 0, value: str | None = None) -> None:
        target = self.current
        column = target.column(field_name) if target is not None and field_name else field_name
        if value is None:
            value = record.raw.get(field_name, "") if record is not None else ""
        self.problems.add(Problem(severity, record.row if record is not None else row, column,
                                  value, reason, target.entity.name if target else ""))
        if severity == ERROR:
            self.record_ok = False

    def error(self, record: ent.Record, field_name: str, reason: str) -> None:
        self.problem(ERROR, record, field_name, reason)

    def warning(self, record: ent.Record, field_name: str, reason: str) -> None:
        self.problem(WARNING, record, field_name, reason)

    def count(self, entity_name: str, outcome: str, n: int = 1) -> None:
        self.counts[entity_name][outcome] += n

    # records created on the way (teams, regions, periods) — only when writing
    def team_id(self, name: str) -> Any:
        found = self.references.get("team", name)
        if found is not None or not self.writing:
            return found if found is not None else ent.PENDING
        team, created = Team.objects.get_or_create(name=name.strip())
        if created:
            self.count("team", "created")
        self.references.remember("team", team.name, team.pk)
        return team.pk

    def region_id(self, name: str) -> Any:
        found = self.references.get("region", name)
        if found is not None or not self.writing:
            return found if found is not None else ent.PENDING
        region, _ = Region.objects.get_or_create(name=name.strip())
        self.references.remember("region", region.name, region.pk)
        return region.pk

    def period_id(self, kind: str, start: date, end: date) -> Any:
        if not self.writing:
            from attain.core.models import Period

            found = Period.objects.filter(kind=kind, start=start).values_list("pk", flat=True)
            return found.first() or ent.PENDING
        return ent.ensure_period(kind, start, end)

    def prefetch_owners(self, opportunity_ids: Iterable[Any]) -> None:
        if len(self._owners) > KEYS_LIMIT:  # a cache: bounded, misses are read again
            self._owners.clear()
        wanted = {i for i in opportunity_ids if isinstance(i, int) and i not in self._owners}
        for pk, owner_id in Opportunity.objects.filter(pk__in=wanted).values_list(
                "pk", "owner_id"):
            self._owners[pk] = owner_id

    def opportunity_owner(self, opportunity_id: Any) -> Any:
        if opportunity_id is ent.PENDING:
            return None
        if opportunity_id not in self._owners:
            self._owners[opportunity_id] = Opportunity.objects.filter(
                pk=opportunity_id).values_list("owner_id", flat=True).first()
        return self._owners[opportunity_id]


# --- reading rows into records ------------------------------------------------------------------

# Entities other rows may name by name or email (not only by id).
NAMED_REFERENCES = frozenset({"account", "product", "person", "team"})
REF_LABELS = {"person": "person", "account": "account", "opportunity": "opportunity",
              "product": "product", "team": "team", "stage": "stage"}


def parse_row(bound: BoundTarget, number: int, cells: list[str], ctx: Context
              ) -> ent.Record | None:
    """The record of one row for one target; None when the target's filter skips the row.
    Value problems are reported; `ctx.record_ok` tells whether the record is usable."""
    ctx.current = bound
    ctx.record_ok = True
    if bound.filter_position is not None:
        cell = cells[bound.filter_position] if bound.filter_position < len(cells) else ""
        if normalise(cell) not in bound.filter_values:
            return None
    plan = bound.plan
    if plan is None:
        plan = bound.plan = _plan(bound, ctx)
    width = len(cells)
    raw: dict[str, str] = {}
    for name, position in bound.cell_positions:
        raw[name] = cells[position].strip() if position < width else ""
    for name, constant in bound.target.constants.items():
        if not raw.get(name):
            raw[name] = constant
    values: dict[str, Any] = {}
    record = ent.Record(number, values, raw)
    for name, text in raw.items():
        spec, value_map, read = plan[name]
        if value_map is not None and text:
            text = value_map.get(normalise(text), text)
        try:
            values[name] = read(text)
        except ValueProblem as problem:
            ctx.error(record, name, str(problem))
            continue
        if not text and spec.required:
            ctx.error(record, name, f"{spec.label.lower()} is required")
    if ctx.record_ok:
        bound.entity.prepare(record, ctx)
    return record


def _plan(bound: BoundTarget, ctx: Context
          ) -> dict[str, tuple[ent.FieldSpec, dict[str, str] | None, Callable[[str], Any]]]:
    """Per field of the target, chosen once per file: its spec, its value map (not for
    references, which try the map only when the text itself is unknown) and its reader."""
    entity, maps = bound.entity, bound.target.value_maps
    plan = {}
    for name in [*bound.positions, *bound.target.constants]:
        spec = entity.field(name)
        plan[name] = (spec, maps.get(name) if spec.kind != "ref" else None,
                      ent.value_reader(spec, ctx))
    return plan


def resolve(bound: BoundTarget, records: list[ent.Record], ctx: Context,
            deferred: list[tuple[BoundTarget, ent.Record, str, str]] | None) -> None:
    """Resolve each record's references into `record.ids` (ids, Stage objects, PENDING)."""
    entity = bound.entity
    ctx.current = bound
    maps = bound.target.value_maps
    for name, kind in entity.ref_kinds.items():
        raws = [r.values.get(name) or "" for r in records if r.values.get(name)]
        ctx.references.prefetch(kind, raws)
        for record in records:
            text = record.values.get(name)
            if name not in record.values:
                continue
            if not text:
                record.ids[name] = None
                continue
            found = ctx.references.get(kind, text)
            if found is None and name in maps:
                mapped = maps[name].get(normalise(text))
                if mapped:
                    found = ctx.references.get(kind, mapped)
            if found is None:
                # Validation defers a reference to any entity of the mapping (its row may come
                # later in the file); writing, which goes target by target, has written the
                # earlier targets already and defers only references to its own entity (a
                # manager further down the same people file) — until an error stops the writing:
                # from then on it checks as validation does (no spurious unknown references to
                # rows left unwritten).
                if deferred is not None and (kind == entity.name or (
                        (not ctx.writing or ctx.problems.errors)
                        and kind in ctx.mapping_entities)):
                    deferred.append((bound, record, name, kind))
                    record.ids[name] = ent.PENDING
                    continue
                unknown_reference(bound, record, name, kind, ctx)
                record.ids[name] = None
                continue
            record.ids[name] = found


def unknown_reference(bound: BoundTarget, record: ent.Record, name: str, kind: str,
                      ctx: Context) -> None:
    text = record.values.get(name) or ""
    ctx.current = bound
    label = {"owner": "owner", "manager": "manager"}.get(name, REF_LABELS.get(kind, kind))
    if text.lower() in ctx.references.ambiguous.get(kind, ()):
        ctx.error(record, name, f"{label} {text!r} is ambiguous: several records have this "
                  "name; use the id (or email)")
    elif kind == "stage":
        known = ", ".join(ctx.references.stage_names()) or "none are configured"
        ctx.error(record, name, f"unknown stage {text!r}; known stages: {known}. Map it to "
                  "one of them in the mapping's stage value map")
    else:
        how = "id, email or name" if kind == "person" else (
            "id" if kind == "opportunity" else "id or name")
        ctx.error(record, name, f"unknown {label} {text!r}: no {REF_LABELS.get(kind, kind)} "
                  f"has this {how}")


def _remember_keys(bound: BoundTarget, record: ent.Record, ctx: Context) -> None:
    if bound.entity.name not in ctx.referenced_kinds:  # no row can name it
        return
    keys = ctx.file_keys[bound.entity.name]
    if record.values.get("external_id"):
        keys.add(record.values["external_id"])
    if bound.entity.name not in NAMED_REFERENCES:
        return
    for name in ("name", "email"):
        value = record.values.get(name)
        if value:
            keys.add(value.lower())


# --- the passes ---------------------------------------------------------------------------------

Progress = Callable[[str, int, int], None]


def _no_progress(phase: str, done: int, total: int) -> None:
    return None


@dataclass
class Outcome:
    """What a validation or a write found: counts per entity, problems, timings."""

    counts: dict[str, dict[str, int]]
    errors: int
    warnings: int
    rows: int
    skipped_rows: int
    date_order: str
    decimal_separator: str
    seconds: float
    by_reason: dict[str, int]


def survey(source: TableSource, bound: list[BoundTarget], ctx: Context) -> None:
    """Infer the date order and the decimal separator when they are `auto` (one streamed pass
    over the date and amount columns, stopping once both are known)."""
    date_columns, number_columns = set(), set()
    for target in bound:
        for name, (position, _) in target.positions.items():
            kind = target.entity.field(name).kind
            if kind in {"date", "datetime"}:
                date_columns.add(position)
            elif kind in {"money", "decimal", "rate"}:
                number_columns.add(position)
    need_dates = ctx.date_order == DateOrder.AUTO and bool(date_columns)
    need_numbers = ctx.decimal_separator == "auto" and bool(number_columns)
    evidence: dict[str, tuple[int, int, str]] = {}
    ambiguous: tuple[int, int, str] | None = None
    separators: dict[str, tuple[int, int, str]] = {}
    # Exports repeat their days on many rows: a date text already looked at tells nothing new.
    seen_dates: set[str] = set()
    if need_dates or need_numbers:
        for number, cells in source.rows():
            if need_dates:
                for position in date_columns:
                    text = cells[position] if position < len(cells) else ""
                    if text in seen_dates:
                        continue
                    if len(seen_dates) >= ent.VALUE_CACHE_SIZE:
                        seen_dates.clear()
                    seen_dates.add(text)
                    found = date_order_evidence(text)
                    if found is not None:
                        evidence.setdefault(found, (number, position, text))
                    elif ambiguous is None and text and _looks_day_month(text):
                        ambiguous = (number, position, text)
            if need_numbers:
                for position in number_columns:
                    text = cells[position] if position < len(cells) else ""
                    sep = decimal_separator_evidence(text) if text else None
                    if sep is not None:
                        separators.setdefault(sep, (number, position, text))
            if (not need_dates or evidence) and (not need_numbers or separators):
                break
    if need_dates:
        if len(evidence) > 1:
            (n1, _p1, v1), (n2, p2, v2) = evidence[DateOrder.DMY], evidence[DateOrder.MDY]
            ctx.problems.add(Problem(ERROR, n2, source.header[p2], v2,
                                     f"dates are written both as d/m/yyyy ({v1!r} on row {n1}) "
                                     "and m/d/yyyy; declare the date order of the file"))
            ctx.date_order = DateOrder.MDY
        elif evidence:
            ctx.date_order = next(iter(evidence))
        elif ambiguous is not None:
            number, position, text = ambiguous
            ctx.problems.add(Problem(
                ERROR, number, source.header[position], text,
                "ambiguous date: every date in the file fits both m/d/yyyy and d/m/yyyy; "
                "declare the date order (m/d/yyyy or d/m/yyyy) for this import"))
            ctx.date_order = DateOrder.MDY
        else:
            ctx.date_order = DateOrder.MDY
    if ctx.decimal_separator == "auto":
        if len(separators) > 1:
            number, position, text = separators[","]
            ctx.problems.add(Problem(ERROR, number, source.header[position], text,
                                     "amounts use both a decimal comma and a decimal point; "
                                     "declare the decimal separator"))
            ctx.decimal_separator = "."
        elif separators:
            ctx.decimal_separator = next(iter(separators))
        else:
            ctx.decimal_separator = "," if source.delimiter == ";" else "."


def _looks_day_month(text: str) -> bool:
    head = text.strip().split(" ")[0].split("T")[0]
    parts = head.replace(".", "/").replace("-", "/").split("/")
    return len(parts) == 3 and len(parts[2]) == 4 and all(p.isdigit() for p in parts)


def _batches(source: TableSource, size: int = BATCH_SIZE
             ) -> Iterator[list[tuple[int, list[str]]]]:
    batch: list[tuple[int, list[str]]] = []
    for item in source.rows():
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _signature(bound: BoundTarget, cells: list[str]) -> tuple[str, ...]:
    """The cells of a row a repeated record is read from, but those summed (e.g. an order's
    customer columns on each of its lines)."""
    width = len(cells)
    return tuple(cells[p] if p < width else "" for p in bound.signature_positions)


def _repeat_of_held(bound: BoundTarget, cells: list[str], ctx: Context) -> bool:
    """True when the row repeats, cell for cell, the row a held record was read from without any
    problem: it would read the same, so only its `sum` fields are read and added (ADR 0012).
    False (the row is then read in full) for any other row, or when a summed cell has a
    problem — the full reading reports it."""
    key = bound.signatures.get(_signature(bound, cells))
    if key is None:
        return False
    held = bound.held.get(key)
    if held is None:
        return False
    width = len(cells)
    added = []
    for name, position, constant, spec, value_map, read in bound.summed:
        text = cells[position].strip() if position is not None and position < width else ""
        text = text or constant
        if value_map is not None and text:
            text = value_map.get(normalise(text), text)
        if not text and spec.required:
            return False
        try:
            value = read(text)
        except ValueProblem:
            return False
        added.append((name, value))
    for name, value in added:
        if value is not None:
            total, currency = held.values.get(name) or (Decimal(0), None)
            held.values[name] = (total + value[0], currency or value[1])
    held.sums += 1
    return True


def _hold(bound: BoundTarget, record: ent.Record, ctx: Context, key: Any) -> None:
    """Gather a repeated record (`first` or `sum`): warn where a later row disagrees."""
    held = bound.held.get(key)
    if held is None:
        bound.held[key] = record
        return
    sums = set(bound.target.sum)
    for name, value in record.values.items():
        if name in sums:
            if value is not None:
                total, currency = held.values.get(name) or (Decimal(0), None)
                held.values[name] = (total + value[0], currency or value[1])
            continue
        if value != held.values.get(name) and name not in bound.entity.key_fields:
            ctx.warning(record, name, f"{bound.entity.label.lower()} "
                        f"{bound.entity.key_text(held.values)!r} has another {name} on this row "
                        f"than on row {held.row} ({held.raw.get(name, '')!r}); row {held.row}'s "
                        "is kept")
    held.sums += 1


def _classify(bound: BoundTarget, records: list[ent.Record], ctx: Context,
              write: bool) -> None:
    """Compare the records with the stored ones; in the write pass, write them. A validation
    that is not a dry run only counts valid rows (the write pass counts what it changes)."""
    entity = bound.entity
    if not write and not ctx.classify:
        ctx.count(entity.name, "valid", len(records))
        return
    ctx.current = bound
    existing = entity.lookup([entity.key(r.values) for r in records])
    entity.prepare_batch(records, ctx)
    batch = []
    for record in records:
        stored = existing.get(entity.key(record.values))
        if stored is not None and entity.is_older(record, stored):
            ctx.count(entity.name, "older")  # an older export never undoes a newer one
            continue
        values = entity.model_values(record, ctx, stored)
        if stored is None:
            outcome = "created"
        elif entity.changed_fields(stored, values):
            outcome = "updated"
        else:
            outcome = "unchanged"
        ctx.count(entity.name, outcome)
        batch.append((record, values, stored))
    if write and batch:
        entity.write(batch, ctx)


def _process(bound: BoundTarget, rows: list[tuple[int, list[str]]], ctx: Context, *,
             write: bool, deferred: list[Any] | None) -> None:
    """Parse, check and compare (or write) one batch of rows for one target."""
    entity = bound.entity
    records = []
    repeated = bound.target.repeat != "unique" and bound.filter_position is None
    for number, cells in rows:
        if repeated and _repeat_of_held(bound, cells, ctx):
            continue
        before = ctx.problems.errors + ctx.problems.warnings
        record = parse_row(bound, number, cells, ctx)
        if record is None:
            ctx.skipped_rows += 1
            continue
        if not ctx.record_ok:
            ctx.count(entity.name, "invalid")
            continue
        key = entity.key(record.values)
        if bound.target.repeat != "unique":
            _hold(bound, record, ctx, key)
            _remember_keys(bound, record, ctx)
            if repeated and before == ctx.problems.errors + ctx.problems.warnings \
                    and bound.held.get(key) is record:
                if len(bound.signatures) >= HELD_LIMIT:  # a shortcut only: start afresh
                    bound.signatures.clear()
                bound.signatures[_signature(bound, cells)] = key
            continue
        first = bound.seen.get(key)
        if first is not None:
            ctx.error(record, entity.key_fields[0],
                      f"duplicate id {entity.key_text(record.values)!r} in the file (first on "
                      f"row {first})")
            ctx.count(entity.name, "invalid")
            continue
        bound.seen[key] = number
        _remember_keys(bound, record, ctx)
        records.append(record)
    _finish_records(bound, records, ctx, write=write, deferred=deferred)


def _finish_records(bound: BoundTarget, records: list[ent.Record], ctx: Context, *,
                    write: bool, deferred: list[Any] | None) -> None:
    if not records:
        return
    resolve(bound, records, ctx, deferred)
    usable = []
    for record in records:
        ctx.current = bound
        ctx.record_ok = True
        if any(record.ids.get(n) is None and record.values.get(n)
               for n in bound.entity.ref_kinds):
            ctx.count(bound.entity.name, "invalid")
            continue
        bound.entity.check(record, ctx)
        if ctx.record_ok:
            usable.append(record)
        else:
            ctx.count(bound.entity.name, "invalid")
    # A row with an error stops the writing (the transaction is rolled back at the end); the
    # rest of the file is still checked so that the report lists every problem.
    _classify(bound, usable, ctx, write and len(usable) == len(records)
              and not ctx.problems.errors)


def _flush_held(bound: BoundTarget, ctx: Context, *, write: bool,
                deferred: list[Any] | None) -> None:
    """Check (and write) the gathered records in batches, in the order of their first rows."""
    bound.signatures.clear()
    batch: list[ent.Record] = []
    for record in bound.held.values_in_order():
        batch.append(record)
        if len(batch) >= BATCH_SIZE:
            _finish_records(bound, batch, ctx, write=write, deferred=deferred)
            batch = []
    if batch:
        _finish_records(bound, batch, ctx, write=write, deferred=deferred)
    bound.held.clear()


def validate(source: TableSource, mapping: Mapping, ctx: Context,
             progress: Progress = _no_progress) -> Outcome:
    """Check every row of `source` against `mapping` without writing; problems go to
    `ctx.problems`, counts (created / updated / unchanged / invalid) to `ctx.counts`."""
    started = time.perf_counter()
    bound, problems = bind(mapping, source.header)
    for problem in problems:
        ctx.problems.add(problem)
    rows = 0
    if not problems:
        progress("surveying", 0, source.estimated_rows)
        survey(source, bound, ctx)
        ctx.value_cache.clear()  # parsed with the surveyed date order from here on
        deferred: list[tuple[BoundTarget, ent.Record, str, str]] = []
        for batch in _batches(source):
            for target in bound:
                _process(target, batch, ctx, write=False, deferred=deferred)
            rows += len(batch)
            progress("validating", rows, source.estimated_rows)
        for target in bound:
            _flush_held(target, ctx, write=False, deferred=deferred)
            ctx.current = target
            target.entity.finish(ctx)
        for target, record, name, kind in deferred:
            text = record.values.get(name) or ""
            keys = ctx.file_keys.get(kind, ())
            if text not in keys and text.lower() not in keys:
                unknown_reference(target, record, name, kind, ctx)
    return _outcome(ctx, rows, started)


class Rejected(ImportRefused):
    """`write` met errors (listed in `problems`): the caller's transaction must roll back."""

    def __init__(self, outcome: Outcome, problems: ProblemLog) -> None:
        super().__init__(f"{outcome.errors} error(s) found; nothing was written.", problems)
        self.outcome = outcome


def write(source: TableSource, mapping: Mapping, ctx: Context,
          progress: Progress = _no_progress) -> Outcome:
    """Check and write every target of `mapping` from `source`, target by target (the file is
    streamed once per target), in one pass; call inside one transaction.

    Every row is checked exactly as `validate` checks it. Writing stops at the first error, but
    the rest of the file is still checked so every problem is reported; the function then raises
    `Rejected` (with the outcome and the problem log), and the caller's transaction rolls back
    what was written — all or nothing, and the file is parsed once instead of twice."""
    started = time.perf_counter()
    ctx.writing = True
    bound, problems = bind(mapping, source.header)
    if problems:
        for problem in problems:
            ctx.problems.add(problem)
        raise Rejected(_outcome(ctx, 0, started), ctx.problems)
    ctx.counts.clear()
    bound = _dependency_order(bound)
    progress("surveying", 0, source.estimated_rows)
    survey(source, bound, ctx)
    ctx.value_cache.clear()  # parsed with the surveyed date order from here on
    total = source.estimated_rows * len(bound)
    done = 0
    rows = 0
    deferred: list[tuple[BoundTarget, ent.Record, str, str]] = []
    for target in bound:
        rows = 0
        for batch in _batches(source):
            _process(target, batch, ctx, write=True, deferred=deferred)
            rows += len(batch)
            done += len(batch)
            progress(f"{'checking' if ctx.problems.errors else 'writing'} "
                     f"{target.entity.plural}", done, total)
        _flush_held(target, ctx, write=True, deferred=deferred)
        ctx.current = target
        target.entity.finish(ctx)
        ctx.references.forget_missing(target.entity.name)
    for target, record, name, kind in deferred:
        text = record.values.get(name) or ""
        keys = ctx.file_keys.get(kind, ())
        if text not in keys and text.lower() not in keys:
            unknown_reference(target, record, name, kind, ctx)
    if ctx.problems.errors:
        raise Rejected(_rejected_outcome(ctx, rows, started), ctx.problems)
    if ctx.pending_lines:
        ent.PersonEntity.write_lines(ctx)
    if ctx.touched_opportunities:
        ent.StageHistoryEntity.rechain(ctx.touched_opportunities)
    return _outcome(ctx, rows, started)


def _dependency_order(bound: list[BoundTarget]) -> list[BoundTarget]:
    """The targets so that each comes after the targets whose records it references (an order
    line after its opportunity), otherwise in the mapping's order; a cycle keeps that order."""
    ordered: list[BoundTarget] = []
    waiting = list(bound)
    while waiting:
        names = {t.entity.name for t in waiting}
        ready = next((t for t in waiting if not (set(t.entity.ref_kinds.values()) - {
            t.entity.name}) & names), waiting[0])
        ordered.append(ready)
        waiting.remove(ready)
    return ordered


def _rejected_outcome(ctx: Context, rows: int, started: float) -> Outcome:
    """The outcome of a rejected write as a validation reports it: valid and invalid rows."""
    outcome = _outcome(ctx, rows, started)
    outcome.counts = {name: {k: n for k, n in (
        ("valid", sum(n for k, n in c.items() if k != "invalid")),
        ("invalid", c.get("invalid", 0))) if n}
        for name, c in outcome.counts.items() if name in {t.entity for t in ctx.mapping.targets}}
    return outcome


def _outcome(ctx: Context, rows: int, started: float) -> Outcome:
    return Outcome(
        counts={name: dict(c) for name, c in ctx.counts.items()}, errors=ctx.problems.errors,
        warnings=ctx.problems.warnings, rows=rows, skipped_rows=ctx.skipped_rows,
        date_order=str(ctx.date_order), decimal_separator=ctx.decimal_separator,
        seconds=round(time.perf_counter() - started, 3), by_reason=dict(ctx.problems.by_reason))


__all__ = ["Context", "ImportRefused", "Outcome", "Problem", "ProblemLog", "Rejected", "Stage",
           "validate", "write"]
