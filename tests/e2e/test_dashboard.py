"""The dashboard as a user sees it: the real app (`streamlit run app.py`) in headless Chromium.

Signs in, sees the top leads, opens a lead, changes a rule weight in the grid, and sees the lead's score
change. Saves screenshots of the main screens into test-artifacts/screenshots/ (ignored by git); to refresh the
README's images: LEADVANE_SCREENSHOTS=docs/screenshots ./run-tests tests/e2e/test_dashboard.py
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / os.environ.get("LEADVANE_SCREENSHOTS", "test-artifacts/screenshots")
CHROMIUM = Path("/usr/bin/chromium")
EMAIL, PASSWORD = "rev.ops@example.com", "e2e-password-123"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium "
                       "(apt-get install -y chromium)"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(database_url: str) -> tuple[str, int, int]:
    """Migrate, seed the demo, add a RevOps Owner; returns (top lead id, its score, grid row of page_visit)."""
    from db.engine import Database
    from db.migrate import upgrade
    from services.operations.demo import seed_demo
    from services.people import leads
    from services.scoring import rules
    from services.tenancy.tenants import DEFAULT_TENANT
    from services.tenancy.users import create_user

    upgrade(database_url)
    db = Database(database_url)
    now = datetime.now(UTC)
    with db.write() as session:
        seed_demo(session, DEFAULT_TENANT, now=now, leads=120)
        create_user(session, DEFAULT_TENANT, email=EMAIL, password=PASSWORD, role="Owner", name="Rita RevOps", now=now)
    with db.read() as session:
        top = leads.list_leads(session, DEFAULT_TENANT, limit=1).rows[0]
        primary = next(rs for rs in rules.list_rulesets(session, DEFAULT_TENANT) if rs.is_primary)
        grid = rules.list_rules(session, DEFAULT_TENANT, primary.id)
    db.dispose()
    row = next(i for i, r in enumerate(grid) if r.event_type == "page_visit" and not r.conditions)
    return top["id"], top["score"], row


@contextmanager
def streamlit_app(database_url: str, data_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """`streamlit run app.py` on loopback over `database_url` until the block ends; yields its base address once
    the API answers /api/healthz (the log is in data_dir/streamlit.log). It knows its own address
    (LEADVANE_PUBLIC_URL), for links and OAuth redirects."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": database_url, "LEADVANE_DATA_DIR": str(data_dir),
           "LEADVANE_PUBLIC_URL": base, **(extra_env or {})}
    log = (data_dir / "streamlit.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         "--server.address", "127.0.0.1"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise AssertionError("streamlit exited: " + (data_dir / "streamlit.log").read_text())
            try:
                if requests.get(f"{base}/api/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or busy starting
                pass
            if time.monotonic() > deadline:
                raise AssertionError("the app did not answer /api/healthz within 90 s")
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@contextmanager
def seeded_app(
    tmp_path: Path, prepare: Callable[[str, str], dict[str, Any]] | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[dict[str, Any]]:
    """The app on loopback over a fresh SQLite file with the demo and the seeded Owner (skipped without Chromium):
    {base, email, password, database_url, lead_id (the top lead), tmp, **what `prepare(database_url, lead_id)`
    returns} (`prepare` runs before the app starts)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium")
    database_url = f"sqlite:///{tmp_path / 'leadvane.db'}"
    lead_id, _score, _row = seed(database_url)
    extra = prepare(database_url, lead_id) if prepare else {}
    with streamlit_app(database_url, tmp_path, extra_env) as base:
        yield {"base": base, "email": EMAIL, "password": PASSWORD, "database_url": database_url,
               "lead_id": lead_id, "tmp": tmp_path, **extra}


@contextmanager
def signed_in_page(base: str, path: str, heading: str, **page_options: Any) -> Iterator[Any]:
    """Headless Chromium on `base`/`path`, signed in as the seeded Owner, once the page's `heading` shows (the
    pages' browser tests share it)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(**{"viewport": {"width": 1400, "height": 1200}, **page_options})
            page.set_default_timeout(60_000)
            page.goto(f"{base}/{path}")
            page.get_by_role("textbox", name="Email").fill(EMAIL)
            page.get_by_role("textbox", name="Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name=heading).first).to_be_visible()
            yield page
        finally:
            browser.close()


def choose(page: Any, combobox: Any, option: str) -> None:
    """Pick `option` in a Streamlit selectbox by clicking it in the open list. (Typing it and pressing Enter can
    leave only typed text behind when the filtered list has not rendered yet on a loaded machine.)"""
    from playwright.sync_api import expect

    combobox.click()
    combobox.fill(option)
    choice = page.get_by_role("option", name=option, exact=True)
    expect(choice).to_be_visible()
    choice.click()


@pytest.fixture
def running_app(tmp_path: Path) -> Iterator[tuple[str, str, int, int]]:
    database_url = f"sqlite:///{tmp_path / 'leadvane.db'}"
    lead_id, score, row = seed(database_url)
    with streamlit_app(database_url, tmp_path) as base:
        yield base, lead_id, score, row


def test_sign_in_see_top_leads_open_one_change_a_rule_and_see_the_score_move(running_app) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect, sync_playwright

    base, lead_id, score_before, row = running_app
    expect.set_options(timeout=30_000)  # a shared CI machine can be slow to rerun a page
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.set_default_timeout(60_000)

        page.goto(base)
        page.get_by_role("textbox", name="Email").fill(EMAIL)
        page.get_by_role("textbox", name="Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Leads").first).to_be_visible()
        expect(page.get_by_text("120 in total")).to_be_visible()
        # the "why hot" hint (grid cells live in the canvas grid's accessible table: attached, not "visible")
        expect(page.get_by_text(re.compile(r"in 7d · mostly ")).first).to_be_attached()
        page.wait_for_timeout(1500)
        page.screenshot(path=str(SHOTS / "leads.png"))

        page.goto(f"{base}/lead?lead={lead_id}")
        expect(page.get_by_text("Why this score")).to_be_visible()
        score_metric = page.get_by_test_id("stMetricValue").first
        expect(score_metric).to_have_text(str(score_before))
        page.wait_for_timeout(1500)
        page.screenshot(path=str(SHOTS / "lead_detail.png"), full_page=True)

        page.goto(f"{base}/rules")
        expect(page.get_by_role("heading", name="Scoring rules").first).to_be_visible()
        canvas = page.get_by_test_id("data-grid-canvas").first
        expect(canvas).to_be_visible()
        page.wait_for_timeout(1500)  # let the grid settle after the page's first reruns
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        assert box is not None and box["height"] >= 35 * (row + 2), "the grid should show every rule"
        y = box["y"] + 35 + 35 * row + 17  # the page_visit rule's row: 35 px header, 35 px rows
        editor = page.locator("input.gdg-input[inputmode=numeric]")
        for dx in range(150, 330, 15):  # find the Weight column (after "Event type", whose width varies)
            page.mouse.click(box["x"] + dx, y)
            page.keyboard.press("Enter")  # opens the selected cell's editor
            page.wait_for_timeout(250)
            if editor.count():
                break
            page.keyboard.press("Escape")
        expect(editor).to_be_focused()
        editor.fill("50")
        page.keyboard.press("Enter")  # commit
        page.wait_for_timeout(800)
        page.screenshot(path=str(SHOTS / "rules.png"))
        # The edit is a draft: preview its impact, then publish it as one version.
        expect(page.get_by_text(re.compile("unpublished changes"))).to_be_visible()
        page.get_by_role("button", name="Preview impact").click()
        expect(page.get_by_text(re.compile("Impact of the draft"))).to_be_visible()
        page.wait_for_timeout(1500)
        # The page scrolls inside Streamlit's own container: bring the preview into the shot.
        page.get_by_text(re.compile("Impact of the draft")).scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "rules_preview.png"))
        page.get_by_role("button", name="Publish", exact=True).click()
        expect(page.get_by_text(re.compile(r"Published version \d+; scores recomputed"))).to_be_visible()
        expect(page.get_by_text(re.compile(r"leads? changed level|No lead changed level"))).to_be_visible()

        page.goto(f"{base}/lead?lead={lead_id}")
        expect(page.get_by_text("Why this score")).to_be_visible()
        score_metric = page.get_by_test_id("stMetricValue").first
        expect(score_metric).not_to_have_text(str(score_before))
        assert int(score_metric.inner_text()) > score_before

        for path, name in (("analytics", "analytics.png"), ("levels", "levels.png"), ("accounts", "accounts.png")):
            page.goto(f"{base}/{path}")
            expect(page.get_by_test_id("stMainBlockContainer")).to_be_visible()
            page.wait_for_timeout(2500)
            page.screenshot(path=str(SHOTS / name), full_page=True)

        # The deep link /leads works, and survives the sign-in: a new browser (no cookie) lands on it after login.
        fresh = browser.new_page(viewport={"width": 1400, "height": 1200})
        fresh.goto(f"{base}/leads")
        fresh.get_by_role("textbox", name="Email").fill(EMAIL)
        fresh.get_by_role("textbox", name="Password").fill(PASSWORD)
        fresh.get_by_role("button", name="Sign in").click()
        expect(fresh.get_by_text("120 in total")).to_be_visible()
        assert fresh.url.rstrip("/").endswith("/leads")
        expect(fresh.get_by_text(re.compile("Page not found", re.I))).to_have_count(0)
        browser.close()
