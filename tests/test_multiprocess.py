"""Two real ``kb serve`` processes on one database: what one approves the other finds, what one retires both drop.

Each process keeps indexes of its own (slot-0 and slot-1 of the same index directory) and catches up
from the audit log every ``KB_INDEX_CATCH_UP_SECONDS``. The test asserts that the change arrives, not
how fast: it polls until it does (``PATIENCE`` only stops a test that would otherwise hang). The lag
itself is a benchmark figure: docs/reliability.md (bench/multiprocess_lag.py).
"""

from __future__ import annotations

import time

import httpx
import pytest

from kb.search.indexer import SearchIndexes, slot_dirs, slot_in_use
from tests.factories import make_cast
from tests.processes import ServeProcess, kb_env

CATCH_UP_SECONDS = 0.5
PATIENCE = 300.0  # seconds: a hang guard, not a goal (a model load on a busy machine fits in it)


def found_in(server: ServeProcess, token: str, slug: str, query: str, timeout: float = 30) -> bool:
    response = httpx.get(f"{server.url}/api/v1/search", params={"q": query},
                         headers={"Authorization": f"Bearer {token}"}, timeout=timeout)
    response.raise_for_status()
    return any(hit["document"] == slug for hit in response.json()["data"])


def wait_until(condition, patience: float = PATIENCE) -> None:  # noqa: ANN001
    """Poll ``condition`` until it holds; fail only if it never does within ``patience`` (a hang)."""
    give_up = time.monotonic() + patience
    while not condition():
        if time.monotonic() > give_up:
            raise AssertionError(f"never happened (gave up after {patience} s)")
        time.sleep(0.05)


@pytest.mark.slow
def test_two_processes_share_one_database(settings, database, backend, tmp_path) -> None:  # noqa: ANN001
    if backend != "postgresql":
        pytest.skip("the multi-process set-up is one PostgreSQL (SQLite: bench/multiprocess_lag.py)")
    cast = make_cast(database)
    env = kb_env(settings, KB_INDEX_CATCH_UP_SECONDS=str(CATCH_UP_SECONDS))
    a = ServeProcess(env, tmp_path / "a.log")
    b = ServeProcess(env, tmp_path / "b.log")
    try:
        a.ready()
        b.ready()
        slots = slot_dirs(settings.index_root)
        assert [s.name for s in slots] == ["slot-0", "slot-1"] and all(slot_in_use(s) for s in slots)
        reader, writer, owner = (cast[k].token for k in ("reader", "contributor", "owner"))
        for server in (a, b):  # warm up: the model loads on the first query (slow on a busy machine)
            assert not found_in(server, reader, "housing", "rent support for tenants", timeout=300)

        def post(path: str, token: str, body: dict) -> None:
            response = httpx.post(f"{a.url}{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60)
            assert response.status_code in (200, 201), response.text

        post("/api/v1/spaces/benefits/documents", writer, {
            "slug": "housing", "title": "Housing allowance", "audience": "public", "intended_use": "Tests",
            "body_md": "# Housing allowance\n\nRent support for tenants with a low income."})
        post("/api/v1/documents/housing/versions/1/submit", writer, {})
        post("/api/v1/documents/housing/versions/1/approve", owner, {})
        # The approval returned before indexing (issue 19): a's worker, woken by the commit, indexes it;
        # b learns of it at its next catch-up.
        wait_until(lambda: found_in(a, reader, "housing", "rent support for tenants"))
        wait_until(lambda: found_in(b, reader, "housing", "rent support for tenants"))

        post("/api/v1/documents/housing/retire", owner, {"reason": "replaced"})
        assert not found_in(a, reader, "housing", "rent support for tenants")
        # Search re-checks every hit against the database, so b drops the retired document at once even
        # before its index has caught up: the retirement lag is measured on the indexes themselves.
        assert not found_in(b, reader, "housing", "rent support for tenants")

        def indexes_current() -> bool:
            with database.session() as session:
                drifts = [SearchIndexes(settings, slot=slot, claim=False).check(session) for slot in slots]
            return all(d.clean and d.last_seq == d.head_seq for d in drifts)

        wait_until(indexes_current)
    finally:
        a.stop()
        b.stop()
