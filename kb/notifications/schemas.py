"""Wire shapes of notifications: the inbox, watches and the delivery preference."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from kb.notifications.models import DeliveryMode, WatchKind


class NotificationPublic(BaseModel):
    id: int
    key: str = Field(description="The notification's stable id; e-mails about it carry it as X-KB-Notification-Id.")
    kind: str
    title: str
    body: str
    link: str
    created_at: dt.datetime
    read: bool


class NotificationsPublic(BaseModel):
    data: list[NotificationPublic]
    count: int
    unread: int
    next_before: int | None = Field(None, description="Pass as `before` for the next, older page (None: no more)")


class MarkRead(BaseModel):
    # Strict: "1" or 1.5 for an id is refused, not coerced (schemathesis' negative data, once the taxonomy's
    # routes moved its draws).
    model_config = ConfigDict(strict=True)

    ids: list[int] | None = Field(None, max_length=1000, description="The notifications to mark read. Omitted: all of them.")


class MarkedRead(BaseModel):
    marked: int
    unread: int


class WatchCreate(BaseModel):
    kind: WatchKind
    target: str = Field(min_length=1, max_length=120, description="A document's slug, a space's slug, a question's id or a tag.")


class WatchPublic(BaseModel):
    kind: WatchKind
    target: str
    created_at: dt.datetime


class WatchesPublic(BaseModel):
    data: list[WatchPublic]
    count: int


class PreferencePublic(BaseModel):
    mode: DeliveryMode = Field(description="in_app: the inbox only; email: an e-mail at once as well; digest: one e-mail a day.")
    email: str | None = Field(None, description="Where e-mails go (the account's address).")


class PreferenceUpdate(BaseModel):
    mode: DeliveryMode


class RunReport(BaseModel):
    """What one ``kb notify run`` did."""

    sent: int
    retrying: int
    failed: int
    daily: str = Field(description="ran, not_due, already_ran or held (another process holds its lease)")
