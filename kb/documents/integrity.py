"""The database against its log: re-derive the served state and name every difference (issue 16).

``kb audit verify`` proves the chain and the signed heads; this module proves that the rows readers
are served are the rows the log describes. For every document version, space, person and taxonomy concept it computes
the commitment the domains define (``kb.documents.commitments``, ``kb.accounts.commitments``) from the
database as it is now and compares it with the newest one in the log (``kb.provenance.committed_state``):
a body, an approver, a state, a provenance record, a safeguard or a role changed outside kb, a row
inserted outside kb or a row deleted is a difference, named with the event it contradicts.

An existing database had no commitments before migration 0014: ``record_baseline`` records, once,
what each object is at that moment (``audit.baseline``, by kb itself), and a ``version.publish`` for
each public version served then, so that receipts exist for them; from then on every change commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from kb import provenance
from kb.provenance import AuditEvent
from kb.accounts.commitments import CREDENTIAL_ADDED_LATER, safeguards, session_credential, standing, token_credential
from kb.accounts.models import ApiToken, Space, User, WebSession
from kb.actors import SYSTEM
from kb.db import utcnow
from kb.documents import approval, service
from kb.documents.chunking import chunk_markdown
from kb.documents.commitments import ADDED_LATER, COMMITTED_FIELDS, commitment, document_commitment, report_values
from kb.documents.models import Audience, Chunk, Document, ReviewRequest, Version, VersionState
from kb.taxonomy import commitments as taxonomy
from kb.taxonomy.models import ConceptUse
from kb.taxonomy.service import stored_ids_lenient


_ADDED_LATER = ADDED_LATER | CREDENTIAL_ADDED_LATER
"""Members of a commitment that older events lack: compared only where the newest commitment holds them."""


@dataclass(frozen=True)
class Difference:
    """One place where the database is not what the log says it is."""

    subject: str
    """E.g. ``document child-benefit v2``, ``space benefits``, ``user adam``."""
    field: str
    logged: Any
    stored: Any
    seq: int | None
    """The event whose commitment the row contradicts; None when the log never mentioned the object."""
    note: str | None = None
    """What is wrong, where the standard wording does not fit (derived rows: passages, concept uses)."""

    def __str__(self) -> str:
        if self.note is not None:
            return f"{self.subject}: {self.note}"
        if self.seq is None:
            return f"{self.subject}: in the database but never recorded in the log (inserted outside kb)"
        if self.stored is None and self.field == "*":
            return f"{self.subject}: recorded at seq {self.seq} but missing from the database (deleted outside kb)"
        return (f"{self.subject}: {self.field} is {_short(self.stored)} in the database, "
                f"but the log committed {_short(self.logged)} at seq {self.seq}")

    def as_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "field": self.field, "logged": self.logged, "stored": self.stored,
                "seq": self.seq, "message": str(self)}


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "…"


def _versions(session: Session) -> Iterator[tuple[str, Version]]:
    rows = session.execute(select(Document.slug, Version).join(Document, Document.id == Version.document_id)
                           .order_by(Version.id).execution_options(yield_per=500))
    for slug, version in rows:
        yield slug, version


_CHUNKED = (VersionState.in_review, VersionState.approved)
"""States whose versions must have passages: written at submission (in review), kept by approval."""


def chunks_digest(pieces: list[tuple[str, str]]) -> str:
    """SHA-256 of a version's passages in order, each as (JSON heading path, text)."""
    return hashlib.sha256(json.dumps(pieces, ensure_ascii=False, separators=(",", ":")).encode("utf-8")).hexdigest()


def chunks_sha256(version: Version) -> str:
    """The digest of the passages kb derives from the version's body (``chunk_markdown``), as submit writes them.

    Passages are derived data: search indexes them and shows them as snippets, so each must be the
    text of the committed body. One edited outside kb (``document_chunk.text``) would make search
    serve words the log never committed to; comparing with the re-derivation names it.
    """
    return chunks_digest([(json.dumps(list(c.heading_path)), c.text)
                          for c in chunk_markdown(version.body_md, version.title)])


def _with_chunks(session: Session, versions: Iterator[tuple[str, Version]], batch: int = 500
                 ) -> Iterator[tuple[tuple[str, Version], list[tuple[str, str]] | None]]:
    """Each (slug, version) with its stored passages in order (None when it has none), read in batches."""
    pending: list[tuple[str, Version]] = []

    def flush() -> Iterator[tuple[tuple[str, Version], list[tuple[str, str]] | None]]:
        stored: dict[int, list[tuple[str, str]]] = {}
        rows = session.execute(select(Chunk.version_id, Chunk.heading_path, Chunk.text)
                               .where(Chunk.version_id.in_([v.id for _, v in pending]))  # type: ignore[union-attr]
                               .order_by(Chunk.version_id, Chunk.ordinal))
        for version_id, heading_path, text in rows:
            stored.setdefault(version_id, []).append((heading_path, text))
        for item in pending:
            yield item, stored.get(item[1].id)  # type: ignore[arg-type]
        pending.clear()

    for item in versions:
        pending.append(item)
        if len(pending) >= batch:
            yield from flush()
    if pending:
        yield from flush()


def differences(session: Session, state: provenance.CommittedState | None = None) -> list[Difference]:
    """Every difference between the served state in the database and the newest commitments in the log.

    ``state`` is the log's replay when the caller has it already (``provenance.audit_log``).
    """
    state = state if state is not None else provenance.committed_state(session)
    found: list[Difference] = []

    seen_versions: set[tuple[str, int]] = set()
    for (slug, version), stored_chunks in _with_chunks(session, _versions(session)):
        key = (slug, version.number)
        seen_versions.add(key)
        subject = f"document {slug} v{version.number}"
        logged = state.versions.get(key)
        if logged is None:
            found.append(Difference(subject, "*", None, "present", None))
            continue
        stored = commitment(version)
        for name in COMMITTED_FIELDS:
            if name in ADDED_LATER and name not in logged.value:
                continue  # committed before the log held it: the upgrade's baseline commits to it
            if logged.value.get(name) != stored[name]:
                found.append(Difference(subject, name, logged.value.get(name), stored[name], logged.seq))
        body_as_logged = logged.value.get("body_sha256") == stored["body_sha256"]
        if body_as_logged and version.body_sha256 != stored["body_sha256"]:  # the column cards, receipts and PROV show as the body's digest
            found.append(Difference(subject, "body_sha256 column", stored["body_sha256"], version.body_sha256, logged.seq,
                                    note=f"its body_sha256 column ({_short(version.body_sha256)}) is not the SHA-256 of its "
                                         f"body ({_short(stored['body_sha256'])}): cards and receipts would show a digest of "
                                         "another text"))
        if body_as_logged and (stored_chunks is not None or version.state in _CHUNKED):
            # The body is the committed one, so its passages must be what kb derives from it
            # (an edited body is named above; its passages then come from the body before the edit).
            derived = chunks_sha256(version)
            if chunks_digest(stored_chunks or []) != derived:
                found.append(Difference(subject, "chunks", derived, chunks_digest(stored_chunks or []), logged.seq))
        session.expunge(version)
    for (slug, number), logged in state.versions.items():
        if (slug, number) not in seen_versions:
            found.append(Difference(f"document {slug} v{number}", "*", logged.value, None, logged.seq))

    documents = {document.slug: document for document in session.execute(select(Document)).scalars()}
    _compare_all(found, "document", state.documents, {slug: document_commitment(d) for slug, d in documents.items()})
    spaces = {space.slug: space for space in session.execute(select(Space)).scalars()}
    _compare_all(found, "space", state.spaces, {slug: safeguards(session, space) for slug, space in spaces.items()})
    users = {user.username: user for user in session.execute(select(User)).scalars()}
    _compare_all(found, "user", state.people, {username: standing(user) for username, user in users.items()})
    _compare_taxonomy(found, session, state)
    _compare_reports(found, session, state)

    # Credentials that still let someone in: each must be one kb issued (a planted one acts as its user).
    now = utcnow()
    live_tokens = select(ApiToken).where(ApiToken.revoked_at.is_(None))  # type: ignore[union-attr]
    for token in session.execute(live_tokens).scalars():
        if token.expires_at is not None and _aware(token.expires_at) <= now:
            continue
        _compare(found, f"api token {token.id}", state.tokens.get(str(token.id)), token_credential(token))
    live_sessions = select(WebSession).where(WebSession.revoked_at.is_(None))  # type: ignore[union-attr]
    for web_session in session.execute(live_sessions).scalars():
        if _aware(web_session.expires_at) <= now:
            continue
        _compare(found, f"web session {web_session.id}", state.sessions.get(str(web_session.id)),
                 session_credential(web_session))
    return found


def _compare_taxonomy(found: list[Difference], session: Session, state: provenance.CommittedState) -> None:
    """The taxonomy's rows against the log: how signed cards read the concept ids they name.

    A version commits to concept ids; the concepts' rows say what those ids mean (label, replacement,
    broader concepts, the scheme's field). Each row must be its newest commitment (a concept kb
    deleted must stay deleted), and which concepts each version names (``concept_use``, which keeps a
    concept in use from being deleted) must be what the versions' committed fields say.
    """
    schemes = taxonomy.all_schemes(session)
    concepts = taxonomy.all_concepts(session)
    scheme_keys = {i: value["key"] for i, value in schemes.items()}
    for i, committed in state.schemes.items():
        scheme_keys.setdefault(i, committed.value.get("key"))

    def concept_subject(i: str, value: dict[str, Any]) -> str:
        return f"concept {scheme_keys.get(str(value.get('scheme')), '?')}:{value.get('key', '?')} (id {i})"

    for i, value in schemes.items():
        _compare(found, f"concept scheme {value['key']} (id {i})", state.schemes.get(i), value)
    for i, committed in state.schemes.items():
        if i not in schemes:
            found.append(Difference(f"concept scheme {committed.value.get('key')} (id {i})", "*", committed.value, None, committed.seq))
    for i, value in concepts.items():
        committed = state.concepts.get(i)
        if committed is not None and committed.value.get("deleted"):
            found.append(Difference(concept_subject(i, value), "*", None, "present", committed.seq,
                                    note=f"deleted by kb at seq {committed.seq}, but in the database again (inserted outside kb)"))
        else:
            _compare(found, concept_subject(i, value), committed, value)
    for i, committed in state.concepts.items():
        if i not in concepts and not committed.value.get("deleted"):
            found.append(Difference(concept_subject(i, committed.value), "*", committed.value, None, committed.seq))
    named: set[tuple[int, int]] = set()
    for version_id, *fields in session.execute(select(Version.id, Version.applies_to, Version.topic, Version.region)):
        named.update((concept_id, version_id) for value in fields for concept_id in stored_ids_lenient(value))
    held = {(concept_id, version_id) for concept_id, version_id in session.execute(select(ConceptUse.concept_id, ConceptUse.version_id))}
    missing, extra = sorted(named - held), sorted(held - named)
    if missing or extra:
        described = "; ".join(filter(None, (
            f"{len(missing)} missing (e.g. concept {missing[0][0]} of version id {missing[0][1]})" if missing else "",
            f"{len(extra)} that no version names (e.g. concept {extra[0][0]} of version id {extra[0][1]})" if extra else "")))
        found.append(Difference("concept uses", "rows", len(named), len(held), None,
                                note=f"not what the versions' committed concept fields name: {described}"))


def _compare_reports(found: list[Difference], session: Session, state: provenance.CommittedState) -> None:
    """Readers' reports (wrong, outdated) against the events that made and closed them.

    A report waits in the owners' review queue until an approval, a retirement or a dismissal closes it,
    and that event names it (``resolved_reports``). Closing or deleting one directly would take a reader's
    warning out of every owner's queue unseen (the insider review of 2026-12-07), and moving one to another
    document, version or reason, or giving it another reporter or note, would misstate it: each is named.
    A closing counts only if it came after the report was made and was about the report's own document;
    an id made twice means a report was deleted and its id given to another. A report made before
    ``flag.create`` named its id is matched by its document and reason to one of those events.
    """
    rows = session.execute(
        select(ReviewRequest.id, Document.slug, Version.number, ReviewRequest.reason, ReviewRequest.requested_by_id,
               ReviewRequest.note, ReviewRequest.resolved_at.is_(None))  # type: ignore[union-attr]
        .join(Document, Document.id == ReviewRequest.document_id, isouter=True)
        # a version of another document is no version of this report's (its number alone could match)
        .join(Version, (Version.id == ReviewRequest.version_id) & (Version.document_id == ReviewRequest.document_id),
              isouter=True)
        .order_by(ReviewRequest.id)).all()
    unnumbered = {key: list(seqs) for key, seqs in state.unnumbered_reports.items()}
    seen: set[str] = set()
    for report_id, slug, number, reason, by, note, is_open in rows:
        key = str(report_id)
        seen.add(key)
        subject = f"report {report_id} (document {slug})"
        for again in state.remade_reports.get(key, []):
            found.append(Difference(subject, "id", None, report_id, again,
                                    note=f"made at seq {state.reports[key].seq} and made again at seq {again}: a report "
                                         "was deleted outside kb and its id given to another"))
        made = state.reports.get(key)
        if made is not None:
            stored = report_values(slug, number, reason, by, note)
            for name in stored:
                if name in made.value and made.value[name] != stored[name]:
                    found.append(Difference(subject, name, made.value[name], stored[name], made.seq))
            made_seq, about = made.seq, made.value.get("document")
        elif unnumbered.get((slug, reason)):
            made_seq, about = unnumbered[(slug, reason)].pop(0), slug
        else:
            found.append(Difference(subject, "*", None, "present", None,
                                    note="a reader's report in the database that no flag made (inserted outside kb)"))
            continue
        closings = [seq for seq, closed_on in state.closed_reports.get(key, []) if seq > made_seq and closed_on == about]
        if not is_open and not closings:
            found.append(Difference(subject, "resolved", False, True, made_seq,
                                    note="closed in the database, but no approval, retirement or dismissal of its "
                                         "document closed it: taken out of the owners' review queue outside kb"))
        elif is_open and closings:
            found.append(Difference(subject, "resolved", True, False, closings[-1]))
    for key, made in state.reports.items():
        if key not in seen:
            found.append(Difference(f"report {key} (document {made.value.get('document')})", "*", made.value, None, made.seq,
                                    note=f"made at seq {made.seq} but missing from the database: a reader's report "
                                         "deleted outside kb"))
    for (slug, reason), seqs in unnumbered.items():
        for seq in seqs:
            found.append(Difference(f"report ({reason}) of document {slug}", "*", {"reason": reason}, None, seq,
                                    note=f"made at seq {seq} but missing from the database: a reader's report "
                                         "deleted outside kb"))


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _compare_all(found: list[Difference], kind: str, logged: dict[str, provenance.Committed],
                 stored: dict[str, dict[str, Any]]) -> None:
    """Each object of ``kind`` in the database against its newest commitment, and each committed one that is gone."""
    for key, value in stored.items():
        _compare(found, f"{kind} {key}", logged.get(key), value)
    for key, committed in logged.items():
        if key not in stored:
            found.append(Difference(f"{kind} {key}", "*", committed.value, None, committed.seq))


def _compare(found: list[Difference], subject: str, logged: provenance.Committed | None, stored: dict[str, Any]) -> None:
    if logged is None:
        found.append(Difference(subject, "*", None, "present", None))
        return
    for name, value in stored.items():
        if name in _ADDED_LATER and name not in logged.value:
            continue  # committed before the log held it
        if logged.value.get(name) != value:
            found.append(Difference(subject, name, logged.value.get(name), value, logged.seq))


OPENING_SLACK = dt.timedelta(seconds=5)
"""How much earlier than its event a community's opening may be stamped: kb takes the time just before it
records the change, in the same transaction."""


def _opened_at(session: Session, slug: str) -> dt.datetime | None:
    """When the space's community was last opened by what the log says: the time of the newest event whose
    safeguards say it is public after one that said not (or the first that says so). None when that event
    is a baseline (the upgrade across 0014 committed to the rows as they were, and cannot say when)."""
    opened: AuditEvent | None = None
    public = False
    for event in provenance.list_events(session, object_type="space", object_id=slug, limit=1_000_000):
        value = json.loads(event.payload).get("safeguards")
        if not isinstance(value, dict) or "public_community" not in value:
            continue
        if value["public_community"] and not public:
            opened = event
        public = bool(value["public_community"])
    if opened is None or opened.action == "audit.baseline":
        return None
    return provenance.event_time(opened.at)


def record_community_baseline(session: Session) -> int:
    """Commit to when each public community opened (``public_community_since``), once, for the spaces
    whose newest safeguards were recorded before safeguards carried it (the upgrade across 0024).

    Only a space whose safeguards are otherwise exactly as committed gets it, so a member or a flag
    changed outside kb is never laundered into the log (it stays a difference); nor does one whose row
    says the community opened before the event that opened it (``_opened_at``: moved back outside kb
    before the upgrade, the second insider review of 2026-12-07); a space committed to it already is
    skipped, so upgrading again records nothing.

    Returns:
        The number of spaces committed to.
    """
    state = provenance.committed_state(session)
    recorded = 0
    for space in session.execute(select(Space).order_by(Space.id)).scalars():
        committed, now = state.spaces.get(space.slug), safeguards(session, space)
        if (committed is None or "public_community_since" not in now or "public_community_since" in committed.value
                or _as_committed(now, committed.value, besides={"public_community_since"}) != committed.value):
            continue
        opened = _opened_at(session, space.slug)
        since = space.public_community_since
        if opened is not None and (since is None or _aware(since) < opened - OPENING_SLACK):
            continue
        provenance.record(session, SYSTEM, "audit.baseline", ("space", space.slug), {"safeguards": now})
        recorded += 1
    return recorded


def _as_committed(now: dict[str, Any], committed: dict[str, Any], besides: set[str] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    """``now`` without ``besides`` and without the members added since (``ADDED_LATER``) that ``committed`` lacks."""
    return {k: v for k, v in now.items() if k not in besides and (k not in ADDED_LATER or k in committed)}


def record_id_baseline(session: Session) -> int:
    """Commit, once, to the row ids of the versions, documents and spaces whose newest commitment lacks them
    (the upgrade across migration 0025; ``kb.documents.commitments.ADDED_LATER``).

    Only an object whose commitment is otherwise exactly as the log has it gets its id committed: a
    row changed outside kb is never laundered into the log (it stays a difference). A version's ids are
    recorded with its document's, one ``audit.baseline`` per document (``served`` and, when it qualifies,
    ``document``), and one per space (``safeguards``). Run again, it finds every id committed and records
    nothing.

    Returns:
        The number of events recorded.
    """
    state = provenance.committed_state(session)
    recorded = 0
    by_document: dict[str, list[dict[str, Any]]] = {}
    for slug, version in _versions(session):
        logged, now = state.versions.get((slug, version.number)), commitment(version)
        if logged is not None and "id" not in logged.value and _as_committed(now, logged.value) == logged.value:
            by_document.setdefault(slug, []).append(now)
        session.expunge(version)
    for document in session.execute(select(Document).order_by(Document.id)).scalars():
        logged, now = state.documents.get(document.slug), document_commitment(document)
        own = logged is not None and "id" not in logged.value and _as_committed(now, logged.value) == logged.value
        served = by_document.pop(document.slug, [])
        if served or own:
            provenance.record(session, SYSTEM, "audit.baseline", ("document", document.slug),
                              {"served": served, **({"document": now} if own else {})})
            recorded += 1
    for space in session.execute(select(Space).order_by(Space.id)).scalars():
        logged, now = state.spaces.get(space.slug), safeguards(session, space)
        if logged is not None and "id" not in logged.value and _as_committed(now, logged.value) == logged.value:
            provenance.record(session, SYSTEM, "audit.baseline", ("space", space.slug), {"safeguards": now})
            recorded += 1
    return recorded


def record_baseline(session: Session) -> int:
    """Commit, once, to the state of every object the log holds no commitment for (in the caller's transaction).

    Called by the upgrade to migration 0014 on a database that has events already. Records one
    ``audit.baseline`` event per document (its versions' commitments), per space (its safeguards)
    and per person (their standing), then a ``version.publish`` for each public version served now.
    Does nothing when the log holds a baseline or any commitment already: a later run (say, after an
    insider rewound the schema revision) must not launder a row changed outside kb.

    Returns:
        The number of events recorded.
    """
    state = provenance.committed_state(session)
    if state.baseline_seq is not None or state.versions or state.spaces or state.people:
        # A log that holds a baseline, or commitments at all (it was written since 0014): a rewound
        # alembic_version must not let `kb db upgrade` commit to rows changed outside kb.
        return 0
    recorded = 0
    by_document: dict[str, list[Version]] = {}
    for slug, version in _versions(session):
        if (slug, version.number) not in state.versions:
            by_document.setdefault(slug, []).append(version)
    for user in session.execute(select(User).order_by(User.id)).scalars():
        if user.username not in state.people:
            provenance.record(session, SYSTEM, "audit.baseline", ("user", user.username), {"standing": standing(user)})
            recorded += 1
    for token in session.execute(select(ApiToken).where(ApiToken.revoked_at.is_(None))).scalars():  # type: ignore[union-attr]
        provenance.record(session, SYSTEM, "audit.baseline", ("token", token.id),
                          {"credential": token_credential(token)})
        recorded += 1
    for web_session in session.execute(select(WebSession).where(WebSession.revoked_at.is_(None))).scalars():  # type: ignore[union-attr]
        user = session.get(User, web_session.user_id)
        provenance.record(session, SYSTEM, "audit.baseline", ("user", user.username if user else str(web_session.user_id)),
                          {"credential": session_credential(web_session)})
        recorded += 1
    for space in session.execute(select(Space).order_by(Space.id)).scalars():
        if space.slug not in state.spaces:
            provenance.record(session, SYSTEM, "audit.baseline", ("space", space.slug),
                              {"safeguards": safeguards(session, space)})
            recorded += 1
    for slug, versions in by_document.items():
        document = service.get_document(session, slug)
        provenance.record(session, SYSTEM, "audit.baseline", ("document", slug),
                          {"served": [commitment(v) for v in versions], "document": document_commitment(document)})
        recorded += 1
        current = next((v for v in versions if v.state == VersionState.approved), None)
        if current is not None and Audience(current.audience) is Audience.public:
            approvals = provenance.list_events(session, action="version.approve", object_type="document",
                                               object_id=slug, limit=100_000)
            approval_event = next((e for e in reversed(approvals) if json.loads(e.payload).get("version") == current.number), None)
            if approval_event is not None:
                space = session.get(Space, document.space_id)
                approval.record_publication(session, document=document, version=current, space=space,  # type: ignore[arg-type]
                                            approval=approval_event)
                recorded += 1
    if recorded == 0:  # mark the baseline even on a log with nothing to commit to
        provenance.record(session, SYSTEM, "audit.baseline", ("log", "kb"), {})
        recorded = 1
    return recorded
