"""`attain apitoken USERNAME --name NAME` prints a working token once."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from attain.core.models import AuditEvent
from attain.people.models import ApiToken


def test_command_prints_a_token_that_authenticates(client, org):
    out = StringIO()

    call_command("apitoken", "a", "--name", "laptop", stdout=out, stderr=StringIO())

    token = out.getvalue().strip()
    stored = ApiToken.objects.get(name="laptop")
    assert stored.user == org["a"].user and stored.key_prefix == token[:8]
    assert AuditEvent.objects.filter(action="issue_api_token").count() == 1
    response = client.get("/api/v1/people", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_command_refuses_an_unknown_login(db):
    with pytest.raises(CommandError, match="No login named 'nobody'"):
        call_command("apitoken", "nobody", "--name", "x")
