"""The daily job: date reminders (review-by approaching and overdue, validity ending) and the digest e-mails.

It runs at most once per UTC day, from ``KB_NOTIFY_DIGEST_HOUR``, in whichever process takes its lease
first: a row of ``notification_job`` claimed in a transaction that locks it (``SELECT … FOR UPDATE`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), held for ``KB_NOTIFY_LEASE_SECONDS``, and stamped with the
day when done. A process that dies mid-way leaves a lease that runs out; the next run redoes the day,
and every reminder and digest has a stable key (the version and date, the person and day), so nothing
is told twice.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import select
from sqlmodel import Session

from kb.accounts.models import User
from kb.config import Settings
from kb.db import Database, is_postgresql, transaction, utcnow
from kb.documents.models import Document, Version, VersionState
from kb.notifications import outbox
from kb.notifications.models import Channel, JobLease, Notification
from kb.notifications.service import Notice, notify, space_owners

DAILY = "daily"


def take_lease(session: Session, *, name: str, holder: str, lease_seconds: float, today: dt.date,
               now: dt.datetime | None = None) -> str:
    """Take the job's lease for ``holder``: ``ran`` (taken), ``already_ran`` (done today) or ``held`` (by another)."""
    now = now or utcnow()
    with transaction(session):
        statement = select(JobLease).where(JobLease.name == name)
        if is_postgresql(session):
            statement = statement.with_for_update()
        row = session.execute(statement).scalar_one_or_none()
        if row is None:
            # the first run ever: create the row in the same locked transaction (SQLite holds the write lock;
            # on PostgreSQL a concurrent first insert fails on the primary key and that run is skipped)
            row = JobLease(name=name)
        if row.last_run_on is not None and row.last_run_on >= today:
            return "already_ran"
        if row.holder not in (None, holder) and row.until is not None and row.until > now:
            return "held"
        row.holder, row.until = holder, now + dt.timedelta(seconds=lease_seconds)
        session.add(row)
    return "ran"


def release_lease(session: Session, *, name: str, holder: str, today: dt.date) -> None:
    with transaction(session):
        row = session.get(JobLease, name)
        if row is not None and row.holder == holder:
            row.holder, row.until, row.last_run_on = None, None, today
            session.add(row)


def reminders(session: Session, settings: Settings, *, today: dt.date) -> int:
    """Tell the owners of each approved version whose review-by date is near or past, or whose validity
    ends soon; one notification per version, date and kind (the key), so each is told once."""
    soon = today + dt.timedelta(days=settings.notify_review_days)
    ending = today + dt.timedelta(days=settings.notify_validity_days)
    rows = session.execute(select(Version, Document).join(Document, Document.id == Version.document_id).where(
        Version.state == VersionState.approved.value)).all()
    written = 0
    for version, document in rows:
        owners = [document.owner_id, *space_owners(session, document.space_id)]
        link = f"/d/{document.slug}"
        if version.review_by is not None and version.review_by <= soon:
            overdue = version.review_by < today
            kind = "review_overdue" if overdue else "review_due"
            title = (f"Review overdue since {version.review_by}: {version.title}" if overdue
                     else f"Review due by {version.review_by}: {version.title}")
            notice = Notice(kind, title, "Check it is still right, then approve a new version or extend its review date.", link)
            written += len(notify(session, settings, [(owner, notice) for owner in owners],
                                  key_prefix=f"{kind}-v{version.id}-{version.review_by}"))
        if version.valid_until is not None and today <= version.valid_until <= ending:
            notice = Notice("validity_ending", f"Validity ends {version.valid_until}: {version.title}",
                            "After that day it is shown as expired.", link)
            written += len(notify(session, settings, [(owner, notice) for owner in owners],
                                  key_prefix=f"validity_ending-v{version.id}-{version.valid_until}"))
    return written


def digests(session: Session, settings: Settings, *, today: dt.date) -> int:
    """One e-mail per person with notifications waiting for the digest; key ``digest-u<id>-<day>``."""
    pending = list(session.execute(select(Notification).where(Notification.digest_pending.is_(True))
                                   .order_by(Notification.user_id, Notification.id)).scalars())  # type: ignore[attr-defined]
    by_user: dict[int, list[Notification]] = defaultdict(list)
    for row in pending:
        by_user[row.user_id].append(row)
    sent = 0
    base = settings.base_url.rstrip("/")
    for user_id, rows in by_user.items():
        user = session.get(User, user_id)
        if user is not None and user.email and user.is_active and settings.smtp_host:
            lines = [f"- {row.title}" + (f"\n  {base}{row.link}" if row.link else "") for row in rows]
            body = (f"{len(rows)} notification(s) since your last digest:\n\n" + "\n".join(lines)
                    + f"\n\n-- \nkb: choose how you are told at {base}/notifications")
            if outbox.enqueue(session, key=f"digest-u{user_id}-{today}", channel=Channel.email, recipient=user.email,
                              subject=f"[kb] Your daily digest, {today}", body=body) is not None:
                sent += 1
        for row in rows:
            row.digest_pending = False
            session.add(row)
    return sent


def run_daily(database: Database, settings: Settings, *, holder: str, now: dt.datetime | None = None,
              force: bool = False) -> str:
    """Run the daily job if due and not run today: ``ran``, ``not_due`` (before the hour), ``already_ran`` or ``held``."""
    now = now or utcnow()
    if not force and now.hour < settings.notify_digest_hour:
        return "not_due"
    today = now.date()
    with database.session() as session:
        taken = take_lease(session, name=DAILY, holder=holder, lease_seconds=settings.notify_lease_seconds, today=today, now=now)
        if taken != "ran":
            return taken
        with transaction(session):
            reminders(session, settings, today=today)
        with transaction(session):
            digests(session, settings, today=today)
        release_lease(session, name=DAILY, holder=holder, today=today)
    return "ran"
