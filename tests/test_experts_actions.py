"""Expert location through its one door (kb.experts.actions): the webhook (delivered from the notifications
outbox, kb.notifications.worker.deliver_due) and its recorded outcome, the web form alike, the question's asker left out, and `kb experts` without --as (kb itself asks).

Every webhook receiver here is a local HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from kb.actors import SpaceRole
from kb.app import create_app
from kb.cli import app as cli_app
from kb.db import utcnow
from kb.experts.models import ExpertRequest
from kb.notifications.outbox import sign
from kb.notifications.worker import deliver_due
from tests.audit import audit_events
from tests.factories import make_cast, make_document, make_person
from tests.factories import sign_in


@contextmanager
def receiver(status: int) -> Iterator[tuple[str, list[tuple[dict, str]]]]:
    """A webhook receiver on 127.0.0.1 answering ``status``: (its URL, what it received)."""
    received: list[tuple[dict, str]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((json.loads(body), self.headers["X-KB-Signature"]))
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args) -> None:  # noqa: ANN002
            return None

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"  # nothing listens there any more


def statuses(database) -> list[str | None]:  # noqa: ANN001
    with database.session() as session:
        return [r.webhook_status for r in session.execute(select(ExpertRequest).order_by(ExpertRequest.id)).scalars()]


def configured(settings, url: str | None, **update):  # noqa: ANN001, ANN201
    return settings.model_copy(update={"expert_webhook_url": url, "secret_key": "hook-secret", "notify_poll_seconds": 0,
                                       "notify_max_attempts": 2, **update})


def client_for(settings, database, url: str | None) -> TestClient:  # noqa: ANN001
    return TestClient(create_app(configured(settings, url), database=database))


def deliver(settings, database, url: str | None, later: int = 0):  # noqa: ANN001, ANN201
    """Run the worker once, as ``kb notify run`` would, ``later`` hours from now (past any backoff)."""
    return deliver_due(database, configured(settings, url), now=utcnow() + dt.timedelta(hours=later))


def test_the_webhook_outcome_is_recorded_on_the_request(settings, database) -> None:  # noqa: ANN001
    cast = make_cast(database)
    ask = {"message": "Help"}
    with client_for(settings, database, None) as client:
        assert client.post("/api/v1/experts/olga/ask", json={"message": "Help, before the webhook"},
                           headers=cast["reader"].headers).status_code == 201
    with receiver(204) as (url, received), client_for(settings, database, url) as client:
        assert client.post("/api/v1/experts/olga/ask", json=ask, headers=cast["reader"].headers).status_code == 201
        assert statuses(database)[1] == "pending"  # in the outbox, committed with the request
        assert deliver(settings, database, url).sent == 1
    payload, signature = received[0]
    assert payload["expert"] == "olga" and payload["from"] == "rita" and payload["message"] == "Help"
    assert signature == sign("hook-secret", json.dumps(payload, sort_keys=True).encode("utf-8"))
    with receiver(500) as (url, _), client_for(settings, database, url) as client:
        # a failing receiver never undoes the request: it is in the inbox, and each failure is on record
        assert client.post("/api/v1/experts/olga/ask", json={"message": "Help again"}, headers=cast["reader"].headers).status_code == 201
        assert deliver(settings, database, url).retrying == 1
        assert statuses(database)[2] == "retrying: HTTP 500 (attempt 1)"
    dead = closed_port_url()
    with client_for(settings, database, dead) as client:
        assert client.post("/api/v1/experts/olga/ask", json={"message": "Help, third time"},
                           headers=cast["reader"].headers).status_code == 201
        assert client.get("/api/v1/me/inbox", headers=cast["owner"].headers).json()["count"] == 4
    assert deliver(settings, database, dead).retrying == 1
    assert deliver(settings, database, dead, later=2).failed == 2  # the second and last attempt of both (KB_NOTIFY_MAX_ATTEMPTS=2 here)
    recorded = statuses(database)  # the third receiver is gone by its last attempt too
    assert recorded[:2] == ["not_configured", "sent"]
    assert all(status.startswith("failed: URLError") and len(status) <= 200 for status in recorded[2:])
    assert [e["action"] for e in audit_events(database)].count("expert.ask") == 4


def test_a_refused_ask_calls_no_webhook(settings, database) -> None:  # noqa: ANN001
    cast = make_cast(database)
    with receiver(204) as (url, received), client_for(settings, database, url) as client:
        assert client.post("/api/v1/experts/rita/ask", json={}, headers=cast["reader"].headers).status_code == 409
        assert client.post("/api/v1/experts/nobody/ask", json={}, headers=cast["reader"].headers).status_code == 404
        assert deliver(settings, database, url).sent == 0
    assert received == [] and statuses(database) == []


def test_an_empty_or_repeated_ask_is_refused_and_asks_count_against_the_posting_quota(settings, database) -> None:  # noqa: ANN001
    """Forty empty asks each landed in the expert's inbox (and the webhook), with no quota (the review of
    2026-12-07): an ask says something, the same unread one is not sent twice, and each counts as a post."""
    cast = make_cast(database)
    with client_for(settings, database, None) as client:
        empty = client.post("/api/v1/experts/olga/ask", json={"message": "  "}, headers=cast["reader"].headers)
        assert empty.status_code == 422 and "message" in empty.json()["error"]["message"], empty.text
        assert client.post("/api/v1/experts/olga/ask", json={"message": "Leave rules?"}, headers=cast["reader"].headers).status_code == 201
        again = client.post("/api/v1/experts/olga/ask", json={"message": " Leave  rules? "}, headers=cast["reader"].headers)
        assert again.status_code == 409 and "already" in again.json()["error"]["message"], again.text
        assert client.get("/api/v1/me/inbox", headers=cast["owner"].headers).json()["count"] == 1
    with TestClient(create_app(configured(settings, None, rate_limit_posting="2/hour"), database=database)) as client:
        codes = [client.post("/api/v1/experts/otto/ask", json={"message": f"Question {n}"}, headers=cast["reader"].headers).status_code
                 for n in range(3)]
        assert codes == [201, 201, 429], codes


def test_the_web_form_asks_through_the_same_door(settings, database) -> None:  # noqa: ANN001
    make_cast(database)
    with receiver(204) as (url, received), client_for(settings, database, url) as client:
        csrf = sign_in(client, database, "rita")
        done = client.post("/people/olga/ask", data={"message": "From the web", "csrf": csrf}, follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == "/people/olga?done=asked-expert"
        refused = client.post("/people/rita/ask", data={"message": "Myself", "csrf": csrf}, follow_redirects=False)
        assert refused.status_code == 409
        deliver(settings, database, url)
    assert [(p["expert"], p["from"], p["message"]) for p, _ in received] == [("olga", "rita", "From the web")]
    assert statuses(database) == ["sent"]


@pytest.fixture
def hydraulics(settings, database):  # noqa: ANN001, ANN201
    cast = make_cast(database)
    hana = make_person(database, "hana", spaces={"benefits": SpaceRole.contributor})
    for slug, body in [
        ("hydraulic-pumps", "# Hydraulic pumps\n\nServicing hydraulic pumps and pressure valves on landing gear."),
        ("hydraulic-leaks", "# Hydraulic leaks\n\nFinding hydraulic fluid leaks in brake lines."),
    ]:
        make_document(database, {**cast, "contributor": hana}, slug=slug, state="approved", audience="internal", body=body)
    return {**cast, "hana": hana}


def test_the_asker_of_a_question_is_never_suggested_for_it(settings, database, hydraulics) -> None:  # noqa: ANN001
    with TestClient(create_app(settings, database=database)) as client:
        qid = client.post("/api/v1/questions", json={"title": "Hydraulic pump keeps losing pressure", "body_md": "Why?"},
                          headers=hydraulics["hana"].headers).json()["id"]
        suggested = client.get(f"/api/v1/questions/{qid}/experts", headers=hydraulics["reader"].headers).json()
        found = client.get("/api/v1/experts", params={"q": "Hydraulic pump keeps losing pressure"},
                           headers=hydraulics["reader"].headers).json()["data"]
    assert found[0]["username"] == "hana"  # the expert on the topic…
    assert suggested["query"] == "Hydraulic pump keeps losing pressure"
    assert "hana" not in {h["username"] for h in suggested["data"]}  # …but not for her own question


def test_kb_experts_asks_as_kb_itself_without_as(cli_env, database, hydraulics) -> None:  # noqa: ANN001
    runner = CliRunner()
    anyone = runner.invoke(cli_app, ["experts", "hydraulic pump pressure"], catch_exceptions=False)
    assert anyone.exit_code == 0, anyone.output
    assert "(hana)" in anyone.output.splitlines()[0]
    refused = runner.invoke(cli_app, ["experts", "hydraulic pump pressure", "--exclude-me"], catch_exceptions=False)
    assert refused.exit_code == 2 and "--as" in refused.output  # refused: who asks is not known
    mine = runner.invoke(cli_app, ["experts", "hydraulic pump pressure", "--exclude-me"],
                         env={"KB_TOKEN": hydraulics["hana"].token}, catch_exceptions=False)
    assert mine.exit_code == 0, mine.output
    assert "(hana)" not in mine.output
