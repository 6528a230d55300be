"""FastSelect writes the markup Django's own Select renders (whitespace between tags aside); the
options tag writes a list of objects as options."""

import re

import pytest
from django import forms

from attain.web.forms import FastSelect

CHOICES = [("", "Everyone"), (1, "Ann & Bob <Team>"), (2, 'Cat "the closer"'), (30, "Dan")]


def tags(markup: str) -> str:
    return re.sub(r">\s+<", "><", str(markup).strip())


@pytest.mark.parametrize("value", [None, "", 2, "2", 30])
def test_fast_select_renders_what_django_renders(value):
    attrs = {"id": "id_owner", "required": True, "class": "filter"}
    django_html = forms.Select(choices=CHOICES).render("owner", value, attrs)
    fast_html = FastSelect(choices=CHOICES).render("owner", value, attrs)

    assert tags(fast_html) == tags(django_html)
    assert fast_html.count(" selected") == 1  # the empty choice when nothing is chosen


def test_a_form_field_with_fast_select_keeps_its_bound_value():
    class Form(forms.Form):
        owner = forms.TypedChoiceField(choices=CHOICES, coerce=int, required=False,
                                       widget=FastSelect)

    markup = str(Form({"owner": "30"})["owner"])

    assert '<option value="30" selected>Dan</option>' in markup
    assert '<option value="1">Ann &amp; Bob &lt;Team&gt;</option>' in markup
    assert markup.startswith('<select name="owner" id="id_owner">')


def test_the_options_tag_writes_one_option_per_pair_with_the_chosen_one_selected():
    """(id, name) pairs in, the chosen object's id selected; names escaped ("East & <North>"
    by hand: &amp; &lt; &gt;), text already marked safe left as it is."""
    from django.template import Context, Template
    from django.utils.safestring import mark_safe

    class Team:
        pk = 2

    teams = [(1, "East & <North>"), (2, "West"), (3, mark_safe("<b>South</b>"))]
    template = Template("{% load figures %}{% options teams team %}")

    assert template.render(Context({"teams": teams, "team": Team()})) == (
        '<option value="1">East &amp; &lt;North&gt;</option>'
        '<option value="2" selected>West</option>'
        '<option value="3"><b>South</b></option>')
    assert " selected" not in template.render(Context({"teams": teams, "team": None}))
