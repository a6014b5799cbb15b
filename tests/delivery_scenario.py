"""The notification delivery scenario of issue 17, shared by tests/test_notification_delivery.py and
bench/notification_delivery.py: events caused while the SMTP server and the webhook receiver are down,
delivered by real ``kb serve`` workers, two of which are killed with SIGKILL mid-way.

Receivers are real: an aiosmtpd SMTP server and an HTTP server in this process, each recording the
``X-KB-Notification-Id`` of what it receives. Progress is polled (the database, the receivers), never
timed: the scenario waits for states, not for seconds.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import func, select

from kb.config import Settings
from kb.db import Database
from kb.notifications.models import Delivery, DeliveryStatus, Notification
from tests.processes import ServeProcess, free_port, kb_env


class Mailbox:
    """An SMTP server (aiosmtpd) on 127.0.0.1:port that can be down and up again."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.ids: Counter[str] = Counter()
        self._controller = None

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802 - aiosmtpd's handler hook
        message = message_from_bytes(envelope.content)
        self.ids[message["X-KB-Notification-Id"]] += 1
        return "250 OK"

    def up(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def down(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


class Hooks:
    """A webhook receiver on 127.0.0.1:port that can be down and up again."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.ids: Counter[str] = Counter()
        self.signed: set[str] = set()
        self._server: ThreadingHTTPServer | None = None

    def up(self) -> None:
        ids, signed = self.ids, self.signed

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                json.loads(body)
                ids[self.headers["X-KB-Notification-Id"]] += 1
                signed.add(self.headers["X-KB-Signature"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:  # noqa: ANN002
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Hook)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@dataclass
class Outcome:
    events: int
    inbox_rows: int
    inbox_unique: int
    emails_expected: int
    emails_received: int
    emails_unique: int
    webhooks_expected: int
    webhooks_received: int
    webhooks_unique: int
    failed: int
    kills: int
    attempts_total: int
    missing_emails: set[str] = field(default_factory=set)
    missing_webhooks: set[str] = field(default_factory=set)


def wait_for(condition, what: str, timeout: float = 600) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.05)


def _sent(database: Database, channel: str) -> int:
    with database.session() as session:
        return int(session.execute(select(func.count()).select_from(Delivery).where(
            Delivery.channel == channel, Delivery.status == DeliveryStatus.sent)).scalar_one())


def run(settings: Settings, database: Database, workdir: Path, *, events: int, cause) -> Outcome:  # noqa: ANN001
    """Run the scenario: ``cause(database, settings, n)`` causes event number ``n`` (each telling one person, by
    e-mail, and calling the webhook). Returns what the inbox and the receivers hold at the end."""
    mailbox, hooks = Mailbox(free_port()), Hooks(free_port())
    env = kb_env(settings, KB_SMTP_HOST="127.0.0.1", KB_SMTP_PORT=str(mailbox.port), KB_SMTP_SECURITY="none",
                 KB_EXPERT_WEBHOOK_URL=f"http://127.0.0.1:{hooks.port}/hook", KB_SECRET_KEY=settings.secret_key,
                 KB_NOTIFY_POLL_SECONDS="0.2", KB_NOTIFY_BACKOFF_SECONDS="0.2", KB_NOTIFY_BACKOFF_MAX_SECONDS="1",
                 KB_NOTIFY_LEASE_SECONDS="3", KB_NOTIFY_MAX_ATTEMPTS="10000", KB_INDEX_CATCH_UP_SECONDS="0",
                 KB_PUBLIC_MULTILINGUAL="false")
    configured = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": mailbox.port, "smtp_security": "none",
                                             "expert_webhook_url": f"http://127.0.0.1:{hooks.port}/hook"})
    kills = 0
    worker = ServeProcess(env, workdir / "worker-1.log")
    try:
        worker.ready()
        # both receivers are down: the first third of the events fail their first attempts
        for n in range(events // 3):
            cause(database, configured, n)
        mailbox.up()  # SMTP back; the webhook receiver still down
        for n in range(events // 3, 2 * events // 3):
            cause(database, configured, n)
        wait_for(lambda: _sent(database, "email") >= events // 3, "a third of the e-mails")
        worker.kill()  # SIGKILL, mid-delivery
        kills += 1
        worker = ServeProcess(env, workdir / "worker-2.log")
        worker.ready()
        hooks.up()
        for n in range(2 * events // 3, events):
            cause(database, configured, n)
        wait_for(lambda: _sent(database, "webhook") >= events // 3, "a third of the webhooks")
        worker.kill()
        kills += 1
        worker = ServeProcess(env, workdir / "worker-3.log")
        worker.ready()
        wait_for(lambda: _sent(database, "email") + _sent(database, "webhook") >= 2 * events, "every delivery")
    finally:
        worker.stop()
        mailbox.down()
        hooks.down()
    with database.session() as session:
        keys = list(session.execute(select(Notification.key)).scalars())
        deliveries = list(session.execute(select(Delivery)).scalars())
    emails = {d.key for d in deliveries if d.channel == "email"}
    webhooks = {d.key for d in deliveries if d.channel == "webhook"}
    return Outcome(
        events=events, inbox_rows=len(keys), inbox_unique=len(set(keys)),
        emails_expected=len(emails), emails_received=sum(mailbox.ids.values()), emails_unique=len(mailbox.ids),
        webhooks_expected=len(webhooks), webhooks_received=sum(hooks.ids.values()), webhooks_unique=len(hooks.ids),
        failed=sum(d.status == DeliveryStatus.failed for d in deliveries), kills=kills,
        attempts_total=sum(d.attempts for d in deliveries),
        missing_emails=emails - set(mailbox.ids), missing_webhooks=webhooks - set(hooks.ids))


def ask_olga(database: Database, settings: Settings, n: int) -> None:
    """One ``expert.ask`` by rita to olga: an inbox row for olga, an e-mail (she chose e-mail) and the webhook."""
    from kb.accounts import service as accounts
    from kb.actors import Channel
    from kb.experts import actions
    from kb.notifications.worker import install

    install(database, settings)
    with database.session() as session:
        rita = accounts.actor_for(session, accounts.get_user(session, "rita"), Channel.api)
        actions.ask_expert(session, rita, settings=settings, username="olga", message=f"Question {n}")
