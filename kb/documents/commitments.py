"""What the audit log commits to about each document version: the one definition, used when an event
is recorded and when ``kb audit verify`` re-derives the served state from the database (issue 16).

A version's **commitment** is ``{version, id, state, body_sha256, provenance_sha256, author, approver,
approved_at, approval_comment_sha256, submitted_by}`` and its lifecycle (``LIFECYCLE_FIELDS``: when it was
created and submitted, who rejected or ended it, when and the digest of why):
the SHA-256 of its body as stored (computed from ``body_md``, not read from the ``body_sha256``
column, so a direct edit of the text shows), the SHA-256 of the canonical JSON of its provenance
record (``PROVENANCE_FIELDS``), its author's and approver's user ids and its state. Every event that
changes a version carries the commitments of the versions it changed under ``served``, and the
document's own (its row id, space, owner, the version it serves, what it translates) under
``document``; the newest commitment of each version and each document in the log must equal the one
computed from its row now.

The row ids (``id``) say which row each version and document is: the space, the served version and the
original of a translation are committed as ids, so without them two rows' ids swapped outside kb would
serve one document's approved text, author and approver under another's name while every other field
still matched (the insider review of 2026-12-07, F1). Commitments recorded before migration 0025 lack
``id`` and the lifecycle; the upgrade commits to them (``kb.documents.integrity.record_id_baseline``), and
until then they are compared only where the log holds them (``ADDED_LATER``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from kb.documents.models import Document, Version

PROVENANCE_FIELDS = (
    "title", "source_kind", "source_uri", "source_sha256", "source_filename", "declared_author", "declared_title",
    "declared_created", "declared_modified", "contributor_ids", "owner_id", "intended_use", "audience", "licence",
    "language", "tags", "valid_from", "valid_until", "review_by", "derived_from", "four_eyes", "declared_source_uri",
    "applies_to", "topic", "region",
)
"""The provenance record of a version: where it comes from, who stands behind it, what it is for, when it is valid."""
ADDED_WHEN_SET = ("declared_source_uri", "applies_to", "topic", "region")
"""Fields added to the record after versions were committed to: hashed only when set, so that every
earlier version's ``provenance_sha256`` (in the log's events) stays what it was."""

LIFECYCLE_FIELDS = ("created_at", "submitted_at", "rejected_by", "rejected_at", "rejection_reason_sha256", "ended_by",
                    "ended_at", "end_reason_sha256")
"""What a version's history and its PROV record show of how it came to be and how it ended (the insider review of
2026-12-07, F2: edited outside kb, they named another rejecter or retirer and backdated a version)."""
COMMITTED_FIELDS = ("id", "state", "body_sha256", "provenance_sha256", "author", "approver", "approved_at",
                    "approval_comment_sha256", "submitted_by", *LIFECYCLE_FIELDS)
ADDED_LATER = frozenset({"id", *LIFECYCLE_FIELDS})
"""Members of a commitment (a version's, a document's, a space's safeguards) that older events lack: compared
only where the newest commitment in the log holds them."""


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat() if value.tzinfo is None else value.astimezone(dt.UTC).replace(tzinfo=None).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "value"):  # a string enum
        return value.value
    return value


def provenance_sha256(version: Version) -> str:
    """SHA-256 of the canonical JSON of the version's provenance record."""
    record = {name: _plain(getattr(version, name)) for name in PROVENANCE_FIELDS
              if not (name in ADDED_WHEN_SET and getattr(version, name) is None)}
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def commitment(version: Version) -> dict[str, Any]:
    """What the log commits to about ``version`` as it is now."""
    return {
        "version": version.number,
        "id": version.id,
        "state": _plain(version.state),
        "body_sha256": hashlib.sha256(version.body_md.encode("utf-8")).hexdigest(),
        "provenance_sha256": provenance_sha256(version),
        "author": version.author_id,
        "approver": version.approver_id,
        "approved_at": _plain(version.approved_at),
        "approval_comment_sha256": (hashlib.sha256(version.approval_comment.encode("utf-8")).hexdigest()
                                    if version.approval_comment is not None else None),
        "submitted_by": version.submitted_by_id,
        "created_at": _plain(version.created_at),
        "submitted_at": _plain(version.submitted_at),
        "rejected_by": version.rejected_by_id,
        "rejected_at": _plain(version.rejected_at),
        "rejection_reason_sha256": _digest(version.rejection_reason),
        "ended_by": version.ended_by_id,
        "ended_at": _plain(version.ended_at),
        "end_reason_sha256": _digest(version.end_reason),
    }


def _digest(text: str | None) -> str | None:
    return hashlib.sha256(text.encode("utf-8")).hexdigest() if text is not None else None


def document_commitment(document: Document) -> dict[str, Any]:
    """What the log commits to about the document itself: its row, its space, its owner and which version is served."""
    return {"id": document.id, "space": document.space_id, "owner": document.owner_id, "current_version_id": document.current_version_id,
            "translation_of": document.translation_of_id}



def report_values(slug: str | None, version_number: int | None, reason: str, by: int, note: str | None) -> dict[str, Any]:
    """What ``flag.create`` commits to about the reader's report it made (``report_state``), from the report's
    columns (verify reads them as plain columns): which document and version it is about, what the reader
    said and who said it. Whether it is open is the log's to say: only the events that name it in
    ``resolved_reports`` close it."""
    return {"document": slug, "version": version_number, "reason": reason, "by": by, "note_sha256": _digest(note)}


def served(document: Document, *versions: Version | None) -> dict[str, Any]:
    """The ``served`` and ``document`` members of an event's payload: the commitments of the versions it
    changed and of the document as the event leaves it."""
    return {"served": [commitment(v) for v in versions if v is not None], "document": document_commitment(document)}
