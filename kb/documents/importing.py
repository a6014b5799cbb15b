"""Import of files as draft versions: .docx, .pdf, .html, .md and .txt, the original kept by its SHA-256.

Three steps, so that the write lock is held for the inserts only (issue 16): ``unchanged_import``
(a read: the same bytes again need nothing), ``parse_file`` (no database at all) and ``import_file``
(in the action's write transaction).

Owns the file store under ``KB_FILES_DIR`` (write once, by content hash) and the read of an
original file back. The per-object rules (a writer of this space; who may see a version) are the
ones of ``kb.documents.service``. Must not import the actions or api, the other sibling modules
(``reading``, ``published``, ``insights``), social, search, experts or the web framework.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from kb import provenance
from kb.accounts import service as accounts
from kb.accounts.models import Space
from kb.actors import Actor
from kb.documents import service
from kb.documents.bulk import slug_from_path
from kb.markdown import with_visible_text
from kb.documents.ingest_docx import ParsedFile, parse_upload
from kb.documents.commitments import served
from kb.documents.models import Document, SourceKind, StoredFile, Version
from kb.db import is_postgresql, utcnow
from kb.documents.schemas import DocumentCreate, DraftSave
from kb.errors import ErrorCode, KbError


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did, and to which document and version."""

    outcome: str  # created, new_version, updated_draft, unchanged
    document: Document
    version: Version
    source_sha256: str
    space: Space
    """The document's space, read in the import's transaction."""


def slug_from_filename(filename: str) -> str:
    """The slug of a file imported by itself: that of its bare name (``bulk.slug_from_path``, the one rule)."""
    return slug_from_path(Path(filename).name)


def store_file(files_dir: Path, sha: str, data: bytes) -> None:
    """Keep the original by its SHA-256 (idempotent: an existing file is left as it is). Content-addressed,
    so the import action writes and fsyncs it before its write transaction: a rollback leaves at most
    an unreferenced file, and the database's write lock is never held across the disk write."""
    target = stored_file_path(files_dir, sha)
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
    """Where the file with SHA-256 ``sha`` is kept (two-character fan-out folders)."""
    return files_dir / sha[:2] / sha


def _first_heading(markdown: str) -> str | None:
    match = re.search(r"^#{1,6}\s+(.+?)\s*$", markdown, re.M)
    return match.group(1) if match else None


def unchanged_import(
    session: Session, *, actor: Actor, space_slug: str, filename: str, data: bytes, slug: str | None = None,
    space: Space | None = None,
) -> ImportOutcome | None:
    """The outcome ``unchanged`` when the document already has a version of exactly these bytes, else None.

    Reads only, and never parses: a re-import of the same bytes costs a SHA-256 and one query. ``space``:
    the space of ``space_slug`` as the caller read it (a bulk import's files, before each one's transaction).

    Raises:
        KbError NOT_FOUND: no such space.
        KbError FORBIDDEN: the actor does not write in the space.
        KbError CONFLICT: the slug belongs to a document of another space.
    """
    return _target(session, actor=actor, space_slug=space_slug, filename=filename, data=data, slug=slug, space=space).same


def existing_slugs(session: Session, slugs: Iterable[str], *, chunk: int = 500) -> set[str]:
    """Which of ``slugs`` name a document now: a bulk import's resume check reads these in one query per
    ``chunk`` slugs, and only a file whose slug is among them can be ``unchanged`` (each file's transaction
    checks again, so a document made meanwhile is never imported twice)."""
    wanted, found = sorted(set(slugs)), set()
    for start in range(0, len(wanted), chunk):
        found.update(session.execute(select(Document.slug).where(Document.slug.in_(wanted[start:start + chunk]))).scalars())  # type: ignore[attr-defined]
    return found


@dataclass(frozen=True)
class _Target:
    """Where a file's import goes: the space (its writer checked), the slug, the file's SHA-256, the document
    of that slug if any, and the outcome ``unchanged`` when it has a version of exactly these bytes."""

    space: Space
    slug: str
    sha: str
    existing: Document | None
    same: ImportOutcome | None


_DOCUMENT_BY_SLUG = select(Document).where(Document.slug == bindparam("slug"))
"""Built once, as the other statements a bulk import runs for every file (``kb.accounts.service._SPACE_BY_SLUG``)."""

_KEEP_STORED_FILE = {postgres: insert(StoredFile.__table__).on_conflict_do_nothing(index_elements=["sha256"])  # type: ignore[attr-defined]
                     for postgres, insert in ((False, sqlite_insert), (True, postgresql_insert))}
"""The original's row, by ``is_postgresql``, unless a row of the same bytes exists: that one keeps its first name, and
a concurrent import of the same bytes waits for it, then writes nothing (no IntegrityError). One statement, built
once: a read, an object and its flush were a tenth of a file's import."""


def _target(session: Session, *, actor: Actor, space_slug: str, filename: str, data: bytes, slug: str | None,
            space: Space | None = None) -> _Target:
    """Raises as ``unchanged_import``."""
    space = space if space is not None and space.slug == space_slug else accounts.get_space(session, space_slug)
    service.require_writer(actor, space)
    sha = hashlib.sha256(data).hexdigest()
    slug = slug or slug_from_filename(filename)
    existing = session.execute(_DOCUMENT_BY_SLUG, {"slug": slug}).scalar_one_or_none()
    if existing is None:
        return _Target(space, slug, sha, None, None)
    if existing.space_id != space.id:
        raise KbError(ErrorCode.CONFLICT, f"The document {slug!r} belongs to another space")
    same = session.execute(select(Version).where(Version.document_id == existing.id, Version.source_sha256 == sha)).scalars().first()
    return _Target(space, slug, sha, existing, ImportOutcome("unchanged", existing, same, sha, space) if same is not None else None)


def parse_file(filename: str, data: bytes) -> ParsedFile:
    """Parse an upload into Markdown, outside any transaction: it touches no database (issue 16).

    Raises:
        KbError INVALID_FILE: malformed, unsafe, over a cap (paragraphs, characters, parse time;
            ``details["too_large"]`` names it) or without text.
        KbError UNSUPPORTED_MEDIA_TYPE: not .docx, .pdf, .html/.htm, .md or .txt.
    """
    parsed = parse_upload(filename, data)
    try:
        with_visible_text(parsed.markdown)  # spaces or invisible characters alone are no text (as a written body)
    except ValueError:
        raise KbError(ErrorCode.INVALID_FILE, f"{filename} contains no text to import") from None
    return parsed


def import_file(
    session: Session, *, actor: Actor, space_slug: str, filename: str, data: bytes, parsed: ParsedFile,
    files_dir: Path, fields: DraftSave, slug: str | None = None, translation_of: str | None = None,
    source_path: str | None = None,
) -> ImportOutcome:
    """Store a parsed file as a draft version, keeping the original by its SHA-256.

    The file is parsed beforehand (``parse_file``), outside the write transaction this runs in, so
    the database's write lock is held for the inserts only. Re-importing the same bytes is a no-op
    (outcome ``unchanged``, no event; checked again here, in the transaction); changed bytes make a
    new draft version of the document with that slug (or update its open draft).

    Raises:
        KbError FORBIDDEN: the actor does not write in the space.
        KbError CONFLICT: the slug belongs to a document of another space.
        KbError ILLEGAL_TRANSITION: the document has a version in review.

    ``source_path`` (bulk import): the file's path inside its folder or zip, already checked safe, kept
    as the version's source filename instead of the bare name of ``filename``.
    """
    target = _target(session, actor=actor, space_slug=space_slug, filename=filename, data=data, slug=slug)
    if target.same is not None:  # checked again here, in the transaction
        return target.same
    space, slug, sha = target.space, target.slug, target.sha
    title = fields.title or parsed.declared_title or _first_heading(parsed.markdown) or Path(filename).stem
    body = parsed.markdown
    source_name = (source_path or Path(filename).name)[:300]
    store_file(files_dir, sha, data)  # already there when the action stored it first: one stat
    session.connection().execute(_KEEP_STORED_FILE[is_postgresql(session)], {  # the first import's name stays
        "sha256": sha, "filename": source_name, "media_type": parsed.media_type, "size": len(data), "created_at": utcnow()})
    source = {
        "source_sha256": sha, "source_filename": source_name,
        "declared_title": parsed.declared_title, "declared_author": parsed.declared_author,
        "declared_created": parsed.declared_created, "declared_modified": parsed.declared_modified,
        "declared_source_uri": parsed.declared_source_uri,  # an HTML page's canonical URL: its claim, not a person's
    }
    if target.existing is None:
        create = DocumentCreate(slug=slug, title=title[:300], body_md=body, translation_of=translation_of,
                                **fields.model_dump(exclude={"title", "body_md", "clear"}, exclude_none=True))
        document, version = service.new_document(session, actor=actor, space=space, data=create,
                                                  source_kind=SourceKind.imported_file, source=source)
        outcome = "created"
    else:
        document = service.get_document(session, slug, lock=True)
        version, created, _changed = service.edit_draft(session, actor=actor, document=document, space=space,
                                           data=fields.model_copy(update={"title": title[:300], "body_md": body}))
        outcome = "new_version" if created else "updated_draft"
        if not created:  # new source bytes in someone's draft change it even when the text stays the same
            service.credit_editor(version, actor.id)
        for name, value in {"source_kind": SourceKind.imported_file, **source}.items():
            setattr(version, name, value)
        session.add(version)
        session.flush()
    provenance.record(session, actor, "document.import", ("document", document.slug),
                      {"outcome": outcome, "version": version.number, "source_sha256": sha,
                       "filename": version.source_filename, "space": space.slug, **served(document, version)})
    return ImportOutcome(outcome, document, version, sha, space)


# ---------------------------------------------------------------------------- original files

@dataclass(frozen=True)
class OriginalFile:
    """The bytes of an imported version's original file, exactly as they were uploaded."""

    content: bytes
    media_type: str
    filename: str
    """Safe to put in a header: ASCII letters, digits, ``.``, ``-`` and ``_`` only."""


def safe_filename(name: str) -> str:
    """``name`` without its folders and with every character but ASCII letters, digits, ``.-_`` replaced."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip("._")[:150]
    return cleaned or "document"


def original_file(session: Session, *, actor: Actor, slug: str, number: int, files_dir: Path) -> OriginalFile:
    """The original file a version was imported from, to those who may see the version.

    Raises:
        KbError NOT_FOUND: no such version, or one the actor may not see (the same answer, no
            existence oracle); or the version was not imported from a file, or its file is gone.
        KbError INTERNAL_ERROR: the stored bytes no longer match their SHA-256.
    """
    _, version = service.get_version(session, actor=actor, slug=slug, number=number)
    stored = session.get(StoredFile, version.source_sha256) if version.source_sha256 else None
    if stored is None:
        raise KbError(ErrorCode.NOT_FOUND, f"Version {number} of {slug!r} was not imported from a file")
    try:
        content = stored_file_path(files_dir, stored.sha256).read_bytes()
    except FileNotFoundError:
        raise KbError(ErrorCode.NOT_FOUND, f"The original file of version {number} of {slug!r} is no longer stored") from None
    if hashlib.sha256(content).hexdigest() != stored.sha256:
        raise KbError(ErrorCode.INTERNAL_ERROR, f"The stored file of version {number} of {slug!r} does not match its SHA-256")
    return OriginalFile(content=content, media_type=stored.media_type,
                        filename=safe_filename(version.source_filename or stored.filename))
