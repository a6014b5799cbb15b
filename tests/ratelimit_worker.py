"""The rate-limited requests of RELIABILITY T9, and a worker process that sends them.

``tests/test_rate_limits.py`` sends them in-process; for the shared-store figure it starts two
copies of this module (``python -m tests.ratelimit_worker``) against one database and one Redis,
which print "ready", wait for "go" on stdin, send their requests and print the outcomes as JSON.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Any

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class LimitedRequest:
    """One limit: the setting that holds it, the request it counts, and the status of an allowed one."""

    setting: str
    method: str
    path: str
    ok_status: int
    window_seconds: int
    signed_in: bool = False

    def send(self, client: Any, i: int, worker: int, token: str | None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if self.signed_in else {}
        if self.setting == "rate_limit_public_search":
            return client.get(self.path, params={"q": "benefit claim"})
        if self.setting == "rate_limit_login":  # one account, correct password
            return client.post(self.path, json={"username": "pia", "password": PASSWORD})
        if self.setting == "rate_limit_login_ip":  # many accounts, none of them known
            return client.post(self.path, json={"username": f"nobody{worker}x{i}", "password": "guess-guess"})
        if self.setting == "rate_limit_posting":
            return client.post(self.path, headers=headers,
                               json={"title": f"Question {worker}-{i} about claims", "body_md": f"Body {worker} {i}"})
        raise AssertionError(f"Bug: no request for {self.setting}")


LIMITS = {
    "public_search": LimitedRequest("rate_limit_public_search", "GET", "/public/v1/search", 200, 60),
    "login_account": LimitedRequest("rate_limit_login", "POST", "/api/v1/auth/token", 201, 60),
    "login_ip": LimitedRequest("rate_limit_login_ip", "POST", "/api/v1/auth/token", 401, 60),
    "posting": LimitedRequest("rate_limit_posting", "POST", "/api/v1/questions", 201, 3600, signed_in=True),
}
GENEROUS = "100000/minute"


def limited_settings(settings: Any, name: str, limit: int) -> Any:
    """``settings`` with limit ``name`` set to ``limit`` per its window and every other limit generous."""
    rule = f"{limit}/{'hour' if LIMITS[name].window_seconds == 3600 else 'minute'}"
    updates = {case.setting: GENEROUS for case in LIMITS.values()}
    updates[LIMITS[name].setting] = rule
    return settings.model_copy(update=updates)


def outcome(response: Any) -> dict[str, Any]:
    """What the test checks of one response."""
    try:
        body = response.json()
    except ValueError:
        body = None
    return {"status": response.status_code, "retry_after": response.headers.get("retry-after"),
            "limit": response.headers.get("x-ratelimit-limit"), "body": body}


def main() -> None:
    """``python -m tests.ratelimit_worker LIMIT COUNT WORKER NAME…``: for each limit in turn, print
    "ready", wait for a line on stdin, send COUNT requests, print their outcomes as one JSON line."""
    from fastapi.testclient import TestClient

    from kb.app import create_app
    from kb.config import load_settings
    from kb.search.indexer import SearchIndexes
    from tests.fakes import HashingEmbedder

    limit, requests, worker, names = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    base = load_settings()
    search = SearchIndexes(base, embedder=HashingEmbedder())
    for name in names:
        settings = limited_settings(base, name, limit)
        with TestClient(create_app(settings, search=search)) as client:
            print("ready", flush=True)
            sys.stdin.readline()  # "go": both workers start each limit together
            outcomes = [outcome(LIMITS[name].send(client, i, worker, os.environ.get("KB_TEST_TOKEN")))
                        for i in range(requests)]
        print(json.dumps({"limit": name, "outcomes": outcomes}), flush=True)


if __name__ == "__main__":
    main()
