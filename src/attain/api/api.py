"""The REST API at /api/v1/: assembles each app's router, sets authentication and error shapes.

Endpoints live in their apps (`people/api.py`, `crm/api.py`, `performance/api.py`, `core/api.py`);
this module only puts them together. OpenAPI schema at /api/v1/openapi.json, docs at /api/v1/docs.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError, ValidationErrorContext

from attain.api.auth import SessionAuth, TokenAuth
from attain.compensation.api import router as compensation_router
from attain.core import api as core_api
from attain.crm.api import router as crm_router
from attain.forecasting.api import router as forecasting_router
from attain.ingest.api import router as ingest_router
from attain.people.api import router as people_router
from attain.people.queries import sees_whole_company
from attain.performance.api import router as performance_router
from attain.pipeline.api import router as pipeline_router

DESCRIPTION = """Read access to Attain's records with the same visibility as the pages.

* **Authentication**: `Authorization: Bearer <token>` (create one with
  `attain apitoken USERNAME --name NAME`), or the browser session when signed in.
* **Visibility** follows the reporting hierarchy on `as_of` (default today). A record you may not
  see answers 404, exactly like one that does not exist.
* **Money** is a string decimal plus a currency field (`"amount": "1200.50", "currency": "EUR"`).
* **Lists** take `limit` (default 100, at most 1000) and `offset` and answer `{items, count}`.
  Date ranges are half-open: `_from` included, `_to` excluded.
"""

_SCALARS = (str, int, float, bool, type(None))


class AttainAPI(NinjaAPI):
    """NinjaAPI whose 422 answers name the parameter and the value that was refused."""

    def validation_error_from_error_contexts(
        self, error_contexts: list[ValidationErrorContext[Any]]
    ) -> ValidationError:
        errors: list[dict[str, Any]] = []
        for context in error_contexts:
            model = context.model
            for error in context.pydantic_validation_error.errors(include_url=False):
                where = model.__ninja_flatten_map_reverse__.get(error["loc"], error["loc"])
                loc = (model.__ninja_param_source__, *where)
                param = ".".join(str(part) for part in loc[1:]) or str(loc[0])
                entry: dict[str, Any] = {"loc": list(loc), "type": error["type"],
                                         "msg": error["msg"], "param": param}
                if error["type"] == "missing":
                    entry["message"] = f"{param}: a value is required."
                else:
                    value = error.get("input")
                    entry["value"] = value if isinstance(value, _SCALARS) else str(value)
                    entry["message"] = f"{param}={value!r} is not accepted: {error['msg']}."
                errors.append(entry)
        return ValidationError(errors)


api = AttainAPI(
    urls_namespace="api",
    version="1",
    title="Attain API",
    description=DESCRIPTION,
    docs_url="/docs",
    auth=[TokenAuth(), SessionAuth()],
)


@api.exception_handler(AuthenticationError)
def unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = api.create_response(request, {"detail": exc.message}, status=exc.status_code)
    response["WWW-Authenticate"] = 'Bearer realm="attain"'
    return response


api.add_router("", people_router)
api.add_router("", crm_router)
api.add_router("", performance_router)
api.add_router("", pipeline_router)
api.add_router("", ingest_router)
api.add_router("", forecasting_router)
api.add_router("", compensation_router)
api.add_router("", core_api.build_router(may_read_runs=sees_whole_company))
