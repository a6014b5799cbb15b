"""The read API of curated documents for search, social and experts (re-exported by ``kb.documents``).

Owns what other domains may know of curated documents: the approved versions with their chunks
(what search indexes and re-checks), the facts filters need, translation groups, the people
named on cards; and the few writes social makes through documents (a reader's review request, a
promoted answer). Must not import the actions or api, the other sibling modules (``importing``,
``reading``, ``insights``), social, search, experts or the web framework.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, select
from sqlmodel import Session

from kb import provenance
from kb.accounts import service as accounts
from kb.accounts.models import Space, User
from kb.actors import Actor
from kb.documents.commitments import report_values, served
from kb.documents.models import Chunk, Document, ReviewRequest, SourceKind, Version, VersionState
from kb.documents.schemas import DocumentCreate
from kb.documents.service import (
    current_version, get_document, may_see_document, new_document, require_owner, submit, tags_of, users_by_id,
    visible_document,
)
from kb.errors import ErrorCode, KbError


@dataclass(frozen=True)
class Published:
    """A document's approved version with its space and chunks: what search indexes and re-checks."""

    document: Document
    version: Version
    space: Space
    chunks: list[Chunk]


def published(session: Session, document_ids: Iterable[int] | None = None, *, with_chunks: bool = True) -> list[Published]:
    """The approved (current) versions of the given documents (all when None), with their chunks
    (an empty list each when ``with_chunks`` is false: a page of search hits loads only its passages)."""
    statement = (select(Document, Version, Space)
                 .join(Version, (Version.id == Document.current_version_id) & (Version.document_id == Document.id))
                 .join(Space, Space.id == Document.space_id)
                 .where(Version.state == VersionState.approved))
    if document_ids is not None:
        wanted = list(document_ids)
        if not wanted:
            return []
        statement = statement.where(Document.id.in_(wanted))  # type: ignore[union-attr]
    rows = session.execute(statement.order_by(Document.id)).all()
    chunks: dict[int, list[Chunk]] = {}
    version_ids = [version.id for _, version, _ in rows] if with_chunks else []
    for start in range(0, len(version_ids), 500):
        for chunk in session.execute(select(Chunk).where(Chunk.version_id.in_(version_ids[start:start + 500]))  # type: ignore[union-attr]
                                     .order_by(Chunk.version_id, Chunk.ordinal)).scalars():
            chunks.setdefault(chunk.version_id, []).append(chunk)
    return [Published(document, version, space, chunks.get(version.id, [])) for document, version, space in rows]


class ChunkFacts(NamedTuple):
    """What search re-checks about a hit, read straight from the database (the authority)."""

    chunk_id: int
    document_id: int
    space_id: int
    audience: str
    language: str
    tags: tuple[str, ...]
    valid_from: dt.date | None
    valid_until: dt.date | None
    concepts: tuple[int, ...] = ()
    """The concept ids its version stores (applies to, topic, region), as stored: read through ``kb.taxonomy``."""


def published_chunk_facts(session: Session, chunk_ids: Iterable[int]) -> dict[int, ChunkFacts]:
    """For each chunk id that belongs to a document's *current approved* version, the facts filters need."""
    wanted = list(chunk_ids)
    if not wanted:
        return {}
    # Run on the connection (Core rows, no ORM loading) with one expanding parameter: search re-checks
    # a few hundred ids twice per query (150 scattered ids at 100k chunks, warm, interleaved: 3.2 ms
    # against 5.4 ms through the ORM; plain SQL on the driver was no faster than this, 3.2 ms).
    rows = session.connection().execute(_PUBLISHED_CHUNK_FACTS, {"ids": wanted}).all()
    return {row[0]: ChunkFacts(row[0], row[1], row[2], str(row[3]), row[4], _tags(row[5]), row[6], row[7],
                               _concepts(row[9], row[10], row[11]))
            for row in rows if row[8] == VersionState.approved}


# The state is checked in Python: in the WHERE clause it leads SQLite's planner to scan every
# approved version instead of looking the chunks up by key.
_PUBLISHED_CHUNK_FACTS = (
    select(Chunk.id, Document.id, Document.space_id, Version.audience, Version.language, Version.tags,
           Version.valid_from, Version.valid_until, Version.state, Version.applies_to, Version.topic, Version.region)
    .join(Version, Version.id == Chunk.version_id)
    .join(Document, (Document.current_version_id == Version.id) & (Document.id == Version.document_id))
    .where(Chunk.id.in_(bindparam("ids", expanding=True)))  # type: ignore[union-attr]
)


class ApprovedFacts(NamedTuple):
    """One current approved version as a reader of all of them needs it, without loading it (issue 20)."""

    document_id: int
    group_id: int
    """Its translation group: the document it translates, else itself (as ``translation_groups`` keys them)."""
    facts: ChunkFacts
    """What filters check (``chunk_id`` 0: no passage is named)."""
    applies_to: tuple[int, ...]
    """The concept ids of its *applies to* field, as stored (read through ``kb.taxonomy``)."""


def approved_facts(session: Session) -> list[ApprovedFacts]:
    """The facts of every document's current approved version, in one query of plain rows: what "what
    applies to me" scans before it loads the few versions that apply (``published``: whole rows, bodies
    included, 36 ms for 500 versions against a few ms for these)."""
    rows = session.connection().execute(
        select(Document.id, Document.translation_of_id, Document.space_id, Version.audience, Version.language,
               Version.tags, Version.valid_from, Version.valid_until, Version.applies_to, Version.topic, Version.region)
        .join(Version, (Version.id == Document.current_version_id) & (Version.document_id == Document.id))
        .where(Version.state == VersionState.approved).order_by(Document.id)).all()
    return [ApprovedFacts(row[0], row[1] or row[0],
                          ChunkFacts(0, row[0], row[2], str(row[3]), row[4], _tags(row[5]), row[6], row[7],
                                     _concepts(row[8], row[9], row[10])),
                          _concepts(row[8])) for row in rows]


@lru_cache(maxsize=4096)
def _tags(stored: str) -> tuple[str, ...]:
    """A version's stored JSON tag list as a tuple (few distinct lists: decoded once each)."""
    return tuple(json.loads(stored))


@lru_cache(maxsize=4096)
def _concepts(*stored: str | None) -> tuple[int, ...]:
    """A version's stored concept fields as one sorted tuple of ids (few distinct combinations: decoded once each)."""
    return tuple(sorted({i for value in stored if value for i in json.loads(value)}))


def concepts_of(version: Version) -> tuple[int, ...]:
    """Every concept id the version stores in its three concept fields."""
    return _concepts(version.applies_to, version.topic, version.region)


def people_of(session: Session, versions: Iterable[Version]) -> dict[int, User]:
    """Everyone named on these versions' cards, in one query."""
    return users_by_id(session, [i for v in versions for i in (v.author_id, v.owner_id, v.approver_id, *json.loads(v.contributor_ids))])


def facts_of(item: Published) -> ChunkFacts:
    """The same facts for a whole published document (its first chunk stands for it)."""
    version = item.version
    return ChunkFacts(item.chunks[0].id if item.chunks else 0, item.document.id, item.space.id, str(version.audience),  # type: ignore[arg-type]
                      version.language, tuple(tags_of(version)), version.valid_from, version.valid_until, concepts_of(version))


def chunks_by_id(session: Session, chunk_ids: Iterable[int]) -> dict[int, Chunk]:
    wanted = list(chunk_ids)
    if not wanted:
        return {}
    return {c.id: c for c in session.execute(_CHUNKS_BY_ID, {"ids": wanted}).scalars()}  # type: ignore[misc]


_CHUNKS_BY_ID = select(Chunk).where(Chunk.id.in_(bindparam("ids", expanding=True)))  # type: ignore[union-attr]


def group_ids(session: Session, document_ids: Iterable[int]) -> dict[int, int]:
    """Each document's translation group: the id of the document it translates, else its own (one query)."""
    wanted = sorted(set(document_ids))
    if not wanted:
        return {}
    rows = session.execute(select(Document.id, Document.translation_of_id)
                           .where(Document.id.in_(wanted))).all()  # type: ignore[union-attr]
    return {document_id: original or document_id for document_id, original in rows}


def translation_groups(session: Session, members: Iterable[Document]) -> dict[int, list[Published]]:
    """For each document's translation group, keyed by the group's root document id: the approved versions
    of the root (the document that others translate) and of every translation of it. Three queries in all."""
    roots = {document.translation_of_id or document.id for document in members}
    if not roots:
        return {}
    ids = set(roots) | set(session.execute(
        select(Document.id).where(Document.translation_of_id.in_(sorted(roots)))).scalars())  # type: ignore[union-attr]
    groups: dict[int, list[Published]] = {root: [] for root in roots}
    for item in published(session, sorted(ids)):
        # A translation of a translation is the root of its own group and a member of its root's.
        if item.document.id in roots:
            groups[item.document.id].append(item)
        if item.document.translation_of_id in roots:
            groups[item.document.translation_of_id].append(item)
    return groups


UNPUBLISHED_ACTIONS = frozenset({"document.create", "document.import", "version.edit", "version.submit", "version.reject",
                                 "flag.create", "report.dismiss"})
"""Audit actions on a document that cannot change what ``published`` returns for it: they create, change,
submit or send back a *draft* version, or make or dismiss a reader's flag (a document is never hidden by
flags); and only ``version.approve``, ``version.retire`` and
``version.publish`` set which version is approved (``Document.current_version_id``), while the approved
version itself is immutable. Search's catch-up re-syncs a document only for its other events (issue 19:
a bulk import's thousands of imports and submissions are read, not re-synced). An action not listed
here, including any new one, is re-synced: the list may only name actions known to leave it unchanged.
"""


def document_ids_for_slugs(session: Session, slugs: Iterable[str]) -> dict[str, int]:
    wanted = list(set(slugs))
    if not wanted:
        return {}
    return dict(session.execute(select(Document.slug, Document.id).where(Document.slug.in_(wanted))).all())  # type: ignore[union-attr]


def request_review(session: Session, *, actor: Actor, slug: str, reason: str, note: str) -> ReviewRequest:
    """Put a reader's report (wrong, outdated) in the owners' review queue; curated content stays as it is.

    The caller records the audit event of the action that led here (a flag).
    """
    document = get_document(session, slug, lock=True)  # a retirement meanwhile would leave it on a withdrawn text
    version = current_version(session, document)
    if version is None:
        raise KbError(ErrorCode.NOT_FOUND, f"No document {slug!r}")
    request = ReviewRequest(document_id=document.id, version_id=version.id, reason=reason, note=note,  # type: ignore[arg-type]
                            requested_by_id=actor.id)
    session.add(request)
    session.flush()
    return request


def has_open_report(session: Session, *, document_id: int, user_id: int) -> bool:
    """Whether ``user_id`` has a report on the document that no approval, retirement or dismissal has closed."""
    return session.execute(select(ReviewRequest.id).where(
        ReviewRequest.document_id == document_id, ReviewRequest.requested_by_id == user_id,
        ReviewRequest.resolved_at.is_(None)).limit(1)).first() is not None  # type: ignore[union-attr]


def report_state(session: Session, report: ReviewRequest) -> dict[str, Any]:
    """The commitment of a report its ``flag.create`` records (``kb.documents.commitments.report_values``)."""
    document = session.get(Document, report.document_id)
    version = session.get(Version, report.version_id) if report.version_id is not None else None
    return report_values(document.slug if document else None, version.number if version else None, report.reason,
                         report.requested_by_id, report.note)


def document_for_social(session: Session, *, actor: Actor, slug: str) -> tuple[Document, Version]:
    """The document and its approved version, for community content about it.

    Raises:
        KbError NOT_FOUND: no such document or one the actor may not see (the same answer, see
            ``visible_document``); or, for a document the actor sees, no approved version to discuss.
    """
    document = visible_document(session, actor=actor, slug=slug)
    version = current_version(session, document)
    if version is None:
        raise KbError(ErrorCode.NOT_FOUND, f"No approved document {slug!r} to discuss")
    return document, version


def create_promoted(
    session: Session, *, actor: Actor, space_slug: str, data: DocumentCreate, source_uri: str,
    contributor_ids: list[int], origin: dict[str, object], intended_use: str | None = None,
) -> tuple[Document, Version]:
    """A document promoted from a community answer: source ``promoted_answer``, the answer's author
    credited as contributor, submitted for review at once (issue 17: it lands in the owners' review
    queue, where another owner approves it; two events, ``document.promote`` then ``version.submit``).

    Raises:
        KbError FORBIDDEN: the actor does not own the space.
        KbError ALREADY_EXISTS: the slug is taken.
    """
    space = accounts.get_space(session, space_slug)
    require_owner(actor, space, "promote answers into curated knowledge")
    document, version = new_document(session, actor=actor, space=space, data=data,
                                      source_kind=SourceKind.promoted_answer)
    version.source_uri = source_uri
    version.contributor_ids = json.dumps(sorted(set(contributor_ids) - {version.author_id}))
    session.add(version)
    session.flush()
    provenance.record(session, actor, "document.promote", ("document", document.slug),
                      {"space": space.slug, "version": version.number, "source_uri": source_uri, **origin,
                       **served(document, version)})
    submitted = submit(session, actor=actor, slug=document.slug, number=version.number,
                       intended_use=intended_use or f"Answers the community question {data.title!r}, as accepted by its asker or an owner")
    return document, submitted


def promoted_document(session: Session, *, actor: Actor, document_id: int) -> str | None:
    """The slug of a document promoted from an answer, if ``actor`` may see it (None otherwise)."""
    document = session.get(Document, document_id)
    if document is None or not may_see_document(session, actor, document):
        return None
    return document.slug


def approved_versions_by(session: Session, user_id: int) -> int:
    """How many versions ``user_id`` authored that were approved (current or since superseded)."""
    return session.execute(select(func.count()).select_from(Version).where(
        Version.author_id == user_id, Version.approver_id.is_not(None))).scalar_one()  # type: ignore[union-attr]


def publication_seq(session: Session, slug: str, number: int) -> int | None:
    """The sequence number of the ``version.publish`` event of version ``number`` of document ``slug``, or None.

    That event (``approval.record_publication``) is what a citizen's receipt carries: it names no person.
    A version approved before kb recorded publications has one from the baseline of migration 0014.
    """
    found, after = None, 0
    while True:
        events = provenance.list_events(session, after_seq=after, limit=500, action="version.publish",
                                        object_type="document", object_id=slug)
        for event in events:
            if json.loads(event.payload).get("version") == number:
                found = event.seq
        if len(events) < 500:
            return found
        after = events[-1].seq
