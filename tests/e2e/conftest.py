"""Fixtures shared by the end-to-end tests (real processes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import create_postgres_database, drop_postgres_database
from tests.e2e.test_serve_api import BACKENDS


@pytest.fixture(params=BACKENDS)
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own for one test's processes: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'leadvane.db'}"
        return
    url = create_postgres_database("leadvane_e2e")
    yield url
    drop_postgres_database(url)
