"""Leadvane in one process: the dashboard, the REST API under /api and the scheduler.

    streamlit run app.py          (or: python app.py)

Streamlit 1.67 serves this st.App with its own uvicorn server. The FastAPI app is mounted at /api of the same
server (http://localhost:8501/api/v1/..., docs at /api/docs). The lifespan runs once per process: it migrates the
database, creates the first Owner on a fresh install, builds the API and starts the scheduler; reruns and extra
browser tabs start nothing. `python manage.py serve-api` still runs the API on its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import streamlit as st
from starlette.responses import JSONResponse
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from settings import ROOT


class LazyApi:
    """The /api mount: a placeholder until the lifespan has built the FastAPI app (nothing is built on import)."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            if scope["type"] == "http":
                await JSONResponse({"error": {"code": "starting", "message": "starting", "request_id": ""}}, 503)(
                    scope, receive, send
                )
            return
        await self.app(scope, receive, send)


api = LazyApi()


def log_requests() -> None:
    """One line per API request (with its request_id) on the console, as serve-api does."""
    import logging

    logger = logging.getLogger("leadvane")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    import anyio

    from api.app import create_api
    from scheduler.runner import start_scheduler, stop_scheduler
    from settings import get_settings
    from ui.runtime import get_db, mark_started_by_lifespan

    log_requests()
    db = await anyio.to_thread.run_sync(get_db)  # migrate + first Owner, once per process
    api.app = create_api(db)
    mark_started_by_lifespan()
    scheduler = start_scheduler(db)
    port = st.get_option("server.port")
    print(f"Leadvane API: http://localhost:{port}/api (docs at http://localhost:{port}/api/docs)", flush=True)
    print(f"Leadvane database: {get_settings().database_url}", flush=True)
    try:
        # A mounted app's own lifespan is not run by Starlette: run the API's here, so its shutdown work (queued
        # request audit rows and usage counts written, the live stream's LISTEN thread stopped) happens here too.
        async with api.app.router.lifespan_context(api.app):
            yield
    finally:
        stop_scheduler(scheduler)


app = st.App(str(ROOT / "ui" / "main.py"), routes=[Mount("/api", app=api)], lifespan=lifespan)

if __name__ == "__main__":
    app.run()
