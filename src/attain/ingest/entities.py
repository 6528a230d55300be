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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Max, Q
from django.utils import timezone

from attain.core.actions import ensure_periods, fiscal_calendar
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
    if kind == "date":
        return parsing.parse_date(text, ctx.date_order)
    if kind == "datetime":
        return parsing.parse_datetime(text, ctx.date_order, ctx.zone)
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
        if kind in {"person", "team", "stage", "region"}:
            self._load(kind)
            return
        cache = self.cache[kind]
        wanted = {raw.strip() for raw in raws
                  if raw and raw.strip() not in cache and raw.strip().lower() not in cache}
        if not wanted:
            return
        model: type[models.Model] = {"account": Account, "product": Product,
                                     "opportunity": Opportunity}[kind]
        for chunk in _chunks(sorted(wanted), 900):
            for pk, external_id in model.objects.filter(  # type: ignore[attr-defined]
                    external_id__in=chunk).values_list("pk", "external_id"):
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
        self.cache[kind][key] = pk

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

    def lookup(self, keys: Sequence[Any]) -> dict[Any, Any]:
        """Stored records by key."""
        rows = self.model.objects.filter(  # type: ignore[attr-defined]
            external_id__in=[k for k in keys if k])
        return {row.external_id: row for row in rows}

    def is_older(self, record: Record, existing: Any) -> bool:
        """True when the row is older than the stored record (it is then left alone)."""
        return False

    def model_values(self, record: Record, ctx: Context, existing: Any) -> Values:
        """The model attributes the row sets (only mapped fields change a stored record)."""
        raise NotImplementedError

    def changed_fields(self, existing: Any, values: Values) -> list[str]:
        return [name for name, value in values.items() if getattr(existing, name) != value]

    def write(self, batch: list[tuple[Record, Values, Any]], ctx: Context) -> list[Any]:
        """Create the new records and update the changed ones of `batch`; returns the created
        objects in the order of the batch."""
        created = [self.model(**values) for _, values, existing in batch if existing is None]
        updated: list[Any] = []
        fields: set[str] = set()
        for _, values, existing in batch:
            if existing is None:
                continue
            changed = self.changed_fields(existing, values)
            if changed:
                for name in changed:
                    setattr(existing, name, values[name])
                fields.update(changed)
                updated.append(existing)
        if created:
            self.model.objects.bulk_create(created, batch_size=1000)  # type: ignore[attr-defined]
        if updated:
            self.model.objects.bulk_update(  # type: ignore[attr-defined]
                updated, sorted(fields), batch_size=500)
        self.after_write(batch, created, ctx)
        return created

    def after_write(self, batch: list[tuple[Record, Values, Any]], created: list[Any],
                    ctx: Context) -> None:
        for obj in created:
            if hasattr(obj, "external_id"):
                ctx.references.remember(self.name, obj.external_id, obj.pk)


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
        FieldSpec("modified_at", "Last modified (time of the stage change)", "datetime"),
    )
    required = (("external_id",), ("name",), ("stage",), ("close_date",))
    ref_kinds = {"account": "account", "owner": "person", "stage": "stage"}

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
        rows = Opportunity.objects.filter(external_id__in=[k for k in keys if k]).annotate(
            latest_change=Max("stage_changes__changed_at"))
        return {row.external_id: row for row in rows}

    def is_older(self, record: Record, existing: Any) -> bool:
        """A row of an export taken before the stored record's last stage change."""
        modified = record.values.get("modified_at")
        latest = getattr(existing, "latest_change", None)
        return bool(modified and latest and modified < latest)

    def model_values(self, record: Record, ctx: Context, existing: Any) -> Values:
        values: Values = {}
        for name in ("external_id", "name", "source", "region", "loss_reason", "close_date"):
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
        for name in ("account", "owner"):
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
            StageChange(opportunity_id=opp.pk, from_stage=None, to_stage_id=opp.stage_id,
                        changed_at=opp.created_at, amount=opp.amount, close_date=opp.close_date)
            for opp in created
        ]
        for opp_id, before, after, record in moves:
            at = record.values.get("modified_at") or ctx.exported_at
            values = next(v for r, v, _ in batch if r is record)
            changes.append(StageChange(opportunity_id=opp_id, from_stage_id=before,
                                       to_stage_id=after, changed_at=at,
                                       amount=values.get("amount"),
                                       close_date=values.get("close_date")))
        if changes:
            StageChange.objects.bulk_create(changes, batch_size=1000)
            ctx.count("stage_change", "created", len(changes))
        return created

    def changed_fields(self, existing: Any, values: Values) -> list[str]:
        return [name for name, value in values.items() if name != "modified_at"
                and getattr(existing, name) != value]


class StageHistoryEntity(Entity):
    """Salesforce OpportunityHistory / field history: one stage entry per row, keyed by
    (opportunity, time); `from_stage` is re-chained in time order per opportunity."""

    name, label, plural = "stage_change", "Stage change", "stage changes"
    model = StageChange
    fields = (
        FieldSpec("opportunity", "Opportunity id", "ref", required=True, ref="opportunity"),
        FieldSpec("stage", "Stage (to)", "ref", required=True, ref="stage"),
        FieldSpec("changed_at", "Changed at", "datetime", required=True),
        FieldSpec("amount", "Amount", "money"),
        FieldSpec("close_date", "Close date", "date"),
    )
    required = (("opportunity",), ("stage",), ("changed_at",))
    key_fields = ("opportunity", "changed_at")
    ref_kinds = {"opportunity": "opportunity", "stage": "stage"}

    def key(self, values: Values) -> Any:
        """One stage change per opportunity and instant: a history row at the time of the
        entry an opportunity import made (its creation) replaces that entry's stage."""
        return (str(values.get("opportunity") or ""), values.get("changed_at"))

    def lookup(self, keys: Sequence[Any]) -> dict[Any, Any]:
        opp_ids = {k[0] for k in keys}
        ids = dict(Opportunity.objects.filter(external_id__in=opp_ids).values_list(
            "pk", "external_id"))
        found: dict[Any, Any] = {}
        for change in StageChange.objects.filter(opportunity_id__in=ids):
            found[(ids[change.opportunity_id], change.changed_at)] = change
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
        """Set each change's `from_stage` to the stage before it, in time order."""
        ids = sorted(set(opportunity_ids))
        for chunk in _chunks(ids, 500):
            fixed = []
            previous: dict[int, int | None] = {}
            for change in StageChange.objects.filter(opportunity_id__in=chunk).order_by(
                    "opportunity_id", "changed_at", "id"):
                before = previous.get(change.opportunity_id)
                if change.from_stage_id != before:
                    change.from_stage_id = before
                    fixed.append(change)
                previous[change.opportunity_id] = change.to_stage_id
            StageChange.objects.bulk_update(fixed, ["from_stage"], batch_size=500)


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

    def prepare_batch(self, records: Sequence[Record], ctx: Context) -> None:
        if any("owner" in r.ids for r in records):
            return
        ctx.prefetch_owners(r.ids.get("opportunity") for r in records)

    def model_values(self, record: Record, ctx: Context, existing: Any) -> Values:
        values: Values = {"external_id": record.values["external_id"]}
        _set(values, record, "booked_on")
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


class QuotaEntity(Entity):
    """Quotas of a person or a team for the fiscal period of `period_kind` containing
    `period` (any day of it; its first day is clearest)."""

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
    )
    required = (("period",), ("amount",), ("person",), ("team",))
    key_fields = ("person", "team", "period_kind", "period")
    ref_kinds = {"person": "person", "team": "team"}

    def prepare(self, record: Record, ctx: Context) -> None:
        has_person, has_team = bool(record.values.get("person")), bool(record.values.get("team"))
        if has_person == has_team:
            ctx.error(record, "person", "a quota belongs to exactly one person or one team")
        amount, _ = _money(record, "amount")
        if amount is None:
            ctx.error(record, "amount", "an amount is required")
        elif amount < 0:
            ctx.error(record, "amount", "negative amount; a quota must be 0 or more")
        kind = record.values.get("period_kind") or PeriodKind.QUARTER
        record.values["period_kind"] = kind
        if record.values.get("period"):
            span = ctx.calendar.span(kind, record.values["period"])
            record.values["period"] = span.start
            record.values["period_end"] = span.end

    def key(self, values: Values) -> Any:
        return (str(values.get("person") or "").lower(), str(values.get("team") or "").lower(),
                values.get("period_kind"), values.get("period"))

    def lookup(self, keys: Sequence[Any]) -> dict[Any, Any]:
        found: dict[Any, Any] = {}
        starts = {k[3] for k in keys if k[3]}
        rows = Quota.objects.filter(period__start__in=starts, kind=Quota.Kind.BOOKINGS
                                    ).select_related("person", "team", "period")
        wanted = set(keys)
        for quota in rows:
            person_keys = ([quota.person.external_id, quota.person.email, quota.person.name]
                           if quota.person else [""])
            team_key = quota.team.name if quota.team else ""
            for person_key in person_keys:
                key = ((person_key or "").lower(), team_key.lower(), quota.period.kind,
                       quota.period.start)
                if key in wanted:
                    found[key] = quota
        return found

    def model_values(self, record: Record, ctx: Context, existing: Any) -> Values:
        amount, currency = _money(record, "amount")
        values: Values = {
            "person_id": record.ids.get("person"), "team_id": record.ids.get("team"),
            "kind": Quota.Kind.BOOKINGS,
            "amount": round_money(amount) if amount is not None else None,
            "currency": record.values.get("currency") or currency or ctx.currency,
        }
        if existing is not None:
            values["period_id"] = existing.period_id
        else:
            values["period_id"] = ctx.period_id(record.values["period_kind"],
                                                record.values["period"],
                                                record.values["period_end"])
        return values


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
    LeadEntity(), OpportunityEntity(), StageHistoryEntity(), BookingEntity(), QuotaEntity(),
    ExchangeRateEntity(),
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
