"""Expert location: who can answer this? Evidence comes from accountable acts, not self-description.

The document-centric model (Balog, Azzopardi, de Rijke 2006, "Model 2"): for the items hybrid
search retrieves for the query, score(person) = Σ_item relevance(item) × association(person, item),
where the association sums configurable weights per kind of evidence (authored, contributed, owns,
approved, accepted answer, upvoted answer); declared skills count, less, and are labelled
self-declared. People who opted out are never suggested. Reads documents, social and search; nothing
imports this package except the app, the web UI, the CLI and kb.notifications (which delivers the
ask-an-expert webhook and writes its outcome here).

The per-object rules live here, once: nobody asks themselves, nobody asks someone who opted out, the
asker of a question is never suggested for it. No permission checks and no transactions: the
actions of ``kb.experts.actions`` are the door. Must not import FastAPI.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlmodel import Session

from kb import documents, provenance
from kb.accounts import service as accounts
from kb.accounts.models import User
from kb.actors import Actor, SpaceRole
from kb.errors import ErrorCode, KbError
from kb.experts.models import ExpertProfile, ExpertRequest
from kb.experts.schemas import Evidence, ExpertHit
from kb.search import analysis
from kb.search import relevance as relevance_bar
from kb.search import language as languages
from kb.search import service as search
from kb.search.indexer import SearchIndexes
from kb.search.interfaces import SearchFilters
from kb.search.schemas import Mode
from kb.social import service as social

log = logging.getLogger("kb.experts")

DEFAULT_WEIGHTS = {"authored": 1.0, "contributed": 0.7, "accepted_answer": 0.8, "upvoted_answer": 0.4,
                   "approved": 0.3, "owns": 0.3, "self_declared": 0.2}
RETRIEVED_DOCUMENTS = 100
RETRIEVED_QUESTIONS = 20
WEBHOOK_NOT_CONFIGURED = "not_configured"
WEBHOOK_PENDING = "pending"
WEBHOOK_SENT = "sent"
WEBHOOK_FAILED = "failed: "
WEBHOOK_STATUS_CHARS = 200


@dataclass
class Item:
    """One retrieved item and who is associated with it, in which role."""

    key: str
    title: str
    relevance: float
    people: list[tuple[int, str]] = field(default_factory=list)


def model2(items: list[Item], weights: dict[str, float]) -> list[tuple[int, float, list[Evidence]]]:
    """Pure scoring: (person, score, evidence best first), best person first."""
    scores: dict[int, float] = defaultdict(float)
    evidence: dict[int, list[Evidence]] = defaultdict(list)
    for item in items:
        for person, kind in item.people:
            weight = weights.get(kind, 0.0)
            if weight <= 0:
                continue
            scores[person] += item.relevance * weight
            evidence[person].append(Evidence(kind=kind, item=item.key, title=item.title,
                                             relevance=round(item.relevance, 4), weight=weight))
    ranked = sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))
    return [(person, score, sorted(evidence[person], key=lambda e: -(e.relevance * e.weight)))
            for person, score in ranked]


def _normalised(scores: list[float]) -> list[float]:
    if not scores:
        return []
    high, low = max(scores), min(scores)
    return [0.05 + 0.95 * ((s - low) / (high - low) if high > low else 1.0) for s in scores]


def _profiles(session: Session) -> dict[int, ExpertProfile]:
    return {p.user_id: p for p in session.execute(select(ExpertProfile)).scalars()}


def evidence_items(session: Session, indexes: SearchIndexes, text: str, *, mode: Mode = Mode.hybrid,
                   spaces: frozenset[int] | None = None) -> list[Item]:
    """The retrieved documents and community answers, each with its associated people.

    Only documents that clear search's relevance bar count as evidence (``kb.search.relevance``,
    issue 17: the author of "Carer's allowance" was suggested for "can I bring my dog to the office"):
    a person is an expert on what they wrote that answers the question, not on what ranked first.
    """
    filters = SearchFilters(include_internal=True, spaces=spaces)
    found = search.ranked_documents(session, indexes, text, mode, filters, None, RETRIEVED_DOCUMENTS)[:RETRIEVED_DOCUMENTS]
    query_language = languages.resolve(text).query
    found = [f for f in search.judge(session, indexes, text, found, query_language, filters)
             if relevance_bar.clears(f, query_language, relevance_bar.EVIDENCE_BAR)]
    published = {p.document.id: p for p in documents.published(session, [f.document_id for f in found])}
    items = []
    for f, relevance in zip(found, _normalised([f.score for f in found])):
        p = published.get(f.document_id)
        if p is None:
            continue
        people = [(p.version.author_id, "authored")]
        people += [(c, "contributed") for c in json.loads(p.version.contributor_ids)]
        people += [(p.document.owner_id, "owns")]
        if p.version.approver_id:
            people.append((p.version.approver_id, "approved"))
        items.append(Item(p.document.slug, p.version.title, relevance, people))
    if spaces is None:
        community = search.community(session, text, limit=RETRIEVED_QUESTIONS)
        for hit, relevance in zip(community, _normalised([c["score"] for c in community])):
            accepted = social.accepted_answer_of(session, hit["id"])
            answers = social.answers_of(session, hit["id"])
            votes = social.scores(session, "answer", [a.id for a in answers])  # type: ignore[misc]
            people = []
            for answer in answers:
                if answer.hidden:
                    continue
                if answer.id == accepted:
                    people.append((answer.author_id, "accepted_answer"))
                elif votes.get(answer.id, 0) > 0:  # type: ignore[arg-type]
                    people.append((answer.author_id, "upvoted_answer"))
            items.append(Item(f"question/{hit['id']}", hit["title"], relevance, people))
    return items


def find_experts(
    session: Session, indexes: SearchIndexes, *, actor: Actor, query: str, space: str | None = None,
    exclude_me: bool = False, limit: int = 10, mode: Mode = Mode.hybrid, weights: dict[str, float] | None = None,
    leave_out: Collection[int] = (),
) -> list[ExpertHit]:
    """Rank colleagues for ``query`` with the evidence behind each score.

    Args:
        exclude_me: leave the actor out.
        leave_out: user ids never suggested (before the ``limit`` is counted).

    Raises:
        KbError BAD_REQUEST: the query is empty.
        KbError NOT_FOUND: no space ``space``.
    """
    text = search.clean_query(query)
    if not text:
        raise KbError(ErrorCode.BAD_REQUEST, "Say what you need an expert for: the query is empty")
    weights = {**DEFAULT_WEIGHTS, **(weights or {})}
    spaces = frozenset({accounts.get_space(session, space).id}) if space else None  # type: ignore[arg-type]
    items = evidence_items(session, indexes, text, mode=mode, spaces=spaces)
    profiles = _profiles(session)
    wanted = set(analysis.query_tokens(text, "en"))
    for user_id, profile in profiles.items():
        for skill in json.loads(profile.declared_skills):
            overlap = wanted & set(analysis.query_tokens(skill, "en"))
            if overlap:
                items.append(Item(skill, "self-declared", len(overlap) / max(1, len(wanted)), [(user_id, "self_declared")]))
    ranked = model2(items, weights)
    users = {u.id: u for u in session.execute(select(User).where(User.id.in_([p for p, _, _ in ranked]))).scalars()} if ranked else {}  # type: ignore[union-attr]
    hits = []
    for person, score, evidence in ranked:
        user = users.get(person)
        if user is None or not user.is_active or (profiles.get(person) and profiles[person].opted_out):
            continue
        if (exclude_me and person == actor.id) or person in leave_out:
            continue
        hits.append(ExpertHit(username=user.username, display_name=user.display_name, score=round(score, 4), evidence=evidence[:8]))
        if len(hits) >= limit:
            break
    return hits


def experts_for_question(session: Session, indexes: SearchIndexes, *, actor: Actor, question_id: int, limit: int = 5,
                         weights: dict[str, float] | None = None) -> tuple[str, list[ExpertHit]]:
    """Colleagues suggested for a question: its title and body are the query; neither the asker nor the
    actor is suggested. Returns the question's title and the experts.

    Raises:
        KbError NOT_FOUND: no question ``question_id`` the actor may see.
    """
    question = social.get_question(session, actor=actor, question_id=question_id)
    text = f"{question.title} {question.body_md}"[:search.MAX_QUERY_CHARS]
    hits = find_experts(session, indexes, actor=actor, query=text, exclude_me=True, limit=limit, weights=weights,
                        leave_out={question.author_id})
    return question.title, hits


def most_prolific(session: Session, limit: int = 10) -> list[str]:
    """Baseline for the evaluation: authors of the most approved documents, whatever the query."""
    counts = Counter(p.version.author_id for p in documents.published(session))
    users = {u.id: u.username for u in session.execute(select(User)).scalars()}
    return [users[user_id] for user_id, _ in counts.most_common(limit)]


# ------------------------------------------------------------------------------------- profiles

def _profile_row(session: Session, user_id: int) -> ExpertProfile:
    return session.get(ExpertProfile, user_id) or ExpertProfile(user_id=user_id)


def update_profile(session: Session, *, actor: Actor, declared_skills: list[str] | None, opted_out: bool | None) -> ExpertProfile:
    profile = _profile_row(session, actor.id)
    changes: dict[str, object] = {}
    if declared_skills is not None:
        profile.declared_skills = json.dumps(sorted(set(declared_skills)))
        changes["declared_skills"] = sorted(set(declared_skills))
    if opted_out is not None and opted_out != profile.opted_out:
        profile.opted_out = opted_out
        changes["opted_out"] = opted_out
    session.add(profile)
    session.flush()
    provenance.record(session, actor, "profile.update", ("user", actor.username), changes)
    return profile


def expert_profile(session: Session, *, username: str) -> dict[str, object]:
    user = accounts.get_user(session, username)
    profile = _profile_row(session, user.id)  # type: ignore[arg-type]
    authored = [p for p in documents.published(session) if p.version.author_id == user.id]
    tags = Counter(tag for p in authored for tag in documents.tags_of(p.version))
    terms = Counter(t for p in authored for t in analysis.tokens(p.version.title, p.version.language) if len(t) > 3)
    owned = [slug for slug, role in accounts.memberships_of(session, user.id) if role is SpaceRole.owner]  # type: ignore[arg-type]
    person = social.profile(session, username=username)
    return {
        "username": user.username, "display_name": user.display_name, "reputation": person["reputation"],
        "spaces_owned": owned, "documents": [p.document.slug for p in authored], "answers": person["answers"],
        "accepted_answers": person["accepted_answers"],
        "expertise": [t for t, _ in tags.most_common(5)] + [t for t, _ in terms.most_common(5) if t not in tags][:5],
        "declared_skills": json.loads(profile.declared_skills), "opted_out": profile.opted_out,
    }


# ---------------------------------------------------------------------------------------- asking

def ask_expert(session: Session, *, actor: Actor, username: str, question_id: int | None, message: str,
               webhook_configured: bool = False) -> ExpertRequest:
    """Record a request to an expert (a row in their inbox), audited as ``expert.ask``.

    Args:
        webhook_configured: whether the webhook is to be called: the request's ``webhook_status`` starts
            as ``pending``, else as ``not_configured``.

    Raises:
        KbError NOT_FOUND: no user ``username``, or no question ``question_id`` the actor may see.
        KbError CONFLICT: the actor asks themselves, or the expert opted out.
    """
    expert = accounts.get_user(session, username)
    if expert.id == actor.id:
        raise KbError(ErrorCode.CONFLICT, "You cannot ask yourself")
    profile = session.get(ExpertProfile, expert.id)
    if profile is not None and profile.opted_out:
        raise KbError(ErrorCode.CONFLICT, f"{username} does not take expert requests")
    if question_id is None and not message.strip():
        raise KbError(ErrorCode.VALIDATION_ERROR, "Say what you need: write a message or name a question",
                      {"field": "message"})
    if question_id is not None:
        social.get_question(session, actor=actor, question_id=question_id)
    unread = session.execute(select(ExpertRequest.question_id, ExpertRequest.message).where(
        ExpertRequest.to_user_id == expert.id, ExpertRequest.from_user_id == actor.id,
        ExpertRequest.read_at.is_(None))).all()  # type: ignore[union-attr]
    if any(asked == question_id and " ".join(said.split()) == " ".join(message.split()) for asked, said in unread):
        raise KbError(ErrorCode.CONFLICT, f"You sent {username} this request already; it is unread in their inbox")
    request = ExpertRequest(to_user_id=expert.id, from_user_id=actor.id, question_id=question_id, message=message,  # type: ignore[arg-type]
                            webhook_status=WEBHOOK_PENDING if webhook_configured else WEBHOOK_NOT_CONFIGURED)
    session.add(request)
    session.flush()
    provenance.record(session, actor, "expert.ask", ("user", username), {"question": question_id, "request": request.id})
    return request


def inbox(session: Session, *, actor: Actor) -> list[tuple[ExpertRequest, str]]:
    rows = session.execute(select(ExpertRequest, User.username).join(User, User.id == ExpertRequest.from_user_id)
                           .where(ExpertRequest.to_user_id == actor.id).order_by(ExpertRequest.id.desc())).all()  # type: ignore[union-attr]
    return [(request, username) for request, username in rows]


def set_webhook_status(session: Session, *, request_id: int, status: str) -> None:
    """Store what became of a request's webhook call (delivery bookkeeping: not an audited act)."""
    request = session.get(ExpertRequest, request_id)
    if request is None:
        raise KbError(ErrorCode.NOT_FOUND, f"Bug: no expert request {request_id}")
    request.webhook_status = status[:WEBHOOK_STATUS_CHARS]
    session.add(request)
