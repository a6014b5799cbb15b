"""Rules of curated documents: lifecycle, four eyes, provenance record, import, history and diff.

Every public function takes ``(session, *, actor, …)``, checks permission, changes rows, records
exactly one audit event through ``kb.provenance.record`` and queues domain events for the search
index; it never commits (the caller wraps it in ``kb.db.transaction``). Must not import social,
search or experts.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import bindparam, delete, func, select
from sqlmodel import Session

from kb import provenance, validity
from kb.accounts import service as accounts
from kb.accounts.models import Space, User
from kb.actors import Actor, SpaceRole
from kb.db import is_postgresql, utcnow
from kb.documents.chunking import chunk_markdown
from kb.documents.ingest_docx import ParsedFile, parse_upload
from kb.documents.models import Audience, Chunk, Document, ReviewRequest, SourceKind, StoredFile, Version, VersionState
from kb.documents.schemas import DocumentCreate, DraftSave, ProvenanceFields
from kb.errors import ErrorCode, KbError
from kb.validity import today
from kb.events import DocumentWithdrawn, VersionPublished, queue_event

# What each state allows (DESIGN.md lifecycle). Rejection returns to draft as a new version.
TRANSITIONS: dict[VersionState, tuple[str, ...]] = {
    VersionState.draft: ("edit", "submit"),
    VersionState.in_review: ("approve", "reject"),
    VersionState.approved: ("retire", "edit"),
    VersionState.superseded: (),
    VersionState.retired: ("edit",),
    VersionState.rejected: (),
}
WORKING_STATES = (VersionState.draft, VersionState.in_review)
VISIBLE_TO_ALL_SIGNED_IN = (VersionState.approved, VersionState.superseded, VersionState.retired)
EXPIRING_WITHIN = dt.timedelta(days=30)
PROVENANCE_FIELDS = ("title", "audience", "language", "tags", "intended_use", "licence", "valid_from",
                     "valid_until", "review_by", "source_kind", "source_uri", "source_sha256", "source_filename")


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def tags_of(version: Version) -> list[str]:
    return list(json.loads(version.tags))


def review_overdue(version: Version, on: dt.date | None = None) -> bool:
    return version.review_by is not None and version.review_by < (on or today())


def expired(version: Version, on: dt.date | None = None) -> bool:
    return validity.expired(version.valid_until, on)


def currently_valid(version: Version, on: dt.date | None = None) -> bool:
    return validity.valid_on(version.valid_from, version.valid_until, on)


# ----------------------------------------------------------------------------------- look-ups

def get_document(session: Session, slug: str, *, lock: bool = False) -> Document:
    """Raises: KbError NOT_FOUND."""
    statement = select(Document).where(Document.slug == slug)
    if lock and is_postgresql(session):
        # Serialise transitions of one document (approval races, T12); SQLite writers are serial already.
        statement = statement.with_for_update()
    document = session.execute(statement.execution_options(populate_existing=True)).scalar_one_or_none()
    if document is None:
        raise KbError(ErrorCode.NOT_FOUND, f"No document {slug!r}")
    return document


def versions_of(session: Session, document_id: int) -> list[Version]:
    return list(session.execute(
        select(Version).where(Version.document_id == document_id).order_by(Version.number)
        .execution_options(populate_existing=True)
    ).scalars())


def latest_version(session: Session, document_id: int) -> Version:
    version = session.execute(
        select(Version).where(Version.document_id == document_id).order_by(Version.number.desc()).limit(1)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if version is None:
        raise RuntimeError(f"Bug: document {document_id} has no version")
    return version


def current_version(session: Session, document: Document) -> Version | None:
    return session.get(Version, document.current_version_id) if document.current_version_id else None


def can_see_working_versions(actor: Actor, document: Document, version: Version | None = None) -> bool:
    """Drafts, versions in review and rejected ones: the space's writers, the author, admins."""
    if actor.is_admin:
        return True
    if actor.contributes_to(document.space_id):
        return True
    return version is not None and version.author_id == actor.id


def get_version(session: Session, *, actor: Actor, slug: str, number: int) -> tuple[Document, Version]:
    """A version the actor may see. Raises KbError NOT_FOUND otherwise (no existence oracle)."""
    document = get_document(session, slug)
    version = session.execute(
        select(Version).where(Version.document_id == document.id, Version.number == number)
    ).scalar_one_or_none()
    if version is None or (version.state not in VISIBLE_TO_ALL_SIGNED_IN
                           and not can_see_working_versions(actor, document, version)):
        raise KbError(ErrorCode.NOT_FOUND, f"No version {number} of {slug!r}")
    return document, version


def users_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, User]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in session.execute(select(User).where(User.id.in_(wanted))).scalars()}  # type: ignore[union-attr]


# ------------------------------------------------------------------------------- permissions

def _require_writer(actor: Actor, space: Space) -> None:
    if not actor.contributes_to(space.id):  # type: ignore[arg-type]
        raise KbError(ErrorCode.FORBIDDEN, f"Only contributors and owners of the space {space.slug!r} may write in it")


def _require_owner(actor: Actor, space: Space, what: str) -> Actor:
    if not actor.owns(space.id):  # type: ignore[arg-type]
        raise KbError(ErrorCode.FORBIDDEN, f"Only owners of the space {space.slug!r} may {what}")
    return actor


def _require_transition(version: Version, action: str) -> None:
    allowed = TRANSITIONS[VersionState(version.state)]
    if action not in allowed:
        state = VersionState(version.state).value
        raise KbError(
            ErrorCode.ILLEGAL_TRANSITION,
            f"Cannot {action} version {version.number}: it is {state}; allowed: {', '.join(allowed) or 'nothing'}",
            details={"state": state, "action": action, "allowed": list(allowed)},
        )


# ---------------------------------------------------------------------------------- creation

def _default_owner(session: Session, actor: Actor, space: Space) -> int:
    if actor.owns(space.id):  # type: ignore[arg-type]
        return actor.id
    owners = [user for user, role in accounts.space_members(session, space.id) if role is SpaceRole.owner]  # type: ignore[arg-type]
    if not owners:
        raise KbError(ErrorCode.CONFLICT, f"The space {space.slug!r} has no owner to answer for its documents")
    return owners[0].id  # type: ignore[return-value]


def _apply_fields(version: Version, fields: ProvenanceFields) -> list[str]:
    changed = []
    for name in ("audience", "language", "intended_use", "licence", "valid_from", "valid_until", "review_by", "source_uri"):
        value = getattr(fields, name)
        if value is not None and value != getattr(version, name):
            setattr(version, name, value)
            changed.append(name)
    if fields.tags is not None:
        tags = json.dumps(sorted(set(fields.tags)))
        if tags != version.tags:
            version.tags = tags
            changed.append("tags")
    if version.valid_from and version.valid_until and version.valid_until <= version.valid_from:
        raise KbError(ErrorCode.VALIDATION_ERROR, "valid_until must be after valid_from")
    return changed


def create_document(
    session: Session, *, actor: Actor, space_slug: str, data: DocumentCreate,
    source: ParsedFile | None = None, source_kind: SourceKind | None = None, contributors: list[str] | None = None,
) -> tuple[Document, Version]:
    """Create a document and its first draft version.

    Raises:
        KbError FORBIDDEN: the actor does not write in the space.
        KbError ALREADY_EXISTS: the slug is taken.
        KbError NOT_FOUND: the space, or the document it translates, does not exist.
    """
    space = accounts.get_space(session, space_slug)
    _require_writer(actor, space)
    document, version = _new_document(session, actor=actor, space=space, data=data,
                                      source_kind=source_kind or (SourceKind.url if data.source_uri else SourceKind.authored))
    if contributors:
        ids = {accounts.get_user(session, username).id for username in contributors} - {version.author_id}
        version.contributor_ids = json.dumps(sorted(ids))  # type: ignore[type-var]
        session.add(version)
        session.flush()
    provenance.record(session, actor, "document.create", ("document", document.slug),
                      {"space": space.slug, "version": version.number, "body_sha256": version.body_sha256})
    return document, version


def _new_document(session: Session, *, actor: Actor, space: Space, data: DocumentCreate,
                  source_kind: SourceKind) -> tuple[Document, Version]:
    if session.execute(select(Document.id).where(Document.slug == data.slug)).first():
        raise KbError(ErrorCode.ALREADY_EXISTS, f"A document {data.slug!r} exists already")
    translation_of_id = get_document(session, data.translation_of).id if data.translation_of else None
    author_id = actor.id
    owner_id = _default_owner(session, actor, space)
    document = Document(slug=data.slug, space_id=space.id, owner_id=owner_id,  # type: ignore[arg-type]
                        created_by_id=author_id, translation_of_id=translation_of_id)
    session.add(document)
    session.flush()
    version = Version(
        document_id=document.id, number=1, state=VersionState.draft, title=data.title, body_md=data.body_md,  # type: ignore[arg-type]
        body_sha256=sha256_text(data.body_md), source_kind=source_kind, author_id=author_id, owner_id=owner_id,
        audience=data.audience, language=data.language, four_eyes=space.four_eyes,
    )
    _apply_fields(version, data)
    session.add(version)
    session.flush()
    return document, version


def save_draft(session: Session, *, actor: Actor, slug: str, data: DraftSave) -> tuple[Version, bool]:
    """Edit a document: change its open draft, or start a new draft from the newest version.

    Returns:
        The draft and whether it is a new version.

    Raises:
        KbError ILLEGAL_TRANSITION: a version is in review (approve or reject it first).
    """
    document = get_document(session, slug, lock=True)
    space = accounts.get_space_by_id(session, document.space_id)
    _require_writer(actor, space)
    draft, created, changed = _edit(session, actor=actor, document=document, space=space, data=data)
    if created or changed:
        provenance.record(session, actor, "version.edit", ("document", document.slug),
                          {"version": draft.number, "new_version": created, "changed": changed, "body_sha256": draft.body_sha256})
    return draft, created


def _edit(session: Session, *, actor: Actor, document: Document, space: Space, data: DraftSave) -> tuple[Version, bool, list[str]]:
    latest = latest_version(session, document.id)  # type: ignore[arg-type]
    _require_transition(latest, "edit")
    editor_id = actor.id
    created = latest.state != VersionState.draft
    if created:
        draft = Version(
            document_id=document.id, number=latest.number + 1, state=VersionState.draft, title=latest.title,  # type: ignore[arg-type]
            body_md=latest.body_md, body_sha256=latest.body_sha256, source_kind=SourceKind.authored,
            author_id=editor_id, owner_id=document.owner_id, intended_use=latest.intended_use,
            audience=latest.audience, licence=latest.licence, language=latest.language, tags=latest.tags,
            valid_from=latest.valid_from, valid_until=latest.valid_until, review_by=latest.review_by,
            derived_from=json.dumps([latest.id]), four_eyes=space.four_eyes,
        )
    else:
        draft = latest
    changed = _apply_fields(draft, data)
    if data.title is not None and data.title != draft.title:
        draft.title = data.title
        changed.append("title")
    if data.body_md is not None and data.body_md != draft.body_md:
        draft.body_md, draft.body_sha256 = data.body_md, sha256_text(data.body_md)
        changed.append("body")
    if created or changed:
        if not created and editor_id != draft.author_id:
            draft.contributor_ids = json.dumps(sorted(set(json.loads(draft.contributor_ids)) | {editor_id}))
        draft.updated_at = utcnow()
        session.add(draft)
        session.flush()
    return draft, created, changed


# --------------------------------------------------------------------------------- lifecycle

def _locked_version(session: Session, slug: str, number: int) -> tuple[Document, Version, Space]:
    document = get_document(session, slug, lock=True)
    version = session.execute(
        select(Version).where(Version.document_id == document.id, Version.number == number)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if version is None:
        raise KbError(ErrorCode.NOT_FOUND, f"No version {number} of {slug!r}")
    return document, version, accounts.get_space_by_id(session, document.space_id)


def _write_chunks(session: Session, version: Version) -> int:
    session.execute(delete(Chunk).where(Chunk.version_id == version.id))
    chunks = chunk_markdown(version.body_md, version.title)
    for chunk in chunks:
        session.add(Chunk(version_id=version.id, ordinal=chunk.ordinal, heading_path=json.dumps(list(chunk.heading_path)),  # type: ignore[arg-type]
                          text=chunk.text, word_count=chunk.word_count))
    return len(chunks)


def submit(session: Session, *, actor: Actor, slug: str, number: int, intended_use: str | None = None) -> Version:
    """Freeze a draft and send it for review; it needs an intended-use statement.

    Raises:
        KbError ILLEGAL_TRANSITION: the version is not a draft.
        KbError VALIDATION_ERROR: no intended use stated.
    """
    document, version, space = _locked_version(session, slug, number)
    if version.author_id != actor.id:
        _require_writer(actor, space)
    _require_transition(version, "submit")
    if intended_use:
        version.intended_use = intended_use
    if not version.intended_use.strip():
        raise KbError(ErrorCode.VALIDATION_ERROR, "Say what this version may be used for: intended_use is required to submit")
    version.state = VersionState.in_review
    version.submitted_at = utcnow()
    version.submitted_by_id = actor.id
    version.four_eyes = space.four_eyes
    chunk_count = _write_chunks(session, version)
    session.add(version)
    session.flush()
    provenance.record(session, actor, "version.submit", ("document", document.slug),
                      {"version": version.number, "intended_use": version.intended_use, "chunks": chunk_count,
                       "body_sha256": version.body_sha256})
    return version


def approve(session: Session, *, actor: Actor, slug: str, number: int, comment: str | None = None) -> Version:
    """Approve a version in review; the previous approved version becomes superseded in the same transaction.

    Raises:
        KbError FORBIDDEN: the actor is not an owner of the space.
        KbError FOUR_EYES: the actor is the version's author (or a credited contributor) in a four-eyes space.
        KbError ILLEGAL_TRANSITION: the version is not in review.
    """
    document, version, space = _locked_version(session, slug, number)
    approver = _require_owner(actor, space, "approve")
    _require_transition(version, "approve")
    if space.four_eyes and (approver.id == version.author_id or approver.id in json.loads(version.contributor_ids)):
        raise KbError(ErrorCode.FOUR_EYES, "You wrote this version; another owner of the space must approve it (four eyes)")
    previous = current_version(session, document)
    now = utcnow()
    if previous is not None:
        previous.state = VersionState.superseded
        previous.ended_at = now
        previous.ended_by_id = approver.id
        previous.end_reason = f"superseded by version {version.number}"
        session.add(previous)
        session.flush()  # the partial unique index allows one approved version at a time
    version.state = VersionState.approved
    version.approver_id = approver.id
    version.approved_at = now
    version.approval_comment = comment
    version.owner_id = document.owner_id
    document.current_version_id = version.id
    session.add_all([version, document])
    session.flush()
    event = provenance.record(session, actor, "version.approve", ("document", document.slug), {
        "version": version.number, "superseded": previous.number if previous else None,
        "audience": Audience(version.audience).value, "body_sha256": version.body_sha256, "comment": comment,
    })
    queue_event(session, VersionPublished(audit_seq=event.seq, document_id=document.id, version_id=version.id))  # type: ignore[arg-type]
    return version


def reject(session: Session, *, actor: Actor, slug: str, number: int, reason: str) -> Version:
    """Reject a version in review; a new draft (a copy of it) is opened for the author.

    Returns:
        The new draft version.
    """
    document, version, space = _locked_version(session, slug, number)
    reviewer = _require_owner(actor, space, "reject")
    _require_transition(version, "reject")
    version.state = VersionState.rejected
    version.rejected_by_id = reviewer.id
    version.rejected_at = utcnow()
    version.rejection_reason = reason
    session.add(version)
    draft = Version(**{
        **version.model_dump(exclude={"id", "number", "state", "created_at", "updated_at", "submitted_at", "submitted_by_id",
                                      "rejected_by_id", "rejected_at", "rejection_reason", "approver_id", "approved_at",
                                      "approval_comment", "ended_at", "ended_by_id", "end_reason", "derived_from"}, warnings=False),
        "number": version.number + 1, "state": VersionState.draft, "derived_from": json.dumps([version.id]),
    })
    session.add(draft)
    session.flush()
    provenance.record(session, actor, "version.reject", ("document", document.slug),
                      {"version": version.number, "reason": reason, "new_draft": draft.number})
    return draft


def retire(session: Session, *, actor: Actor, slug: str, reason: str) -> Version:
    """Withdraw the approved version: the document stays on record but is no longer served as truth."""
    document = get_document(session, slug, lock=True)
    space = accounts.get_space_by_id(session, document.space_id)
    owner = _require_owner(actor, space, "retire documents")
    version = current_version(session, document)
    if version is None:
        latest = latest_version(session, document.id)  # type: ignore[arg-type]
        _require_transition(latest, "retire")
        raise RuntimeError("Bug: a document without a current version has an approved latest version")
    _require_transition(version, "retire")
    version.state = VersionState.retired
    version.ended_at = utcnow()
    version.ended_by_id = owner.id
    version.end_reason = reason
    document.current_version_id = None
    session.add_all([version, document])
    session.flush()
    event = provenance.record(session, actor, "version.retire", ("document", document.slug),
                              {"version": version.number, "reason": reason})
    queue_event(session, DocumentWithdrawn(audit_seq=event.seq, document_id=document.id))  # type: ignore[arg-type]
    return version


# -------------------------------------------------------------------------------------- import

@dataclass(frozen=True)
class ImportOutcome:
    outcome: str  # created, new_version, updated_draft, unchanged
    document: Document
    version: Version
    source_sha256: str


def slug_from_filename(filename: str) -> str:
    stem = Path(filename).stem.lower()
    slug = re.sub(r"[^a-z0-9]+", "-", stem).strip("-")[:120]
    return slug or "document"


def _store_file(files_dir: Path, sha: str, data: bytes) -> None:
    target = files_dir / sha[:2] / sha
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)


def stored_file_path(files_dir: Path, sha: str) -> Path:
    return files_dir / sha[:2] / sha


def _first_heading(markdown: str) -> str | None:
    match = re.search(r"^#{1,6}\s+(.+?)\s*$", markdown, re.M)
    return match.group(1) if match else None


def import_file(
    session: Session, *, actor: Actor, space_slug: str, filename: str, data: bytes, files_dir: Path,
    fields: DraftSave, slug: str | None = None, translation_of: str | None = None,
) -> ImportOutcome:
    """Import a .docx, .md or .txt file as a draft version, keeping the original by its SHA-256.

    Re-importing the same bytes is a no-op (outcome ``unchanged``, no event); changed bytes make a
    new draft version of the document with that slug (or update its open draft).

    Raises:
        KbError INVALID_FILE / UNSUPPORTED_MEDIA_TYPE: the file cannot be imported (see ingest_docx).
        KbError CONFLICT: the slug belongs to a document of another space.
        KbError ILLEGAL_TRANSITION: the document has a version in review.
    """
    space = accounts.get_space(session, space_slug)
    _require_writer(actor, space)
    sha = hashlib.sha256(data).hexdigest()
    slug = slug or slug_from_filename(filename)
    existing = session.execute(select(Document).where(Document.slug == slug)).scalar_one_or_none()
    if existing is not None:
        if existing.space_id != space.id:
            raise KbError(ErrorCode.CONFLICT, f"The document {slug!r} belongs to another space")
        same = session.execute(select(Version).where(Version.document_id == existing.id, Version.source_sha256 == sha)).scalars().first()
        if same is not None:
            return ImportOutcome("unchanged", existing, same, sha)
    parsed = parse_upload(filename, data)
    if not parsed.markdown.strip():
        raise KbError(ErrorCode.INVALID_FILE, f"{filename} contains no text to import")
    title = fields.title or parsed.declared_title or _first_heading(parsed.markdown) or Path(filename).stem
    body = parsed.markdown
    _store_file(files_dir, sha, data)
    if session.get(StoredFile, sha) is None:
        session.add(StoredFile(sha256=sha, filename=Path(filename).name[:300], media_type=parsed.media_type, size=len(data)))
    if existing is None:
        create = DocumentCreate(slug=slug, title=title[:300], body_md=body, translation_of=translation_of,
                                **fields.model_dump(exclude={"title", "body_md"}, exclude_none=True))
        document, version = _new_document(session, actor=actor, space=space, data=create,
                                          source_kind=SourceKind.imported_file)
        outcome = "created"
    else:
        document = get_document(session, slug, lock=True)
        version, created, _changed = _edit(session, actor=actor, document=document, space=space,
                                           data=fields.model_copy(update={"title": title[:300], "body_md": body}))
        outcome = "new_version" if created else "updated_draft"
    version.source_kind = SourceKind.imported_file
    version.source_sha256 = sha
    version.source_filename = Path(filename).name[:300]
    version.declared_title = parsed.declared_title
    version.declared_author = parsed.declared_author
    version.declared_created = parsed.declared_created
    version.declared_modified = parsed.declared_modified
    session.add(version)
    session.flush()
    provenance.record(session, actor, "document.import", ("document", document.slug),
                      {"outcome": outcome, "version": version.number, "source_sha256": sha,
                       "filename": version.source_filename, "space": space.slug})
    return ImportOutcome(outcome, document, version, sha)


# ------------------------------------------------------------------------------------ reading

def _person(users: dict[int, User], user_id: int | None):  # noqa: ANN202
    from kb.documents.schemas import PersonRef

    if user_id is None or user_id not in users:
        return None
    user = users[user_id]
    return PersonRef(username=user.username, display_name=user.display_name)


def provenance_card(session: Session, version: Version, document: Document | None = None,
                    users: dict[int, User] | None = None):  # noqa: ANN201
    """The provenance card of a version (schemas.ProvenanceCard).

    ``users`` may carry the people already loaded for a page of results (one query instead of one per card).
    """
    from kb.documents.schemas import ProvenanceCard

    document = document or session.get(Document, version.document_id)
    assert document is not None
    contributors = json.loads(version.contributor_ids)
    needed = [version.author_id, version.owner_id, version.approver_id, *contributors]
    if users is None or any(i is not None and i not in users for i in needed):
        users = {**(users or {}), **users_by_id(session, needed)}
    space = session.get(Space, document.space_id) or accounts.get_space_by_id(session, document.space_id)
    translated = session.get(Document, document.translation_of_id) if document.translation_of_id else None
    declared = None  # core properties are shown only when the imported file declared some
    if version.declared_title or version.declared_author or version.declared_created or version.declared_modified:
        declared = {
            "title": version.declared_title, "author": version.declared_author,
            "created": version.declared_created.isoformat() if version.declared_created else None,
            "modified": version.declared_modified.isoformat() if version.declared_modified else None,
        }
    return ProvenanceCard(
        version=version.number, state=version.state, title=version.title, space=space.slug,
        owner=_person(users, version.owner_id), author=_person(users, version.author_id),
        contributors=[p for p in (_person(users, c) for c in contributors) if p is not None],
        approved_by=_person(users, version.approver_id), approved_at=version.approved_at,
        intended_use=version.intended_use, audience=version.audience, licence=version.licence,
        language=version.language, valid_from=version.valid_from, valid_until=version.valid_until,
        review_by=version.review_by, review_overdue=review_overdue(version), expired=expired(version),
        source_kind=version.source_kind, source_uri=version.source_uri, source_sha256=version.source_sha256,
        source_filename=version.source_filename, declared_by_file=declared,
        derived_from=json.loads(version.derived_from), translation_of=translated.slug if translated else None,
        body_sha256=version.body_sha256,
    )


def version_public(session: Session, document: Document, version: Version):  # noqa: ANN201
    from kb.documents.schemas import VersionPublic

    return VersionPublic(document=document.slug, number=version.number, state=version.state, title=version.title,
                         body_md=version.body_md, tags=tags_of(version),
                         provenance=provenance_card(session, version, document))


def version_summary(version: Version, users: dict[int, User]):  # noqa: ANN201
    from kb.documents.schemas import VersionSummary

    approver = users.get(version.approver_id) if version.approver_id else None
    return VersionSummary(
        number=version.number, state=version.state, title=version.title, author=users[version.author_id].username,
        created_at=version.created_at, submitted_at=version.submitted_at,
        approved_by=approver.username if approver else None, approved_at=version.approved_at,
        ended_at=version.ended_at, rejection_reason=version.rejection_reason,
    )


def document_public(session: Session, *, actor: Actor, document: Document):  # noqa: ANN201
    """A document as ``actor`` may see it: its approved version with the card, and its open work if allowed."""
    from kb.documents.schemas import DocumentPublic

    current = current_version(session, document)
    latest = latest_version(session, document.id)  # type: ignore[arg-type]
    working = latest if latest.state in WORKING_STATES and can_see_working_versions(actor, document, latest) else None
    if current is None and working is None and latest.state not in VISIBLE_TO_ALL_SIGNED_IN:
        raise KbError(ErrorCode.NOT_FOUND, f"No document {document.slug!r}")
    users = users_by_id(session, [document.owner_id, latest.author_id, latest.approver_id])
    translations = session.execute(
        select(Document.slug).where(Document.translation_of_id == document.id).order_by(Document.slug)
    ).scalars().all()
    return DocumentPublic(
        slug=document.slug, space=accounts.get_space_by_id(session, document.space_id).slug,
        owner=_person(users, document.owner_id),
        current=version_public(session, document, current) if current else None,
        working=version_summary(working, users) if working else None,
        translations=list(translations), review_overdue=bool(current and review_overdue(current)),
    )


def list_documents(
    session: Session, *, actor: Actor, space_slug: str | None = None, state: VersionState | None = None,
    limit: int = 20, offset: int = 0,
) -> tuple[list, int]:  # type: ignore[type-arg]
    """Documents with the newest version the actor may see, optionally filtered by space and state."""
    from kb.documents.schemas import DocumentListItem

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


def history(session: Session, *, actor: Actor, slug: str) -> list:  # type: ignore[type-arg]
    document = get_document(session, slug)
    versions = [v for v in versions_of(session, document.id)  # type: ignore[arg-type]
                if v.state in VISIBLE_TO_ALL_SIGNED_IN or can_see_working_versions(actor, document, v)]
    if not versions:
        raise KbError(ErrorCode.NOT_FOUND, f"No document {slug!r}")
    users = users_by_id(session, [i for v in versions for i in (v.author_id, v.approver_id)])
    return [version_summary(v, users) for v in versions]


def _diffable(session: Session, version: Version) -> list[str]:
    users = users_by_id(session, [version.author_id, version.owner_id, version.approver_id])
    lines = []
    for name in PROVENANCE_FIELDS:
        value = getattr(version, name)
        lines.append(f"{name}: {value.value if hasattr(value, 'value') else value}")
    for name, user_id in (("author", version.author_id), ("owner", version.owner_id), ("approver", version.approver_id)):
        lines.append(f"{name}: {users[user_id].username if user_id in users else None}")
    lines.append("")
    return lines + version.body_md.splitlines()


def diff(session: Session, *, actor: Actor, slug: str, from_number: int, to_number: int) -> str:
    """Unified diff between two versions, provenance fields first, then the body."""
    _, old = get_version(session, actor=actor, slug=slug, number=from_number)
    _, new = get_version(session, actor=actor, slug=slug, number=to_number)
    return "\n".join(difflib.unified_diff(_diffable(session, old), _diffable(session, new),
                                          fromfile=f"{slug} v{from_number}", tofile=f"{slug} v{to_number}", lineterm=""))


def review_queue(session: Session, *, actor: Actor, on: dt.date | None = None) -> list:  # type: ignore[type-arg]
    """What waits for an owner in the spaces they own: versions in review, overdue reviews, expiring content."""
    from kb.documents.schemas import ReviewItem

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
        current = current_version(session, document)
        items.append(ReviewItem(reason=f"reported_{request.reason}", document=document.slug, space=space.slug,
                                version=current.number if current else 0, title=current.title if current else document.slug,
                                author=reporters[request.requested_by_id].username, submitted_at=request.created_at,
                                review_by=current.review_by if current else None,
                                valid_until=current.valid_until if current else None, note=request.note))
    order = {"in_review": 0, "reported_wrong": 1, "reported_outdated": 1, "review_overdue": 2, "expiring": 3, "review_due_soon": 4}
    return sorted(items, key=lambda i: (order[i.reason], i.document))


def chunks_of(session: Session, version_id: int) -> list[Chunk]:
    return list(session.execute(select(Chunk).where(Chunk.version_id == version_id).order_by(Chunk.ordinal)).scalars())


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
        ))
    return provenance.DocumentRecord(slug=document.slug, space=space.slug, space_name=space.name, versions=tuple(records))


# ------------------------------------------------------------------- read API for search

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
                 .join(Version, Version.id == Document.current_version_id)
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


def published_chunk_facts(session: Session, chunk_ids: Iterable[int]) -> dict[int, ChunkFacts]:
    """For each chunk id that belongs to a document's *current approved* version, the facts filters need."""
    wanted = list(chunk_ids)
    if not wanted:
        return {}
    # Run on the connection (Core rows, no ORM loading) with one expanding parameter: search re-checks
    # a few hundred ids twice per query (150 scattered ids at 100k chunks, warm, interleaved: 3.2 ms
    # against 5.4 ms through the ORM; plain SQL on the driver was no faster than this, 3.2 ms).
    rows = session.connection().execute(_PUBLISHED_CHUNK_FACTS, {"ids": wanted}).all()
    return {row[0]: ChunkFacts(row[0], row[1], row[2], str(row[3]), row[4], _tags(row[5]), row[6], row[7])
            for row in rows if row[8] == VersionState.approved}


# The state is checked in Python: in the WHERE clause it leads SQLite's planner to scan every
# approved version instead of looking the chunks up by key (36 ms against 0.6 ms at 1.5k chunks).
_PUBLISHED_CHUNK_FACTS = (
    select(Chunk.id, Document.id, Document.space_id, Version.audience, Version.language, Version.tags,
           Version.valid_from, Version.valid_until, Version.state)
    .join(Version, Version.id == Chunk.version_id)
    .join(Document, Document.current_version_id == Version.id)
    .where(Chunk.id.in_(bindparam("ids", expanding=True)))  # type: ignore[union-attr]
)


@lru_cache(maxsize=4096)
def _tags(stored: str) -> tuple[str, ...]:
    """A version's stored JSON tag list as a tuple (few distinct lists: decoded once each)."""
    return tuple(json.loads(stored))


def people_of(session: Session, versions: Iterable[Version]) -> dict[int, User]:
    """Everyone named on these versions' cards, in one query."""
    return users_by_id(session, [i for v in versions for i in (v.author_id, v.owner_id, v.approver_id, *json.loads(v.contributor_ids))])


def facts_of(item: Published) -> ChunkFacts:
    """The same facts for a whole published document (its first chunk stands for it)."""
    version = item.version
    return ChunkFacts(item.chunks[0].id if item.chunks else 0, item.document.id, item.space.id, str(version.audience),  # type: ignore[arg-type]
                      version.language, tuple(tags_of(version)), version.valid_from, version.valid_until)


def chunks_by_id(session: Session, chunk_ids: Iterable[int]) -> dict[int, Chunk]:
    wanted = list(chunk_ids)
    if not wanted:
        return {}
    return {c.id: c for c in session.execute(_CHUNKS_BY_ID, {"ids": wanted}).scalars()}  # type: ignore[misc]


_CHUNKS_BY_ID = select(Chunk).where(Chunk.id.in_(bindparam("ids", expanding=True)))  # type: ignore[union-attr]


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


def document_ids_for_slugs(session: Session, slugs: Iterable[str]) -> dict[str, int]:
    wanted = list(set(slugs))
    if not wanted:
        return {}
    return dict(session.execute(select(Document.slug, Document.id).where(Document.slug.in_(wanted))).all())  # type: ignore[union-attr]


def request_review(session: Session, *, actor: Actor, slug: str, reason: str, note: str) -> ReviewRequest:
    """Put a reader's report (wrong, outdated) in the owners' review queue; curated content stays as it is.

    The caller records the audit event of the action that led here (a flag).
    """
    document = get_document(session, slug)
    if current_version(session, document) is None:
        raise KbError(ErrorCode.NOT_FOUND, f"No document {slug!r}")
    request = ReviewRequest(document_id=document.id, reason=reason, note=note, requested_by_id=actor.id)  # type: ignore[arg-type]
    session.add(request)
    session.flush()
    return request


def document_for_social(session: Session, *, actor: Actor, slug: str) -> tuple[Document, Version]:
    """The document and its approved version, for community content about it (404 when none is approved)."""
    document = get_document(session, slug)
    version = current_version(session, document)
    if version is None:
        raise KbError(ErrorCode.NOT_FOUND, f"No approved document {slug!r} to discuss")
    return document, version


def create_promoted(
    session: Session, *, actor: Actor, space_slug: str, data: DocumentCreate, source_uri: str,
    contributor_ids: list[int], origin: dict[str, object],
) -> tuple[Document, Version]:
    """A draft document promoted from a community answer: source ``promoted_answer``, the answer's
    author credited as contributor. It then goes through the normal approval workflow.

    Raises:
        KbError FORBIDDEN: the actor does not own the space.
    """
    space = accounts.get_space(session, space_slug)
    _require_owner(actor, space, "promote answers into curated knowledge")
    document, version = _new_document(session, actor=actor, space=space, data=data,
                                      source_kind=SourceKind.promoted_answer)
    version.source_uri = source_uri
    version.contributor_ids = json.dumps(sorted(set(contributor_ids) - {version.author_id}))
    session.add(version)
    session.flush()
    provenance.record(session, actor, "document.promote", ("document", document.slug),
                      {"space": space.slug, "version": version.number, "source_uri": source_uri, **origin})
    return document, version


def approved_versions_by(session: Session, user_id: int) -> int:
    """How many versions ``user_id`` authored that were approved (current or since superseded)."""
    return session.execute(select(func.count()).select_from(Version).where(
        Version.author_id == user_id, Version.approver_id.is_not(None))).scalar_one()  # type: ignore[union-attr]


# -------------------------------------------------------------------------------------- insights

def overdue_by_space(session: Session, on: dt.date | None = None) -> list[tuple[str, int, int]]:
    """Per space: (slug, approved documents, of them overdue for review), every space listed."""
    day = on or today()
    figures: dict[str, list[int]] = {slug: [0, 0] for slug in session.execute(select(Space.slug)).scalars()}
    approved = session.execute(
        select(Space.slug, Version.review_by).join(Document, Document.space_id == Space.id)
        .join(Version, Version.id == Document.current_version_id).where(Version.state == VersionState.approved)
    ).all()
    for slug, review_by in approved:
        figures[slug][0] += 1
        figures[slug][1] += review_by is not None and review_by < day
    return [(slug, total, overdue) for slug, (total, overdue) in sorted(figures.items())]


def approval_lead_times(session: Session, *, since: dt.datetime) -> list[tuple[str, float]]:
    """Approvals since ``since``: (space slug, hours from submission to approval), oldest first."""
    rows = session.execute(
        select(Space.slug, Version.submitted_at, Version.approved_at).join(Document, Document.id == Version.document_id)
        .join(Space, Space.id == Document.space_id)
        .where(Version.approved_at.is_not(None), Version.approved_at >= since, Version.submitted_at.is_not(None))  # type: ignore[union-attr]
        .order_by(Version.approved_at)
    ).all()
    return [(slug, max(0.0, (approved - submitted).total_seconds() / 3600)) for slug, submitted, approved in rows]
