"""The interactive docs work without internet: every asset /docs and /redoc load is served by Leadvane itself.

Checked both on the API alone (serve-api: /docs) and mounted under /api as the dashboard process serves it
(/api/docs), through a Starlette Mount like app.py's.
"""

from __future__ import annotations

import logging
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.routing import Mount

from db.engine import Database

_ASSET = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


def _references(html: str) -> list[str]:
    return [a or b for a, b in _ASSET.findall(html)]


@pytest.fixture(params=["", "/api"], ids=["serve-api", "mounted-at-api"])
def client(request: pytest.FixtureRequest, api_app: FastAPI) -> tuple[TestClient, str]:
    prefix: str = request.param
    app = Starlette(routes=[Mount(prefix, app=api_app)]) if prefix else api_app
    return TestClient(app), prefix


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_local_assets(client: tuple[TestClient, str], page: str, db: Database) -> None:
    http, prefix = client
    response = http.get(prefix + page)
    assert response.status_code == 200
    html = response.text
    # No CDN (cdn.jsdelivr.net, unpkg, fonts.googleapis.com, ...): nothing outside this server is referenced.
    assert not re.search(r"https?://", html), html
    references = _references(html)
    assert any(ref.endswith(".js") for ref in references), references
    for ref in references:
        assert ref.startswith(prefix + "/"), ref  # under the mount, so it resolves on this server
        asset = http.get(ref)
        assert asset.status_code == 200, ref
        assert len(asset.content) > 0
    assert f"{prefix}/openapi.json" in references
    assert http.get(f"{prefix}/openapi.json").json()["info"]["title"] == "Leadvane API"


def test_every_request_is_logged_with_its_request_id(
    api_app: FastAPI, caplog: pytest.LogCaptureFixture, db: Database
) -> None:
    http = TestClient(api_app)
    with caplog.at_level(logging.INFO, logger="leadvane.requests"):
        response = http.get("/healthz")
        missing = http.get("/v1/leads", headers={"Authorization": "Bearer nope"})
    lines = [r.getMessage() for r in caplog.records if r.name == "leadvane.requests"]
    rid = response.headers["x-request-id"]
    assert any(line.startswith(f"{rid} GET /healthz 200 ") and line.endswith("ms") for line in lines), lines
    assert any(line.startswith(f"{missing.headers['x-request-id']} GET /v1/leads 401 ") for line in lines), lines
