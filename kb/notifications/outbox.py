"""The outbox: e-mails and webhook calls written in the transaction of the event that causes them,
delivered later by a worker, at least once, with exponential backoff.

A delivery is *claimed* in a short transaction (its ``attempts`` counted, ``claimed_until`` set to now
plus the lease), sent outside any transaction, then *finished* in another: ``sent``, or back to
``pending`` with ``next_attempt_at`` doubled from ``KB_NOTIFY_BACKOFF_SECONDS`` (capped), or ``failed``
after ``KB_NOTIFY_MAX_ATTEMPTS``. A worker that dies after claiming leaves a lease that runs out; the
next worker claims the row again. So a delivery can be made twice (killed between sending and
finishing), never lost; every e-mail and webhook carries the delivery's stable key
(``X-KB-Notification-Id``, and the e-mail's Message-ID derived from it) for the receiver to deduplicate.

Imports the foundation only; the senders take the settings they need.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy import or_, select, update
from sqlmodel import Session

from kb.config import Settings
from kb.db import is_postgresql, transaction, utcnow
from kb.notifications.models import Channel, Delivery, DeliveryStatus

log = logging.getLogger("kb.notifications")

ERROR_CHARS = 500
WEBHOOK_TIMEOUT_SECONDS = 3.0
SMTP_TIMEOUT_SECONDS = 10.0
ID_HEADER = "X-KB-Notification-Id"


def enqueue(session: Session, *, key: str, channel: Channel, recipient: str, subject: str = "", body: str = "",
            source: tuple[str, int] | None = None) -> Delivery | None:
    """Add a delivery to the outbox in the caller's transaction, unless one with ``key`` exists (then None)."""
    if session.execute(select(Delivery.id).where(Delivery.key == key)).first() is not None:
        return None
    delivery = Delivery(key=key, channel=channel.value, recipient=recipient, subject=subject[:300], body=body,
                        source_type=source[0] if source else None, source_id=source[1] if source else None)
    session.add(delivery)
    return delivery


@dataclass(frozen=True)
class Claimed:
    """What a worker needs to make one delivery, read when it claimed it."""

    id: int
    key: str
    channel: str
    recipient: str
    subject: str
    body: str
    attempts: int
    source_type: str | None
    source_id: int | None


def claim(session: Session, *, worker: str, limit: int, lease_seconds: float, now: dt.datetime | None = None) -> list[Claimed]:
    """Claim up to ``limit`` due deliveries for ``worker`` (one transaction; rows another worker holds are skipped)."""
    now = now or utcnow()
    with transaction(session):
        statement = (select(Delivery).where(
            Delivery.status == DeliveryStatus.pending, Delivery.next_attempt_at <= now,
            or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now))  # type: ignore[union-attr]
            .order_by(Delivery.next_attempt_at, Delivery.id).limit(limit))
        if is_postgresql(session):
            statement = statement.with_for_update(skip_locked=True)
        rows = list(session.execute(statement).scalars())
        until = now + dt.timedelta(seconds=lease_seconds)
        for row in rows:
            row.claimed_by, row.claimed_until, row.attempts = worker, until, row.attempts + 1
            session.add(row)
        claimed = [Claimed(row.id, row.key, row.channel, row.recipient, row.subject, row.body, row.attempts,  # type: ignore[arg-type]
                           row.source_type, row.source_id) for row in rows]
    return claimed


def backoff(attempts: int, base: float, ceiling: float) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt: ``min(ceiling, base * 2 ** (attempts - 1))`` seconds."""
    return dt.timedelta(seconds=min(ceiling, base * 2 ** max(0, attempts - 1)))


def finish(session: Session, item: Claimed, *, worker: str, error: str | None, settings: Settings,
           now: dt.datetime | None = None) -> str | None:
    """Record what became of a claimed delivery, in the caller's transaction; the new status, or None
    when the claim was lost (the lease ran out and another worker took the row)."""
    now = now or utcnow()
    row = session.get(Delivery, item.id, with_for_update=is_postgresql(session))
    if row is None or row.claimed_by != worker or row.status != DeliveryStatus.pending:
        return None
    row.claimed_by, row.claimed_until = None, None
    if error is None:
        row.status, row.sent_at, row.last_error = DeliveryStatus.sent, now, None
    else:
        row.last_error = error[:ERROR_CHARS]
        if row.attempts >= settings.notify_max_attempts:
            row.status = DeliveryStatus.failed
        else:
            row.next_attempt_at = now + backoff(row.attempts, settings.notify_backoff_seconds,
                                                settings.notify_backoff_max_seconds)
    session.add(row)
    return row.status


def retry_failed(session: Session) -> int:
    """Put every failed delivery back in the queue (after an outage longer than the retries), now."""
    result = session.execute(update(Delivery).where(Delivery.status == DeliveryStatus.failed).values(
        status=DeliveryStatus.pending, attempts=0, next_attempt_at=utcnow(), claimed_by=None, claimed_until=None))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------ senders

def message_id(key: str, sender: str) -> str:
    """The e-mail's Message-ID, the same on every attempt: receivers and MTAs deduplicate by it."""
    domain = sender.rpartition("@")[2] or "kb.invalid"
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}@{domain}>"


def send_email(settings: Settings, item: Claimed) -> None:
    """Send one e-mail through the configured SMTP server (``KB_SMTP_*``). Raises on any failure."""
    if not settings.smtp_host:
        raise RuntimeError("no SMTP server configured (KB_SMTP_HOST)")
    message = EmailMessage()
    message["From"] = settings.smtp_sender
    message["To"] = item.recipient
    message["Subject"] = item.subject
    message["Message-ID"] = message_id(item.key, settings.smtp_sender)
    message[ID_HEADER] = item.key
    message.set_content(item.body)
    context = ssl.create_default_context()
    if settings.smtp_security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS,
                                                context=context)
    else:
        client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS)
    with client:
        if settings.smtp_security == "starttls":
            client.starttls(context=context)
        if settings.smtp_username:
            client.login(settings.smtp_username, settings.smtp_password or "")
        client.send_message(message)


def sign(secret: str, body: bytes) -> str:
    """``X-KB-Signature`` of a webhook body: ``sha256=`` and the hex HMAC-SHA256 under KB_SECRET_KEY."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def send_webhook(settings: Settings, item: Claimed) -> None:
    """POST one signed webhook body. Raises on a non-2xx answer or any error."""
    import urllib.error
    import urllib.request

    body = item.body.encode("utf-8")
    request = urllib.request.Request(item.recipient, data=body, method="POST", headers={
        "Content-Type": "application/json", "X-KB-Signature": sign(settings.secret_key, body),
        ID_HEADER: item.key, "User-Agent": "kb-webhook"})
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:  # noqa: S310 - the operator's URL
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"HTTP {exc.code}") from None
    if not 200 <= status < 300:
        raise RuntimeError(f"HTTP {status}")


SENDERS: dict[str, Callable[[Settings, Claimed], None]] = {Channel.email: send_email, Channel.webhook: send_webhook}


def attempt(settings: Settings, item: Claimed) -> str | None:
    """Make one delivery attempt: None if it was delivered, else what went wrong (logged)."""
    try:
        SENDERS[item.channel](settings, item)
    except Exception as exc:  # noqa: BLE001 - any failure is retried later
        error = str(exc) if isinstance(exc, RuntimeError) else f"{type(exc).__name__}: {exc}"
        log.warning("Delivery %s (%s to %s), attempt %s, failed: %s", item.key, item.channel, item.recipient,
                    item.attempts, error)
        return error
    return None
