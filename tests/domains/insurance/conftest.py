"""Insurance tests run under Kazakhstan's pack (contributory) unless a test says UZ."""

from __future__ import annotations

import pytest

from salomat.core.config import get_settings


@pytest.fixture
def kz(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SALOMAT_COUNTRY", "KZ")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


# ---- claims (slice C): providers, people with national ids, a month of their own ----
from tests.domains.insurance.claim_fixtures import (  # noqa: E402, F401
    fresh_month,
    make_insuree,
    make_provider,
    reviewer,
)
