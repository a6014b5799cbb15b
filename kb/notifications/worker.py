"""The delivery worker: claims due outbox rows, sends them, records the outcome; and the loop that runs it
(with the daily job) inside ``kb serve``. ``kb notify run`` calls ``run_once`` for cron.

An expert webhook's outcome is written on its request (``ExpertRequest.webhook_status``) in the
transaction that finishes the delivery: ``pending`` until the first attempt, ``retrying: <error>``
while attempts remain, ``sent``, or ``failed: <error>`` after the last.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass

from sqlmodel import Session

from kb.config import Settings
from kb.db import Database, transaction
from kb.notifications import outbox
from kb.notifications.daily import run_daily
from kb.notifications.models import DeliveryStatus

log = logging.getLogger("kb.notifications")
BATCH = 50


def worker_name() -> str:
    """This worker's name in the claims it makes: host, process and a random part (unique per worker)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Delivered:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def _record_outcome(session: Session, item: outbox.Claimed, status: str | None, error: str | None) -> None:
    if item.source_type != "expert_request" or item.source_id is None or status is None:
        return
    from kb.experts import service as experts  # only for expert webhooks: keeps the CLI's start light
    if status == DeliveryStatus.sent:
        text = experts.WEBHOOK_SENT
    elif status == DeliveryStatus.failed:
        text = f"{experts.WEBHOOK_FAILED}{error}"
    else:
        text = f"retrying: {error} (attempt {item.attempts})"
    experts.set_webhook_status(session, request_id=item.source_id, status=text)


def deliver_due(database: Database, settings: Settings, *, worker: str | None = None, batches: int | None = None,
                now: dt.datetime | None = None) -> Delivered:
    """Deliver what is due now (or at ``now``: tests), batch after batch, until nothing is due (or ``batches`` ran)."""
    worker = worker or worker_name()
    done = Delivered()
    count = 0
    with database.session() as session:
        while batches is None or count < batches:
            count += 1
            claimed = outbox.claim(session, worker=worker, limit=BATCH, lease_seconds=settings.notify_lease_seconds, now=now)
            if not claimed:
                break
            for item in claimed:
                error = outbox.attempt(settings, item)
                with transaction(session):
                    status = outbox.finish(session, item, worker=worker, error=error, settings=settings, now=now)
                    _record_outcome(session, item, status, error)
                if status == DeliveryStatus.sent:
                    done.sent += 1
                elif status == DeliveryStatus.failed:
                    done.failed += 1
                elif status is not None:
                    done.retrying += 1
    return done


def run_once(database: Database, settings: Settings, *, worker: str | None = None, force_daily: bool = False) -> tuple[Delivered, str]:
    """The daily job if due, then every due delivery: what ``kb notify run`` and each server tick do."""
    worker = worker or worker_name()
    daily = run_daily(database, settings, holder=worker, force=force_daily)
    return deliver_due(database, settings, worker=worker), daily


class NotificationLoop:
    """A daemon thread in ``kb serve`` that calls ``run_once`` every ``KB_NOTIFY_POLL_SECONDS`` (0: off)."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.worker = worker_name()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.wait(self.settings.notify_poll_seconds):
            try:
                run_once(self.database, self.settings, worker=self.worker)
            except Exception:  # the next tick retries; the outbox keeps everything meanwhile
                log.exception("Notification delivery failed")

    def start(self) -> None:
        if self.settings.notify_poll_seconds > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="kb-notifications", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None


def install(database: Database, settings: Settings) -> None:
    """Write notifications and their outbox rows in the transaction of every event this database records."""
    from kb.notifications.rules import make_hook

    hook = make_hook(settings)
    hook.kb_notifications = True  # type: ignore[attr-defined]
    # one notifications hook per database: the newest settings win (an app rebuilt on a shared database)
    database.record_hooks[:] = [h for h in database.record_hooks if not getattr(h, "kb_notifications", False)] + [hook]
