"""Filter forms of the list pages: they parse and validate the query string of a page."""

from __future__ import annotations

from datetime import date
from html import escape as html_escape
from typing import Any

from django import forms
from django.db.models import Q
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from attain.crm.models import Stage
from attain.people.models import Person, Role

STATUS_CHOICES = [("", "Any status"), ("open", "Open"), ("closed", "Closed"), ("won", "Won"),
                  ("lost", "Lost")]
STATUS_FILTERS: dict[str, dict[str, bool]] = {
    "open": {"is_closed": False}, "closed": {"is_closed": True},
    "won": {"is_won": True}, "lost": {"is_closed": True, "is_won": False},
}


class DateInput(forms.DateInput):
    input_type = "date"


def _escaped(value: Any) -> str:
    """Django's `conditional_escape` (safe text as it is, the rest through `html.escape`)
    without its per-call lazy wrapping: a thousand options took 10 ms."""
    return value.__html__() if hasattr(value, "__html__") else html_escape(str(value))


def option_tags(choices: Any, chosen: set[str]) -> str:
    """`<option>`s of (value, label) pairs, those whose value is in `chosen` selected."""
    return mark_safe("".join(
        f'<option value="{_escaped(key)}"{" selected" if str(key) in chosen else ""}>'
        f"{_escaped(label)}</option>" for key, label in choices))


class FastSelect(forms.Select):
    """A <select> written out in Python. Django renders every option through a template (about
    0.1 ms each): a filter offering a large company's thousand teams or managers took a
    dashboard most of its time. Same markup for flat choices; option groups are not supported."""

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None,
               renderer: Any = None) -> str:
        options = option_tags(self.choices, {str(v) for v in self.format_value(value)})
        extra = mark_safe("".join(  # each piece escaped by format_html
            format_html(" {}", key) if value is True else format_html(' {}="{}"', key, value)
            for key, value in self.build_attrs(self.attrs, attrs).items()
            if value is not False and value is not None))
        return format_html("<select name=\"{}\"{}>{}</select>", name, extra, options)


# At most this many people in a person filter: past it (a company of thousands of reps, a list
# nobody scrolls) the filter offers the managers and the person asked for, and a rep is reached
# through their team, their manager or the links on every figure.
PERSON_CHOICES = 300


class _OwnerFilterForm(forms.Form):
    owner = forms.ModelChoiceField(queryset=Person.objects.none(), required=False,
                                   empty_label="Everyone I can see", widget=FastSelect)

    def __init__(self, data: Any, *, user: Any, as_of: date) -> None:
        super().__init__(data)
        owner = self.fields["owner"]
        assert isinstance(owner, forms.ModelChoiceField)
        people = Person.objects.visible_to(user, as_of)
        if people.count() > PERSON_CHOICES:
            asked = str((data or {}).get("owner", ""))
            people = people.filter(Q(role=Role.MANAGER)
                                   | Q(pk=int(asked) if asked.isdigit() else None))
            owner.help_text = "Managers only: open a rep's deals from their figures."
        owner.queryset = people.order_by("name")

    def owner_id(self) -> int | None:
        owner = self.cleaned_data.get("owner")
        return owner.pk if owner is not None else None


class OpportunityFilters(_OwnerFilterForm):
    """`?owner=&stage=&status=&close_from=&close_to=&q=`; `close_to` is excluded. Drill-downs
    from pipeline analytics also pass `team=`/`manager=` (owners in that team or subtree today),
    `segment=`, `source=` and `created_from=`/`created_to=` (creation days, `_to` excluded)."""

    stage = forms.ChoiceField(required=False)
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)
    close_from = forms.DateField(required=False, widget=DateInput, label="Close from")
    close_to = forms.DateField(required=False, widget=DateInput, label="Close before")
    q = forms.CharField(required=False, label="Name contains")
    created_from = forms.DateField(required=False, widget=DateInput, label="Created from")
    created_to = forms.DateField(required=False, widget=DateInput, label="Created before")
    segment = forms.CharField(required=False, max_length=8, widget=forms.HiddenInput)
    source = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
    team = forms.IntegerField(required=False, widget=forms.HiddenInput)
    manager = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, data: Any, *, user: Any, as_of: date) -> None:
        super().__init__(data, user=user, as_of=as_of)
        self.as_of = as_of
        names = Stage.objects.order_by("order", "name").values_list("name", flat=True)
        stage = self.fields["stage"]
        assert isinstance(stage, forms.ChoiceField)
        stage.choices = [("", "Any stage"), *((n, n) for n in dict.fromkeys(names))]

    def query_params(self) -> dict[str, Any]:
        """Keyword arguments for `crm.queries.opportunities`."""
        data = self.cleaned_data
        return {
            "owner_id": self.owner_id(), "stage": data.get("stage") or None,
            **STATUS_FILTERS.get(data.get("status") or "", {}),
            "close_date_from": data.get("close_from"), "close_date_to": data.get("close_to"),
            "q": data.get("q") or None,
            "created_from": data.get("created_from"), "created_to": data.get("created_to"),
            "segment": data.get("segment") or None, "source": data.get("source") or None,
            "owner_ids": self._scope_owner_ids(),
        }

    def _scope_owner_ids(self) -> set[int] | None:
        """Owners in `team` (reporting lines today) or in `manager`'s subtree today."""
        from attain.people.visibility import lines_valid_on, subtree_ids

        team, manager = self.cleaned_data.get("team"), self.cleaned_data.get("manager")
        if team is not None:
            return set(lines_valid_on(self.as_of).filter(team_id=team)
                       .values_list("person_id", flat=True))
        if manager is not None:
            return subtree_ids(manager, self.as_of)
        return None


class BookingFilters(_OwnerFilterForm):
    """`?owner=&from=&to=&currency=`; `to` is excluded. A manager's roll-up links with
    `manager=`: the bookings credited to it (owner in the subtree on the booking day)."""

    currency = forms.CharField(required=False, max_length=3)
    manager = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, data: Any, *, user: Any, as_of: date) -> None:
        super().__init__(data, user=user, as_of=as_of)
        # "from" is a Python keyword: declare the date fields by name here.
        self.fields["from"] = forms.DateField(required=False, widget=DateInput,
                                              label="Booked from")
        self.fields["to"] = forms.DateField(required=False, widget=DateInput,
                                            label="Booked before")
        self.order_fields(["owner", "from", "to", "currency"])

    def query_params(self) -> dict[str, Any]:
        """Keyword arguments for `crm.queries.bookings`."""
        data = self.cleaned_data
        return {"owner_id": self.owner_id(), "booked_from": data.get("from"),
                "booked_to": data.get("to"), "currency": data.get("currency") or None,
                "manager_id": data.get("manager")}

