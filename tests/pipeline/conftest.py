import pytest

from attain.pipeline.engine_io import run_pipeline_analytics
from tests.pipeline.org import build_pipeline_org


@pytest.fixture
def org(db):
    return build_pipeline_org()


@pytest.fixture
def run(org):
    """A real pipeline analytics run of the org on DuckDB."""
    result = run_pipeline_analytics(backend="duckdb")
    assert result.status == "succeeded", result.error
    return result


@pytest.fixture
def client_for(client):
    def sign_in(person):
        client.force_login(person.user)
        return client

    return sign_in
