"""Tables of notifications: the in-app inbox, the outbox of e-mails and webhooks, watches, preferences, job leases.

Imports only the foundation (``kb.db``); written only through ``kb.notifications.service`` and
``kb.notifications.outbox``. Every row that leaves kb (an e-mail, a webhook) has a stable ``key``: a
delivery retried after a crash carries the same key, and receivers deduplicate by it.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Column, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from kb.db import UTCDateTime, utcnow


class DeliveryMode(StrEnum):
    """How a person wants to hear of things beyond the in-app inbox (which always has them)."""

    in_app = "in_app"
    email = "email"
    digest = "digest"


class WatchKind(StrEnum):
    document = "document"
    space = "space"
    question = "question"
    tag = "tag"


class Channel(StrEnum):
    email = "email"
    webhook = "webhook"


class DeliveryStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"
    """Gave up after the last attempt (``KB_NOTIFY_MAX_ATTEMPTS``)."""


class Notification(SQLModel, table=True):
    """One thing one person is told, in their in-app inbox."""

    __tablename__ = "notification"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(200), unique=True, nullable=False))
    user_id: int = Field(sa_column=Column(Integer, ForeignKey("user_account.id"), nullable=False, index=True))
    kind: str = Field(sa_column=Column(String(40), nullable=False))
    title: str = Field(sa_column=Column(String(300), nullable=False))
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    link: str = Field(default="", sa_column=Column(String(500), nullable=False))
    event_seq: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True))
    read_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    digest_pending: bool = Field(default=False, index=True)
    """Waits for the person's next daily digest e-mail."""


class Delivery(SQLModel, table=True):
    """The outbox: one e-mail or webhook call to make, with its retry state."""

    __tablename__ = "notification_delivery"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(200), unique=True, nullable=False))
    channel: str = Field(sa_column=Column(String(16), nullable=False))
    recipient: str = Field(sa_column=Column(String(2000), nullable=False))
    subject: str = Field(default="", sa_column=Column(String(300), nullable=False))
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    source_type: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    source_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    status: str = Field(default=DeliveryStatus.pending, sa_column=Column(String(16), nullable=False, index=True))
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True))
    claimed_by: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    claimed_until: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    sent_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class Watch(SQLModel, table=True):
    """A person follows a document, a space, a question or a tag."""

    __tablename__ = "watch"
    __table_args__ = (UniqueConstraint("user_id", "kind", "target", name="uq_watch_user_kind_target"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=Column(Integer, ForeignKey("user_account.id"), nullable=False, index=True))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    target: str = Field(sa_column=Column(String(120), nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class NotificationPreference(SQLModel, table=True):
    """A person's choice of delivery; without a row, ``in_app``."""

    __tablename__ = "notification_preference"

    user_id: int = Field(sa_column=Column(Integer, ForeignKey("user_account.id"), primary_key=True))
    mode: str = Field(default=DeliveryMode.in_app, sa_column=Column(String(16), nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class JobLease(SQLModel, table=True):
    """A lease on a periodic job (the daily digests and reminders): whoever holds it until ``until`` runs it;
    ``last_run_on`` is the day it last completed, so no two processes run one day twice."""

    __tablename__ = "notification_job"

    name: str = Field(sa_column=Column(String(40), primary_key=True))
    holder: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    until: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    last_run_on: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
