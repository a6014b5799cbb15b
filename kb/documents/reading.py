"""Reading curated documents: what the surfaces render, each read filtered by who may see what.

Owns the public shapes built from the tables (provenance card, version, document, list, history,
diff, the owners' review queue) and the plain-data record of a PROV export. The visibility rules
are those of ``kb.documents.service``; this module only reads. Must not import the actions or
api, the other sibling modules (``importing``, ``published``, ``insights``), social, search,
experts or the web framework.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json

from sqlalchemy import func, select
from sqlmodel import Session

from kb import provenance, taxonomy
from kb.accounts import service as accounts
from kb.accounts.models import Space, User
from kb.actors import Actor, SpaceRole
from kb.documents.models import Audience, Document, ReviewRequest, SourceKind, Version, VersionState
from kb.documents.schemas import (
    DiffPublic, DocumentListItem, DocumentPublic, FieldChange, MyDocuments, WorkItem, PersonRef, ProvenanceCard, ReviewItem, SearchStatus,
    TimelineStep, VersionPublic, VersionSummary,
)
from kb.documents.approval import second_review
from kb.documents.service import (
    EXPIRING_WITHIN, PROVENANCE_FIELDS, TRANSITIONS, VISIBLE_TO_ALL_SIGNED_IN, WORKING_STATES, can_see_working_versions,
    current_version, expired, get_document, get_version, latest_version, may_see_document, reported_version,
    review_overdue, tags_of, users_by_id, versions_of,
)
from kb.errors import ErrorCode, KbError
from kb.taxonomy import ConceptRefPublic
from kb.validity import today


def _person(users: dict[int, User], user_id: int | None) -> PersonRef | None:
    if user_id is None or user_id not in users:
        return None
    user = users[user_id]
    return PersonRef(username=user.username, display_name=user.display_name)


def concept_refs(session: Session, version: Version, language: str | None,
                 vocabulary: taxonomy.Vocabulary | None = None) -> dict[str, list[ConceptRefPublic]]:
    """The version's concepts by field (applies_to, topic, region), each as stored, with its label in ``language``.

    A concept merged since is shown as the concept it was merged into (how search and explore read it)."""
    if not (version.applies_to or version.topic or version.region):
        return {}
    vocabulary = vocabulary or taxonomy.vocabulary(session)
    result: dict[str, list[ConceptRefPublic]] = {}
    for name in ("applies_to", "topic", "region"):
        pairs = sorted({(vocabulary.effective(i), i) for i in taxonomy.stored_ids(getattr(version, name)) if i in vocabulary.concepts})
        result[name] = sorted((ConceptRefPublic(ref=vocabulary.ref(shown), label=vocabulary.label(shown, language),
                                                stated_as=vocabulary.ref(stored) if stored != shown else None)
                               for shown, stored in pairs), key=lambda c: (c.label.casefold(), c.stated_as or ""))
    return result


def provenance_card(session: Session, version: Version, document: Document | None = None,
                    users: dict[int, User] | None = None, language: str | None = None,
                    vocabulary: taxonomy.Vocabulary | None = None) -> ProvenanceCard:
    """The provenance card of a version.

    ``users`` may carry the people already loaded for a page of results (one query instead of one per card),
    ``vocabulary`` the taxonomy already read for it. ``language``: the language of the concepts' labels
    (the version's own when not given).
    """
    document = document or session.get(Document, version.document_id)
    assert document is not None
    contributors = json.loads(version.contributor_ids)
    needed = [version.author_id, version.owner_id, version.approver_id, *contributors]
    if users is None or any(i is not None and i not in users for i in needed):
        users = {**(users or {}), **users_by_id(session, needed)}
    space = session.get(Space, document.space_id) or accounts.get_space_by_id(session, document.space_id)
    translated = session.get(Document, document.translation_of_id) if document.translation_of_id else None
    original = current_version(session, translated) if translated is not None else None  # approved: any employee sees it
    declared = None  # core properties are shown only when the imported file declared some
    if (version.declared_title or version.declared_author or version.declared_created or version.declared_modified
            or version.declared_source_uri):
        declared = {
            "title": version.declared_title, "author": version.declared_author, "source_uri": version.declared_source_uri,
            "created": version.declared_created.isoformat() if version.declared_created else None,
            "modified": version.declared_modified.isoformat() if version.declared_modified else None,
        }
    return ProvenanceCard(
        version=version.number, state=version.state, title=version.title, space=space.slug,
        owner=_person(users, version.owner_id), author=_person(users, version.author_id),
        contributors=[p for p in (_person(users, c) for c in contributors) if p is not None],
        approved_by=_person(users, version.approver_id), approved_at=version.approved_at,
        second_review=second_review(version),
        intended_use=version.intended_use, audience=version.audience, licence=version.licence,
        language=version.language, valid_from=version.valid_from, valid_until=version.valid_until,
        review_by=version.review_by, review_overdue=review_overdue(version), expired=expired(version),
        source_kind=version.source_kind, source_uri=version.source_uri, source_sha256=version.source_sha256,
        source_filename=version.source_filename, declared_by_file=declared,
        derived_from=json.loads(version.derived_from), translation_of=translated.slug if translated else None,
        translation_of_title=original.title if original is not None else None,
        body_sha256=version.body_sha256, **concept_refs(session, version, language or version.language, vocabulary),
    )


def version_public(session: Session, document: Document, version: Version) -> VersionPublic:
    return VersionPublic(document=document.slug, number=version.number, state=version.state, title=version.title,
                         body_md=version.body_md, tags=tags_of(version),
                         provenance=provenance_card(session, version, document))


def _people_of(version: Version) -> list[int | None]:
    return [version.author_id, version.approver_id, version.submitted_by_id, version.rejected_by_id, version.ended_by_id]


def version_summary(version: Version, users: dict[int, User]) -> VersionSummary:
    def name(user_id: int | None) -> str | None:
        return users[user_id].username if user_id in users else None

    return VersionSummary(
        number=version.number, state=version.state, title=version.title, author=users[version.author_id].username,
        created_at=version.created_at, submitted_at=version.submitted_at,
        approved_by=name(version.approver_id), approved_at=version.approved_at,
        ended_at=version.ended_at, rejection_reason=version.rejection_reason,
        submitted_by=name(version.submitted_by_id) or (users[version.author_id].username if version.submitted_at else None),
        rejected_by=name(version.rejected_by_id), rejected_at=version.rejected_at,
        ended_by=name(version.ended_by_id), end_reason=version.end_reason,
    )


def timeline(history: list[VersionSummary]) -> list[TimelineStep]:
    """Every dated step of every version in time order, oldest first, naming who did it and why (issue 17).

    Ties (a rejection and the draft it opens share their moment) keep the order of the lifecycle.
    """
    steps = []
    for v in history:
        steps.append(TimelineStep(at=v.created_at, version=v.number, action="drafted", by=v.author))
        if v.submitted_at:
            steps.append(TimelineStep(at=v.submitted_at, version=v.number, action="submitted", by=v.submitted_by))
        if v.rejected_at:
            steps.append(TimelineStep(at=v.rejected_at, version=v.number, action="rejected", by=v.rejected_by,
                                      reason=v.rejection_reason))
        if v.approved_at:
            steps.append(TimelineStep(at=v.approved_at, version=v.number, action="approved", by=v.approved_by))
        if v.ended_at and v.state in (VersionState.superseded, VersionState.retired):
            steps.append(TimelineStep(at=v.ended_at, version=v.number, action=VersionState(v.state).value, by=v.ended_by,
                                      reason=v.end_reason))
    order = {"drafted": 0, "submitted": 1, "rejected": 2, "approved": 2, "superseded": 3, "retired": 3}
    return sorted(steps, key=lambda step: (step.at, step.version, order[step.action]))


def search_status(session: Session, document: Document, current: Version, indexed_up_to: int) -> SearchStatus:
    """Whether search indexes caught up to audit sequence ``indexed_up_to`` hold ``current``, the approved version:
    they do once they have applied its approval (a later draft or submission changes nothing they serve)."""
    approvals = provenance.list_events(session, action="version.approve", object_type="document", object_id=document.slug,
                                       newest_first=True, limit=1)
    approved = approvals[0].seq if approvals and json.loads(approvals[0].payload).get("version") == current.number else None
    return SearchStatus.being_indexed if approved is not None and approved > indexed_up_to else SearchStatus.searchable


def document_public(session: Session, *, actor: Actor, document: Document, indexed_up_to: int | None = None) -> DocumentPublic:
    """A document as ``actor`` may see it: its approved version with the card, and its open work if allowed;
    with ``indexed_up_to`` (the audit sequence the reader's search has reached), whether search finds it yet."""
    if not may_see_document(session, actor, document):
        raise KbError(ErrorCode.NOT_FOUND, f"No document {document.slug!r}")
    current = current_version(session, document)
    latest = latest_version(session, document.id)  # type: ignore[arg-type]
    working = latest if latest.state in WORKING_STATES and can_see_working_versions(actor, document, latest) else None
    users = users_by_id(session, [document.owner_id, *_people_of(latest)])
    translations = session.execute(
        select(Document.slug).where(Document.translation_of_id == document.id).order_by(Document.slug)
    ).scalars().all()
    return DocumentPublic(
        slug=document.slug, space=accounts.get_space_by_id(session, document.space_id).slug,
        owner=_person(users, document.owner_id),
        current=version_public(session, document, current) if current else None,
        working=version_summary(working, users) if working else None,
        translations=list(translations), review_overdue=bool(current and review_overdue(current)),
        may_edit="edit" in TRANSITIONS[VersionState(latest.state)] and actor.contributes_to(document.space_id),
        search=search_status(session, document, current, indexed_up_to) if current and indexed_up_to is not None else None,
    )


def list_documents(
    session: Session, *, actor: Actor, space_slug: str | None = None, state: VersionState | None = None,
    limit: int = 20, offset: int = 0,
) -> tuple[list[DocumentListItem], int]:
    """Documents with the newest version the actor may see, optionally filtered by space and state."""
    latest_numbers = select(Version.document_id, func.max(Version.number).label("n")).group_by(Version.document_id).subquery()
    statement = (
        select(Document, Version, Space)
        .join(latest_numbers, latest_numbers.c.document_id == Document.id)
        .join(Version, (Version.document_id == Document.id) & (Version.number == latest_numbers.c.n))
        .join(Space, Space.id == Document.space_id)
    )
    if space_slug:
        statement = statement.where(Space.slug == space_slug)
    rows = session.execute(statement.order_by(Document.slug)).all()
    items = []
    for document, latest, space in rows:
        shown = latest
        if latest.state in WORKING_STATES + (VersionState.rejected,) and not can_see_working_versions(actor, document, latest):
            shown = current_version(session, document)
            if shown is None:
                continue
        if state is not None and shown.state != state:
            continue
        items.append(DocumentListItem(slug=document.slug, space=space.slug, title=shown.title, state=shown.state,
                                      version=shown.number, audience=shown.audience, language=shown.language,
                                      review_overdue=shown.state == VersionState.approved and review_overdue(shown)))
    return items[offset:offset + limit], len(items)


def history(session: Session, *, actor: Actor, slug: str) -> list[VersionSummary]:
    """The versions of a document the actor may see, oldest first. Raises KbError NOT_FOUND when none."""
    document = get_document(session, slug)
    versions = [v for v in versions_of(session, document.id)  # type: ignore[arg-type]
                if v.state in VISIBLE_TO_ALL_SIGNED_IN or can_see_working_versions(actor, document, v)]
    if not versions:
        raise KbError(ErrorCode.NOT_FOUND, f"No document {slug!r}")
    users = users_by_id(session, [i for v in versions for i in _people_of(v)])
    return [version_summary(v, users) for v in versions]


CONCEPT_FIELD_NAMES = ("applies_to", "topic", "region")


def _concepts_as_refs(session: Session, version: Version, name: str) -> str | None:
    """A concept field as its references (``situation:student, situation:tenant``), as stored: a diff shows what
    each version names, not the concept ids (issue 20)."""
    ids = taxonomy.stored_ids(getattr(version, name))
    if not ids:
        return None
    vocabulary = taxonomy.vocabulary(session)
    return ", ".join(vocabulary.ref(i) if i in vocabulary.concepts else f"#{i}" for i in ids)


def _diffable(session: Session, version: Version) -> list[str]:
    users = users_by_id(session, [version.author_id, version.owner_id, version.approver_id])
    lines = []
    for name in PROVENANCE_FIELDS:
        value = _concepts_as_refs(session, version, name) if name in CONCEPT_FIELD_NAMES else getattr(version, name)
        lines.append(f"{name}: {value.value if hasattr(value, 'value') else value}")
    for name, user_id in (("author", version.author_id), ("owner", version.owner_id), ("approver", version.approver_id)):
        lines.append(f"{name}: {users[user_id].username if user_id in users else None}")
    lines.append("")
    return lines + version.body_md.splitlines()


def _field_values(session: Session, version: Version) -> dict[str, str | None]:
    """The provenance fields as people read them: names for people, plain values, no ``None`` dumps."""
    users = users_by_id(session, [version.author_id, version.owner_id])
    values: dict[str, str | None] = {}
    for name in PROVENANCE_FIELDS:
        value = getattr(version, name)
        value = value.value if hasattr(value, "value") else value
        if name == "tags":
            value = ", ".join(json.loads(version.tags))
        elif name in CONCEPT_FIELD_NAMES:
            value = _concepts_as_refs(session, version, name)
        values[name] = None if value in (None, "") else str(value)
    # Not the approver: a decision on the version, not part of what is reviewed (the timeline names it).
    for name, user_id in (("author", version.author_id), ("owner", version.owner_id)):
        values[name] = users[user_id].username if user_id in users else None
    return values


def diff(session: Session, *, actor: Actor, slug: str, from_number: int, to_number: int) -> DiffPublic:
    """Two versions compared: the unified diff of the record (provenance fields, then the body), the fields
    that changed as (field, before, after), and the unified diff of the body text alone."""
    _, old = get_version(session, actor=actor, slug=slug, number=from_number)
    _, new = get_version(session, actor=actor, slug=slug, number=to_number)
    names = (f"{slug} v{from_number}", f"{slug} v{to_number}")
    record = difflib.unified_diff(_diffable(session, old), _diffable(session, new), *names, lineterm="")
    body = difflib.unified_diff(old.body_md.splitlines(), new.body_md.splitlines(), *names, lineterm="")
    before, after = _field_values(session, old), _field_values(session, new)
    return DiffPublic(document=slug, from_version=from_number, to_version=to_number, diff="\n".join(record),
                      fields=[FieldChange(field=name, before=before[name], after=after[name])
                              for name in before if before[name] != after[name]],
                      body_diff="\n".join(body))


def my_documents(session: Session, *, actor: Actor) -> MyDocuments:
    """The actor's open curated work: documents whose newest version is a draft or in review that they wrote
    or are credited on, a draft reopened by a rejection with who rejected it, when and why, and answers
    promoted (by them, or theirs) that wait for approval; newest change first."""
    latest_numbers = select(Version.document_id, func.max(Version.number).label("n")).group_by(Version.document_id).subquery()
    rows = session.execute(
        select(Document, Version, Space)
        .join(latest_numbers, latest_numbers.c.document_id == Document.id)
        .join(Version, (Version.document_id == Document.id) & (Version.number == latest_numbers.c.n))
        .join(Space, Space.id == Document.space_id)
        .where(Version.state.in_(WORKING_STATES))  # type: ignore[attr-defined]
    ).all()
    mine = [(d, v, s) for d, v, s in rows if v.author_id == actor.id or actor.id in json.loads(v.contributor_ids)]
    parents = {v.id: v for v in session.execute(select(Version).where(Version.id.in_(  # type: ignore[union-attr]
        [i for _, v, _ in mine for i in json.loads(v.derived_from)] or [0]))).scalars()}
    users = users_by_id(session, [p.rejected_by_id for p in parents.values()])
    work = MyDocuments(drafts=[], in_review=[], rejected=[], promoted=[])
    for document, version, space in mine:
        rejected = next((parents[i] for i in json.loads(version.derived_from)
                         if i in parents and parents[i].state == VersionState.rejected), None)
        editable = "edit" in TRANSITIONS[VersionState(version.state)] and actor.contributes_to(space.id)  # type: ignore[arg-type]
        item = WorkItem(
            document=document.slug, space=space.slug, title=version.title, version=version.number, state=version.state,
            source_kind=version.source_kind, at=version.submitted_at or version.updated_at,
            edit_version=version.number if editable else None,
            rejected_version=rejected.number if rejected else None,
            rejected_by=users[rejected.rejected_by_id].username if rejected and rejected.rejected_by_id in users else None,
            rejected_at=rejected.rejected_at if rejected else None,
            rejection_reason=rejected.rejection_reason if rejected else None,
        )
        if document.current_version_id is None and version.source_kind == SourceKind.promoted_answer:
            work.promoted.append(item)
        elif version.state == VersionState.in_review:
            work.in_review.append(item)
        elif rejected is not None:
            work.rejected.append(item.model_copy(update={"at": rejected.rejected_at or item.at}))
        else:
            work.drafts.append(item)
    for items in (work.drafts, work.in_review, work.rejected, work.promoted):
        items.sort(key=lambda i: (i.at, i.document), reverse=True)
    return work


def review_queue(session: Session, *, actor: Actor, on: dt.date | None = None) -> list[ReviewItem]:
    """What waits for an owner in the spaces they own: versions in review, overdue reviews, expiring content."""
    day = on or today()
    owned = [space_id for space_id, role in actor.space_roles.items() if role is SpaceRole.owner]
    if not owned:
        return []
    rows = session.execute(
        select(Document, Version, Space).join(Version, Version.document_id == Document.id)
        .join(Space, Space.id == Document.space_id)
        .where(Document.space_id.in_(owned), Version.state.in_([VersionState.in_review, VersionState.approved]))  # type: ignore[union-attr]
        .order_by(Document.slug)
    ).all()
    users = users_by_id(session, [v.author_id for _, v, _ in rows])
    items = []
    for document, version, space in rows:
        reason = None
        if version.state == VersionState.in_review:
            reason = "in_review"
        elif review_overdue(version, day):
            reason = "review_overdue"
        elif version.valid_until is not None and version.valid_until <= day + EXPIRING_WITHIN:
            reason = "expiring"
        elif version.review_by is not None and version.review_by <= day + EXPIRING_WITHIN:
            reason = "review_due_soon"
        if reason:
            items.append(ReviewItem(reason=reason, document=document.slug, space=space.slug, version=version.number,
                                    title=version.title, author=users[version.author_id].username,
                                    submitted_at=version.submitted_at, review_by=version.review_by,
                                    valid_until=version.valid_until))
    requests = session.execute(
        select(ReviewRequest, Document, Space).join(Document, Document.id == ReviewRequest.document_id)
        .join(Space, Space.id == Document.space_id)
        .where(Document.space_id.in_(owned), ReviewRequest.resolved_at.is_(None))  # type: ignore[union-attr]
    ).all()
    reporters = users_by_id(session, [r.requested_by_id for r, _, _ in requests])
    for request, document, space in requests:
        # The version the report is about, as its decision reads it (``reported_version``), not the one served now:
        # an approval by the reported text's writer leaves the report open while serving another version.
        reported = reported_version(session, request, document)
        current = current_version(session, document)
        items.append(ReviewItem(reason=f"reported_{request.reason}", document=document.slug, space=space.slug,
                                version=reported.number if reported else 0, title=reported.title if reported else document.slug,
                                author=reporters[request.requested_by_id].username if request.requested_by_id in reporters
                                else "(unknown reader)", submitted_at=request.created_at,
                                review_by=reported.review_by if reported else None,
                                valid_until=reported.valid_until if reported else None, note=request.note,
                                report=request.id,
                                served_version=current.number if current and current is not reported else None))
    order = {"in_review": 0, "reported_wrong": 1, "reported_outdated": 1, "review_overdue": 2, "expiring": 3, "review_due_soon": 4}
    # A report of a reason the queue does not know (a row edited outside kb: verify names it) still shows.
    return sorted(items, key=lambda i: (order.get(i.reason, 1), i.document))


PROV_CONCEPT_FIELDS = (("applies_to", "appliesTo"), ("topic", "topic"), ("region", "region"))
"""A version's concept fields and the names of their attributes in the PROV export (``kb:appliesTo`` …)."""


def prov_record(session: Session, *, actor: Actor, slug: str) -> provenance.DocumentRecord:
    """The plain-data provenance of a document's versions that ``actor`` may see, for PROV export."""
    document = get_document(session, slug)
    space = accounts.get_space_by_id(session, document.space_id)
    versions = [v for v in versions_of(session, document.id)  # type: ignore[arg-type]
                if v.state in VISIBLE_TO_ALL_SIGNED_IN or can_see_working_versions(actor, document, v)]
    if not versions:
        raise KbError(ErrorCode.NOT_FOUND, f"No document {slug!r}")
    ids_to_number = {v.id: v.number for v in versions_of(session, document.id)}  # type: ignore[arg-type]
    users = users_by_id(session, [i for v in versions for i in (v.author_id, v.approver_id, *json.loads(v.contributor_ids))])

    def person(user_id: int | None) -> provenance.PersonRecord | None:
        if user_id is None:
            return None
        return provenance.PersonRecord(users[user_id].username, users[user_id].display_name)

    vocabulary = taxonomy.vocabulary(session) if any(v.applies_to or v.topic or v.region for v in versions) else None

    def concepts(version: Version) -> tuple[tuple[str, str], ...]:
        """The concepts the version names, as stored and signed (a merge since does not rewrite them), by their URIs."""
        if vocabulary is None:
            return ()
        return tuple((prov_name, vocabulary.concepts[i].uri) for field, prov_name in PROV_CONCEPT_FIELDS
                     for i in taxonomy.stored_ids(getattr(version, field)) if i in vocabulary.concepts)

    records = []
    for v in versions:
        records.append(provenance.VersionRecord(
            number=v.number, state=VersionState(v.state).value, title=v.title, body_sha256=v.body_sha256,
            author=person(v.author_id),  # type: ignore[arg-type]
            contributors=tuple(p for p in (person(c) for c in json.loads(v.contributor_ids)) if p),
            approver=person(v.approver_id), created_at=v.created_at,
            completed_at=v.submitted_at or v.updated_at, approved_at=v.approved_at,
            source_kind=SourceKind(v.source_kind).value, source_uri=v.source_uri, source_sha256=v.source_sha256,
            source_filename=v.source_filename, intended_use=v.intended_use, audience=Audience(v.audience).value,
            licence=v.licence, language=v.language, valid_from=v.valid_from, review_by=v.review_by,
            derived_from_numbers=tuple(ids_to_number[i] for i in json.loads(v.derived_from) if i in ids_to_number),
            second_review=second_review(v), concepts=concepts(v),
        ))
    return provenance.DocumentRecord(slug=document.slug, space=space.slug, space_name=space.name, versions=tuple(records))
