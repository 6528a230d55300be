"""Shared fixtures. With CI=true the PostgreSQL, browser and Spark lanes must run, never skip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip a test whose resource is missing locally; fail it in CI, where the lane is required."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def shared_dataset(*parts: str) -> Path:
    """A file of the shared public datasets (`../shared/datasets/` beside the checkout).

    Looked for in `$ATTAIN_SHARED_DATASETS`, then beside this checkout, then at
    /work/shared/datasets (where the datasets live on the project's machines), so a clone made
    elsewhere (CI's clean checkout) still finds them. Returns the first path that exists, else the
    one beside the checkout (for the error message).
    """
    beside = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    roots = [Path(os.environ["ATTAIN_SHARED_DATASETS"])] if os.environ.get(
        "ATTAIN_SHARED_DATASETS") else []
    roots += [beside, Path("/work/shared/datasets")]
    for root in roots:
        if root.joinpath(*parts).exists():
            return root.joinpath(*parts)
    return beside.joinpath(*parts)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Real password hashing costs ~0.3 s a login; tests need logins, not hashing strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
