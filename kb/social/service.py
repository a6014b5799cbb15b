"""Rules of the social layer: comments, ratings, feedback, questions and answers, votes, promotion
and reputation (flags and moderation: ``kb.social.moderation``).

Community content is stored apart from curated knowledge, rendered by ``kb.markdown`` (sanitised,
``COMMUNITY`` policy), bounded (length caps, a link cap for new accounts, duplicate detection) and
flaggable. It points at documents by id and uses only what ``kb.documents`` re-exports. Every state
change records one audit event; functions never commit (``kb.social.actions`` owns the transaction
and the role gate). Must not import the web framework, ``kb.documents`` internals, search or experts.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import func, select
from sqlmodel import Session

from kb import documents, provenance
from kb.provenance import AuditEvent
from kb.accounts import service as accounts
from kb.accounts.models import User
from kb.actors import Actor
from kb.db import utcnow
from kb.errors import ErrorCode, KbError
from kb.social.models import Answer, Comment, CommentEdit, HitFeedback, Question, Rating, Vote
from kb.markdown import COMMUNITY, count_links, to_html
from kb.social.schemas import AnswerCreate, CommentCreate, FeedbackCreate, PromoteRequest, QuestionCreate

NEW_ACCOUNT_AGE = dt.timedelta(days=1)
NEW_ACCOUNT_MAX_LINKS = 2
DUPLICATE_WINDOW = dt.timedelta(days=1)
REPUTATION = {"accepted_answer": 15, "answer_upvote": 10, "question_upvote": 5, "downvote": -2, "approved_document": 20}


@dataclass(frozen=True)
class Limits:
    flags_to_hide: int = 3
    comment_edit_minutes: int = 15


# ------------------------------------------------------------------------------------- guards

def _normalised(text: str) -> str:
    return " ".join(text.casefold().split())


def _guard_post(session: Session, actor: Actor, body: str, model: type) -> None:
    """Abuse guards common to every post: link cap for new accounts, duplicate detection."""
    user = session.get(User, actor.id)
    assert user is not None
    if utcnow() - user.created_at < NEW_ACCOUNT_AGE and count_links(body) > NEW_ACCOUNT_MAX_LINKS:
        raise KbError(ErrorCode.VALIDATION_ERROR,
                      f"New accounts may post at most {NEW_ACCOUNT_MAX_LINKS} links in the first day")
    since = utcnow() - DUPLICATE_WINDOW
    # A question's text is its title and body, as ``ask`` passes it (comparing its body alone never matched).
    columns = (model.title, model.body_md) if model is Question else (model.body_md,)
    recent = session.execute(select(*columns).where(model.author_id == actor.id, model.created_at >= since)).all()
    if any(_normalised("\n".join(previous)) == _normalised(body) for previous in recent):
        raise KbError(ErrorCode.CONFLICT, "You posted the same text already in the last day")


def _is_moderator(actor: Actor) -> bool:
    return actor.is_moderator


def may_see(actor: Actor, post: Comment | Question | Answer) -> bool:
    """Whether ``actor`` sees ``post``: hidden content (``kb.social.moderation``) is seen only by its author and the moderators."""
    return not post.hidden or post.author_id == actor.id or _is_moderator(actor)


# ------------------------------------------------------------------------------------ comments

def comment(session: Session, *, actor: Actor, slug: str, data: CommentCreate) -> Comment:
    """Comment on the approved version of a document (threaded by ``parent_id``)."""
    document, version = documents.document_for_social(session, actor=actor, slug=slug)
    if data.parent_id is not None:
        parent = session.get(Comment, data.parent_id)
        if parent is None or parent.document_id != document.id:
            raise KbError(ErrorCode.NOT_FOUND, f"No comment {data.parent_id} on {slug!r} to reply to")
    _guard_post(session, actor, data.body_md, Comment)
    item = Comment(document_id=document.id, version_number=version.number, parent_id=data.parent_id,  # type: ignore[arg-type]
                   author_id=actor.id, body_md=data.body_md, body_html=to_html(data.body_md, COMMUNITY))
    session.add(item)
    session.flush()
    provenance.record(session, actor, "comment.create", ("comment", item.id),
                      {"document": slug, "on_version": version.number, "parent_id": data.parent_id})
    return item


def _own_comment(session: Session, actor: Actor, comment_id: int) -> Comment:
    item = session.get(Comment, comment_id)
    if item is None or not may_see(actor, item):
        raise KbError(ErrorCode.NOT_FOUND, f"No comment {comment_id}")
    return item


def editable_until(actor: Actor, item: Comment, limits: Limits) -> dt.datetime | None:
    """Until when ``actor`` may edit ``item``: its author, not deleted, within the edit window; else None."""
    until = item.created_at + dt.timedelta(minutes=limits.comment_edit_minutes)
    return until if item.author_id == actor.id and item.deleted_at is None and utcnow() <= until else None


def edit_comment(session: Session, *, actor: Actor, comment_id: int, body_md: str, limits: Limits) -> Comment:
    """The author edits within the edit window (``editable_until``); the previous text is kept."""
    item = _own_comment(session, actor, comment_id)
    if item.author_id != actor.id:
        raise KbError(ErrorCode.FORBIDDEN, "Only the author may edit a comment")
    if item.deleted_at is not None:
        raise KbError(ErrorCode.CONFLICT, "A deleted comment cannot be edited")
    if editable_until(actor, item, limits) is None:
        raise KbError(ErrorCode.CONFLICT, f"Comments can be edited for {limits.comment_edit_minutes} minutes after posting")
    if body_md == item.body_md:
        return item
    session.add(CommentEdit(comment_id=item.id, previous_body_md=item.body_md))  # type: ignore[arg-type]
    item.body_md, item.body_html, item.edited_at = body_md, to_html(body_md, COMMUNITY), utcnow()
    session.add(item)
    session.flush()
    provenance.record(session, actor, "comment.edit", ("comment", item.id), {})
    return item


def delete_comment(session: Session, *, actor: Actor, comment_id: int) -> Comment:
    """The author or a moderator deletes; a tombstone stays so the thread keeps its shape."""
    item = _own_comment(session, actor, comment_id)
    if item.author_id != actor.id and not _is_moderator(actor):
        raise KbError(ErrorCode.FORBIDDEN, "Only the author or a moderator may delete a comment")
    if item.deleted_at is not None:
        raise KbError(ErrorCode.CONFLICT, f"Comment {comment_id} is already deleted")
    item.deleted_at = utcnow()
    session.add(item)
    provenance.record(session, actor, "comment.delete", ("comment", item.id), {"by_moderator": item.author_id != actor.id})
    return item


class CommentThread(NamedTuple):
    """The comments of one document, with what a surface shows beside them."""

    space_id: int
    comments: list[Comment]
    current_version: int  # the number of its approved version; 0: none


def comments_of(session: Session, *, actor: Actor, slug: str) -> CommentThread:
    """A document's comments, oldest first.

    Raises:
        KbError NOT_FOUND: no document ``slug``, or one the actor may not see (the same answer).
    """
    document = documents.visible_document(session, actor=actor, slug=slug)
    current = documents.published(session, [document.id])  # type: ignore[list-item]
    return CommentThread(document.space_id, comments_on(session, document.id),  # type: ignore[arg-type]
                         current[0].version.number if current else 0)


def comments_on(session: Session, document_id: int) -> list[Comment]:
    """The comments of a document that the caller has already shown its reader may see (the public
    community block: an approved, public document), oldest first."""
    return list(session.execute(select(Comment).where(Comment.document_id == document_id).order_by(Comment.id)).scalars())


def posted_at(session: Session, comment_ids: list[int]) -> dict[int, dt.datetime]:
    """When each comment was posted, by its ``comment.create`` event (absent: no event posted it). The
    public community block serves what was written after the space opened it by this, not by the row's
    ``created_at``, which an edit outside kb could move forward (the second insider review of 2026-12-07)."""
    if not comment_ids:
        return {}
    rows = session.execute(select(AuditEvent.object_id, AuditEvent.at).where(
        AuditEvent.action == "comment.create", AuditEvent.object_type == "comment",
        AuditEvent.object_id.in_([str(i) for i in comment_ids])))  # type: ignore[union-attr, attr-defined]
    return {int(object_id): provenance.event_time(at) for object_id, at in rows}


def edit_counts(session: Session, comment_ids: list[int]) -> dict[int, int]:
    if not comment_ids:
        return {}
    return dict(session.execute(select(CommentEdit.comment_id, func.count()).where(CommentEdit.comment_id.in_(comment_ids))  # type: ignore[union-attr]
                                .group_by(CommentEdit.comment_id)).all())


# ------------------------------------------------------------------------------ ratings, feedback

def rate(session: Session, *, actor: Actor, slug: str, stars: int) -> Rating:
    """One rating per user per document; a new rating replaces the old."""
    document, _version = documents.document_for_social(session, actor=actor, slug=slug)
    rating = session.execute(select(Rating).where(Rating.document_id == document.id, Rating.user_id == actor.id)).scalar_one_or_none()
    previous = rating.stars if rating else None
    if rating is None:
        rating = Rating(document_id=document.id, user_id=actor.id, stars=stars)  # type: ignore[arg-type]
    else:
        rating.stars, rating.updated_at = stars, utcnow()
    session.add(rating)
    session.flush()
    provenance.record(session, actor, "rating.set", ("document", slug), {"stars": stars, "previous": previous})
    return rating


def rating_summary(session: Session, document_ids: list[int], user_id: int | None = None) -> dict[int, tuple[float | None, int, int | None]]:
    """document id → (average, count, the user's own rating)."""
    if not document_ids:
        return {}
    rows = session.execute(select(Rating.document_id, func.avg(Rating.stars), func.count())
                           .where(Rating.document_id.in_(document_ids)).group_by(Rating.document_id)).all()  # type: ignore[union-attr]
    mine = {}
    if user_id is not None:
        mine = dict(session.execute(select(Rating.document_id, Rating.stars).where(
            Rating.document_id.in_(document_ids), Rating.user_id == user_id)).all())  # type: ignore[union-attr]
    summary = {doc: (round(float(avg), 2), count, mine.get(doc)) for doc, avg, count in rows}
    return {doc: summary.get(doc, (None, 0, mine.get(doc))) for doc in document_ids}


def feedback(session: Session, *, actor: Actor, data: FeedbackCreate) -> HitFeedback:
    """'Did this answer your question?' on a search hit, kept for analytics (a document the actor sees)."""
    document, _ = documents.document_for_social(session, actor=actor, slug=data.document)
    item = HitFeedback(document_id=document.id, query=" ".join(data.query.split()), helpful=data.helpful)  # type: ignore[arg-type]
    session.add(item)
    session.flush()
    provenance.record(session, actor, "feedback.create", ("document", data.document), {"helpful": data.helpful})
    return item


# ---------------------------------------------------------------------------- questions, answers

def ask(session: Session, *, actor: Actor, data: QuestionCreate) -> Question:
    _guard_post(session, actor, data.title + "\n" + data.body_md, Question)
    space_id = accounts.get_space(session, data.space).id if data.space else None
    linked: dict[str, int] = {}
    for slug in sorted(set(data.documents)):
        try:  # a document the asker may not see is refused as an unknown one (issue 16)
            linked[slug] = documents.visible_document(session, actor=actor, slug=slug).id  # type: ignore[assignment]
        except KbError:
            raise KbError(ErrorCode.NOT_FOUND, f"No document {slug!r} to link") from None
    question = Question(title=data.title, body_md=data.body_md, body_html=to_html(data.body_md, COMMUNITY), tags=json.dumps(sorted(set(data.tags))),
                        linked_document_ids=json.dumps(sorted(linked.values())), author_id=actor.id, space_id=space_id)
    session.add(question)
    session.flush()
    provenance.record(session, actor, "question.create", ("question", question.id), {"space": data.space, "tags": sorted(set(data.tags))})
    return question


def get_question(session: Session, *, actor: Actor, question_id: int) -> Question:
    question = session.get(Question, question_id)
    if question is None or not may_see(actor, question):
        raise KbError(ErrorCode.NOT_FOUND, f"No question {question_id}")
    return question


def answer(session: Session, *, actor: Actor, question_id: int, data: AnswerCreate) -> Answer:
    question = get_question(session, actor=actor, question_id=question_id)
    if question.duplicate_of_id is not None:
        raise KbError(ErrorCode.CONFLICT, f"Question {question_id} is closed as a duplicate of {question.duplicate_of_id}")
    _guard_post(session, actor, data.body_md, Answer)
    item = Answer(question_id=question.id, body_md=data.body_md, body_html=to_html(data.body_md, COMMUNITY), author_id=actor.id)  # type: ignore[arg-type]
    session.add(item)
    session.flush()
    provenance.record(session, actor, "answer.create", ("answer", item.id),
                      {"question": question.id, "body_sha256": documents.sha256_text(data.body_md)})
    return item


def _require_as_recorded(session: Session, answer: Answer, question: Question) -> None:
    """The accepted answer is what kb recorded: written by the actor of its ``answer.create`` to this
    question, with the text that event committed to (events since the insider review of 2026-12-07 do;
    an older one vouches for the author and the question only), and accepted by the question's newest
    ``answer.accept``. A promotion credits its author on a curated card and takes its text under the
    question's title: an author, a text, a question or an acceptance changed in the database must not
    become "written by carl" in curated knowledge (F6).

    Raises:
        KbError CONFLICT: no such event, another author, text, question or accepted answer.
    """
    events = provenance.list_events(session, action="answer.create", object_type="answer", object_id=str(answer.id),
                                    limit=2)
    recorded = json.loads(events[0].payload) if len(events) == 1 else {}
    committed = recorded.get("body_sha256")
    accepted = provenance.list_events(session, action="answer.accept", object_type="question",
                                      object_id=str(question.id), limit=1, newest_first=True)
    if (len(events) != 1 or events[0].actor_id != answer.author_id or recorded.get("question") != question.id
            or answer.question_id != question.id
            or not accepted or json.loads(accepted[0].payload).get("answer") != answer.id
            or (committed is not None and committed != documents.sha256_text(answer.body_md))):
        raise KbError(ErrorCode.CONFLICT, f"Answer {answer.id} is not what the audit log recorded (its author, text, question "
                      "or acceptance was changed outside kb): it cannot be promoted", details={"rule": "unrecorded_answer",
                                                                                  "answer": answer.id})


def _post(session: Session, kind: str, post_id: int) -> Question | Answer:
    model = Question if kind == "question" else Answer
    post = session.get(model, post_id)
    if post is None or post.hidden:
        raise KbError(ErrorCode.NOT_FOUND, f"No {kind} {post_id}")
    return post


def vote(session: Session, *, actor: Actor, kind: str, post_id: int, value: int) -> Vote:
    """+1 or −1, one per user per post (a second vote replaces the first), never on one's own post."""
    post = _post(session, kind, post_id)
    if post.author_id == actor.id:
        raise KbError(ErrorCode.FORBIDDEN, "You cannot vote on your own post")
    existing = session.execute(select(Vote).where(Vote.target_kind == kind, Vote.target_id == post_id,
                                                  Vote.user_id == actor.id)).scalar_one_or_none()
    previous = existing.value if existing else None
    if existing is None:
        existing = Vote(target_kind=kind, target_id=post_id, user_id=actor.id, value=value)  # type: ignore[arg-type]
    else:
        existing.value, existing.at = value, utcnow()
    session.add(existing)
    session.flush()
    provenance.record(session, actor, "vote.set", (kind, post_id), {"value": value, "previous": previous})
    return existing


def scores(session: Session, kind: str, post_ids: list[int]) -> dict[int, int]:
    if not post_ids:
        return {}
    return dict(session.execute(select(Vote.target_id, func.sum(Vote.value)).where(
        Vote.target_kind == kind, Vote.target_id.in_(post_ids)).group_by(Vote.target_id)).all())  # type: ignore[union-attr]


def _owns_question_space(actor: Actor, question: Question) -> bool:
    return question.space_id is not None and actor.owns(question.space_id)


def may_accept(actor: Actor, question: Question) -> bool:
    """Whether ``actor`` may accept an answer to ``question``: its asker or an owner of its space."""
    return question.author_id == actor.id or _owns_question_space(actor, question)


def accept(session: Session, *, actor: Actor, question_id: int, answer_id: int) -> Question:
    """The asker or an owner of the question's space accepts an answer."""
    question = get_question(session, actor=actor, question_id=question_id)
    if not may_accept(actor, question):
        raise KbError(ErrorCode.FORBIDDEN, "Only the asker or an owner of the question's space may accept an answer")
    chosen = session.get(Answer, answer_id)
    if chosen is None or chosen.question_id != question.id or chosen.hidden:
        raise KbError(ErrorCode.NOT_FOUND, f"No answer {answer_id} to question {question_id}")
    previous = question.accepted_answer_id
    if previous == chosen.id:
        return question  # accepted already: nothing changes, so nothing is recorded and nobody is told again
    question.accepted_answer_id, question.accepted_at = chosen.id, utcnow()
    session.add(question)
    provenance.record(session, actor, "answer.accept", ("question", question.id), {"answer": chosen.id, "previous": previous})
    return question


def close_duplicate(session: Session, *, actor: Actor, question_id: int, duplicate_of: int) -> Question:
    question = get_question(session, actor=actor, question_id=question_id)
    if question.author_id != actor.id and not _owns_question_space(actor, question) and not _is_moderator(actor):
        raise KbError(ErrorCode.FORBIDDEN, "Only the asker, an owner of its space or a moderator may close a question")
    target = get_question(session, actor=actor, question_id=duplicate_of)
    if target.id == question.id or target.duplicate_of_id == question.id:
        raise KbError(ErrorCode.CONFLICT, "A question cannot be a duplicate of itself")
    question.duplicate_of_id = target.id
    session.add(question)
    provenance.record(session, actor, "question.close", ("question", question.id), {"duplicate_of": target.id})
    return question


def list_questions(session: Session, *, unanswered: bool, limit: int, offset: int,
                   answered: bool = False) -> tuple[list[Question], dict[int, int], int]:
    """Questions newest first, with their answer counts: only unanswered ones (``unanswered``), only
    answered ones (``answered``), or all with the unanswered first."""
    counts = dict(session.execute(select(Answer.question_id, func.count()).where(Answer.hidden.is_(False))  # type: ignore[attr-defined]
                                  .group_by(Answer.question_id)).all())
    questions = list(session.execute(select(Question).where(Question.hidden.is_(False)).order_by(Question.id.desc())).scalars())  # type: ignore[attr-defined,union-attr]
    if unanswered:
        questions = [q for q in questions if not counts.get(q.id) and q.duplicate_of_id is None]
    elif answered:
        questions = [q for q in questions if counts.get(q.id)]
    else:
        questions.sort(key=lambda q: bool(counts.get(q.id)))  # unanswered first, then newest
    return questions[offset:offset + limit], counts, len(questions)


def questions_of(session: Session, user_id: int) -> tuple[list[Question], list[Question], dict[int, int]]:
    """The questions ``user_id`` asked (newest first, hidden ones included: they are theirs) and those they
    answered that they may see (a question a moderator hid is its author's and the moderators' alone,
    ``may_see``), with the visible answer count of each."""
    asked = list(session.execute(select(Question).where(Question.author_id == user_id).order_by(Question.id.desc())).scalars())  # type: ignore[union-attr]
    answered_ids = select(Answer.question_id).where(Answer.author_id == user_id)
    answered = list(session.execute(select(Question).where(  # type: ignore[union-attr]
        Question.id.in_(answered_ids), Question.hidden.is_(False) | (Question.author_id == user_id))  # type: ignore[union-attr,attr-defined]
        .order_by(Question.id.desc())).scalars())  # type: ignore[union-attr]
    ids = [q.id for q in asked + answered]
    counts = dict(session.execute(select(Answer.question_id, func.count()).where(  # type: ignore[call-overload]
        Answer.hidden.is_(False), Answer.question_id.in_(ids)).group_by(Answer.question_id)).all()) if ids else {}  # type: ignore[attr-defined]
    return asked, answered, counts


def answers_of(session: Session, question_id: int) -> list[Answer]:
    return list(session.execute(select(Answer).where(Answer.question_id == question_id).order_by(Answer.id)).scalars())


def promotion_slug(title: str, question_id: int) -> str:
    """A document slug made from a question's title (``question-N`` when the title has no letters or digits)."""
    words = "-".join(re.findall(r"[a-z0-9]+", title.lower()))[:80].strip("-")
    return words or f"question-{question_id}"


def promote(session: Session, *, actor: Actor, question_id: int, data: PromoteRequest) -> str:
    """A space owner turns the accepted answer into a curated document, submitted for review (issue 17):
    in the question's space unless another is named, titled from the question unless a title is given.
    Raises KbError CONFLICT for an answer that is not what the audit log recorded (``_require_as_recorded``)."""
    question = get_question(session, actor=actor, question_id=question_id)
    if question.accepted_answer_id is None:
        raise KbError(ErrorCode.CONFLICT, "Only an accepted answer can be promoted")
    if question.promoted_document_id is not None:
        raise KbError(ErrorCode.CONFLICT, f"Question {question_id} was promoted already")
    accepted = session.get(Answer, question.accepted_answer_id)
    assert accepted is not None
    _require_as_recorded(session, accepted, question)
    space = data.space or (accounts.get_space_by_id(session, question.space_id).slug if question.space_id is not None else None)
    if space is None:
        raise KbError(ErrorCode.VALIDATION_ERROR, "Name the space of the new document: the question is in none",
                      details=[{"loc": ["body", "space"], "msg": "required when the question has no space", "type": "missing"}])
    title = data.title or question.title
    body = f"# {title}\n\n{accepted.body_md}\n"
    document, _version = documents.create_promoted(
        session, actor=actor, space_slug=space,
        data=documents.DocumentCreate(slug=data.slug or promotion_slug(title, question.id), title=title, body_md=body,
                                      audience=data.audience),
        source_uri=f"kb:question/{question.id}#answer-{accepted.id}", contributor_ids=[accepted.author_id],
        origin={"question": question.id, "answer": accepted.id, "answer_author": accepted.author_id},
        intended_use=data.intended_use,
    )
    question.promoted_document_id = document.id
    session.add(question)
    return document.slug


# ------------------------------------------------------------------------------------ reputation

def reputation(session: Session, user_id: int) -> int:
    answer_ids = list(session.execute(select(Answer.id).where(Answer.author_id == user_id)).scalars())
    question_ids = list(session.execute(select(Question.id).where(Question.author_id == user_id)).scalars())
    accepted = session.execute(select(func.count()).select_from(Question).where(
        Question.accepted_answer_id.in_(answer_ids))).scalar_one() if answer_ids else 0  # type: ignore[union-attr]
    total = accepted * REPUTATION["accepted_answer"]
    for kind, ids, weight in (("answer", answer_ids, REPUTATION["answer_upvote"]), ("question", question_ids, REPUTATION["question_upvote"])):
        if ids:
            for value, count in session.execute(select(Vote.value, func.count()).where(
                    Vote.target_kind == kind, Vote.target_id.in_(ids)).group_by(Vote.value)).all():  # type: ignore[union-attr]
                total += count * (weight if value > 0 else REPUTATION["downvote"])
    total += documents.approved_versions_by(session, user_id) * REPUTATION["approved_document"]
    return total


def profile(session: Session, *, username: str) -> dict[str, object]:
    user = accounts.get_user(session, username)
    answer_ids = list(session.execute(select(Answer.id).where(Answer.author_id == user.id)).scalars())
    return {
        "username": user.username, "display_name": user.display_name, "reputation": reputation(session, user.id),  # type: ignore[arg-type]
        "questions": session.execute(select(func.count()).select_from(Question).where(Question.author_id == user.id)).scalar_one(),
        "answers": len(answer_ids),
        "accepted_answers": session.execute(select(func.count()).select_from(Question).where(
            Question.accepted_answer_id.in_(answer_ids))).scalar_one() if answer_ids else 0,  # type: ignore[union-attr]
        "approved_documents": documents.approved_versions_by(session, user.id),  # type: ignore[arg-type]
    }


@dataclass(frozen=True)
class CommunityText:
    question_id: int
    title: str
    body: str
    accepted_answer: str | None
    answers: int


def searchable_questions(session: Session) -> list[CommunityText]:
    """Visible questions with their accepted answer: what search offers in its community section."""
    questions = list(session.execute(select(Question).where(Question.hidden.is_(False))).scalars())  # type: ignore[attr-defined]
    if not questions:  # every search asks: spare it the answers' query
        return []
    answers: dict[int, list[Answer]] = {}
    for item in session.execute(select(Answer).where(Answer.hidden.is_(False))).scalars():  # type: ignore[attr-defined]
        answers.setdefault(item.question_id, []).append(item)
    result = []
    for q in questions:
        accepted = next((a.body_md for a in answers.get(q.id, []) if a.id == q.accepted_answer_id), None)  # type: ignore[arg-type]
        result.append(CommunityText(q.id, q.title, q.body_md, accepted, len(answers.get(q.id, []))))  # type: ignore[arg-type]
    return result


def accepted_answer_of(session: Session, question_id: int) -> int | None:
    question = session.get(Question, question_id)
    return question.accepted_answer_id if question is not None else None


