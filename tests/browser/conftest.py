"""Browser tests: kb served by uvicorn on a free port (SQLite, the sample content of `kb demo`), driven by
Playwright in Debian's chromium (never a downloaded browser). `.ci/run` and `make test` install chromium
with apt-get when it is missing; without it these tests are skipped with the reason.

Screenshots of every page at desktop and 360 px widths go to build/screenshots/ (see README).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import free_port

CHROMIUM = os.environ.get("KB_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
LIVE: dict[str, object] = {}
"""The live server's ``database`` and ``settings`` (set by ``live_server``): for a test that must do what no
surface offers, such as the bootstrap of a second admin (tests/browser/test_journeys.py)."""

if not Path(CHROMIUM).exists():
    pytest.skip(f"chromium not found at {CHROMIUM}: run `apt-get install chromium` (make test does it when it can)",
                allow_module_level=True)
try:
    import playwright.sync_api  # noqa: F401
except ImportError:  # pragma: no cover - playwright is a dev dependency
    pytest.skip("playwright is not installed: pip install -e '.[dev]'", allow_module_level=True)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """kb with the demo content, served in a thread of this process; yields its base URL."""
    import uvicorn

    from kb.app import create_app
    from kb.config import Environment, Settings
    from kb.db import Database
    from kb.fixtures import load_demo
    from kb.migrations import upgrade
    from kb.search.indexer import SearchIndexes

    data_dir = tmp_path_factory.mktemp("kb-browser")
    # Generous public rate limit: the tests search many times from one address.
    # Generous login limits too: every test signs in afresh from 127.0.0.1 (the limits are tested in tests/).
    # No notification worker in the server (KB_NOTIFY_POLL_SECONDS=0): the in-app inbox is written in each event's
    # transaction all the same, but the daily reminders would land at a moment of their own in the inboxes whose
    # unread counts test_journeys.py checks step by step.
    port = free_port()  # KB_BASE_URL is the live server's own: links people share start with it
    settings = Settings(data_dir=data_dir, env=Environment.test, rate_limit_public_search="1000/minute",
                        rate_limit_login="1000/minute", rate_limit_login_ip="1000/minute", notify_poll_seconds=0,
                        base_url=f"http://127.0.0.1:{port}")
    database = Database(settings)
    upgrade(database)
    load_demo(database)
    indexes = SearchIndexes(settings)
    with database.session() as session:
        indexes.rebuild(session)
    app = create_app(settings, database=database, search=indexes)
    LIVE.update(database=database, settings=settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("kb did not start for the browser tests")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    database.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def context(browser):  # noqa: ANN001, ANN201
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context
    context.close()


@pytest.fixture
def page(context):  # noqa: ANN001, ANN201
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


def sign_in(page, base: str, username: str) -> None:  # noqa: ANN001
    page.goto(f"{base}/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(f"{username}-demo-2026")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def axe_violations(page) -> list[dict]:  # noqa: ANN001
    """Serious and critical axe-core violations of the current page (axe evaluated over DevTools, so the CSP holds)."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result if v["impact"] in ("serious", "critical")]

