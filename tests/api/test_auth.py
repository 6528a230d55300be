"""Token and session authentication of /api/v1."""

from datetime import timedelta

from django.utils import timezone

from attain.people.models import ApiToken


def test_valid_token_is_accepted(api):
    response = api.get("a", "/people", as_of="2026-08-01")

    assert response.status_code == 200
    assert [p["name"] for p in response.json()["items"]] == ["a"]


def test_missing_token_is_401_json(api):
    response = api.get(None, "/people")

    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_unknown_token_is_401(client, org):
    response = client.get("/api/v1/people", headers={"Authorization": "Bearer not-a-token"})

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or revoked API token."}


def test_deleted_token_is_401(api, org):
    ApiToken.objects.filter(user=org["a"].user).delete()

    assert api.get("a", "/people").status_code == 401


def test_token_of_deactivated_login_is_401(api, org):
    org["a"].user.is_active = False
    org["a"].user.save()

    assert api.get("a", "/people").status_code == 401


def test_unknown_token_does_not_fall_back_to_the_session(client, org):
    client.force_login(org["ops"].user)

    response = client.get("/api/v1/people", headers={"Authorization": "Bearer wrong"})

    assert response.status_code == 401


def test_only_the_hash_is_stored_and_use_is_noted(api, org, tokens):
    token = ApiToken.objects.get(user=org["a"].user)
    assert tokens["a"] not in (token.key_hash, token.key_prefix)
    assert token.last_used_at is None

    api.get("a", "/people")

    token.refresh_from_db()
    assert token.last_used_at is not None


def test_last_used_is_written_at_most_once_a_minute(api, org):
    recently = timezone.now() - timedelta(seconds=30)
    ApiToken.objects.filter(user=org["a"].user).update(last_used_at=recently)

    api.get("a", "/people")

    assert ApiToken.objects.get(user=org["a"].user).last_used_at == recently


def test_last_used_is_refreshed_after_a_minute(api, org):
    long_ago = timezone.now() - timedelta(minutes=5)
    ApiToken.objects.filter(user=org["a"].user).update(last_used_at=long_ago)

    api.get("a", "/people")

    assert ApiToken.objects.get(user=org["a"].user).last_used_at > long_ago


def test_session_login_works_for_browser_use(client, org):
    client.force_login(org["a"].user)

    response = client.get("/api/v1/people", {"as_of": "2026-08-01"})

    assert response.status_code == 200
    assert [p["name"] for p in response.json()["items"]] == ["a"]


def test_session_without_login_is_401(client, org):
    assert client.get("/api/v1/opportunities").status_code == 401
