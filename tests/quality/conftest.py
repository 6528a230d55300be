"""Fixtures of the data-quality tests: the engine's `backend` (DuckDB, Spark), signed-in clients."""

import pytest

from tests.engine.conftest import backend, spark_problem  # noqa: F401  (fixtures)


@pytest.fixture
def client_for(client):
    """`client_for(person)`: the test client signed in as that person's login."""

    def sign_in(person):
        client.force_login(person.user)
        return client

    return sign_in
