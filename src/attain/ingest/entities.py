"""What can be imported: each entity's fields (with the kind of value each holds), its key for
upserts, the checks its rows must pass, and how its rows become records.

An entity turns parsed rows into model values and compares them with the stored record of the
same key (created / updated / unchanged). Writing happens only inside the one transaction of
`ingest.actions.run_import` (the entity's `write` is called from there and nowhere else).
References (an owner, an account, a stage …) are resolved through `References`, against the
database and against the keys of the file being imported.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from django.db import connection, models
from django.db.models import Max, Q
from django.utils import timezone

from attain.core.actions import ensure_periods, fiscal_calendar
from attain.core.bulk_write import ModelRows, TableUpdater, TableWriter, take_ids
from attain.core.models import Period
from attain.core.money import MONEY_DIGITS, MONEY_PLACES, RATE_PLACES, round_money
from attain.core.periods import PeriodKind
from attain.crm.models import (
    Account,
    Booking,
    Contact,
    DealType,
    ExchangeRate,
    ForecastCategory,
    Lead,
    Opportunity,
    OpportunitySplit,
    Product,
    Segment,
    Stage,
    StageChange,
)
from attain.ingest import parsing
from attain.people.models import Person, Region, ReportingLine, Role, Team
from attain.performance.models import Quota

if TYPE_CHECKING:
    from attain.ingest.loading import Context

LARGEST_AMOUNT = Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES) - Decimal("0.01")
SOURCE_PLACES = Decimal("0.0001")
VALUE_CACHE_SIZE = 100_000  # parsed dates and instants kept per run (see `read_value`)
WORD_MEMO_SIZE = 10_000  # read words (stages, currencies, booleans) kept per column
REFERENCE_CACHE_SIZE = 500_000  # ids of fetched or written records kept per kind (`References`)
# kinds `References` loads whole (few records); the others are fetched per batch when named
LOADED_KINDS = frozenset({"person", "team", "stage", "region"})


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A field a column can fill. `kind` is how its text is read; `ref` names the entity a
    reference field points at; `choices` maps accepted words (lower case) to stored values."""

    name: str
    label: str
    kind: str = "text"
    required: bool = False
    max_length: int = 0
    choices: dict[str, str] | None = None
    ref: str = ""
    help: str = ""


class Pending:
    """A reference to a record that is in the file but not yet in the database."""

    def __repr__(self) -> str:
        return "<in this file>"


PENDING = Pending()


@dataclass(slots=True)
class Record:
    """One parsed row of one entity: the row number, parsed values and the raw text."""

    row: int
    values: dict[str, Any]
    raw: dict[str, str]
    ids: dict[str, Any] = field(default_factory=dict)
    sums: int = 1


def _choices(pairs: Iterable[tuple[str, Sequence[str]]]) -> dict[str, str]:
    return {word.lower(): value for value, words in pairs for word in (value, *words)}


ROLE_CHOICES = _choices([
    (Role.REP, ["sales rep", "account executive", "ae", "sdr", "bdr", "representative"]),
    (Role.MANAGER, ["sales manager", "manager", "director", "vp", "vp sales"]),
    (Role.OPS, ["sales operations", "sales ops", "revops", "operations"]),
    (Role.FINANCE, ["finance"]), (Role.EXECUTIVE, ["executive", "ceo", "cro", "exec"]),
])
FORECAST_CHOICES = _choices([
    (ForecastCategory.PIPELINE, ["pipeline"]),
    (ForecastCategory.BEST_CASE, ["best case", "bestcase", "upside"]),
    (ForecastCategory.COMMIT, ["commit", "committed"]),
    (ForecastCategory.CLOSED, ["closed", "closed won"]),
    (ForecastCategory.OMITTED, ["omitted", "omit", "closed lost"]),
])
DEAL_TYPE_CHOICES = _choices([
    (DealType.NEW, ["new business", "newbusiness", "new customer"]),
    (DealType.EXPANSION, ["existing business", "existingbusiness", "expansion", "upsell",
                          "existing customer - upgrade", "existing customer"]),
    (DealType.RENEWAL, ["renewal", "existing customer - replacement"]),
])
SEGMENT_CHOICES = _choices([
    (Segment.SMB, ["smb", "small business", "small"]),
    (Segment.MID_MARKET, ["mid-market", "mid market", "midmarket", "mm", "mid"]),
    (Segment.ENTERPRISE, ["enterprise", "ent", "large"]),
])
LEAD_STATUS_CHOICES = _choices([
    (Lead.Status.NEW, ["open - not contacted", "open", "new"]),
    (Lead.Status.WORKING, ["working - contacted", "working", "contacted", "in progress",
                           "attempted to contact", "connected", "open deal"]),
    (Lead.Status.QUALIFIED, ["qualified", "sales qualified lead"]),
    (Lead.Status.CONVERTED, ["closed - converted", "converted"]),
    (Lead.Status.DISQUALIFIED, ["closed - not converted", "unqualified", "disqualified",
                                "bad timing"]),
])
PERIOD_KIND_CHOICES = _choices([(PeriodKind.MONTH, ["monthly"]), (PeriodKind.QUARTER,
                                                                   ["quarterly", "q"]),
                                (PeriodKind.YEAR, ["annual", "yearly", "fy"])])
COUNTRIES = {
    "united states": "US", "united states of america": "US", "usa": "US", "us": "US",
    "canada": "CA", "united kingdom": "GB", "uk": "GB", "great britain": "GB", "england": "GB",
    "germany": "DE", "deutschland": "DE", "france": "FR", "netherlands": "NL", "spain": "ES",
    "italy": "IT", "ireland": "IE", "australia": "AU", "singapore": "SG", "japan": "JP",
    "india": "IN", "brazil": "BR", "mexico": "MX", "switzerland": "CH", "sweden": "SE",
    "belgium": "BE", "austria": "AT", "denmark": "DK", "norway": "NO", "finland": "FI",
    "new zealand": "NZ", "china": "CN", "poland": "PL", "portugal": "PT",
}


# --- reading one value --------------------------------------------------------------------------


def read_value(spec: FieldSpec, raw: str, ctx: Context) -> Any:
    """The value of `raw` for `spec`, or raises parsing.ValueProblem."""
    text = raw.strip()
    kind = spec.kind
    if kind in {"text", "ref", "email"}:
        if spec.max_length and len(text) > spec.max_length:
            raise parsing.ValueProblem(
                f"is {len(text)} characters long; at most {spec.max_length} fit")
        if kind == "email" and text and "@" not in text:
            raise parsing.ValueProblem(f"{raw!r} is not an email address")
        return text
    if not text:
        return None
    if kind in {"date", "datetime"}:
        return _read_when(kind, text, ctx)
    if kind in {"money", "decimal", "rate"}:
        value, currency = parsing.parse_decimal(text, ctx.decimal_separator)
        if kind == "money":
            if abs(value) > LARGEST_AMOUNT:
                raise parsing.ValueProblem(f"{raw!r} is larger than the largest storable "
                                           f"amount ({LARGEST_AMOUNT:,})")
            return value, currency
        return value
    if kind == "int":
        return parsing.parse_int(text)
    if kind == "bool":
        return parsing.parse_bool(text)
    if kind == "currency":
        code = text.upper()
        if len(code) != 3 or not code.isalpha():
            raise parsing.ValueProblem(f"{raw!r} is not a 3-letter ISO 4217 currency code")
        return code
    if kind == "country":
        if len(text) == 2 and text.isalpha():
            return text.upper()
        country = COUNTRIES.get(text.lower())
        if country is None:
            raise parsing.ValueProblem(f"{raw!r} is not a 2-letter ISO country code or a "
                                       "country name Attain knows")
        return country
    if kind == "choice":
        assert spec.choices is not None
        choice = spec.choices.get(text.lower())
        if choice is None:
            accepted = ", ".join(sorted(dict.fromkeys(spec.choices.values())))
            raise parsing.ValueProblem(f"{raw!r} is not one of {accepted}")
        return choice
    raise AssertionError(f"unknown field kind {kind}")


def _read_when(kind: str, text: str, ctx: Context) -> Any:
    """A date or instant. Exports repeat the same days and instants on many rows: each text is
    parsed once per run (the date order and zone are fixed once the file is surveyed); bounded
    memory."""
    cache = ctx.value_cache
    found = cache.get((kind, text))
    if found is None:
        found = (parsing.parse_date(text, ctx.date_order) if kind == "date"
                 else parsing.parse_datetime(text, ctx.date_order, ctx.zone))
        if len(cache) >= VALUE_CACHE_SIZE:
            cache.clear()
        cache[(kind, text)] = found
    return found


def value_reader(spec: FieldSpec, ctx: Context) -> Callable[[str], Any]:
    """`read_value` for `spec` chosen once (per file and column): the returned function reads
    one text exactly as `read_value(spec, text, ctx)` does, without dispatching on the kind for
    every value. It reads the date order and decimal separator from `ctx` when called."""
    kind = spec.kind
    if kind in {"text", "ref", "email"}:
        max_length, email = spec.max_length, kind == "email"

        def read_text(raw: str) -> str:
            text = raw.strip()
            if max_length and len(text) > max_length:
                raise parsing.ValueProblem(
                    f"is {len(text)} characters long; at most {max_length} fit")
            if email and text and "@" not in text:
                raise parsing.ValueProblem(f"{raw!r} is not an email address")
            return text
        return read_text
    if kind in {"date", "datetime"}:
        def read_when(raw: str) -> Any:
            text = raw.strip()
            return _read_when(kind, text, ctx) if text else None
        return read_when
    if kind in {"money", "decimal", "rate"}:
        parse_decimal, money = parsing.parse_decimal, kind == "money"

        def read_number(raw: str) -> Any:
            text = raw.strip()
            if not text:
                return None
            value, currency = parse_decimal(text, ctx.decimal_separator)
            if money:
                if abs(value) > LARGEST_AMOUNT:
                    raise parsing.ValueProblem(f"{raw!r} is larger than the largest storable "
                                               f"amount ({LARGEST_AMOUNT:,})")
                return value, currency
            return value
        return read_number
    if kind in {"bool", "currency", "country", "choice"}:
        memo: dict[str, Any] = {}  # few distinct words per column; problems are not kept

        def read_word(raw: str) -> Any:
            if raw in memo:
                return memo[raw]
            value = read_value(spec, raw, ctx)
            if len(memo) < WORD_MEMO_SIZE:
                memo[raw] = value
            return value
        return read_word
    return lambda raw: read_value(spec, raw, ctx)


# --- references ---------------------------------------------------------------------------------


class References:
    """Look-ups of referenced records by external id, then email, then name (case-insensitive),
    cached for the whole import. People, teams and stages are few and loaded at once; accounts,
    products and opportunities are fetched per batch."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.cache: dict[str, dict[str, Any]] = defaultdict(dict)
        self.loaded: set[str] = set()
        self.ambiguous: dict[str, set[str]] = defaultdict(set)

    def _load_people(self) -> None:
        cache = self.cache["person"]
        names: dict[str, list[int]] = defaultdict(list)
        for pk, external_id, email, name in Person.objects.values_list(
                "pk", "external_id", "email", "name").iterator():
            cache[external_id] = pk
            if email:
                cache.setdefault(email.lower(), pk)
            names[name.lower()].append(pk)
        for name, pks in names.items():
            if len(pks) == 1:
                cache.setdefault(name, pks[0])
            else:
                self.ambiguous["person"].add(name)

    def _load(self, kind: str) -> None:
        if kind in self.loaded:
            return
        self.loaded.add(kind)
        if kind == "person":
            self._load_people()
        elif kind == "team":
            for pk, name in Team.objects.values_list("pk", "name"):
                self.cache["team"][name.lower()] = pk
        elif kind == "stage":
            for stage in Stage.objects.filter(pipeline=self.ctx.pipeline):
                self.cache["stage"][stage.name.lower()] = stage
        elif kind == "region":
            for pk, name in Region.objects.values_list("pk", "name"):
                self.cache["region"][name.lower()] = pk

    def prefetch(self, kind: str, raws: Iterable[str]) -> None:
        """Fetch the accounts, products or opportunities named by `raws` in a few queries."""
        if kind in LOADED_KINDS:
            self._load(kind)
            return
        cache = self.cache[kind]
        if len(cache) >= REFERENCE_CACHE_SIZE:
            cache.clear()  # bounded (10M order lines name 2.5M orders); fetched again
        wanted = {raw.strip() for raw in raws
                  if raw and raw.strip() not in cache and raw.strip().lower() not in cache}
        if not wanted:
            return
        model: type[models.Model] = {"account": Account, "product": Product,
                                     "opportunity": Opportunity}[kind]
        for chunk in _chunks(sorted(wanted), 900):
            for external_id, pk in ids_by(model, "external_id", chunk):
                cache[external_id] = pk
            if kind == "opportunity":
                continue
            missing = [raw for raw in chunk if raw not in cache]
            if missing:
                names: dict[str, list[int]] = defaultdict(list)
                for pk, name in model.objects.filter(  # type: ignore[attr-defined]
                        name__in=missing).values_list("pk", "name"):
                    names[name.lower()].append(pk)
                for name, pks in names.items():
                    if len(pks) == 1:
                        cache[name] = pks[0]
                    else:
                        self.ambiguous[kind].add(name)
        for raw in wanted:
            if raw not in cache and raw.lower() not in cache:
                cache[raw] = None

    def get(self, kind: str, raw: str) -> Any:
        """The id (a Stage for stages) of the record `raw` names, PENDING when only the file
        has it, None when unknown."""
        self._load(kind)
        text = raw.strip()
        cache = self.cache[kind]
        if text not in cache and text.lower() not in cache and kind not in {
                "stage", "person", "team", "region"}:
            self.prefetch(kind, [text])
        found = cache.get(text)
        if found is None:
            found = cache.get(text.lower())
        if found is not None:
            return found
        keys = self.ctx.file_keys.get(kind, ())
        if text in keys or text.lower() in keys:
            return PENDING
        return None

    def remember(self, kind: str, key: str, pk: Any) -> None:
        cache = self.cache[kind]
        if len(cache) >= REFERENCE_CACHE_SIZE and kind not in LOADED_KINDS:
            cache.clear()  # bounded: what is dropped is fetched again when named
        cache[key] = pk

    def forget_missing(self, kind: str) -> None:
        """Drop cached misses (records written since may now exist)."""
        cache = self.cache[kind]
        for key in [k for k, v in cache.items() if v is None]:
            del cache[key]

    def stage_names(self) -> list[str]:
        self._load("stage")
        return [s.name for s in sorted(self.cache["stage"].values(),
                                       key=lambda s: (s.order, s.name))]


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# Batches of a few thousand keys: Django's `__in` lookup prepares every value on its own, which
# cost more than the query itself, so the hot look-ups by one column are plain SQL.
IN_CHUNK = 900  # below SQLite's older 999-variable limit


def _matching(model: type[models.Model], column: str, values: Iterable[Any],
              select: str) -> Iterator[tuple[Any, ...]]:
    """Rows (`select`: SQL column list) of `model`'s table whose `column` is one of `values`."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    wanted = list(values)
    with connection.cursor() as cursor:
        for chunk in _chunks(wanted, IN_CHUNK):
            cursor.execute(f"SELECT {select} FROM {table} WHERE {quote(column)} IN "
                           f"({', '.join(['%s'] * len(chunk))})", list(chunk))
            yield from cursor.fetchall()


def ids_by(model: type[models.Model], column: str, values: Iterable[Any]
           ) -> list[tuple[Any, int]]:
    """(value of `column`, pk) of the rows of `model` whose `column` is one of `values`."""
    return [(value, pk) for value, pk in _matching(
        model, column, values, f"{connection.ops.quote_name(column)}, "
        f"{connection.ops.quote_name(model._meta.pk.column)}")]  # type: ignore[union-attr]


def instances_by_external_id(model: type[models.Model], keys: Iterable[Any]
                             ) -> dict[Any, Any]:
    """The stored records (model instances) of `model` with these external ids."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    wanted = [k for k in keys if k]
    found: dict[Any, Any] = {}
    for chunk in _chunks(wanted, IN_CHUNK):
        for instance in model._base_manager.raw(  # type: ignore[attr-defined]
                f"SELECT * FROM {table} WHERE {quote('external_id')} IN "
                f"({', '.join(['%s'] * len(chunk))})", list(chunk)):
            found[instance.external_id] = instance
    return found


# --- entities -----------------------------------------------------------------------------------

Values = dict[str, Any]


class Entity:
    """The import behaviour of one kind of record. Subclasses declare `fields` and override
    the steps they need."""

    name = ""
    label = ""
    plural = ""
    model: type[models.Model]
    fields: tuple[FieldSpec, ...] = ()
    # Alternatives of field names of which one full set must be mapped.
    required: tuple[tuple[str, ...], ...] = ()
    key_fields: tuple[str, ...] = ("external_id",)
    ref_kinds: dict[str, str] = {}
    owner_kind = ""
    # The unique field by which the ids of created records are read back ("" when none needed).
    id_key = "external_id"

    def field(self, name: str) -> FieldSpec:
        by_name = self.__dict__.get("_by_name")
        if by_name is None:
            by_name = self._by_name = {spec.name: spec for spec in self.fields}
        return by_name[name]

    @property
    def field_names(self) -> list[str]:
        return [spec.name for spec in self.fields]

    def key(self, values: Values) -> Any:
        """The upsert key; external ids compare exactly (Salesforce's 15-character ids differ
        only by case)."""
        if len(self.key_fields) == 1:
            return values.get(self.key_fields[0])
        return tuple(values.get(name) for name in self.key_fields)

    def key_text(self, values: Values) -> str:
        return " / ".join(str(values.get(name) or "") for name in self.key_fields)

    def prepare(self, record: Record, ctx: Context) -> None:
        """Derive values and check a row on its own (before references are resolved)."""

    def check(self, record: Record, ctx: Context) -> None:
        """Check a row once its references are resolved (`record.ids`)."""

    def prepare_batch(self, records: Sequence[Record], ctx: Context) -> None:
        """Fetch what `model_values` needs for a whole batch at once."""

    def finish(self, ctx: Context) -> None:
        """Checks (and, when writing, writes) over the whole file, after its last row."""

    def lookup(self, keys: Sequence[Any]) -> dict[Any, Any]:
        """Stored records by key."""
        return instances_by_external_id(self.model, keys)

    def is_older(self, record: Record, existing: Any) -> bool:
        """True when the row is older than the stored record (it is then left alone)."""
        return False

    def model_values(self, record: Record, ctx: Context, existing: Any) -> Values:
        """The model attributes the row sets (only mapped fields change a stored record)."""
        raise NotImplementedError

    def changed_fields(self, existing: Any, values: Values) -> list[str]:
        return [name for name, value in values.items() if getattr(existing, name) != value]

    def write(self, batch: list[tuple[Record, Values, Any]], ctx: Context) -> list[Any]:
        """Create the new records and update the changed ones of `batch` through the fast write
        path (`attain.core.bulk_write`: executemany / COPY in the import's transaction); returns
        the created records (`pk` and every column) in the order of the batch."""
        created = insert_rows(self.model, [values for _, values, existing in batch
                                           if existing is None], key=self.id_key)
        groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = defaultdict(list)
        for _, values, existing in batch:
            if existing is None:
                continue
            changed = tuple(sorted(self.changed_fields(existing, values)))
            if changed:
                groups[changed].append((existing.pk, *(values[n] for n in changed)))
        for changed, rows in groups.items():
            TableUpdater(self.model, changed).update(rows)
        self.after_write(batch, created, ctx)
        return created

    def after_write(self, batch: list[tuple[Record, Values, Any]], created: list[Any],
                    ctx: Context) -> None:
        for obj in created:
            if hasattr(obj, "external_id"):
                ctx.references.remember(self.name, obj.external_id, obj.pk)


_ROWS: dict[type[models.Model], ModelRows] = {}


def insert_rows(model: type[models.Model], new: list[Values], *, key: str = "external_id"
                ) -> list[Created]:
    """Insert `new` (dicts of field values) with the fast write path; return each as a namespace
    of all its columns and, when `key` names a unique field, its `pk` (read back by that key: the
    database assigns ids, so writers in other sessions cannot collide with the import)."""
    if not new:
        return []
    rows = _ROWS.get(model)
    if rows is None:
        rows = _ROWS[model] = ModelRows(model)
    full = [rows.row(values) for values in new]
    index = {name: i for i, name in enumerate(rows.fields)}
    if key and connection.vendor == "postgresql":  # ids from the sequence: no read-back
        ids = take_ids(model, len(full))
        TableWriter(model, ["id", *rows.fields]).write(
            (pk, *row) for pk, row in zip(ids, full, strict=True))
        return [Created(pk, row, index) for pk, row in zip(ids, full, strict=True)]
    TableWriter(model, rows.fields).write(full)
    created = [Created(None, row, index) for row in full]
    if key:
        found: dict[Any, int] = {}
        column = model._meta.get_field(key).column  # type: ignore[union-attr]
        found.update(ids_by(model, column, [getattr(c, key) for c in created]))
        for item in created:
            item.pk = item.id = found[getattr(item, key)]
    return created


class Created:
    """A row the fast path inserted: its `pk` and its columns as attributes (`owner_id`, …)."""

    __slots__ = ("_index", "_row", "id", "pk")

    def __init__(self, pk: int | None, row: tuple[Any, ...], index: dict[str, int]) -> None:
        self.pk = self.id = pk
        self._row = row
        self._index = index

    def __getattr__(self, name: str) -> Any:
        try:
            return self._row[self._index[name]]
        except KeyError:
            raise AttributeError(name) from None


def _set(values: Values, record: Record, name: str, attr: str | None = None,
         default: Any = None) -> None:
    if name in record.values:
        value = record.values[name]
        values[attr or name] = default if value is None and default is not None else value


def _money(record: Record, name: str) -> tuple[Decimal | None, str | None]:
    parsed: tuple[Decimal | None, str | None] | None = record.values.get(name)
    if parsed is None:
        return None, None
    return parsed


def _full_name(record: Record) -> None:
    if not record.values.get("name"):
        parts = [record.values.get("first_name") or "", record.values.get("last_name") or ""]
        name = " ".join(p for p in parts if p)
        if name:
            record.values["name"] = name


def _required_text(record: Record, ctx: Context, name: str, label: str) -> None:
    if not record.values.get(name):
        ctx.error(record, name, f"{label} is required")


class OpportunityEntity(Entity):
    name, label, plural = "opportunity", "Opportunity", "opportunities"
    model = Opportunity
    fields = (
        FieldSpec("external_id", "Opportunity id", required=True, max_length=64),
        FieldSpec("name", "Name", required=True, max_length=200),
        FieldSpec("account", "Account (id or name)", "ref", ref="account"),
        FieldSpec("owner", "Owner (id, email or name)", "ref", ref="person"),
        FieldSpec("amount", "Amount", "money"),
        FieldSpec("currency", "Currency", "currency"),
        FieldSpec("stage", "Stage", "ref", required=True, ref="stage"),
        FieldSpec("forecast_category", "Forecast category", "choice", choices=FORECAST_CHOICES),
        FieldSpec("deal_type", "Type", "choice", choices=DEAL_TYPE_CHOICES),
        FieldSpec("source", "Lead source", max_length=64),
        FieldSpec("segment", "Segment", "choice", choices=SEGMENT_CHOICES),
        FieldSpec("region", "Region", max_length=100),
        FieldSpec("created_at", "Created", "datetime"),
        FieldSpec("close_date", "Close date", "date", required=True),
        FieldSpec("is_closed", "Closed?", "bool"),
        FieldSpec("is_won", "Won?", "bool"),
        FieldSpec("loss_reason", "Loss reason", max_length=64),
        FieldSpec("product", "Main product (id or name)", "ref", ref="product"),
        FieldSpec("partner", "Partner (reseller)", max_length=200),
        FieldSpec("modified_at", "Last modified (time of the stage change)", "datetime"),
    )
    required = (("external_id",), ("name",), ("stage",), ("close_date",))
    ref_kinds = {"account": "account", "owner": "person", "stage": "stage", "product": "product"}

    def prepare(self, record: Record, ctx: Context) -> None:
        amount, _ = _money(record, "amount")
        if amount is not None and amount < 0:
            ctx.error(record, "amount", "negative amount; an opportunity's amount must be 0 or "
                      "more")
        created, close = record.values.get("created_at"), record.values.get("close_date")
        if created is not None and close is not None and close < timezone.localdate(
                created, ctx.zone):
            ctx.error(record, "close_date", f"close date before created date "
                      f"({timezone.localdate(created, ctx.zone).isoformat()})")

    def check(self, record: Record, ctx: Context) -> None:
        stage = record.ids.get("stage")
        if not isinstance(stage, Stage):
            return
        won, closed = record.values.get("is_won"), record.values.get("is_closed")
        if won is not None and won != stage.is_won:
            ctx.error(record, "is_won", f"{'won' if won else 'not won'} but stage "
                      f"{stage.name!r} is {'a won' if stage.is_won else 'not a won'} stage")
        elif closed is not None and closed != stage.is_closed:
            ctx.error(record, "is_closed", f"{'closed' if closed else 'open'} but stage "
                      f"{stage.name!r} is {'closed' if stage.is_closed else 'open'}")
        close = record.values.get("close_date")
        if not stage.is_closed and close is not None and close < ctx.today:
            ctx.warning(record, "close_date", "open deal with a close date in the past")

    def lookup(self, keys: Sequence[Any]) -> dict[Any, Any]:
        rows = instances_by_external_id(Opportunity, keys)
        if rows:  # the time of each stored opportunity's last stage change (`is_older`)
            by_pk = {row.pk: row for row in rows.values()}
            for pk, latest in StageChange.objects.filter(opportunity_id__in=by_pk).values(
                    "opportunity_id").annotate(latest=Max("changed_at")).values_list(
                    "opportunity_id", "latest"):
                setattr(by_pk[pk], "latest_change", latest)  # noqa: B010 - not a model field
        return rows

    def is_older(self, record: Record, existing: Any) -> bool:
        """A row of an export taken before the stored record's last stage change."""
        modified = record.values.get("modified_at")
        latest = getattr(existing, "latest_change", None)
        return bool(modified and latest and modified < latest)

    def model_values(self, record: Record, ctx: Context, existing: Any) -> Values:
        values: Values = {}
        for name in ("external_id", "name", "source", "region", "loss_reason", "close_date",
                     "partner"):
            _set(values, record, name)
        values["external_id"] = record.values["external_id"]
        for name in ("deal_type", "segment", "forecast_category"):
            if record.values.get(name) is not None:
                values[name] = record.values[name]
        if "segment" in record.values and record.values["segment"] is None:
            values["segment"] = ""
        if "amount" in record.values:
            amount, currency = _money(record, "amount")
            values["amount"] = round_money(amount) if amount is not None else None
            if currency and not record.values.get("currency"):
                record.values["currency"] = currency
        currency = record.values.get("currency")
        if currency or existing is None:
            values["currency"] = currency or ctx.currency
        for name in ("account", "owner", "product"):
            if name in record.ids:
                values[f"{name}_id"] = record.ids[name]
        stage = record.ids.get("stage")
        if isinstance(stage, Stage):
            values["stage_id"] = stage.pk
            values["is_closed"] = stage.is_closed
            values["is_won"] = stage.is_won
            if "forecast_category" not in values:
                values["forecast_category"] = stage.forecast_category
        if record.values.get("created_at") is not None:
            values["created_at"] = record.values["created_at"]
        elif existing is None:
            values["created_at"] = ctx.exported_at
        return values

    def write(self, batch: list[tuple[Record, Values, Any]], ctx: Context) -> list[Any]:
        moves = [(existing.pk, existing.stage_id, values["stage_id"], record)
                 for record, values, existing in batch
                 if existing is not None and existing.stage_id != values.get("stage_id",
                                                                              existing.stage_id)]
        created = super().write(batch, ctx)
        changes = [
            {"opportunity_id": opp.pk, "from_stage_id": None, "to_stage_id": opp.stage_id,
             "changed_at": opp.created_at, "amount": opp.amount, "close_date": opp.close_date}
            for opp in created
        ]
        values_of = {id(r): v for r, v, _ in batch}
        for opp_id, before, after, record in moves:
            values = values_of[id(record)]
            changes.append({"opportunity_id": opp_id, "from_stage_id": before,
                            "to_stage_id": after,
                            "changed_at": record.values.get("modified_at") or ctx.exported_at,
                            "amount": values.get("amount"),
                            "close_date": values.get("close_date")})
        if changes:
            insert_rows(StageChange, changes, key="")
            ctx.count("stage_change", "created", len(changes))
        return created

    def changed_fields(self, existing: Any, values: Values) -> list[str]:
        return [name for name, value in values.items() if name != "modified_at"
                and getattr(existing, name) != value]


class StageHistoryEntity(Entity):
    """Salesforce OpportunityHistory / field history: one stage entry per row, keyed by
    (opportunity, time); `from_stage` is re-chained in time order per opportunity.

    First-stage correction: an opportunity import records the opportunity's first entry (at its
    creation) with the stage the export shows — its *current* stage, which history may prove
    wrong. History corrects it two ways: (1) an OpportunityHistory row at the creation (the same
    instant, or up to `CREATION_TOLERANCE` later: the history row is written in the same save)
    replaces the creation entry's stage and time; (2) a field-history row's old value
    (`OldValue`, the stage before its change) on the entry right after the creation entry is the
    stage the opportunity was created in, so the creation entry takes it (`rechain`).
    """

    CREATION_TOLERANCE = timedelta(seconds=60)

    name, label, plural = "stage_change", "Stage change", "stage changes"
    model = StageChange
    fields = (
        FieldSpec("opportunity", "Opportunity id", "ref", required=True, ref="opportunity"),
        FieldSpec("stage", "Stage (to)", "ref", required=True, ref="stage"),
        FieldSpec("from_stage", "Stage (from; the old value)", "ref", ref="stage"),
        FieldSpec("changed_at", "Changed at", "datetime", required=True),
        FieldSpec("amount", "Amount", "money"),
        FieldSpec("close_date", "Close date", "date"),
    )
    required = (("opportunity",), ("stage",), ("changed_at",))
    key_fields = ("opportunity", "changed_at")
    id_key = ""
    ref_kinds = {"opportunity": "opportunity", "stage": "stage", "from_stage": "stage"}

    def key(self, values: Values) -> Any:
        """One stage change per opportunity and instant: a history row at the time of the
        entry an opportunity import made (its creation) replaces that entry's stage."""
        return (str(values.get("opportunity") or ""), values.get("changed_at"))

    def lookup(self, keys: Sequence[Any]) -> dict[Any, Any]:
        opp_ids = {k[0] for k in keys}
        ids = dict(Opportunity.objects.filter(external_id__in=opp_ids).values_list(
            "pk", "external_id"))
        found: dict[Any, Any] = {}
        creations: dict[str, Any] = {}
        for change in StageChange.objects.filter(opportunity_id__in=ids).select_related(
                "opportunity").order_by("opportunity_id", "changed_at", "id"):
            external_id = ids[change.opportunity_id]
            found[(external_id, change.changed_at)] = change
            if change.from_stage_id is None and external_id not in creations \
                    and change.changed_at == change.opportunity.created_at:
                creations[external_id] = change
        wanted = set(keys)
        for key in sorted((k for k in keys if k not in found and k[1] is not None),
                          key=lambda k: (k[0], k[1])):
            creation = creations.pop(key[0], None)  # only the earliest row can be it
            if creation is not None and (key[0], creation.changed_at) not in wanted and \
                    timedelta(0) < key[1] - creation.changed_at <= self.CREATION_TOLERANCE:
                found[key] = creation  # the history row of the creation: same event
        return found

    def prepare(self, record: Record, ctx: Context) -> None:
        amount, _ = _money(record, "amount")
        if amount is not None and amount < 0:
            ctx.error(record, "amount", "negative amount")

    def model_values(self, record: Record, ctx: Context, existing: Any) -> Values:
        stage = record.ids.get("stage")
        values: Values = {"opportunity_id": record.ids.get("opportunity"),
                          "to_stage_id": stage.pk if isinstance(stage, Stage) else stage,
                          "changed_at": record.values["changed_at"]}
        before = record.ids.get("from_stage")
        if isinstance(before, Stage):
            values["from_stage_id"] = before.pk  # the declared old value; see `rechain`
        if "amount" in record.values:
            amount, _ = _money(record, "amount")
            values["amount"] = round_money(amount) if amount is not None else None
        _set(values, record, "close_date")
        return values

    def write(self, batch: list[tuple[Record, Values, Any]], ctx: Context) -> list[Any]:
        created = super().write(batch, ctx)
        ctx.touched_opportunities.update(v["opportunity_id"] for _, v, e in batch)
        return created

    @staticmethod
    def rechain(opportunity_ids: Iterable[int]) -> None:
        """Set each change's `from_stage` to the stage before it, in time order — after giving
        the first entry (the creation) the stage the entry after it says it left (its stored
        `from_stage`, as a field-history import declared it)."""
        ids = sorted(set(opportunity_ids))
        for chunk in _chunks(ids, 500):
            fixed: dict[int, Any] = {}
            chains: dict[int, list[Any]] = defaultdict(list)
            for change in StageChange.objects.filter(opportunity_id__in=chunk).order_by(
                    "opportunity_id", "changed_at", "id"):
                chains[change.opportunity_id].append(change)
            for chain in chains.values():
                first = chain[0]
                if len(chain) > 1 and first.from_stage_id is None:
                    declared = chain[1].from_stage_id
                    if declared is not None and declared != first.to_stage_id:
                        first.to_stage_id = declared  # the first-stage correction
                        fixed[first.pk] = first
                before = None
                for change in chain:
                    if change.from_stage_id != before:
                        change.from_stage_id = before
                        fixed[change.pk] = change
                    before = change.to_stage_id
            StageChange.objects.bulk_update(list(fixed.values()), ["from_stage", "to_stage"],
                                            batch_size=500)


class AccountEntity(Entity):
    name, label, plural = "account", "Account", "accounts"
    model = Account
    fields = (
        FieldSpec("external_id", "Account id", required=True, max_length=64),
        FieldSpec("name", "Name", required=True, max_length=200),
        FieldSpec("domain", "Domain or website", max_length=200),
        FieldSpec("industry", "Industry", max_length=100),
        FieldSpec("segment", "Segment", "choice", choices=SEGMENT_CHOICES),
        FieldSpec("customer_type", "Type / customer segment", max_length=100),
        FieldSpec("region", "Region", max_length=100),
        FieldSpec("country", "Country", "country"),
        FieldSpec("owner", "Owner (id, email or name)", "ref", ref="person"),
        FieldSpec("created_at", "Created", "datetime"),
    )
    required = (("external_id",), ("name",))
    ref_kinds = {"owner": "person"}

    def model_values(self, record: Record, ctx: Context, existing: Any) -> Values:
        values: Values = {}
        for name in ("external_id", "name", "industry", "customer_type", "region"):
            _set(values, record, name)
        if "domain" in record.values:
            domain = (record.values["domain"] or "").lower()
            for prefix in ("https://", "http://", "www."):
                domain = domain.removeprefix(prefix)
            values["domain"] = domain.rstrip("/")
        for name in ("segment", "country"):
            if name in record.values:
                values[name] = record.values[name] or ""
        if "owner" in record.ids:
            values["owner_id"] = record.ids["owner"]
        if record.values.get("created_at") is not None:
            values["created_at"] = record.values["created_at"]
        elif existing is None:
            values["created_at"] = ctx.exported_at
        return values


class ContactEntity(Entity):
    name, label, plural = "contact", "Contact", "contacts"
    model = Contact
    fields = (
        FieldSpec("external_id", "Contact id", required=True, max_length=64),
        FieldSpec("name", "Full name", max_length=200),
        FieldSpec("first_name", "First name", max_length=100),
        FieldSpec("last_name", "Last name", max_length=100),
        FieldSpec("email", "Email", "email", max_length=254),
        FieldSpec("title", "Job title", max_length=100),
        FieldSpec("account", "Account (id or name)", "ref", ref="account"),
        FieldSpec("created_at", "Created", "datetime"),
    )
    required = (("external_id",), ("name",), ("last_name",))
    ref_kinds = {"account": "account"}

    def prepare(self, record: Record, ctx: Context) -> None:
        _full_name(record)
        _required_text(record, ctx, "name", "a name")

    def model_values(self, record: Record, ctx: Context, existing: Any) -> Values:
        values: Values = {}
        for name in ("external_id", "name", "email", "title"):
            _set(values, record, name)
        if "account" in record.ids:
            values["account_id"] = record.ids["account"]
        if record.values.get("created_at") is not None:
            values["created_at"] = record.values["created_at"]
        elif existing is None:
            values["created_at"] = ctx.exported_at
        return values


class ProductEntity(Entity):
    name, label, plural = "product", "Product", "products"
    model = Product
    fields = (
        FieldSpec("external_id", "Product id", required=True, max_length=64),
        FieldSpec("name", "Name", required=True, max_length=200),
        FieldSpec("family", "Family / category", max_length=100),
        FieldSpec("list_price", "List price", "money"),
        FieldSpec("currency", "Currency", "currency"),
        FieldSpec("active", "Active?", "bool"),
    )
    required = (("external_id",), ("name",))

    def prepare(self, record: Record, ctx: Context) -> None:
        price, _ = _money(record, "list_price")
        if price is not None and price < 0:
            ctx.error(record, "list_price", "negative list price")

    def model_values(self, record: Record, ctx: Context, existing: Any) -> Values:
        values: Values = {}
        for name in ("external_id", "name", "family"):
            _set(values, record, name)
        if "list_price" in record.values:
            price, currency = _money(record, "list_price")
            values["list_price"] = round_money(price) if price is not None else None
            if currency and not record.values.get("currency"):
                record.values["currency"] = currency
        if record.values.get("currency") or existing is None:
            values["currency"] = record.values.get("currency") or ctx.currency
        if record.values.get("active") is not None:
            values["active"] = record.values["active"]
        return values


class LeadEntity(Entity):
    name, label, plural = "lead", "Lead", "leads"
    model = Lead
    fields = (
        FieldSpec("external_id", "Lead id", required=True, max_length=64),
        FieldSpec("name", "Full name", max_length=200),
        FieldSpec("first_name", "First name", max_length=100),
        FieldSpec("last_name", "Last name", max_length=100),
        FieldSpec("company", "Company", max_length=200),
        FieldSpec("source", "Lead source", max_length=64),
        FieldSpec("status", "Status", "choice", choices=LEAD_STATUS_CHOICES),
        FieldSpec("is_converted", "Converted?", "bool"),
        FieldSpec("owner", "Owner (id, email or name)", "ref", ref="person"),
        FieldSpec("created_at", "Created", "datetime", required=True),
        FieldSpec("qualified_at", "Qualified", "datetime"),
        FieldSpec("converted_at", "Converted", "datetime"),
        FieldSpec("converted_opportunity", "Converted opportunity id", "ref",
                  ref="opportunity"),
    )
    required = (("external_id",), ("created_at",), ("name",), ("last_name",))
    ref_kinds = {"owner": "person", "converted_opportunity": "opportunity"}

    def prepare(self, record: Record, ctx: Context) -> None:
        _full_name(record)
        _required_text(record, ctx, "name", "a name")
        created = record.values.get("created_at")
        for name, label in (("qualified_at", "qualified"), ("converted_at", "converted")):
            value = record.values.get(name)
            if value is not None and created is not None and value < created:
                ctx.error(record, name, f"{label} before the lead was created")
        if record.values.get("is_converted") and not record.values.get("status"):
            record.values["status"] = Lead.Status.CONVERTED

    def model_values(self, record: Record, ctx: Context, existing: Any) -> Values:
        values: Values = {}
        for name in ("external_id", "name", "company", "source", "created_at", "qualified_at",
                     "converted_at"):
            _set(values, record, name)
        if record.values.get("status"):
            values["status"] = record.values["status"]
        for name in ("owner", "converted_opportunity"):
            if name in record.ids:
                values[f"{name}_id"] = record.ids[name]
        return values


class PersonEntity(Entity):
    """People, and their reporting line (manager and team) from `lines_from` (default: the hire
    date for a new person, today for a change)."""

    name, label, plural = "person", "Person", "people"
    model = Person
    fields = (
        FieldSpec("external_id", "Person / user id", required=True, max_length=64),
        FieldSpec("name", "Full name", max_length=200),
        FieldSpec("first_name", "First name", max_length=100),
        FieldSpec("last_name", "Last name", max_length=100),
        FieldSpec("email", "Email", "email", max_length=254),
        FieldSpec("role", "Role", "choice", choices=ROLE_CHOICES),
        FieldSpec("title", "Title", max_length=100),
        FieldSpec("currency", "Currency", "currency"),
        FieldSpec("hired_on", "Hired on", "date"),
        FieldSpec("left_on", "Left on (first day gone)", "date"),
        FieldSpec("manager", "Manager (id, email or name)", "ref", ref="person"),
        FieldSpec("team", "Team name", max_length=100),
        FieldSpec("lines_from", "Reports to manager/team from", "date"),
    )
    required = (("external_id",), ("name",), ("last_name",))
    ref_kinds = {"manager": "person"}

    def prepare(self, record: Record, ctx: Context) -> None:
        _full_name(record)
        _required_text(record, ctx, "name", "a name")
        hired, left = record.values.get("hired_on"), record.values.get("left_on")
        if hired and left and left <= hired:
            ctx.error(record, "left_on", "left before (or on) the hire date")
        manager = (record.values.get("manager") or "").lower()
        if manager and manager in {(record.values.get("external_id") or "").lower(),
                                   (record.values.get("email") or "").lower(),
                                   (record.values.get("name") or "").lower()}:
            ctx.error(record, "manager", "a person cannot be their own manager")

    def model_values(self, record: Record, ctx: Context, existing: Any) -> Values:
        values: Values = {}
        for name in ("external_id", "name", "email", "title", "hired_on", "left_on"):
            _set(values, record, name)
        if record.values.get("role"):
            values["role"] = record.values["role"]
        if record.values.get("currency"):
            values["currency"] = record.values["currency"]
        return values

    def after_write(self, batch: list[tuple[Record, Values, Any]], created: list[Any],
                    ctx: Context) -> None:
        super().after_write(batch, created, ctx)
        for record, values, existing in batch:
            if "manager" in record.values or "team" in record.values:
                new = existing is None
                start = record.values.get("lines_from") or (
                    record.values.get("hired_on") if new else None) or ctx.today
                ctx.pending_lines.append((values["external_id"], record.values.get("manager"),
                                          record.values.get("team"), start,
                                          "manager" in record.values, "team" in record.values))

    @staticmethod
    def write_lines(ctx: Context) -> None:
        """Open or move reporting lines for the people of the file (after all are written)."""
        refs = ctx.references
        refs.forget_missing("person")
        refs.loaded.discard("person")
        for chunk in _chunks(ctx.pending_lines, 500):
            people = dict(Person.objects.filter(
                external_id__in=[item[0] for item in chunk]).values_list("external_id", "pk"))
            current = {line.person_id: line for line in ReportingLine.objects.filter(
                person_id__in=people.values(), valid_to__isnull=True)}
            for external_id, manager_raw, team_name, start, has_manager, has_team in chunk:
                person_id = people[external_id]
                line = current.get(person_id)
                manager_id = refs.get("person", manager_raw) if manager_raw else None
                team_id = ctx.team_id(team_name) if team_name else None
                if line is not None:
                    manager_id = manager_id if has_manager else line.manager_id
                    team_id = team_id if has_team else line.team_id
                    if (line.manager_id, line.team_id) == (manager_id, team_id):
                        continue
                    if start <= line.valid_from:
                        line.manager_id, line.team_id = manager_id, team_id
                        line.save(update_fields=["manager", "team"])
                        ctx.count("reporting_line", "updated", 1)
                        continue
                    line.valid_to = start
                    line.save(update_fields=["valid_to"])
                elif manager_id is None and team_id is None:
                    continue  # nobody to report to and no team: nothing to record
                ReportingLine.objects.create(person_id=person_id, manager_id=manager_id,
                                             team_id=team_id, valid_from=start)
                ctx.count("reporting_line", "created", 1)


class TeamEntity(Entity):
    name, label, plural = "team", "Team", "teams"
    model = Team
    fields = (
        FieldSpec("name", "Team name", required=True, max_length=100),
        FieldSpec("region", "Region", max_length=100),
        FieldSpec("segment", "Segment", max_length=32),
    )
    required = (("name",),)
    key_fields = ("name",)
    id_key = "name"

    def key(self, values: Values) -> Any:
        return (values.get("name") or "").lower()

    def lookup(self, keys: Sequence[Any]) -> dict[Any, Any]:
        query = Q()
        for key in keys:
            query |= Q(name__iexact=key)
        return {team.name.lower(): team for team in Team.objects.filter(query)} if keys else {}

    def model_values(self, record: Record, ctx: Context, existing: Any) -> Values:
        values: Values = {"name": record.values["name"]}
        if "region" in record.values:
            region = record.values["region"]
            values["region_id"] = ctx.region_id(region) if region else None
        _set(values, record, "segment", default="")
        return values

    def after_write(self, batch: list[tuple[Record, Values, Any]], created: list[Any],
                    ctx: Context) -> None:
        for team in created:
            ctx.references.remember("team", team.name, team.pk)


class BookingEntity(Entity):
    name, label, plural = "booking", "Booking (order line)", "bookings"
    model = Booking
    fields = (
        FieldSpec("external_id", "Order line id", required=True, max_length=64),
        FieldSpec("opportunity", "Opportunity id", "ref", ref="opportunity"),
        FieldSpec("owner", "Owner (id, email or name)", "ref", ref="person"),
        FieldSpec("team", "Team name", "ref", ref="team"),
        FieldSpec("product", "Product (id or name)", "ref", ref="product"),
        FieldSpec("quantity", "Quantity", "decimal"),
        FieldSpec("amount", "Amount", "money", required=True),
        FieldSpec("currency", "Currency", "currency"),
        FieldSpec("booked_on", "Booked on", "date", required=True),
        FieldSpec("invoiced_on", "Invoiced on", "date"),
        FieldSpec("paid_on", "Paid on (collected)", "date"),
        FieldSpec("cancelled_on", "Cancelled / churned on", "date"),
    )
    required = (("external_id",), ("amount",), ("booked_on",))
    ref_kinds = {"opportunity": "opportunity", "owner": "person", "team": "team",
                 "product": "product"}

    def prepare(self, record: Record, ctx: Context) -> None:
        quantity = record.values.get("quantity")
        if quantity is not None and quantity < 0:
            ctx.error(record, "quantity", "negative quantity")
        if record.values.get("amount") is None:
            ctx.error(record, "amount", "an amount is required")
        self.check_dates(record, ctx)

    @staticmethod
    def check_dates(record: Record, ctx: Context) -> None:
        """A cancellation before the order, or a payment after the day of the export, cannot be
        true (errors); an invoice or a payment before the order, or a payment before its
        invoice, happen (prepayments) but are worth a look (warnings)."""
        booked, invoiced = record.values.get("booked_on"), record.values.get("invoiced_on")
        paid, cancelled = record.values.get("paid_on"), record.values.get("cancelled_on")
        export_day = timezone.localdate(ctx.exported_at, ctx.zone)
        if booked and cancelled and cancelled < booked:
            ctx.error(record, "cancelled_on", f"cancelled before the order was booked "
                      f"({booked.isoformat()})")
        if paid and paid > export_day:
            ctx.error(record, "paid_on", f"paid on a day after the export "
                      f"({export_day.isoformat()}): a payment date cannot be in the future")
        if booked and invoiced and invoiced < booked:
            ctx.warning(record, "invoiced_on", f"invoiced before the order was booked "
                        f"({booked.isoformat()})")
        if booked and paid and paid < booked:
            ctx.warning(record, "paid_on", f"paid before the order was booked "
                        f"({booked.isoformat()})")
        elif invoiced and paid and paid < invoiced:
            ctx.warning(record, "paid_on", f"paid before it was invoiced "
                        f"({invoiced.isoformat()})")

    def prepare_batch(self, records: Sequence[Record], ctx: Context) -> None:
        if any("owner" in r.ids for r in records):
            return
        ctx.prefetch_owners(r.ids.get("opportunity") for r in records)

    def model_values(self, record: Record, ctx: Context, existing: Any) -> Values:
        values: Values = {"external_id": record.values["external_id"]}
        for name in ("booked_on", "invoiced_on", "paid_on", "cancelled_on"):
            _set(values, record, name)
        if "quantity" in record.values:
            values["quantity"] = (record.values["quantity"] if record.values["quantity"]
                                  is not None else Decimal(1)).quantize(Decimal("0.01"))
        amount, currency = _money(record, "amount")
        if amount is not None:
            values["amount"] = round_money(amount)
            values["source_amount"] = amount.quantize(SOURCE_PLACES, rounding=ROUND_HALF_EVEN)
        values["currency"] = record.values.get("currency") or currency or (
            existing.currency if existing is not None else ctx.currency)
        for name in ("opportunity", "owner", "team", "product"):
            if name in record.ids:
                values[f"{name}_id"] = record.ids[name]
        if "owner" not in record.ids and existing is None and values.get("opportunity_id"):
            values["owner_id"] = ctx.opportunity_owner(values["opportunity_id"])
        return values


SPLIT_KIND_CHOICES = _choices([
    (OpportunitySplit.Kind.REVENUE, ["revenue split", "revenue splits", "revenue_split"]),
    (OpportunitySplit.Kind.OVERLAY, ["overlay split", "overlay splits", "overlay_split"]),
])
HUNDRED = Decimal(100)


class OpportunitySplitEntity(Entity):
    """Salesforce OpportunitySplit: one row per (opportunity, split owner, split type) with its
    percentage.

    Decisions: a split file gives the complete splits of every opportunity it names — stored
    splits of that opportunity and type missing from the file are removed (counted `deleted`) —
    so the revenue splits of each opportunity in the file must sum to exactly 100 % (an error on
    each of its rows otherwise); overlay splits are on top and need not sum to anything. The
    type defaults to revenue; a Salesforce `SplitTypeId` (an id, not a name) must be mapped to
    `revenue` or `overlay` in a profile's value map.
    """

    name, label, plural = "opportunity_split", "Opportunity split", "opportunity splits"
    model = OpportunitySplit
    fields = (
        FieldSpec("opportunity", "Opportunity id", "ref", required=True, ref="opportunity"),
        FieldSpec("person", "Split owner (id, email or name)", "ref", required=True,
                  ref="person"),
        FieldSpec("percent", "Split percentage", "decimal", required=True),
        FieldSpec("kind", "Split type (revenue or overlay)", "choice",
                  choices=SPLIT_KIND_CHOICES),
    )
    required = (("opportunity",), ("person",), ("percent",))
    key_fields = ("opportunity", "person", "kind")
    id_key = ""
    ref_kinds = {"opportunity": "opportunity", "person": "person"}

    def key(self, values: Values) -> Any:
        return (str(values.get("opportunity") or ""), str(values.get("person") or "").lower(),
                values.get("kind") or OpportunitySplit.Kind.REVENUE)

    def prepare(self, record: Record, ctx: Context) -> None:
        record.values["kind"] = record.values.get("kind") or OpportunitySplit.Kind.REVENUE
        percent = record.values.get("percent")
        if percent is None:
            ctx.error(record, "percent", "a split percentage is required")
        elif not 0 < percent <= HUNDRED:
            ctx.error(record, "percent", "a split percentage must be more than 0 and at most "
                      "100")
        elif percent != percent.quantize(Decimal("0.01")):
            ctx.error(record, "percent", "a split percentage has at most 2 decimal places")

    def check(self, record: Record, ctx: Context) -> None:
        """Gather each opportunity's splits for the sum check in `finish`."""
        state = ctx.entity_state.setdefault(self.name, {"sums": {}, "people": defaultdict(set)})
        opportunity = record.values["opportunity"]
        kind = record.values["kind"]
        state["people"][(opportunity, kind)].add(record.ids.get("person"))
        if kind == OpportunitySplit.Kind.REVENUE:
            total, rows = state["sums"].get(opportunity, (Decimal(0), []))
            rows.append((record.row, record.raw.get("percent", "")))
            state["sums"][opportunity] = (total + record.values["percent"], rows)

    def finish(self, ctx: Context) -> None:
        state = ctx.entity_state.pop(self.name, None)
        if not state:
            return
        for opportunity, (total, rows) in state["sums"].items():
            if total == HUNDRED:
                continue
            listed = ", ".join(str(row) for row, _ in rows[:10])
            for row, raw in rows:
                ctx.problem("error", None, "percent",
                            f"the revenue splits of opportunity {opportunity!r} sum to "
                            f"{total.normalize():f} % (rows {listed}); they must sum to 100 %",
                            row=row, value=raw)
        if not ctx.writing or ctx.problems.errors:
            return
        refs = ctx.references
        removed = 0
        for (opportunity, kind), people in state["people"].items():
            opportunity_id = refs.get("opportunity", opportunity)
            removed += OpportunitySplit.objects.filter(
                opportunity_id=opportunity_id, kind=kind).exclude(person_id__in=people).delete()[0]
        if removed:
            ctx.count(self.name, "deleted", removed)

    def lookup(self, keys: Sequence[Any]) -> dict[Any, Any]:
        found: dict[Any, Any] = {}
        wanted = set(keys)
        rows = OpportunitySplit.objects.filter(
            opportunity__external_id__in={k[0] for k in keys}).select_related(
            "opportunity", "person")
        for split in rows:
            person = split.person
            for person_key in (person.external_id, person.email, person.name):
                key = (split.opportunity.external_id, (person_key or "").lower(), split.kind)
                if key in wanted:
                    found[key] = split
        return found

    def model_values(self, record: Record, ctx: Context, existing: Any) -> Values:
        return {"opportunity_id": record.ids.get("opportunity"),
                "person_id": record.ids.get("person"), "kind": record.values["kind"],
                "percent": record.values["percent"].quantize(Decimal("0.01"))}


class QuotaEntity(Entity):
    """Quotas of a person or a team for the fiscal period of `period_kind` containing
    `period` (any day of it; its first day is clearest), effective from `valid_from` (default:
    the period's first day, i.e. the whole period).

    Each row is written through `performance.actions.set_quota` as an effective-dated
    `QuotaVersion` (source `import`), never by changing a quota in place: the quota's history
    keeps what was there before. A row is unchanged when the version in force on its
    `valid_from` already has its amount (so importing the same file twice adds nothing). Quotas
    are in the company currency, in whole cents, as `set_quota` requires.
    """

    name, label, plural = "quota", "Quota", "quotas"
    model = Quota
    fields = (
        FieldSpec("person", "Person (id, email or name)", "ref", ref="person"),
        FieldSpec("team", "Team name", "ref", ref="team"),
        FieldSpec("period_kind", "Period kind (month, quarter, year)", "choice",
                  choices=PERIOD_KIND_CHOICES),
        FieldSpec("period", "Period (a day in it)", "date", required=True),
        FieldSpec("amount", "Amount", "money", required=True),
        FieldSpec("currency", "Currency", "currency"),
        FieldSpec("valid_from", "Effective from", "date"),
    )
    required = (("period",), ("amount",), ("person",), ("team",))
    key_fields = ("person", "team", "period_kind", "period")
    id_key = ""
    ref_kinds = {"person": "person", "team": "team"}

    def prepare(self, record: Record, ctx: Context) -> None:
        has_person, has_team = bool(record.values.get("person")), bool(record.values.get("team"))
        if has_person == has_team:
            ctx.error(record, "person", "a quota belongs to exactly one person or one team")
        amount, currency = _money(record, "amount")
        if amount is None:
            ctx.error(record, "amount", "an amount is required")
        elif amount < 0:
            ctx.error(record, "amount", "negative amount; a quota must be 0 or more")
        elif amount != amount.quantize(Decimal("0.01")):
            ctx.error(record, "amount", "a quota is in whole cents; this amount has more than "
                      "two decimals")
        currency = record.values.get("currency") or currency or ctx.currency
        if currency != ctx.company_currency:
            ctx.error(record, "currency" if record.values.get("currency") else "amount",
                      f"quotas are in the company currency {ctx.company_currency}, not "
                      f"{currency}")
        kind = record.values.get("period_kind") or PeriodKind.QUARTER
        record.values["period_kind"] = kind
        if record.values.get("period"):
            span = ctx.calendar.span(kind, record.values["period"])
            record.values["period"] = span.start
            record.values["period_end"] = span.end
            valid_from = record.values.get("valid_from") or span.start
            if not span.start <= valid_from < span.end:
                ctx.error(record, "valid_from", f"effective from a day outside the "
                          f"{kind} [{span.start.isoformat()}, {span.end.isoformat()})")
            record.values["valid_from"] = valid_from

    def key(self, values: Values) -> Any:
        return (str(values.get("person") or "").lower(), str(values.get("team") or "").lower(),
                values.get("period_kind"), values.get("period"), values.get("valid_from"))

    def lookup(self, keys: Sequence[Any]) -> dict[Any, Any]:
        found: dict[Any, Any] = {}
        starts = {k[3] for k in keys if k[3]}
        rows = Quota.objects.filter(period__start__in=starts, kind=Quota.Kind.BOOKINGS
                                    ).select_related("person", "team", "period")
        by_holder: dict[Any, list[Any]] = defaultdict(list)
        for key in keys:
            by_holder[key[:4]].append(key)
        for quota in rows:
            person_keys = ([quota.person.external_id, quota.person.email, quota.person.name]
                           if quota.person else [""])
            team_key = quota.team.name if quota.team else ""
            for person_key in person_keys:
                holder = ((person_key or "").lower(), team_key.lower(), quota.period.kind,
                          quota.period.start)
                for key in by_holder.get(holder, ()):
                    found[key] = quota
        return found

    def model_values(self, record: Record, ctx: Context, existing: Any) -> Values:
        amount, _ = _money(record, "amount")
        values: Values = {
            "person_id": record.ids.get("person"), "team_id": record.ids.get("team"),
            "amount": round_money(amount) if amount is not None else None,
            "valid_from": record.values["valid_from"],
        }
        if existing is not None:
            values["period_id"] = existing.period_id
        else:
            values["period_id"] = ctx.period_id(record.values["period_kind"],
                                                record.values["period"],
                                                record.values["period_end"])
        return values

    def changed_fields(self, existing: Any, values: Values) -> list[str]:
        from attain.performance.actions import quota_as_of

        in_force = quota_as_of(existing, values["valid_from"])
        return [] if in_force == values["amount"] else ["amount"]

    def write(self, batch: list[tuple[Record, Values, Any]], ctx: Context) -> list[Any]:
        from attain.performance.actions import QuotaError, set_quota
        from attain.performance.models import QuotaVersion

        for record, values, existing in batch:
            if existing is not None and not self.changed_fields(existing, values):
                continue
            try:
                set_quota(ctx.actor, period_id=values["period_id"], amount=values["amount"],
                          person_id=values["person_id"], team_id=values["team_id"],
                          valid_from=values["valid_from"], source=QuotaVersion.Source.IMPORT,
                          reason=ctx.reason)
            except QuotaError as error:
                field_name = {"valid_from": "valid_from", "team": "team", "currency": "currency",
                              "person": "person"}.get(error.field, "amount")
                ctx.error(record, field_name, str(error))
        return []


class ExchangeRateEntity(Entity):
    name, label, plural = "exchange_rate", "Exchange rate", "exchange rates"
    model = ExchangeRate
    fields = (
        FieldSpec("currency", "Currency", "currency", required=True),
        FieldSpec("month", "Month (a day in it)", "date", required=True),
        FieldSpec("rate", "Company-currency units per unit", "rate", required=True),
    )
    required = (("currency",), ("month",), ("rate",))
    key_fields = ("currency", "month")
    id_key = ""

    def prepare(self, record: Record, ctx: Context) -> None:
        rate = record.values.get("rate")
        if rate is None:
            ctx.error(record, "rate", "a rate is required")
        elif rate <= 0:
            ctx.error(record, "rate", "a rate must be more than 0")
        elif int(rate.as_tuple().exponent) < -RATE_PLACES:
            ctx.warning(record, "rate", f"more than {RATE_PLACES} decimal places; rounded")
        if record.values.get("month"):
            month = record.values["month"]
            record.values["month"] = date(month.year, month.month, 1)
        if record.values.get("currency") == ctx.company_currency and rate is not None \
                and rate != 1:
            ctx.error(record, "rate", f"the company currency {ctx.company_currency} must have "
                      "rate 1")

    def key(self, values: Values) -> Any:
        return (values.get("currency"), values.get("month"))

    def lookup(self, keys: Sequence[Any]) -> dict[Any, Any]:
        query = Q()
        for currency, month in keys:
            query |= Q(currency=currency, month_start=month)
        return {(r.currency, r.month_start): r for r in ExchangeRate.objects.filter(query)
                } if keys else {}

    def model_values(self, record: Record, ctx: Context, existing: Any) -> Values:
        return {"currency": record.values["currency"], "month_start": record.values["month"],
                "rate": record.values["rate"].quantize(Decimal(1).scaleb(-RATE_PLACES),
                                                       rounding=ROUND_HALF_EVEN)}


ENTITIES: dict[str, Entity] = {entity.name: entity for entity in (
    PersonEntity(), TeamEntity(), AccountEntity(), ContactEntity(), ProductEntity(),
    LeadEntity(), OpportunityEntity(), StageHistoryEntity(), OpportunitySplitEntity(),
    BookingEntity(), QuotaEntity(), ExchangeRateEntity(),
)}


def entity(name: str) -> Entity:
    try:
        return ENTITIES[name]
    except KeyError:
        raise ValueError(f"Unknown entity {name!r}; use one of {', '.join(ENTITIES)}") from None


def ensure_period(kind: str, start: date, end: date) -> int:
    """The id of the stored period of `kind` starting on `start`, created when missing."""
    period = Period.objects.filter(kind=kind, start=start).first()
    if period is None:
        ensure_periods(start, end, [kind])
        period = Period.objects.get(kind=kind, start=start)
    return period.pk


def company_zone() -> tzinfo:
    return timezone.get_default_timezone()


def today_in(zone: tzinfo) -> date:
    return datetime.now(zone).date()


__all__ = ["ENTITIES", "Entity", "FieldSpec", "Record", "References", "entity",
           "fiscal_calendar"]
