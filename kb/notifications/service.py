"""Notifications service: writing a person's notifications (and their e-mails), the inbox, watches, preferences.

``notify`` is the one writer of inbox rows: it skips the person who acted and inactive accounts, gives
each notification its stable key, and queues an e-mail at once (preference ``email``) or marks it for
the daily digest (``digest``) in the caller's transaction. Watching and the preference are audited
(``watch.add``, ``watch.remove``, ``notify.preference``); reading the inbox and marking it read are
personal bookkeeping, not audited. Must not import FastAPI.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, update
from sqlmodel import Session

from kb import documents, provenance
from kb.accounts import service as accounts
from kb.accounts.models import SpaceMembership, User
from kb.actors import Actor, SpaceRole
from kb.config import Settings
from kb.db import MAX_ROW_ID, utcnow
from kb.errors import ErrorCode, KbError
from kb.notifications import outbox
from kb.notifications.models import (
    Channel, DeliveryMode, Notification, NotificationPreference, Watch, WatchKind,
)
from kb.social import service as social

INBOX_LIMIT = 200
DIGEST_ONLY = frozenset({"validity_ending", "review_batch"})
"""Kinds that reach e-mail only through the daily digest, even for people who chose e-mail at once."""


@dataclass(frozen=True)
class Notice:
    """What one person is told: ``kind`` (docs/notifications.md), a one-line title, a body and a link (a path)."""

    kind: str
    title: str
    body: str = ""
    link: str = ""


BATCH_LISTED = 20
"""How many of a batch's documents its notice names; the count says how many there are in all."""


_ACTIVE_OWNERS = (select(SpaceMembership.user_id).join(User, User.id == SpaceMembership.user_id)  # type: ignore[arg-type]
                  .where(SpaceMembership.space_id == bindparam("space_id"), SpaceMembership.role == SpaceRole.owner.value,
                         User.is_active.is_(True)))  # type: ignore[attr-defined]
"""Built once: a bulk import asks it for every file (building a statement costs more than running it on SQLite)."""


def space_owners(session: Session, space_id: int) -> list[int]:
    """The ids of the space's owners whose accounts are active (two columns read, no whole rows)."""
    return list(session.execute(_ACTIVE_OWNERS, {"space_id": space_id}).scalars())


@dataclass(frozen=True)
class BatchAudience:
    """Who hears of one more of a bulk import's submissions (``batch_audience``).

    ``actor_name`` names the importer as cards do; ``digest`` holds, for each active owner to tell,
    whether their notice also waits for the daily digest (an e-mail address, a mail server, and the
    ``digest`` or ``email`` preference).
    """

    actor_name: str
    digest: dict[int, bool]


_BATCH_AUDIENCES = "kb.notifications.batch_audience"


def batch_audience(session: Session, settings: Settings, batch: str, space_id: int, *,
                   actor_name: Callable[[], str], skip_user: int | None) -> BatchAudience:
    """The audience of one more of ``batch``'s submissions: the space's active owners now, but the actor.

    Who they are is read for every submission (one query of two columns), so an owner removed from the
    space or an account deactivated during a long import hears of no document submitted after it. What
    each of them is sent (their delivery preference and e-mail address) and the importer's name are read
    once per batch, or when an owner first appears, and kept in ``session.info``: reading them for each
    file cost three queries of whole rows a file (issue 19). A bulk import runs in one session (the
    CLI's command, the API's request), and the batch id is new for each import.
    """
    people = set(space_owners(session, space_id)) - {skip_user}
    held: dict[str, tuple[str, dict[int, bool]]] = session.info.setdefault(_BATCH_AUDIENCES, {})
    name, known = held.get(batch) or (actor_name(), {})
    if people - known.keys():
        known = {**known, **{user_id: bool(settings.smtp_host and user.email) and mode in (DeliveryMode.digest, DeliveryMode.email)
                             for user_id, (user, mode) in _recipients(session, people - known.keys()).items()}}
    held[batch] = (name, known)
    return BatchAudience(actor_name=name, digest={user_id: known[user_id] for user_id in sorted(people) if user_id in known})


_HELD_BATCH_NOTICES = (select(Notification.key, Notification.title, Notification.body)  # plain rows, no objects
                       .where(Notification.key.in_(bindparam("keys", expanding=True))))  # type: ignore[attr-defined]
_RECOUNT_BATCH_NOTICE = (update(Notification.__table__)  # type: ignore[attr-defined]
                         .where(Notification.__table__.c.key == bindparam("held_key"))  # type: ignore[attr-defined]
                         .values(title=bindparam("new_title"), body=bindparam("new_body"), read_at=None))
"""``notify_batch``'s two statements, run for every file of a bulk import, built once."""


def notify_batch(session: Session, audience: BatchAudience, *, batch: str, item: str, link: str,
                 event_seq: int | None = None) -> None:
    """Tell each of ``audience`` of one more document of a bulk import's submissions, in one notification per
    batch and person (``batch-<id>:u<user>``) that counts them and names the first ``BATCH_LISTED``.

    A thousand files submitted in one import are one notice, not a thousand: it is unread again when
    more arrive, and reaches e-mail only through the daily digest (``review_batch`` is digest-only).
    """
    if not audience.digest:
        return
    keys = {f"batch-{batch}:u{user_id}": user_id for user_id in audience.digest}
    held = {key: (title, body) for key, title, body in session.execute(_HELD_BATCH_NOTICES, {"keys": list(keys)})}
    changed = []
    for key, user_id in keys.items():
        row = held.get(key)
        lines = [line for line in (row[1].split("\n")[2:] if row is not None else []) if line.startswith("- ")]
        count = (int(row[0].split()[2]) if row is not None else 0) + 1
        if len(lines) < BATCH_LISTED:
            lines.append(f"- {item}")
        more = count - len(lines)
        title = f"Review requested: {count} document{'s' if count != 1 else ''} of one bulk import"
        body = "\n".join([f"{audience.actor_name} imported and submitted them for review.", "", *lines,
                           *([f"… and {more} more"] if more > 0 else [])])
        if row is None:
            session.add(Notification(key=key, user_id=user_id, kind="review_batch", title=title, body=body, link=link[:500],
                                     event_seq=event_seq, digest_pending=audience.digest[user_id]))
        else:
            changed.append({"held_key": key, "new_title": title, "new_body": body})
    if changed:  # more documents wait: unread again (one statement for every owner)
        session.execute(_RECOUNT_BATCH_NOTICE, changed)
    if len(held) < len(keys):  # new notices were added: written once, for the next file's read
        session.flush()


def _recipients(session: Session, user_ids: Iterable[int]) -> dict[int, tuple[User, str]]:
    """The active accounts among ``user_ids``, each with its delivery mode (``in_app`` without a preference), in one query."""
    ids = list(set(user_ids))
    if not ids:
        return {}
    rows = session.execute(select(User, NotificationPreference.mode)
                           .outerjoin(NotificationPreference, NotificationPreference.user_id == User.id)
                           .where(User.id.in_(ids), User.is_active.is_(True))).all()  # type: ignore[union-attr,attr-defined]
    return {user.id: (user, mode if mode is not None else DeliveryMode.in_app) for user, mode in rows}


def notify(session: Session, settings: Settings, notices: list[tuple[int, Notice]], *, key_prefix: str,
           skip_user: int | None = None, event_seq: int | None = None) -> list[Notification]:
    """Write each person's notification (the first notice per person), in the caller's transaction.

    Args:
        notices: ``(user_id, notice)`` pairs, most specific first: a person gets one notification per
            ``key_prefix`` (one event, one reminder), the first that names them.
        key_prefix: the stable id's stem; the notification's key is ``<key_prefix>:u<user_id>``. A key
            that exists already is skipped (a reminder computed twice is sent once).
        skip_user: the person who acted (nobody is told of their own act).
    """
    chosen: dict[int, Notice] = {}
    for user_id, notice in notices:
        if user_id != skip_user and user_id is not None:
            chosen.setdefault(user_id, notice)
    if not chosen:
        return []
    recipients = _recipients(session, chosen)
    keys = {user_id: f"{key_prefix}:u{user_id}" for user_id in recipients}
    existing = set(session.execute(select(Notification.key).where(Notification.key.in_(list(keys.values())))).scalars())  # type: ignore[attr-defined]
    written = []
    for user_id, (user, mode) in recipients.items():
        key, notice = keys[user_id], chosen[user_id]
        if key in existing:
            continue
        mailable = bool(settings.smtp_host and user.email)
        digest = mailable and (mode == DeliveryMode.digest or (mode == DeliveryMode.email and notice.kind in DIGEST_ONLY))
        row = Notification(key=key, user_id=user_id, kind=notice.kind, title=notice.title[:300], body=notice.body,
                           link=notice.link[:500], event_seq=event_seq, digest_pending=digest)
        session.add(row)
        if mailable and mode == DeliveryMode.email and notice.kind not in DIGEST_ONLY:
            outbox.enqueue(session, key=f"{key}/email", channel=Channel.email, recipient=user.email,  # type: ignore[arg-type]
                           subject=f"[kb] {notice.title}", body=email_text(settings, notice))
        written.append(row)
    session.flush()
    return written


def email_text(settings: Settings, notice: Notice) -> str:
    link = f"\n\n{settings.base_url.rstrip('/')}{notice.link}" if notice.link else ""
    footer = f"\n\n-- \nkb: choose how you are told at {settings.base_url.rstrip('/')}/notifications"
    return f"{notice.title}\n\n{notice.body}".rstrip() + link + footer


# --------------------------------------------------------------------------------------------- inbox

def inbox(session: Session, *, actor: Actor, unread_only: bool = False, limit: int = INBOX_LIMIT,
          before_id: int | None = None) -> tuple[list[Notification], int]:
    """The actor's notifications (older than ``before_id``, when given), newest first, and how many are unread."""
    statement = select(Notification).where(Notification.user_id == actor.id)
    if before_id is not None:
        statement = statement.where(Notification.id < before_id)  # type: ignore[operator]
    if unread_only:
        statement = statement.where(Notification.read_at.is_(None))  # type: ignore[union-attr]
    rows = list(session.execute(statement.order_by(Notification.id.desc()).limit(limit)).scalars())  # type: ignore[union-attr]
    return rows, unread_count(session, actor=actor)


def unread_count(session: Session, *, actor: Actor) -> int:
    if actor.id is None:
        return 0
    return int(session.execute(select(func.count()).select_from(Notification).where(
        Notification.user_id == actor.id, Notification.read_at.is_(None))).scalar_one())  # type: ignore[union-attr]


def mark_read(session: Session, *, actor: Actor, ids: list[int] | None) -> int:
    """Mark the actor's notifications ``ids`` (all when None) read; how many changed. Others' ids are ignored."""
    statement = update(Notification).where(Notification.user_id == actor.id, Notification.read_at.is_(None))  # type: ignore[union-attr]
    if ids is not None:
        statement = statement.where(Notification.id.in_([i for i in ids if 0 < i <= MAX_ROW_ID]))  # type: ignore[union-attr]
    return int(session.execute(statement.values(read_at=utcnow())).rowcount or 0)  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------- watches

def _normalised_target(session: Session, actor: Actor, kind: WatchKind, target: str) -> str:
    target = target.strip()
    if kind is WatchKind.document:
        return documents.visible_document(session, actor=actor, slug=target).slug
    if kind is WatchKind.space:
        return accounts.get_space(session, target).slug
    if kind is WatchKind.question:
        if not (target.isascii() and target.isdigit()) or int(target) > MAX_ROW_ID:
            raise KbError(ErrorCode.NOT_FOUND, f"No question {target!r}")
        return str(social.get_question(session, actor=actor, question_id=int(target)).id)
    tag = target.lower()  # as documents and questions keep their tags: stripped, lower case, spaces inside allowed
    if not tag or len(tag) > MAX_TAG_LETTERS:
        raise KbError(ErrorCode.VALIDATION_ERROR, f"Name a tag of 1 to {MAX_TAG_LETTERS} characters",
                      {"field": "target"})
    return tag


MAX_TAG_LETTERS = 50
"""As a document's or a question's tag (``kb.documents.schemas.Tag``): "old age" is one tag, and can be watched."""


def watch(session: Session, *, actor: Actor, kind: WatchKind, target: str) -> Watch:
    """Follow ``target``; audited as ``watch.add``. Watching it again changes nothing and returns the watch.

    Raises:
        KbError NOT_FOUND: no such document (or one the actor may not see), space or question.
    """
    target = _normalised_target(session, actor, kind, target)
    existing = session.execute(select(Watch).where(Watch.user_id == actor.id, Watch.kind == kind.value,
                                                   Watch.target == target)).scalar_one_or_none()
    if existing is not None:
        return existing
    row = Watch(user_id=actor.id, kind=kind.value, target=target)  # type: ignore[arg-type]
    session.add(row)
    session.flush()
    provenance.record(session, actor, "watch.add", ("user", actor.username), {"kind": kind.value, "target": target})
    return row


def unwatch(session: Session, *, actor: Actor, kind: WatchKind, target: str) -> bool:
    """Stop following ``target``; audited as ``watch.remove``. False if the actor did not watch it."""
    target = target.strip().lower() if kind is WatchKind.tag else target.strip()
    row = session.execute(select(Watch).where(Watch.user_id == actor.id, Watch.kind == kind.value,
                                              Watch.target == target)).scalar_one_or_none()
    if row is None:
        return False
    session.delete(row)
    session.flush()
    provenance.record(session, actor, "watch.remove", ("user", actor.username), {"kind": kind.value, "target": target})
    return True


def watches(session: Session, *, actor: Actor) -> list[Watch]:
    return list(session.execute(select(Watch).where(Watch.user_id == actor.id).order_by(Watch.kind, Watch.target)).scalars())


def is_watching(session: Session, *, actor: Actor, kind: WatchKind, target: str) -> bool:
    if actor.id is None:
        return False
    return session.execute(select(Watch.id).where(Watch.user_id == actor.id, Watch.kind == kind.value,
                                                  Watch.target == target)).first() is not None


def watchers(session: Session, kind: WatchKind, targets: Iterable[str]) -> list[int]:
    """Who watches any of ``targets`` of ``kind``."""
    wanted = [str(t) for t in targets if t is not None and str(t)]
    if not wanted:
        return []
    return list(session.execute(select(Watch.user_id).where(Watch.kind == kind.value,
                                                            Watch.target.in_(wanted)).distinct()).scalars())  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------- preference

def preference(session: Session, *, actor: Actor) -> tuple[str, str | None]:
    """The actor's delivery mode and e-mail address."""
    row = session.get(NotificationPreference, actor.id)
    user = session.get(User, actor.id)
    return (row.mode if row else DeliveryMode.in_app.value), (user.email if user else None)


def set_preference(session: Session, *, actor: Actor, mode: DeliveryMode) -> str:
    """Choose how to be told; audited as ``notify.preference``.

    Raises:
        KbError BAD_REQUEST: e-mail (at once or digest) for an account without an e-mail address.
    """
    user = session.get(User, actor.id)
    if mode is not DeliveryMode.in_app and (user is None or not user.email):
        raise KbError(ErrorCode.BAD_REQUEST, "Your account has no e-mail address: ask an admin to add one first")
    row = session.get(NotificationPreference, actor.id)
    previous = row.mode if row else DeliveryMode.in_app.value
    if row is None:
        row = NotificationPreference(user_id=actor.id, mode=mode.value)  # type: ignore[arg-type]
    row.mode, row.updated_at = mode.value, utcnow()
    session.add(row)
    session.flush()
    if previous != mode.value:
        provenance.record(session, actor, "notify.preference", ("user", actor.username), {"mode": mode.value, "previous": previous})
    return mode.value


def tags(raw: str | None) -> list[str]:
    """The tags of a version or question, from their JSON column."""
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return []
    return [str(tag).lower() for tag in value] if isinstance(value, list) else []
