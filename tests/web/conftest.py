import pytest

from tests.web.org import build_org


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def org(db):
    return build_org()


@pytest.fixture
def client_for(client):
    """`client_for(person)`: the test client signed in as that person's login."""

    def sign_in(person):
        client.force_login(person.user)
        return client

    return sign_in
