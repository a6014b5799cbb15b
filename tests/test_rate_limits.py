"""Rate limits and the password-hash cap (RELIABILITY T9).

Each limit allows exactly L requests in its window, then answers 429 with ``Retry-After`` and the
one JSON error shape: in one process (in-memory counters), and across two processes that share
one Redis, where the combined allowed count must still be exactly L.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kb.app import create_app
from kb.ratelimit import HASH_SLOT_WAIT_SECONDS, HashGate
from kb.search.indexer import SearchIndexes
from tests.factories import make_cast, make_document, make_person
from tests.fakes import HashingEmbedder
from tests.ratelimit_worker import LIMITS, PASSWORD, limited_settings, outcome

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("KB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:  # noqa: BLE001 - any failure means: no Redis here
        return False


@pytest.fixture
def world(database):  # noqa: ANN001, ANN201
    """The people and the public document every limited request needs."""
    cast = make_cast(database)
    make_person(database, "pia", password=PASSWORD)
    make_document(database, cast, slug="benefit-claims", state="approved",
                  body="# Benefit claims\n\nHow to claim a benefit, and when it is paid.")
    return cast


def _app(settings, database):  # noqa: ANN001, ANN202
    return create_app(settings, database=database, search=SearchIndexes(settings, embedder=HashingEmbedder()))


def assert_refused(result: dict, limit: int, window_seconds: int) -> None:
    assert result["status"] == 429, result
    assert 1 <= int(result["retry_after"]) <= window_seconds
    assert result["limit"] == str(limit)
    assert set(result["body"]) == {"error"} and result["body"]["error"]["code"] == "rate_limited"
    assert result["body"]["error"]["message"]


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_exactly_the_limit_is_allowed_then_429(settings, database, world, name: str) -> None:  # noqa: ANN001
    case, limit = LIMITS[name], 3
    with TestClient(_app(limited_settings(settings, name, limit), database)) as client:
        results = [outcome(case.send(client, i, 0, world["reader"].token)) for i in range(limit + 2)]
    assert [r["status"] for r in results] == [case.ok_status] * limit + [429, 429], results
    for refused in results[limit:]:
        assert_refused(refused, limit, case.window_seconds)


def test_login_limits_are_per_account_and_per_ip(settings, database, world) -> None:  # noqa: ANN001
    limited = settings.model_copy(update={"rate_limit_login": "2/minute", "rate_limit_login_ip": "5/minute"})
    make_person(database, "paul", password=PASSWORD)
    with TestClient(_app(limited, database)) as client:
        wrong = [client.post("/api/v1/auth/token", json={"username": "pia", "password": "wrong one"}).status_code
                 for _ in range(2)]
        # the account is locked for the window, even with the right password ...
        locked = client.post("/api/v1/auth/token", json={"username": "PIA", "password": PASSWORD})
        # ... but another account from the same address is not
        other = client.post("/api/v1/auth/token", json={"username": "paul", "password": PASSWORD})
        # the address has used 4 of its 5: one more, then it is refused for every account
        last = client.post("/api/v1/auth/token", json={"username": "paul", "password": PASSWORD})
        refused = client.post("/api/v1/auth/token", json={"username": "someone", "password": PASSWORD})
    assert wrong == [401, 401]
    assert_refused(outcome(locked), 2, 60)
    assert (other.status_code, last.status_code) == (201, 201)
    assert_refused(outcome(refused), 5, 60)


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(settings, database, world) -> None:  # noqa: ANN001
    limited = limited_settings(settings, "public_search", 2)

    def statuses(client, forwarded: list[str]) -> list[int]:  # noqa: ANN001
        return [client.get("/public/v1/search", params={"q": "benefit"}, headers={"X-Forwarded-For": f}).status_code
                for f in forwarded]

    # No trusted proxy: a client cannot get a fresh budget by writing another address into the header.
    with TestClient(_app(limited, database), client=("198.51.100.7", 4000)) as client:
        assert statuses(client, ["203.0.113.1", "203.0.113.2", "203.0.113.3"]) == [200, 200, 429]
    # The peer is a trusted proxy: the rightmost untrusted hop is the client; what the client itself
    # prepended (the spoofed left part) is never used.
    proxied = limited.model_copy(update={"trusted_proxies": ["10.0.0.0/8"]})
    with TestClient(_app(proxied, database), client=("10.1.2.3", 4000)) as client:
        assert statuses(client, ["1.1.1.1, 203.0.113.9", "2.2.2.2, 203.0.113.9", "3.3.3.3, 203.0.113.9"]) == [200, 200, 429]
        assert statuses(client, ["203.0.113.10, 10.9.9.9"]) == [200]


def test_concurrent_password_checks_are_capped(settings, database, world, monkeypatch) -> None:  # noqa: ANN001
    """Eight logins at once, two slots: two are hashed, six are told to come back; no clock decides it.

    The two hashes hold their slots until the other six have had their answer, so the outcome does
    not depend on how fast this machine hashes or schedules threads.
    """
    from kb.accounts import service

    capped = limited_settings(settings, "public_search", 100).model_copy(update={"login_max_concurrent_hashes": 2})
    real, lock, running, peak = service._hasher, threading.Lock(), [0], [0]
    others_answered = threading.Event()

    class HeldHasher:
        def verify(self, stored: str, password: str) -> bool:
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            try:
                others_answered.wait(timeout=60)  # a hash that lasts until every other login is answered
                return real.verify(stored, password)
            finally:
                with lock:
                    running[0] -= 1

    monkeypatch.setattr(service, "_hasher", HeldHasher())
    app = _app(capped, database)
    results: list[dict] = []
    with TestClient(app) as client:
        barrier = threading.Barrier(8)

        def login() -> None:
            barrier.wait()
            response = client.post("/api/v1/auth/token", json={"username": f"user{threading.get_ident()}", "password": "x"})
            with lock:
                results.append(outcome(response))
                if len(results) == 6:
                    others_answered.set()

        threads = [threading.Thread(target=login) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert others_answered.is_set(), "the six logins without a slot were not answered while the two hashed"
    assert peak[0] == 2, "the cap was not reached or not held"
    statuses = [r["status"] for r in results]
    assert statuses == [503] * 6 + [401] * 2, statuses
    for busy in results[:6]:
        assert busy["retry_after"] == "1" and busy["body"]["error"]["code"] == "service_unavailable"


class WatchedSlots(threading.BoundedSemaphore):
    """One real slot that records the wait each caller is offered and never sleeps it out.

    When the slot is taken the wait is over at once, as if it had run out: the test checks the gate's
    bound (what it offers to wait) instead of timing it on a shared machine.
    """

    def __init__(self) -> None:
        super().__init__(1)
        self.waits: list[float | None] = []

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        self.waits.append(timeout if blocking else 0.0)
        return super().acquire(blocking=False)


def test_a_busy_hasher_answers_503_at_once_not_a_pile_up(settings, database, world) -> None:  # noqa: ANN001
    """A login that finds every slot taken waits at most the gate's bound, then gets 503, never a queue."""
    capped = settings.model_copy(update={"login_max_concurrent_hashes": 1})
    app = _app(capped, database)
    assert app.state.login_gate.wait_seconds == HASH_SLOT_WAIT_SECONDS == 0.5
    slots = WatchedSlots()
    app.state.login_gate = gate = HashGate(1, semaphore=slots)
    with TestClient(app) as client:
        with gate.slot():  # someone else is hashing
            busy = client.post("/api/v1/auth/token", json={"username": "pia", "password": PASSWORD})
        ok = client.post("/api/v1/auth/token", json={"username": "pia", "password": PASSWORD})
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert busy.json()["error"]["code"] == "service_unavailable"
    assert ok.status_code == 201
    # someone else, the busy login, the later login: each offered a bounded wait, none an endless one
    assert slots.waits == [HASH_SLOT_WAIT_SECONDS] * 3


# ------------------------------------------------------------------------- two processes, one Redis

def _worker_env(settings, token: str, prefix: str, worker_dir: Path) -> dict[str, str]:  # noqa: ANN001
    env = {**os.environ, "KB_ENV": "test", "KB_DATA_DIR": str(worker_dir), "KB_REDIS_URL": REDIS_URL,
           "KB_REDIS_KEY_PREFIX": prefix, "KB_DATABASE_URL": settings.resolved_database_url,
           "KB_TEST_TOKEN": token, "HF_HUB_OFFLINE": "1"}
    if settings.database_schema:
        env["KB_DATABASE_SCHEMA"] = settings.database_schema
    return env


@pytest.mark.skipif(not _redis_available(), reason=f"no Redis answers at {REDIS_URL}")
def test_two_processes_sharing_redis_allow_exactly_the_limit(settings, database, backend, world, tmp_path) -> None:  # noqa: ANN001
    """Two worker processes, one Redis, the same client: the combined allowed count is exactly L, per limit."""
    import redis

    if backend != "sqlite":
        pytest.skip("the counters live in Redis; one database backend suffices (each worker costs a process start)")
    limit, per_worker, names = 5, 7, sorted(LIMITS)
    prefix = f"kbtest-{uuid.uuid4().hex}"
    workers = []
    for n in range(2):
        worker_dir = tmp_path / f"worker{n}"
        worker_dir.mkdir()
        workers.append(subprocess.Popen(
            [sys.executable, "-m", "tests.ratelimit_worker", str(limit), str(per_worker), str(n), *names],
            cwd=ROOT, env=_worker_env(settings, world["reader"].token, prefix, worker_dir),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results: dict[str, list[dict]] = {name: [] for name in names}
    try:
        for _name in names:
            for process in workers:
                line = process.stdout.readline()
                assert line.strip() == "ready", (line, process.stderr.read() if process.poll() is not None else "")
            for process in workers:
                process.stdin.write("go\n")
                process.stdin.flush()
            for process in workers:
                report = json.loads(process.stdout.readline())
                results[report["limit"]] += report["outcomes"]
        for process in workers:
            _out, err = process.communicate(timeout=60)
            assert process.returncode == 0, err
    finally:
        for process in workers:
            if process.poll() is None:
                process.kill()
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
    assert keys, "the counters were not in Redis"
    for name in names:
        case = LIMITS[name]
        allowed = [r for r in results[name] if r["status"] == case.ok_status]
        refused = [r for r in results[name] if r["status"] == 429]
        assert len(allowed) == limit, (name, [r["status"] for r in results[name]])
        assert len(refused) == 2 * per_worker - limit, name
        for result in refused:
            assert_refused(result, limit, case.window_seconds)


@pytest.mark.parametrize("field, value", [("trusted_proxies", "*"), ("trusted_proxies", "proxy.example"),
                                          ("rate_limit_login", "lots"), ("rate_limit_public_search", "5 a day")])
def test_bad_limit_settings_are_refused_at_start(field: str, value: str) -> None:
    from pydantic import ValidationError

    from kb.config import Settings

    with pytest.raises(ValidationError):
        Settings(**{field: value})
    assert Settings(trusted_proxies="10.0.0.0/8, 192.0.2.1").trusted_proxies == ["10.0.0.0/8", "192.0.2.1"]
