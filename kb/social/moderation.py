"""Flags and moderation: one review item per flagged post, one decision for all its open flags (issue 17).

A community post (comment, question, answer) is in one of three states: ``visible``;
``hidden_by_flags``, hidden automatically once ``Limits.flags_to_hide`` distinct people's flags are
open on it, awaiting a moderator; ``hidden_by_moderator``, hidden by a moderator with a reason.
``TRANSITIONS`` is the decision table of docs/moderation.md, written once: what ``hide``,
``dismiss`` and ``restore`` do from each state, with and without open flags. Dismissing unfounded
flags shows again only what those flags hid, never what a moderator hid; ``restore`` is the explicit
way back. A decision resolves every open flag on its post (``upheld`` or ``dismissed``) and is one
audit event naming the post, the flags and the state before and after. A curated document is never
hidden: its flags can only be dismissed (``wrong``/``outdated`` go to its owners' review queue).

Who may flag, see the queue and decide are rows of ``kb.permissions`` (checked by ``kb.social.actions``).
Must not import the web framework, ``kb.documents`` internals, search or experts.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlmodel import Session

from kb import documents, provenance
from kb.accounts import service as accounts
from kb.accounts.models import User
from kb.actors import Actor
from kb.db import MAX_ROW_ID, utcnow
from kb.errors import ErrorCode, KbError
from kb.social.models import Answer, Comment, Flag, FlagReason, FlagStatus, HiddenBy, Question, TargetKind
from kb.social.schemas import (
    FlagCreate, ModerationContext, ModerationDecision, ModerationItem, ModerationNotice, ModerationOutcome, PersonRef,
    QueueFlag, ThreadPost,
)
from kb.social.service import Limits, may_see

Post = Comment | Question | Answer
Action = Literal["hide", "dismiss", "restore"]
ACTIONS: tuple[Action, ...] = ("hide", "dismiss", "restore")
VISIBLE, BY_FLAGS, BY_MODERATOR = "visible", "hidden_by_flags", "hidden_by_moderator"
MODELS: dict[str, type[Post]] = {"comment": Comment, "question": Question, "answer": Answer}


@dataclass(frozen=True)
class Refused:
    """A decision the table refuses from this state (409), and why, in words a moderator understands."""

    message: str


NOT_HIDDEN = Refused("{kind} {key} is not hidden: dismiss its flags or hide it")
NO_FLAGS = Refused("{kind} {key} has no open flags to dismiss")
ALREADY_HIDDEN = Refused("{kind} {key} is hidden by a moderator already")
CURATED = Refused("Curated documents are never hidden by moderation; their owners retire them")

# (state before, whether flags are open) -> action -> the state after, or why it is refused.
# docs/moderation.md shows this table; tests/test_moderation.py walks every cell.
TRANSITIONS: dict[tuple[str, bool], dict[str, str | Refused]] = {
    (VISIBLE, False): {"hide": BY_MODERATOR, "dismiss": NO_FLAGS, "restore": NOT_HIDDEN},
    (VISIBLE, True): {"hide": BY_MODERATOR, "dismiss": VISIBLE, "restore": NOT_HIDDEN},
    (BY_FLAGS, True): {"hide": BY_MODERATOR, "dismiss": VISIBLE, "restore": VISIBLE},
    # Not reached: flags hide a post only while open, and every decision ends hidden_by_flags. A post
    # left so by hand is not stuck: a moderator may hide or restore it.
    (BY_FLAGS, False): {"hide": BY_MODERATOR, "dismiss": NO_FLAGS, "restore": VISIBLE},
    (BY_MODERATOR, True): {"hide": BY_MODERATOR, "dismiss": BY_MODERATOR, "restore": VISIBLE},
    (BY_MODERATOR, False): {"hide": ALREADY_HIDDEN, "dismiss": NO_FLAGS, "restore": VISIBLE},
}
DOCUMENT_TRANSITIONS: dict[bool, dict[str, str | Refused]] = {
    True: {"hide": CURATED, "dismiss": VISIBLE, "restore": NOT_HIDDEN},
    False: {"hide": CURATED, "dismiss": NO_FLAGS, "restore": NOT_HIDDEN},
}
RESOLVES_AS = {"hide": FlagStatus.upheld, "dismiss": FlagStatus.dismissed, "restore": FlagStatus.dismissed}


def state_of(post: Post) -> str:
    """``visible``, ``hidden_by_flags`` or ``hidden_by_moderator``."""
    if not post.hidden:
        return VISIBLE
    return BY_MODERATOR if post.hidden_by == HiddenBy.moderator else BY_FLAGS


def _set_state(post: Post, state: str, reason: str | None = None) -> None:
    post.hidden = state != VISIBLE
    post.hidden_by = {VISIBLE: None, BY_FLAGS: HiddenBy.flags.value, BY_MODERATOR: HiddenBy.moderator.value}[state]
    post.hidden_reason = reason if state == BY_MODERATOR else None


def outcome(kind: str, state: str, has_open_flags: bool, action: str) -> str | Refused:
    """The cell of the decision table: the state after ``action``, or why it is refused."""
    if kind == "document":
        return DOCUMENT_TRANSITIONS[has_open_flags][action]
    return TRANSITIONS[(state, has_open_flags)][action]


def _target(session: Session, kind: str, target_id: str) -> Post:
    if not (target_id.isascii() and target_id.isdigit()) or int(target_id) > MAX_ROW_ID:  # '²' is a digit too
        raise KbError(ErrorCode.NOT_FOUND, f"No {kind} {target_id!r}")
    item = session.get(MODELS[kind], int(target_id))
    if item is None:
        raise KbError(ErrorCode.NOT_FOUND, f"No {kind} {target_id!r}")
    return item


def _open_flags(session: Session, kind: str, target_id: int) -> list[Flag]:
    return list(session.execute(select(Flag).where(Flag.target_kind == kind, Flag.target_id == target_id,
                                                   Flag.status == FlagStatus.open).order_by(Flag.id)).scalars())


# ------------------------------------------------------------------------------------------ flags

def flag(session: Session, *, actor: Actor, data: FlagCreate, limits: Limits) -> Flag:
    """Flag community content (hidden automatically after ``limits.flags_to_hide`` distinct open flags,
    awaiting a moderator) or a document.

    A document flagged ``wrong`` or ``outdated`` goes to its space owners' review queue and is never
    hidden; other reasons on a document reach the moderators, who cannot hide curated content either.

    Raises:
        KbError NOT_FOUND: no such target, or one the actor may not see (a hidden post: the same answer).
        KbError ALREADY_EXISTS: the actor flagged it already.
    """
    kind = TargetKind(data.target)
    hidden_now = False
    item: Post | None = None
    if kind is TargetKind.document:
        target_id = documents.visible_document(session, actor=actor, slug=data.target_id).id
    else:
        item = _target(session, kind.value, data.target_id)
        target_id = item.id
    earlier = session.execute(select(Flag).where(Flag.target_kind == kind.value, Flag.target_id == target_id,
                                                 Flag.user_id == actor.id)).scalar_one_or_none()
    # A reader whose report on a document was closed (approved away, retired, dismissed) may report it again
    # when the facts change: one flag per reader and document, made anew (the review of 2026-12-07).
    again = (earlier is not None and kind is TargetKind.document and earlier.status == FlagStatus.review_requested
             and data.reason in (FlagReason.wrong, FlagReason.outdated)
             and not documents.has_open_report(session, document_id=target_id, user_id=actor.id))
    if earlier is not None and not again:  # before the visibility check: who flagged a post knows it, hidden or not
        raise KbError(ErrorCode.ALREADY_EXISTS, "You flagged this already")
    if item is not None and not may_see(actor, item):  # a hidden post is not there for whoever may not see it
        raise KbError(ErrorCode.NOT_FOUND, f"No {kind.value} {data.target_id!r}")
    status, report = FlagStatus.open, None
    if kind is TargetKind.document and data.reason in (FlagReason.wrong, FlagReason.outdated):
        report = documents.request_review(session, actor=actor, slug=data.target_id, reason=data.reason.value, note=data.note)
        status = FlagStatus.review_requested
    if again and earlier is not None:
        new = earlier
        new.reason, new.note, new.status, new.created_at = data.reason.value, data.note, status, utcnow()
    else:
        new = Flag(target_kind=kind.value, target_id=target_id, user_id=actor.id, reason=data.reason.value, note=data.note, status=status)  # type: ignore[arg-type]
    session.add(new)
    session.flush()
    if item is not None and state_of(item) == VISIBLE:
        flaggers = session.execute(select(func.count(func.distinct(Flag.user_id))).where(
            Flag.target_kind == kind.value, Flag.target_id == target_id, Flag.status == FlagStatus.open)).scalar_one()
        if flaggers >= limits.flags_to_hide:
            _set_state(item, BY_FLAGS)
            session.add(item)
            hidden_now = True
    provenance.record(session, actor, "flag.create", (kind.value, data.target_id),
                      {"reason": data.reason.value, "auto_hidden": hidden_now, "status": status.value,
                       **({"again": True} if again else {}),
                       **({"report": report.id, "report_state": documents.report_state(session, report)}
                          if report is not None else {})})
    return new


# ------------------------------------------------------------------------------------- decisions

def moderate(session: Session, *, actor: Actor, kind: str, target_id: str, decision: ModerationDecision) -> ModerationOutcome:
    """A moderator decides on one post: hide, dismiss its flags, or restore it, with a reason. The
    decision resolves every open flag on the post and is one audit event (``moderation.ACTION``).

    Raises:
        KbError NOT_FOUND: no such post or document.
        KbError CONFLICT: the table refuses the action from the post's state (docs/moderation.md), or
            ``decision.flag_ids`` is not the set of flags open now (someone flagged or decided meanwhile).
    """
    item: Post | None = None
    if kind == "document":
        key = documents.visible_document(session, actor=actor, slug=target_id).id
    else:
        item = _target(session, kind, target_id)
        key = item.id
    flags = _open_flags(session, kind, key)  # type: ignore[arg-type]
    open_ids = [f.id for f in flags]
    if decision.flag_ids is not None and sorted(set(decision.flag_ids)) != open_ids:
        raise KbError(ErrorCode.CONFLICT, f"The flags on {kind} {target_id} changed since you looked: reload and decide again",
                      details={"open_flags": open_ids})
    before = state_of(item) if item is not None else VISIBLE
    after = outcome(kind, before, bool(flags), decision.action)
    if isinstance(after, Refused):
        raise KbError(ErrorCode.CONFLICT, after.message.format(kind=kind.capitalize(), key=target_id))
    if item is not None:
        _set_state(item, after, decision.reason)
        session.add(item)
    now = utcnow()
    for pending in flags:
        pending.status, pending.resolved_by_id, pending.resolved_at, pending.resolution = (
            RESOLVES_AS[decision.action], actor.id, now, decision.reason)
        session.add(pending)
    provenance.record(session, actor, f"moderation.{decision.action}", (kind, target_id),
                      {"reason": decision.reason, "flags": open_ids, "state": {"from": before, "to": after}})
    return ModerationOutcome(target=kind, target_id=target_id, action=decision.action, reason=decision.reason,
                             state_before=before, state=after, flags_resolved=open_ids,  # type: ignore[arg-type]
                             flag_status=RESOLVES_AS[decision.action].value if flags else None)  # type: ignore[arg-type]


# ------------------------------------------------------------------------- what authors are told

def notices(session: Session, *, actor: Actor, kind: str, posts: list[Post]) -> dict[int, ModerationNotice]:
    """For each hidden post the actor may see (its author, a moderator): what hid it, truthfully."""
    shown = [p for p in posts if p.hidden and may_see(actor, p)]
    if not shown:
        return {}
    reports = dict(session.execute(select(Flag.target_id, func.count()).where(
        Flag.target_kind == kind, Flag.target_id.in_([p.id for p in shown]), Flag.status == FlagStatus.open)  # type: ignore[attr-defined]
        .group_by(Flag.target_id)).all())
    result = {}
    for post in shown:
        state, count = state_of(post), reports.get(post.id, 0)
        message = (f"Hidden by a moderator: {post.hidden_reason}" if state == BY_MODERATOR else
                   f"Hidden automatically after {count} report{'' if count == 1 else 's'}, awaiting a moderator")
        result[post.id] = ModerationNotice(state=state, reports=count, reason=post.hidden_reason, message=message)  # type: ignore[arg-type,index]
    return result


# ------------------------------------------------------------------------------------------ queue

def _excerpt(text: str, length: int = 240) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[:length - 1] + "…"


class _People:
    def __init__(self, session: Session) -> None:
        self.session, self.cache = session, {}

    def __call__(self, user_id: int | None) -> PersonRef | None:
        if user_id is None:
            return None
        if user_id not in self.cache:
            user = self.session.get(User, user_id)
            self.cache[user_id] = PersonRef(username=user.username, display_name=user.display_name) if user else None
        return self.cache[user_id]


def _thread_post(relation: str, kind: str, post: Post, people: _People) -> ThreadPost:
    deleted = getattr(post, "deleted_at", None) is not None
    text = post.title if isinstance(post, Question) else post.body_md
    return ThreadPost(relation=relation, kind=kind, id=post.id, author=None if deleted else people(post.author_id),  # type: ignore[arg-type]
                      excerpt="" if deleted else _excerpt(text), state="deleted" if deleted else state_of(post))  # type: ignore[arg-type]


def _neighbours(session: Session, model: type, parent_column, parent_id: int, post_id: int) -> list[tuple[str, Post]]:  # noqa: ANN001
    before = session.execute(select(model).where(parent_column == parent_id, model.id < post_id)
                             .order_by(model.id.desc()).limit(1)).scalar_one_or_none()
    after = session.execute(select(model).where(parent_column == parent_id, model.id > post_id)
                            .order_by(model.id).limit(1)).scalar_one_or_none()
    return [(relation, post) for relation, post in (("previous", before), ("next", after)) if post is not None]


def _document_title(session: Session, document_id: int) -> tuple[str, str]:
    found = documents.published(session, [document_id], with_chunks=False)
    return (found[0].document.slug, found[0].version.title) if found else (str(document_id), f"document {document_id}")


def _item(session: Session, kind: str, target_id: int, flags: list[Flag], people: _People) -> ModerationItem:
    queue_flags = [QueueFlag(id=f.id, flagged_by=people(f.user_id), reason=f.reason, note=f.note, created_at=f.created_at)  # type: ignore[arg-type]
                   for f in flags]
    common = {"flags": queue_flags, "reasons": dict(Counter(f.reason for f in flags)),
              "first_flagged_at": min(f.created_at for f in flags)}
    if kind == "document":
        slug, title = _document_title(session, target_id)
        return ModerationItem(target="document", target_id=slug, state=VISIBLE, hidden_reason=None, author=None, title=title,
                              body_html=None, excerpt=title, created_at=None, deleted=False, context=None, thread=[],
                              actions=_actions(kind, VISIBLE, True), **common)
    post = session.get(MODELS[kind], target_id)
    if post is None:
        raise KbError(ErrorCode.INTERNAL_ERROR, f"Bug: flags on {kind} {target_id}, which does not exist")
    context, thread = None, []
    if isinstance(post, Comment):
        slug, title = _document_title(session, post.document_id)
        context = ModerationContext(kind="document", key=slug, title=title)
        parent = session.get(Comment, post.parent_id) if post.parent_id else None
        thread = ([_thread_post("parent", "comment", parent, people)] if parent else []) + [
            _thread_post(relation, "comment", p, people) for relation, p in
            _neighbours(session, Comment, Comment.document_id, post.document_id, post.id) if p.id != post.parent_id]
    elif isinstance(post, Answer):
        question = session.get(Question, post.question_id)
        assert question is not None
        context = ModerationContext(kind="question", key=str(question.id), title=question.title)
        thread = [_thread_post("question", "question", question, people)] + [
            _thread_post(relation, "answer", p, people) for relation, p in
            _neighbours(session, Answer, Answer.question_id, question.id, post.id)]
    elif post.space_id is not None:
        space = accounts.get_space_by_id(session, post.space_id)
        context = ModerationContext(kind="space", key=space.slug, title=space.name)
    state = state_of(post)
    deleted = getattr(post, "deleted_at", None) is not None
    return ModerationItem(target=kind, target_id=str(post.id), state=state, hidden_reason=post.hidden_reason,  # type: ignore[arg-type]
                          author=people(post.author_id), title=post.title if isinstance(post, Question) else None,
                          body_html=post.body_html, excerpt=_excerpt(post.title if isinstance(post, Question) else post.body_md),
                          created_at=post.created_at, deleted=deleted, context=context,
                          thread=thread, actions=_actions(kind, state, True), **common)


def _actions(kind: str, state: str, has_open_flags: bool) -> list[Action]:
    return [a for a in ACTIONS if not isinstance(outcome(kind, state, has_open_flags, a), Refused)]


def moderation_queue(session: Session) -> list[ModerationItem]:
    """One entry per post with open flags, every open flag on it, the post in its thread; the post
    reported first comes first. (Who may see it: ``moderation.queue``.)"""
    groups: dict[tuple[str, int], list[Flag]] = {}
    for item in session.execute(select(Flag).where(Flag.status == FlagStatus.open).order_by(Flag.created_at, Flag.id)).scalars():
        groups.setdefault((item.target_kind, item.target_id), []).append(item)
    people = _People(session)
    return [_item(session, kind, target_id, flags, people) for (kind, target_id), flags in groups.items()]
