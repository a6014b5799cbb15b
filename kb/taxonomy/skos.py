"""SKOS export and import of the taxonomy, through rdflib (Turtle and JSON-LD; issue 20).

Export writes every scheme (``skos:ConceptScheme`` with ``dct:title`` per language, ``skos:notation``
its key and ``kb:field`` the version field it fills) and every concept (``skos:notation``,
``skos:prefLabel``/``skos:altLabel`` per language, ``skos:broader``, ``skos:related``,
``skos:inScheme``/``skos:topConceptOf``, and for a deprecated one ``owl:deprecated`` with
``dct:isReplacedBy`` after a merge). Import reads the same, so an export imported into an empty kb
exports again to an isomorphic graph; a public vocabulary without ``kb:field`` is loaded by naming
the field of each of its schemes. Concepts and schemes are matched by URI.
"""

from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import ValidationError
from sqlalchemy import select
from sqlmodel import Session

from kb.actors import Actor
from kb.errors import ErrorCode, KbError
from kb.taxonomy import service
from kb.taxonomy.models import Concept, ConceptField, ConceptScheme, ConceptStatus
from kb.taxonomy.schemas import ConceptCreate, ConceptUpdate, SchemeCreate, SkosImported

SkosFormat = Literal["turtle", "json-ld"]
MEDIA_TYPES: dict[str, str] = {"turtle": "text/turtle; charset=utf-8", "json-ld": "application/ld+json"}
KB_NS = "urn:kb:ns#"
MAX_IMPORT_CONCEPTS = 10_000


def _namespaces():  # noqa: ANN202
    from rdflib import Namespace
    from rdflib.namespace import DCTERMS, OWL, RDF, SKOS

    return RDF, SKOS, DCTERMS, OWL, Namespace(KB_NS)


def export(vocab: service.Vocabulary, format: SkosFormat = "turtle") -> str:  # noqa: A002
    """The taxonomy as a SKOS document in ``format``."""
    from rdflib import Graph, Literal as RdfLiteral, URIRef

    RDF, SKOS, DCTERMS, OWL, KB = _namespaces()
    graph = Graph()
    graph.bind("skos", SKOS)
    graph.bind("dct", DCTERMS)
    graph.bind("owl", OWL)
    graph.bind("kb", KB)
    for scheme in vocab.schemes.values():
        node = URIRef(scheme.uri)
        graph.add((node, RDF.type, SKOS.ConceptScheme))
        graph.add((node, SKOS.notation, RdfLiteral(scheme.key)))
        graph.add((node, KB.field, RdfLiteral(str(scheme.field))))
        for language, title in json.loads(scheme.titles).items():
            graph.add((node, DCTERMS.title, RdfLiteral(title, lang=language)))
    for concept_id, concept in vocab.concepts.items():
        node = URIRef(concept.uri)
        scheme_node = URIRef(vocab.schemes[concept.scheme_id].uri)
        graph.add((node, RDF.type, SKOS.Concept))
        graph.add((node, SKOS.inScheme, scheme_node))
        graph.add((node, SKOS.notation, RdfLiteral(concept.key)))
        if concept.broader_id is None:
            graph.add((node, SKOS.topConceptOf, scheme_node))
            graph.add((scheme_node, SKOS.hasTopConcept, node))
        else:
            graph.add((node, SKOS.broader, URIRef(vocab.concepts[concept.broader_id].uri)))
            graph.add((URIRef(vocab.concepts[concept.broader_id].uri), SKOS.narrower, node))
        for language, text in vocab.preferred(concept_id).items():
            graph.add((node, SKOS.prefLabel, RdfLiteral(text, lang=language)))
        for language, texts in vocab.alternative(concept_id).items():
            for text in texts:
                graph.add((node, SKOS.altLabel, RdfLiteral(text, lang=language)))
        for other in vocab.related.get(concept_id, set()):
            graph.add((node, SKOS.related, URIRef(vocab.concepts[other].uri)))
        if concept.status == ConceptStatus.deprecated:
            graph.add((node, OWL.deprecated, RdfLiteral(True)))
        if concept.replaced_by_id is not None:
            graph.add((node, DCTERMS.isReplacedBy, URIRef(vocab.concepts[concept.replaced_by_id].uri)))
    return graph.serialize(format=format)


def _valid(shape, where: str, **values):  # noqa: ANN001, ANN202
    """``shape(**values)``, or a 422 that names the concept or scheme whose values do not fit (a 500 before review)."""
    try:
        return shape(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise KbError(ErrorCode.VALIDATION_ERROR, f"{where}: {problems}", {"concept": where}) from None


def _key_from(uri: str, notation: str | None, taken: set[str]) -> str:
    raw = notation or re.split(r"[/#:]", uri.rstrip("/#"))[-1]
    key = re.sub(r"[^a-z0-9_-]+", "-", raw.lower()).strip("-_")[:60] or "concept"
    if not key[0].isalnum():
        key = f"c{key}"[:60]
    candidate, n = key, 2
    while candidate in taken:
        candidate, n = f"{key}-{n}", n + 1
    taken.add(candidate)
    return candidate


def _remote_contexts(node: object) -> list[str]:
    """The contexts a JSON-LD document names by address (``"@context": "https://…"``, ``"@import"``), at any depth."""
    found: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            for key, value in item.items():
                if key in ("@context", "@import"):
                    found.extend(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str))
                stack.append(value)
    return found


def _parse(text: str, format: SkosFormat):  # noqa: A002, ANN202
    from rdflib import Graph

    if format == "json-ld":
        # rdflib fetches a context named by address, over the network or from a file:// path of the server:
        # an import must read only the document it was given (issue 20).
        try:
            remote = _remote_contexts(json.loads(text))
        except (ValueError, RecursionError):
            raise KbError(ErrorCode.VALIDATION_ERROR, "Not a json-ld document: it is not JSON (or nested too deep)") from None
        if remote:
            raise KbError(ErrorCode.VALIDATION_ERROR, "The JSON-LD document names a remote @context "
                          f"({remote[0][:200]}): kb loads nothing from elsewhere; put the context in the document")
    graph = Graph()
    try:
        graph.parse(data=text, format=format)
    except Exception as exc:  # rdflib raises many types for a malformed document
        raise KbError(ErrorCode.VALIDATION_ERROR, f"Not a {format} document: {str(exc)[:300]}") from None
    return graph


def load(session: Session, actor: Actor, text: str, format: SkosFormat, fields: dict[str, str]) -> SkosImported:  # noqa: A002, C901
    """Create or update the schemes and concepts of a SKOS document (see the module docstring).

    ``fields`` maps a scheme's key or URI to the field it fills, for schemes that do not say (``kb:field``).
    """
    from rdflib import Literal as RdfLiteral, URIRef

    RDF, SKOS, DCTERMS, OWL, KB = _namespaces()
    graph = _parse(text, format)
    scheme_nodes = sorted(set(graph.subjects(RDF.type, SKOS.ConceptScheme)), key=str)
    if not scheme_nodes:
        raise KbError(ErrorCode.VALIDATION_ERROR, "The document holds no skos:ConceptScheme")
    concept_nodes = sorted(set(graph.subjects(RDF.type, SKOS.Concept)), key=str)
    if any(not isinstance(node, URIRef) for node in [*scheme_nodes, *concept_nodes]):
        raise KbError(ErrorCode.VALIDATION_ERROR, "Every concept and scheme needs a URI: the document has a blank node")
    if len(concept_nodes) > MAX_IMPORT_CONCEPTS:
        raise KbError(ErrorCode.PAYLOAD_TOO_LARGE, f"At most {MAX_IMPORT_CONCEPTS} concepts in one import")

    def literal(node, predicate) -> str | None:  # noqa: ANN001
        value = graph.value(node, predicate)
        return str(value) if isinstance(value, RdfLiteral) else None

    def by_language(node, predicate) -> dict[str, list[str]]:  # noqa: ANN001
        found: dict[str, list[str]] = {}
        for value in graph.objects(node, predicate):
            if isinstance(value, RdfLiteral):
                text = " ".join("".join(ch for ch in str(value) if ch.isprintable() or ch.isspace()).split())[:200]
                if text:  # control characters (NUL among them) never reach the database
                    found.setdefault((value.language or "en").lower(), []).append(text)
        return {language: sorted(set(texts)) for language, texts in found.items()}

    existing_schemes = {s.uri: s for s in session.execute(select(ConceptScheme)).scalars()}
    scheme_keys = {s.key for s in existing_schemes.values()}
    schemes: dict[str, ConceptScheme] = {}
    for node in scheme_nodes:
        uri = str(node)
        if uri in existing_schemes:
            schemes[uri] = existing_schemes[uri]
            continue
        key = _key_from(uri, literal(node, SKOS.notation), scheme_keys)
        field = literal(node, KB.field) or fields.get(key) or fields.get(uri)
        if field not in {f.value for f in ConceptField}:
            raise KbError(ErrorCode.VALIDATION_ERROR, f"Say which field the scheme {uri} fills (applies_to, topic or region)",
                          {"scheme": uri, "key": key})
        titles = {lang: texts[0] for lang, texts in by_language(node, DCTERMS.title).items()} or \
                 {lang: texts[0] for lang, texts in by_language(node, SKOS.prefLabel).items()} or {"en": key}
        titles.setdefault("en", next(iter(titles.values())))
        schemes[uri] = service.create_scheme(session, actor=actor, data=_valid(SchemeCreate, uri, key=key, field=ConceptField(field),
                                                                                 titles=titles, uri=uri))

    existing = {c.uri: c for c in session.execute(select(Concept)).scalars()}
    keys: dict[int, set[str]] = {}
    for concept in existing.values():
        keys.setdefault(concept.scheme_id, set()).add(concept.key)
    scheme_of: dict[str, ConceptScheme] = {}
    for node in concept_nodes:
        in_scheme = [str(s) for s in [*graph.objects(node, SKOS.inScheme), *graph.objects(node, SKOS.topConceptOf)] if str(s) in schemes]
        if in_scheme:
            scheme_of[str(node)] = schemes[sorted(in_scheme)[0]]
    created = updated = 0
    created_refs: dict[str, str] = {}
    # Pass 1: every concept exists, with its labels (broader and related wait: they may come later in the file).
    for node in concept_nodes:
        uri = str(node)
        scheme = scheme_of.get(uri)
        if scheme is None:
            continue
        preferred = {lang: texts[0] for lang, texts in by_language(node, SKOS.prefLabel).items()}
        alternative = by_language(node, SKOS.altLabel)
        if uri in existing:
            concept = existing[uri]
            if concept.scheme_id != scheme.id:  # found by review: the file's scheme's concept of that key was changed instead
                raise KbError(ErrorCode.VALIDATION_ERROR, f"The file puts {uri} in the scheme {scheme.uri}; it is a concept "
                              "of another scheme here", {"concept": uri})
            created_refs[uri] = f"{scheme.key}:{concept.key}"
            held_preferred, _ = service.labels_of(session, concept.id)  # type: ignore[arg-type]
            preferred.setdefault("en", held_preferred.get("en") or next(iter(preferred.values()), concept.key))
            service.update_concept(session, actor=actor, scheme_key=scheme.key, key=concept.key,
                                   data=_valid(ConceptUpdate, uri, preferred=preferred, alternative=alternative))
            updated += 1
            continue
        key = _key_from(uri, literal(node, SKOS.notation), keys.setdefault(scheme.id, set()))  # type: ignore[arg-type]
        preferred.setdefault("en", next(iter(preferred.values()), key))
        service.create_concept(session, actor=actor, scheme_key=scheme.key,
                               data=_valid(ConceptCreate, uri, key=key, uri=uri, preferred=preferred, alternative=alternative))
        created_refs[uri] = f"{scheme.key}:{key}"
        created += 1
    # Pass 2: broader, related, deprecation and replacement.
    for node in concept_nodes:
        uri = str(node)
        if uri not in created_refs:
            continue
        scheme_key, _, key = created_refs[uri].partition(":")
        broader = [created_refs[str(b)] for b in graph.objects(node, SKOS.broader) if str(b) in created_refs]
        broader_key = next((ref.partition(":")[2] for ref in sorted(broader) if ref.startswith(f"{scheme_key}:")), "")
        related = sorted({created_refs[str(r)] for r in [*graph.objects(node, SKOS.related), *graph.subjects(SKOS.related, node)]
                          if str(r) in created_refs and str(r) != uri})
        service.update_concept(session, actor=actor, scheme_key=scheme_key, key=key,
                               data=_valid(ConceptUpdate, uri, broader=broader_key, related=related))
        replaced = graph.value(node, DCTERMS.isReplacedBy)
        deprecated = graph.value(node, OWL.deprecated)
        if (replaced is not None and str(replaced) in created_refs) or (deprecated is not None and deprecated.toPython() is True):
            target = created_refs.get(str(replaced)) if replaced is not None else None
            service.set_status(session, actor=actor, scheme_key=scheme_key, key=key,
                               replaced_by=target.partition(":")[2] if target else None)
    return SkosImported(schemes=sorted(s.key for s in schemes.values()), concepts_created=created, concepts_updated=updated)
