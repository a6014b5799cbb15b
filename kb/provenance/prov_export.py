"""W3C PROV export of a document's versions, built with the ``prov`` library, plus our own checks.

``prov`` serialises and parses but does not validate (RELIABILITY T8), so ``check_prov`` verifies
what we promise: start ≤ end, generation before use, one author per version, approver ≠ author
(unless the approval states ``kb:secondReview`` false: approved without a second review),
an acyclic revision chain that follows version numbers, and that intended use, audience and the
source's SHA-256 (for imported files) are present.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

KB_NS = "https://kb.example/ns#"
FORMATS = {"json": "application/json", "provn": "text/provenance-notation", "xml": "application/xml",
           "ttl": "text/turtle"}


@dataclass(frozen=True)
class PersonRecord:
    username: str
    display_name: str


@dataclass(frozen=True)
class VersionRecord:
    """Everything the PROV graph states about one version (plain data, from the documents service)."""

    number: int
    state: str
    title: str
    body_sha256: str
    author: PersonRecord
    contributors: tuple[PersonRecord, ...]
    approver: PersonRecord | None
    created_at: dt.datetime
    completed_at: dt.datetime  # end of authoring: submission, or the last edit of a draft
    approved_at: dt.datetime | None
    source_kind: str
    source_uri: str | None
    source_sha256: str | None
    source_filename: str | None
    intended_use: str
    audience: str
    licence: str
    language: str
    valid_from: dt.date | None
    review_by: dt.date | None
    derived_from_numbers: tuple[int, ...] = ()
    second_review: bool | None = None  # False: approved without a second review (four eyes off, or self-approved)
    concepts: tuple[tuple[str, str], ...] = ()
    """(field, concept URI) for each concept the version names (issue 20): ``appliesTo``, ``topic`` or ``region``."""


@dataclass(frozen=True)
class DocumentRecord:
    slug: str
    space: str
    space_name: str
    versions: tuple[VersionRecord, ...] = field(default_factory=tuple)


# What Turtle forbids in an IRI (IRIREF: no control characters, space, <>"{}|^`\): a source URI
# stored before URIs were validated on input may hold them, and the export must not fail (issue 16).
_IRI_FORBIDDEN = frozenset('<>"{}|^`\\') | frozenset(chr(c) for c in range(0x21))


def iri_safe(text: str) -> str:
    """``text`` with every character Turtle forbids in an IRI percent-encoded (as UTF-8 bytes)."""
    return "".join("".join(f"%{b:02X}" for b in ch.encode("utf-8")) if ch in _IRI_FORBIDDEN else ch for ch in text)


def _q(kind: str, ident: str) -> str:
    return f"kb:{kind}/{iri_safe(ident)}"


def build_prov(record: DocumentRecord):  # noqa: ANN201  (prov.model.ProvDocument)
    """The PROV document of ``record``: an entity per version, activities, agents and their relations."""
    from prov.identifier import Identifier
    from prov.model import PROV_ROLE, PROV_TYPE, ProvDocument

    doc = ProvDocument()
    doc.add_namespace("kb", KB_NS)
    org = doc.agent(_q("space", record.space), {PROV_TYPE: "prov:Organization", "kb:name": record.space_name})
    document_entity = doc.entity(_q("document", record.slug), {PROV_TYPE: "kb:Document"})
    people: dict[str, object] = {}

    def person(p: PersonRecord):  # noqa: ANN202
        if p.username not in people:
            agent = doc.agent(_q("person", p.username), {PROV_TYPE: "prov:Person", "kb:displayName": p.display_name})
            doc.actedOnBehalfOf(agent, org)
            people[p.username] = agent
        return people[p.username]

    by_number = {v.number: v for v in record.versions}
    for v in record.versions:
        attributes = {
            PROV_TYPE: "kb:Version", "kb:number": v.number, "kb:state": v.state, "kb:title": v.title,
            "kb:sha256": v.body_sha256, "kb:audience": v.audience,
            "kb:licence": v.licence, "kb:language": v.language, "kb:sourceKind": v.source_kind,
        }
        if v.intended_use:  # a draft may not state it yet
            attributes["kb:intendedUse"] = v.intended_use
        if v.valid_from:
            attributes["kb:validFrom"] = v.valid_from.isoformat()
        if v.review_by:
            attributes["kb:reviewBy"] = v.review_by.isoformat()
        if v.source_sha256:
            attributes["kb:sourceSha256"] = v.source_sha256
        pairs = list(attributes.items()) + [(f"kb:{name}", Identifier(uri)) for name, uri in v.concepts]
        entity = doc.entity(_q("version", f"{record.slug}/{v.number}"), pairs)
        doc.specializationOf(entity, document_entity)
        kind = {"imported_file": "import", "promoted_answer": "promotion"}.get(v.source_kind, "authoring")
        activity = doc.activity(_q(kind, f"{record.slug}/{v.number}"), v.created_at, v.completed_at, {PROV_TYPE: f"kb:{kind}"})
        doc.wasGeneratedBy(entity, activity, v.completed_at)
        author = person(v.author)
        doc.wasAssociatedWith(activity, author, None, None, {PROV_ROLE: "kb:author"})
        doc.wasAttributedTo(entity, author)
        for contributor in v.contributors:
            doc.wasAssociatedWith(activity, person(contributor), None, None, {PROV_ROLE: "kb:contributor"})
        if v.source_sha256 or v.source_uri:
            source = doc.entity(_q("source", v.source_sha256 or v.source_uri or ""), {
                PROV_TYPE: "kb:Source", "kb:sha256": v.source_sha256 or "", "kb:uri": v.source_uri or "",
                "kb:filename": v.source_filename or ""})
            doc.used(activity, source, v.created_at)
            doc.wasDerivedFrom(entity, source, activity)
        for number in v.derived_from_numbers:
            if number in by_number:
                previous = _q("version", f"{record.slug}/{number}")
                doc.wasRevisionOf(entity, previous)
        if v.approver is not None and v.approved_at is not None:
            approval_attributes = {PROV_TYPE: "kb:approval"}
            if v.second_review is not None:
                approval_attributes["kb:secondReview"] = v.second_review
            approval = doc.activity(_q("approval", f"{record.slug}/{v.number}"), v.completed_at, v.approved_at,
                                    approval_attributes)
            doc.used(approval, entity, v.completed_at)
            doc.wasAssociatedWith(approval, person(v.approver), None, None, {PROV_ROLE: "kb:approver"})
    return doc


def serialize(doc, fmt: str) -> str:  # noqa: ANN001
    """PROV-JSON (json), PROV-N (provn), PROV-XML (xml) or PROV-O Turtle (ttl)."""
    if fmt == "json":
        return doc.serialize(format="json", indent=2)
    if fmt == "provn":
        return doc.get_provn()
    if fmt == "xml":
        return doc.serialize(format="xml")
    if fmt == "ttl":
        return doc.serialize(format="rdf", rdf_format="turtle")
    raise ValueError(f"unknown PROV format {fmt!r}")


def deserialize(text: str, fmt: str):  # noqa: ANN201
    from prov.model import ProvDocument

    if fmt == "provn":
        return ProvDocument.deserialize(io.StringIO(text), format="provn")
    if fmt == "ttl":
        return ProvDocument.deserialize(content=text, format="rdf", rdf_format="turtle")
    return ProvDocument.deserialize(content=text, format=fmt)


def _time(value) -> dt.datetime | None:  # noqa: ANN001
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def check_prov(doc) -> list[str]:  # noqa: ANN001
    """Problems with ``doc`` by our rules; an empty list means it passes."""
    from prov.model import (
        PROV_ATTR_ACTIVITY, PROV_ATTR_AGENT, PROV_ATTR_ENDTIME, PROV_ATTR_ENTITY, PROV_ATTR_GENERATED_ENTITY,
        PROV_ATTR_STARTTIME, PROV_ATTR_TIME, PROV_ATTR_USED_ENTITY, PROV_ROLE, PROV_TYPE,
        ProvActivity, ProvAssociation, ProvAttribution, ProvDerivation, ProvEntity, ProvGeneration, ProvUsage,
    )

    problems: list[str] = []
    records = list(doc.get_records())
    first = lambda rec, attr: next(iter(rec.get_attribute(attr)), None)  # noqa: E731
    activities = {str(r.identifier): r for r in records if isinstance(r, ProvActivity)}
    versions = {str(r.identifier): r for r in records if isinstance(r, ProvEntity)
                and "kb:Version" in {str(t) for t in r.get_attribute(PROV_TYPE)}}
    for name, activity in activities.items():
        start, end = _time(first(activity, PROV_ATTR_STARTTIME)), _time(first(activity, PROV_ATTR_ENDTIME))
        if start and end and start > end:
            problems.append(f"activity {name} ends before it starts")
    generated_at: dict[str, dt.datetime] = {}
    for gen in (r for r in records if isinstance(r, ProvGeneration)):
        entity, activity, time = str(first(gen, PROV_ATTR_ENTITY)), first(gen, PROV_ATTR_ACTIVITY), _time(first(gen, PROV_ATTR_TIME))
        if time is not None:
            generated_at[entity] = time
            act = activities.get(str(activity))
            if act is not None:
                start, end = _time(first(act, PROV_ATTR_STARTTIME)), _time(first(act, PROV_ATTR_ENDTIME))
                if (start and time < start) or (end and time > end):
                    problems.append(f"{entity} is generated outside its activity {activity}")
    for usage in (r for r in records if isinstance(r, ProvUsage)):
        entity, time = str(first(usage, PROV_ATTR_ENTITY)), _time(first(usage, PROV_ATTR_TIME))
        if time is not None and entity in generated_at and time < generated_at[entity]:
            problems.append(f"{entity} is used before it is generated")
    attributed: dict[str, list[str]] = {name: [] for name in versions}
    for attribution in (r for r in records if isinstance(r, ProvAttribution)):
        entity = str(first(attribution, PROV_ATTR_ENTITY))
        if entity in attributed:
            attributed[entity].append(str(first(attribution, PROV_ATTR_AGENT)))
    for entity, agents in attributed.items():
        if len(agents) != 1:
            problems.append(f"{entity} is attributed to {len(agents)} authors, not exactly one")
    author_of = {entity: agents[0] for entity, agents in attributed.items() if len(agents) == 1}
    used_by: dict[str, str] = {}
    for usage in (r for r in records if isinstance(r, ProvUsage)):
        used_by[str(first(usage, PROV_ATTR_ACTIVITY))] = str(first(usage, PROV_ATTR_ENTITY))
    for assoc in (r for r in records if isinstance(r, ProvAssociation)):
        if "kb:approver" in {str(v) for v in assoc.get_attribute(PROV_ROLE)}:
            activity, agent = str(first(assoc, PROV_ATTR_ACTIVITY)), str(first(assoc, PROV_ATTR_AGENT))
            approved = used_by.get(activity)
            declared = activities.get(activity)
            # A self-approval is a fault unless the approval says it had no second review (issue 16).
            without_second_review = declared is not None and first(declared, "kb:secondReview") is False
            if approved in author_of and author_of[approved] == agent and not without_second_review:
                problems.append(f"{approved} is approved by its own author {agent} and does not say it had no second review")
    edges: dict[str, set[str]] = {}
    revisions = [r for r in records if isinstance(r, ProvDerivation)
                 and "prov:Revision" in {str(t) for t in r.get_attribute(PROV_TYPE)}]
    for revision in revisions:
        newer, older = str(first(revision, PROV_ATTR_GENERATED_ENTITY)), str(first(revision, PROV_ATTR_USED_ENTITY))
        if newer == older:
            problems.append(f"{newer} is a revision of itself")
        edges.setdefault(newer, set()).add(older)
        new_n, old_n = versions.get(newer), versions.get(older)
        if new_n is not None and old_n is not None:
            if int(first(new_n, "kb:number") or 0) <= int(first(old_n, "kb:number") or 0):
                problems.append(f"{newer} revises {older}, which has a higher or equal version number")
    if _has_cycle(edges):
        problems.append("the revision chain has a cycle")
    for name, version in versions.items():
        # A draft may not state its intended use yet (it must by submission); every other version must.
        required = ("kb:audience",) if str(first(version, "kb:state")) == "draft" else ("kb:intendedUse", "kb:audience")
        for attr in required:
            if not str(first(version, attr) or "").strip():
                problems.append(f"{name} has no {attr}")
        if str(first(version, "kb:sourceKind")) == "imported_file" and not first(version, "kb:sourceSha256"):
            problems.append(f"{name} is imported but names no source SHA-256")
    return problems


def _has_cycle(edges: dict[str, set[str]]) -> bool:
    visiting, done = set(), set()

    def visit(node: str) -> bool:
        if node in done:
            return False
        if node in visiting:
            return True
        visiting.add(node)
        if any(visit(nxt) for nxt in edges.get(node, ())):
            return True
        visiting.discard(node)
        done.add(node)
        return False

    return any(visit(node) for node in list(edges))
