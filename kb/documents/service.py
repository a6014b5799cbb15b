"""Rules of curated documents: look-ups, who may see what, and the lifecycle of a version.

Owns the per-object rules (a writer or an owner of *this* space, which transitions each state allows;
a second review's rules are in ``approval``) and the state changes of create, edit, submit, approve, reject and retire. Every public function that changes state takes
``(session, *, actor, …)``, checks the per-object rule, changes rows, records exactly one audit
event through ``kb.provenance.record`` and queues domain events for the search index; it never
commits (the action in ``kb.documents.actions`` wraps it in ``kb.db.transaction``).

The sibling modules build on this one: ``importing`` (files), ``reading`` (what surfaces render),
``published`` (the read API of search and social), ``insights`` (figures). Must not import them,
nor the actions or api, nor social, search, experts or the web framework.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping

from sqlalchemy import bindparam, delete, select, update
from sqlmodel import Session

from kb import provenance, taxonomy, validity
from kb.accounts import service as accounts
from kb.accounts.service import users_by_id as users_by_id  # re-exported: reading and published name it here
from kb.accounts.models import Space
from kb.actors import Actor
from kb.db import is_postgresql, utcnow
from kb.documents import approval
from kb.documents.chunking import chunk_markdown
from kb.documents.ingest_docx import ParsedFile
from kb.documents.commitments import served
from kb.documents.models import Audience, Chunk, Document, ReviewRequest, SourceKind, Version, VersionState
from kb.documents.schemas import DocumentCreate, DraftSave, ProvenanceFields
from kb.errors import ErrorCode, KbError
from kb.events import DocumentWithdrawn, VersionPublished, queue_event
from kb.validity import today

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
                     "valid_until", "review_by", "source_kind", "source_uri", "source_sha256", "source_filename",
                     "applies_to", "topic", "region")


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def tags_of(version: Version) -> list[str]:
    return list(json.loads(version.tags))


def review_overdue(version: Version, on: dt.date | None = None) -> bool:
    return version.review_by is not None and version.review_by < (on or today())


def expired(version: Version, on: dt.date | None = None) -> bool:
    return validity.expired(version.valid_until, on)


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
    """The version ``document`` serves; None when it serves none, or when the row its ``current_version_id``
    names is another document's (moved outside kb: serving it would put that document's text and
    approver under this one's name)."""
    version = session.get(Version, document.current_version_id) if document.current_version_id else None
    return version if version is not None and version.document_id == document.id else None


def can_see_working_versions(actor: Actor, document: Document, version: Version | None = None) -> bool:
    """Drafts, versions in review and rejected ones: the space's writers, the author, admins."""
    if actor.is_admin:
        return True
    if actor.contributes_to(document.space_id):
        return True
    return version is not None and version.author_id == actor.id


def may_see_document(session: Session, actor: Actor, document: Document) -> bool:
    """The one rule of who may see a document: whoever may see one of its versions (every signed-in
    person an approved, superseded or retired one; working versions as ``can_see_working_versions``)."""
    if document.current_version_id is not None:
        return True
    return any(v.state in VISIBLE_TO_ALL_SIGNED_IN or can_see_working_versions(actor, document, v)
               for v in versions_of(session, document.id))  # type: ignore[arg-type]


def visible_document(session: Session, *, actor: Actor, slug: str) -> Document:
    """The document ``slug`` if ``actor`` may see it.

    Raises:
        KbError NOT_FOUND: no such document, or one the actor may not see: the same answer for both
            (same code, same message), so that nobody learns which slugs exist (issue 16).
    """
    document = get_document(session, slug)
    if not may_see_document(session, actor, document):
        raise KbError(ErrorCode.NOT_FOUND, f"No document {slug!r}")
    return document


def get_version(session: Session, *, actor: Actor, slug: str, number: int) -> tuple[Document, Version]:
    """A version the actor may see. Raises KbError NOT_FOUND otherwise (no existence oracle)."""
    document = visible_document(session, actor=actor, slug=slug)
    version = session.execute(
        select(Version).where(Version.document_id == document.id, Version.number == number)
    ).scalar_one_or_none()
    if version is None or (version.state not in VISIBLE_TO_ALL_SIGNED_IN
                           and not can_see_working_versions(actor, document, version)):
        raise KbError(ErrorCode.NOT_FOUND, f"No version {number} of {slug!r}")
    return document, version


def version_to_edit(session: Session, *, actor: Actor, slug: str) -> tuple[Document, Version]:
    """The newest version of a document, the one an edit starts from (what the edit form shows).

    Raises:
        KbError NOT_FOUND: no such document.
        KbError FORBIDDEN: the actor does not write in the document's space (as for saving the edit).
    """
    document = get_document(session, slug)
    require_writer(actor, accounts.get_space_by_id(session, document.space_id))  # the rule saving applies
    return document, latest_version(session, document.id)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- permissions

def require_writer(actor: Actor, space: Space) -> None:
    """Raises KbError FORBIDDEN unless ``actor`` contributes to (or owns) ``space``."""
    if not actor.contributes_to(space.id):  # type: ignore[arg-type]
        raise KbError(ErrorCode.FORBIDDEN, f"Only contributors and owners of the space {space.slug!r} may write in it")


def require_owner(actor: Actor, space: Space, what: str) -> Actor:
    """Raises KbError FORBIDDEN unless ``actor`` owns ``space``; ``what`` completes "may …" in the message."""
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
    owner = accounts.first_owner(session, space.id)  # type: ignore[arg-type]
    if owner is None:
        raise KbError(ErrorCode.CONFLICT, f"The space {space.slug!r} has no owner to answer for its documents")
    return owner


CONCEPT_FIELDS = (taxonomy.ConceptField.applies_to, taxonomy.ConceptField.topic, taxonomy.ConceptField.region)


def concept_ids(version: Version) -> list[int]:
    """Every concept id the version's three concept fields store (applies to, topic, region)."""
    return sorted({i for name in CONCEPT_FIELDS for i in taxonomy.stored_ids(getattr(version, name.value))})


def record_concept_uses(session: Session, version: Version, *, new: bool = False) -> None:
    """Keep ``concept_use`` equal to what the version's fields name (a concept in use cannot be deleted).
    ``new``: the version was inserted in this transaction (``taxonomy.set_uses``)."""
    taxonomy.set_uses(session, version.id, concept_ids(version), new=new)  # type: ignore[arg-type]


def _apply_fields(session: Session, version: Version, fields: ProvenanceFields) -> list[str]:
    changed = []
    vocabulary = None
    for name in CONCEPT_FIELDS:
        refs = getattr(fields, name.value)
        if refs is None:
            continue
        vocabulary = vocabulary or taxonomy.vocabulary(session)
        ids = vocabulary.resolve(name, refs)
        stored = json.dumps(ids) if ids else None
        if stored != getattr(version, name.value):
            setattr(version, name.value, stored)
            changed.append(name.value)
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
    for name in getattr(fields, "clear", ()):  # DraftSave.clear: the optional fields an edit empties
        empty = {"tags": "[]", "intended_use": "", "licence": ""}.get(name)  # as a version without them holds them
        if name == "source_uri" and not (version.source_uri or "").lower().startswith(("http://", "https://")):
            continue  # a web source only: a promoted answer's kb: reference is kb's own record, not the writer's
        if getattr(version, name) not in (None, empty):
            setattr(version, name, empty)
            changed.append(name)
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
    require_writer(actor, space)
    document, version = new_document(session, actor=actor, space=space, data=data,
                                      source_kind=source_kind or (SourceKind.url if data.source_uri else SourceKind.authored))
    if contributors:
        ids = {accounts.get_user(session, username).id for username in contributors} - {version.author_id}
        version.contributor_ids = json.dumps(sorted(ids))  # type: ignore[type-var]
        session.add(version)
        session.flush()
    provenance.record(session, actor, "document.create", ("document", document.slug),
                      {"space": space.slug, "version": version.number, "body_sha256": version.body_sha256,
                       **served(document, version)})
    return document, version


# Statements a bulk import runs for every file, built once (``kb.accounts.service._SPACE_BY_SLUG``).
_SLUG_TAKEN = select(Document.id).where(Document.slug == bindparam("slug"))
_INSERT_CHUNKS = Chunk.__table__.insert()  # type: ignore[attr-defined]


def new_document(session: Session, *, actor: Actor, space: Space, data: DocumentCreate,
                 source_kind: SourceKind, source: Mapping[str, object] | None = None) -> tuple[Document, Version]:
    """The rows of a new document and its first draft; the caller checks the actor and records the event.
    ``source``: more of the version's source columns (an imported file's hash, name and declared metadata).

    Raises:
        KbError ALREADY_EXISTS: the slug is taken.
        KbError NOT_FOUND: the document it translates does not exist.
        KbError CONFLICT: the space has no owner, or the document it translates is another space's.
    """
    if session.execute(_SLUG_TAKEN, {"slug": data.slug}).first():
        raise KbError(ErrorCode.ALREADY_EXISTS, f"A document {data.slug!r} exists already")
    translation_of_id = _translated(session, actor, data.translation_of, space).id if data.translation_of else None
    if translation_of_id is not None:
        _require_translation_language(session, translation_of_id, data.language, document_id=None)
    author_id = actor.id
    owner_id = _default_owner(session, actor, space)
    document = Document(slug=data.slug, space_id=space.id, owner_id=owner_id,  # type: ignore[arg-type]
                        created_by_id=author_id, translation_of_id=translation_of_id)
    session.add(document)
    session.flush()
    version = Version(
        document_id=document.id, number=1, state=VersionState.draft, title=data.title, body_md=data.body_md,  # type: ignore[arg-type]
        body_sha256=sha256_text(data.body_md), source_kind=source_kind, author_id=author_id, owner_id=owner_id,
        audience=data.audience, language=data.language, four_eyes=space.four_eyes, **(source or {}),
    )
    _apply_fields(session, version, data)
    session.add(version)
    session.flush()
    record_concept_uses(session, version, new=True)
    return document, version


def _translated(session: Session, actor: Actor, slug: str, space: Space) -> Document:
    """The document a new one translates, which must be in the same space: a page's translations are served
    in its place to citizens of their language, so its own owners approve them, not another space's
    (the insider review of 2026-12-07, F8). One the actor may not see is not found, as a missing one."""
    original = visible_document(session, actor=actor, slug=slug)
    if original.translation_of_id is not None:
        first = session.get(Document, original.translation_of_id)
        raise KbError(ErrorCode.CONFLICT, f"{slug!r} is itself a translation (of {first.slug if first else '?'!r}): "
                      "translate the original", details={"rule": "translation_of_an_original"})
    if original.space_id != space.id:
        home = accounts.get_space_by_id(session, original.space_id)
        raise KbError(ErrorCode.CONFLICT, (
            f"{slug!r} is a document of the space {home.slug!r}: its translations are written there, where its "
            f"owners approve what is served in its place, not in {space.slug!r}"),
            details={"rule": "translation_in_its_originals_space", "space": home.slug})
    return original


def _languages_of(session: Session, document_ids: list[int]) -> dict[int, str]:
    """The language each document is served in (its approved version's), else its newest version's (one query)."""
    found: dict[int, str] = {}
    served: set[int] = set()
    rows = session.execute(select(Version.document_id, Version.language, Version.state)
                           .where(Version.document_id.in_(document_ids))  # type: ignore[attr-defined]
                           .order_by(Version.document_id, Version.number.desc())).all()  # type: ignore[attr-defined]
    for document_id, language, state in rows:
        if state == VersionState.approved and document_id not in served:
            found[document_id] = language
            served.add(document_id)
        else:
            found.setdefault(document_id, language)
    return found


def _require_translation_language(session: Session, original_id: int, language: str | None, *,
                                  document_id: int | None) -> None:
    """A translation is in another language than its original, and the only one of its group in it.

    Citizens are served a page's translation in their language in its place, one per language: a second
    Dutch translation displaced the first from the page's links, and an English "translation" of an
    English page was linked as its English version (the review of 2026-12-07). Checked when a
    translation is created and when a version of one is approved (a draft may change its language).

    Raises:
        KbError CONFLICT (``details.rule``: ``translation_language``): the original's language, or a
            language another translation of it has.
    """
    original = session.get(Document, original_id)
    if original is None or language is None:
        return
    others = dict(session.execute(select(Document.id, Document.slug).where(
        Document.translation_of_id == original_id, Document.id != (document_id or -1))).all())
    languages = _languages_of(session, [original_id, *others])
    if language == languages.get(original_id):
        raise KbError(ErrorCode.CONFLICT, f"{original.slug!r} is written in {language!r} already: a translation is "
                      "in another language", details={"rule": "translation_language", "language": language})
    for other_id, other_slug in others.items():
        if languages.get(other_id) == language:
            raise KbError(ErrorCode.CONFLICT, f"{other_slug!r} is the {language!r} translation of {original.slug!r} "
                          "already: edit that one", details={"rule": "translation_language", "language": language,
                                                             "translation": other_slug})


def save_draft(session: Session, *, actor: Actor, slug: str, data: DraftSave) -> tuple[Version, bool]:
    """Edit a document: change its open draft, or start a new draft from the newest version.

    Returns:
        The draft and whether it is a new version.

    Raises:
        KbError ILLEGAL_TRANSITION: a version is in review (approve or reject it first).
    """
    document = get_document(session, slug, lock=True)
    space = accounts.get_space_by_id(session, document.space_id)
    require_writer(actor, space)
    draft, created, changed = edit_draft(session, actor=actor, document=document, space=space, data=data)
    if created or changed:
        provenance.record(session, actor, "version.edit", ("document", document.slug),
                          {"version": draft.number, "new_version": created, "changed": changed, "body_sha256": draft.body_sha256,
                           **served(document, draft)})
    return draft, created


def credit_editor(draft: Version, editor_id: int) -> None:
    """Credit ``editor_id`` as a contributor of someone else's open draft they changed: four eyes then
    refuses them as its approver, and its card says who wrote it. Every path that changes a draft calls it."""
    if editor_id != draft.author_id:
        draft.contributor_ids = json.dumps(sorted(set(json.loads(draft.contributor_ids)) | {editor_id}))


def edit_draft(session: Session, *, actor: Actor, document: Document, space: Space, data: DraftSave) -> tuple[Version, bool, list[str]]:
    """Apply ``data`` to the open draft, or to a new draft copied from the newest version; no event.

    Returns:
        The draft, whether it is a new version, and the names of the fields that changed.

    Raises:
        KbError ILLEGAL_TRANSITION: the newest version cannot be edited (it is in review).
    """
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
            applies_to=latest.applies_to, topic=latest.topic, region=latest.region,
            derived_from=json.dumps([latest.id]), four_eyes=space.four_eyes,
        )
    else:
        draft = latest
    changed = _apply_fields(session, draft, data)
    if data.title is not None and data.title != draft.title:
        draft.title = data.title
        changed.append("title")
    if data.body_md is not None and data.body_md != draft.body_md:
        draft.body_md, draft.body_sha256 = data.body_md, sha256_text(data.body_md)
        changed.append("body")
    if created or changed:
        if not created:
            credit_editor(draft, editor_id)
        draft.updated_at = utcnow()
        session.add(draft)
        session.flush()
        record_concept_uses(session, draft)
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


def _write_chunks(session: Session, version: Version, *, new: bool = False) -> int:
    """The version's passages, in place of any it had. ``new``: inserted in this transaction, it has none."""
    if not new:  # a plain DELETE (no matching of the session's objects): nothing in the transaction has read these rows
        session.execute(delete(Chunk).where(Chunk.version_id == version.id).execution_options(synchronize_session=False))
    chunks = chunk_markdown(version.body_md, version.title)
    if chunks:  # one INSERT of plain rows on the transaction's connection: nothing in it uses them as objects. It does not
        # flush the session first: the version's row exists (its id is here), and nothing else pending is needed
        rows = [{"version_id": version.id, "ordinal": chunk.ordinal, "text": chunk.text,
                 "heading_path": json.dumps(list(chunk.heading_path)), "word_count": chunk.word_count} for chunk in chunks]
        session.connection().execute(_INSERT_CHUNKS, rows)
    return len(chunks)


def submit(session: Session, *, actor: Actor, slug: str, number: int, intended_use: str | None = None,
           batch: str | None = None) -> Version:
    """Freeze a draft and send it for review; it needs an intended-use statement. A submitter who is not
    the author and states a different intended use is credited as a contributor (``credit_editor``): four
    eyes then refuses them as its approver. ``batch`` names the bulk import it is part of (in the event:
    owners are told of the batch once, not of each file).

    Raises:
        KbError ILLEGAL_TRANSITION: the version is not a draft.
        KbError VALIDATION_ERROR: no intended use stated.
    """
    document, version, space = _locked_version(session, slug, number)
    return submit_held(session, actor=actor, document=document, version=version, space=space,
                       intended_use=intended_use, batch=batch)


def submit_held(session: Session, *, actor: Actor, document: Document, version: Version, space: Space,
                intended_use: str | None = None, batch: str | None = None, new: bool = False) -> Version:
    """``submit`` of a version this transaction holds already: one it locked (``_locked_version``), or an
    import's draft written in it (no second read of the rows). ``new``: the version was inserted in this
    transaction (a new document's first draft), so it has no passages to replace. Raises as ``submit``."""
    if version.author_id != actor.id:
        require_writer(actor, space)
    _require_transition(version, "submit")
    if intended_use and intended_use != version.intended_use:
        # What a version may be used for is part of what it says: whoever rewrites it at submission wrote
        # part of the version, is credited, and is not its second person (the insider review's F4).
        version.intended_use = intended_use
        credit_editor(version, actor.id)  # type: ignore[arg-type]
    if not version.intended_use.strip():
        raise KbError(ErrorCode.VALIDATION_ERROR, "Say what this version may be used for: intended_use is required to submit")
    version.state = VersionState.in_review
    version.submitted_at = utcnow()
    version.submitted_by_id = actor.id
    version.four_eyes = space.four_eyes
    chunk_count = _write_chunks(session, version, new=new)
    session.add(version)
    session.flush()
    provenance.record(session, actor, "version.submit", ("document", document.slug),
                      {"version": version.number, "intended_use": version.intended_use, "chunks": chunk_count,
                       "body_sha256": version.body_sha256, **served(document, version),
                       **({"batch": batch} if batch else {})}, rows=(document, version))
    return version


def approval_refusal(session: Session, *, actor: Actor, version: Version, space: Space, slug: str) -> KbError | None:
    """Why ``actor`` may not approve ``version`` now (the error ``approve`` raises), or None if they may.

    The one place the approval's rules are put together: ``approve`` raises what it returns, and the
    pages ask it beforehand so that they offer no Approve button that would fail (issue 17). The rules
    of a second review themselves are in ``kb.documents.approval``.
    """
    try:
        require_owner(actor, space, "approve")
        _require_transition(version, "approve")
    except KbError as error:
        return error
    return approval.four_eyes_refusal(actor, version, space, slug) or approval.two_people_refusal(session, actor, version, slug)


def approve(session: Session, *, actor: Actor, slug: str, number: int, comment: str | None = None) -> Version:
    """Approve a version in review; the previous approved version becomes superseded in the same transaction.

    Raises (``approval_refusal``):
        KbError FORBIDDEN: the actor is not an owner of the space.
        KbError FOUR_EYES: the actor is the version's author (or a credited contributor) and the version was
            submitted under four eyes, or its space requires four eyes now.
        KbError FOUR_EYES (``password_set_by``): the approver chose a writer's password, or a writer the
            approver's (directly or up a chain).
        KbError ILLEGAL_TRANSITION: the version is not in review.
    """
    document, version, space = _locked_version(session, slug, number)
    refusal = approval_refusal(session, actor=actor, version=version, space=space, slug=slug)
    if refusal is not None:
        raise refusal
    if document.translation_of_id is not None:
        _require_translation_language(session, document.translation_of_id, version.language, document_id=document.id)
    approver = actor
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
    resolved = _resolve_reports(session, document, decider=actor, space=space)
    event = provenance.record(session, actor, "version.approve", ("document", document.slug), {
        "version": version.number, "superseded": previous.number if previous else None,
        "audience": Audience(version.audience).value, "body_sha256": version.body_sha256, "comment": comment,
        **({"resolved_reports": resolved} if resolved else {}),
        **served(document, version, previous),
    })
    if Audience(version.audience) is Audience.public:
        approval.record_publication(session, document=document, version=version, space=space, approval=event)
    queue_event(session, VersionPublished(audit_seq=event.seq, document_id=document.id, version_id=version.id))  # type: ignore[arg-type]
    return version


def _resolve_reports(session: Session, document: Document, *, decider: Actor | None = None,
                     space: Space | None = None) -> list[int]:
    """Close the readers' open reports (wrong, outdated) of ``document``: an owner has approved a version
    since, or retired it, which is what the review queue asked for. They stayed in every owner's queue
    for good before (the review of 2026-12-07). Returns their ids, for the event that closes them.

    An approval (``decider``) closes only the reports its approver could dismiss (``report_refusal``):
    the writer of a reported text approving an unchanged copy someone else submitted must not clear the
    report about her own text (the insider review of 2026-12-07). A retirement withdraws the text, so it
    closes every report.
    """
    open_reports = list(session.execute(select(ReviewRequest).where(
        ReviewRequest.document_id == document.id, ReviewRequest.resolved_at.is_(None))).scalars())  # type: ignore[union-attr]
    if decider is not None and space is not None:
        open_reports = [report for report in open_reports
                        if report_refusal(session, decider, report, reported_version(session, report, document),
                                          document, space) is None]
    ids = [report.id for report in open_reports]
    if not ids:
        return []
    # Only those still open, and only those this statement closed: a dismissal committed meanwhile is
    # neither closed again nor named twice.
    closed = session.execute(update(ReviewRequest).where(ReviewRequest.id.in_(ids), ReviewRequest.resolved_at.is_(None))  # type: ignore[union-attr]
                             .values(resolved_at=utcnow()).returning(ReviewRequest.id)).scalars()
    return sorted(closed)


def report_refusal(session: Session, actor: Actor, report: ReviewRequest, version: Version | None, document: Document,
                   space: Space) -> KbError | None:
    """Whether ``actor`` may close a reader's report by deciding on it, by the rules of a second review: not
    a writer of the version it is about (``version``: ``reported_version``; author, credited contributor)
    under four eyes, nor someone whose password chain joins a writer's (``approval.two_people_refusal``).
    KbError FOUR_EYES, else None."""
    if version is None:
        return None
    if (version.four_eyes or space.four_eyes) and approval.wrote(actor.id, version):
        return KbError(ErrorCode.FOUR_EYES, (
            f"The report is about version {version.number} of {document.slug!r}, which you wrote: another owner of "
            "the space must decide on it (four eyes)"), details={"rule": "four_eyes", "report": report.id})
    chained = approval.two_people_refusal(session, actor, version, document.slug, decision="decide on the report about it")
    if chained is not None:
        chained.details = {**(chained.details or {}), "report": report.id}
    return chained


def reported_version(session: Session, report: ReviewRequest, document: Document) -> Version | None:
    """The version a report is about: the one served when it was made (kept since migration 0026; for an
    older report, the last approved at or before its making), else the one served now. Not the one served
    now first: the writer of a reported text could approve an unchanged copy and then decide on the report."""
    version = session.get(Version, report.version_id) if report.version_id is not None else session.execute(
        select(Version).where(Version.document_id == document.id, Version.approved_at.is_not(None),  # type: ignore[union-attr]
                              Version.approved_at <= report.created_at)  # type: ignore[operator]
        .order_by(Version.approved_at.desc()).limit(1)).scalar_one_or_none()  # type: ignore[union-attr]
    return version if version is not None and version.document_id == document.id else current_version(session, document)


def dismiss_report(session: Session, *, actor: Actor, report_id: int, reason: str) -> tuple[ReviewRequest, Document]:
    """An owner finds a reader's report (wrong, outdated) unfounded and closes it with a reason, without a new
    version: the report leaves the review queue, and the event names it (``resolved_reports``) and why.

    Where the space or the report's version requires four eyes, a writer of the version the report is
    about may not dismiss it, nor anyone a second review would refuse (``report_refusal``): the report says
    their text is wrong, and another owner decides.

    Raises:
        KbError NOT_FOUND: no such report, or one in a space the actor does not own.
        KbError FOUR_EYES: the actor wrote (or is credited on) the version the report is about.
        KbError CONFLICT: the report is closed already.
    """
    report = session.execute(select(ReviewRequest).where(ReviewRequest.id == report_id)
                             .with_for_update().execution_options(populate_existing=True)).scalar_one_or_none()
    document = session.get(Document, report.document_id) if report is not None else None
    space = accounts.get_space_by_id(session, document.space_id) if document is not None else None
    if report is None or document is None or space is None or not actor.owns(space.id):  # type: ignore[arg-type]
        raise KbError(ErrorCode.NOT_FOUND, f"No report {report_id} in a space you own")  # the same answer: no probing
    if report.resolved_at is not None:
        raise KbError(ErrorCode.CONFLICT, f"Report {report_id} is closed already", details={"rule": "report_closed"})
    version = reported_version(session, report, document)
    refusal = report_refusal(session, actor, report, version, document, space)
    if refusal is not None:
        raise refusal
    report.resolved_at = utcnow()
    session.add(report)
    session.flush()
    provenance.record(session, actor, "report.dismiss", ("document", document.slug), {
        "report": report_id, "report_reason": report.reason, "reason": reason,
        "version": version.number if version is not None else None, "resolved_reports": [report_id]})
    return report, document


def reject(session: Session, *, actor: Actor, slug: str, number: int, reason: str) -> Version:
    """Reject a version in review; a new draft (a copy of it) is opened for the author.

    Returns:
        The new draft version.
    """
    document, version, space = _locked_version(session, slug, number)
    reviewer = require_owner(actor, space, "reject")
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
    record_concept_uses(session, draft)
    provenance.record(session, actor, "version.reject", ("document", document.slug),
                      {"version": version.number, "reason": reason, "new_draft": draft.number, **served(document, version, draft)})
    return draft


def retire(session: Session, *, actor: Actor, slug: str, reason: str) -> Version:
    """Withdraw the approved version: the document stays on record but is no longer served as truth."""
    document = get_document(session, slug, lock=True)
    space = accounts.get_space_by_id(session, document.space_id)
    owner = require_owner(actor, space, "retire documents")
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
    resolved = _resolve_reports(session, document)
    event = provenance.record(session, actor, "version.retire", ("document", document.slug),
                              {"version": version.number, "reason": reason,
                               **({"resolved_reports": resolved} if resolved else {}), **served(document, version)})
    queue_event(session, DocumentWithdrawn(audit_seq=event.seq, document_id=document.id))  # type: ignore[arg-type]
    return version
