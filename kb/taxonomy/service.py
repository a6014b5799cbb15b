"""The taxonomy's rules: schemes and concepts, their labels, merges, and how versions' concepts are read.

Owns the one reading of a version's concept fields (``Vocabulary``): a merged concept is read as
its replacement, a concept stands for its broader ones too (a page for *student* applies to
whoever picked its broader *in education*), and a label is given in the reader's language. Versions
store the concept ids they were given and are never rewritten: a merge changes how they are read,
not what was signed (issue 20).

Services take ``(session, actor, …)``, never commit and record one audit event per change; the
role gate is ``kb.taxonomy.actions``. Imports nothing above the accounts layer: documents call in
here, never the other way round.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace

from sqlalchemy import column, delete, func, or_, select, table
from sqlmodel import Session, SQLModel

from kb import provenance
from kb.accounts import governance
from kb.accounts.models import GovernanceRequest
from kb.actors import SYSTEM, Actor
from kb.errors import ErrorCode, KbError
from kb.taxonomy.commitments import CONCEPT_STATE, SCHEME_STATE, concept_state, scheme_commitment
from kb.taxonomy.models import Concept, ConceptField, ConceptLabel, ConceptRelation, ConceptScheme, ConceptStatus, ConceptUse, LabelKind
from kb.taxonomy.schemas import ConceptCreate, ConceptPublic, ConceptUpdate, SchemeCreate, SchemePublic

DEFAULT_LANGUAGE = "en"


def scheme_uri(key: str) -> str:
    return f"urn:kb:scheme:{key}"


def concept_uri(scheme: str, key: str) -> str:
    return f"urn:kb:concept:{scheme}:{key}"


def normalise(text: str) -> str:
    """How labels and queries are compared: NFKC, case-folded, accents kept, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


_WORD = re.compile(r"\w+", re.UNICODE)


def base_language(language: str | None) -> str | None:
    return language.lower().split("-")[0] if language else None


# ------------------------------------------------------------------------------------ reading

@dataclass
class Vocabulary:
    """Every scheme, concept and label, read once (a taxonomy is hundreds of concepts, not millions)."""

    schemes: dict[int, ConceptScheme]
    concepts: dict[int, Concept]
    labels: dict[int, list[ConceptLabel]]
    related: dict[int, set[int]]
    _by_ref: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_ref = {self.ref(cid): cid for cid in self.concepts}

    # names
    def scheme_of(self, concept_id: int) -> ConceptScheme:
        return self.schemes[self.concepts[concept_id].scheme_id]

    def ref(self, concept_id: int) -> str:
        concept = self.concepts[concept_id]
        return f"{self.schemes[concept.scheme_id].key}:{concept.key}"

    def by_ref(self, ref: str) -> int | None:
        return self._by_ref.get(ref)

    def scheme_by_key(self, key: str) -> ConceptScheme | None:
        return next((s for s in self.schemes.values() if s.key == key), None)

    def preferred(self, concept_id: int) -> dict[str, str]:
        return {label.language: label.text for label in self.labels.get(concept_id, []) if label.kind == LabelKind.preferred}

    def alternative(self, concept_id: int) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for label in self.labels.get(concept_id, []):
            if label.kind == LabelKind.alternative:
                found.setdefault(label.language, []).append(label.text)
        return {language: sorted(texts) for language, texts in sorted(found.items())}

    def label(self, concept_id: int, language: str | None) -> str:
        """The preferred label in ``language`` (``nl`` for ``nl-BE``), else English, else any, else the key."""
        preferred = self.preferred(concept_id)
        for wanted in (language, base_language(language), DEFAULT_LANGUAGE):
            if wanted and wanted in preferred:
                return preferred[wanted]
        return next(iter(sorted(preferred.values())), self.concepts[concept_id].key)

    def scheme_title(self, scheme: ConceptScheme, language: str | None) -> str:
        titles = json.loads(scheme.titles)
        for wanted in (language, base_language(language), DEFAULT_LANGUAGE):
            if wanted and wanted in titles:
                return titles[wanted]
        return scheme.key

    # structure
    def effective(self, concept_id: int) -> int:
        """The concept a version naming ``concept_id`` is read as: its replacement after a merge."""
        seen = {concept_id}
        while (replaced := self.concepts[concept_id].replaced_by_id) is not None and replaced not in seen:
            seen.add(replaced)
            concept_id = replaced
        return concept_id

    def broader_chain(self, concept_id: int) -> list[int]:
        """``concept_id``'s broader concepts, nearest first."""
        chain: list[int] = []
        current = self.concepts[concept_id].broader_id
        while current is not None and current not in chain and current != concept_id:
            chain.append(current)
            current = self.concepts[current].broader_id
        return chain

    def narrower(self, concept_id: int) -> list[int]:
        return sorted(cid for cid, c in self.concepts.items() if c.broader_id == concept_id)

    def carried(self, stored_ids: Iterable[int]) -> frozenset[int]:
        """What a version that stored ``stored_ids`` carries: each read as its replacement, with its broader ones."""
        result: set[int] = set()
        for stored in stored_ids:
            if stored not in self.concepts:
                continue
            effective = self.effective(stored)
            result.add(effective)
            result.update(self.broader_chain(effective))
        return frozenset(result)

    def covering(self, concept_id: int) -> frozenset[int]:
        """Every stored id that a version may hold and be read as carrying ``concept_id``: the concept, the
        concepts below it, and everything merged into any of them. Search filters on this set."""
        return frozenset(stored for stored in self.concepts if concept_id in self.carried([stored]))

    def in_field(self, concept_id: int) -> ConceptField:
        return ConceptField(self.scheme_of(concept_id).field)

    # input
    def resolve(self, concept_field: ConceptField, refs: Iterable[str]) -> list[int]:
        """The concept ids a writer's references name, for ``concept_field``.

        A merged concept is stored as its replacement. Raises:
            KbError VALIDATION_ERROR: a reference names no concept, a concept of another field, or a deprecated one.
        """
        ids: set[int] = set()
        problems: list[str] = []
        for ref in refs:
            concept_id = self.by_ref(ref)
            if concept_id is None:
                problems.append(f"{ref!r} is no concept")
                continue
            concept_id = self.effective(concept_id)
            if self.in_field(concept_id) != concept_field:
                problems.append(f"{ref!r} fills the field {self.in_field(concept_id).value}, not {concept_field.value}")
            elif self.concepts[concept_id].status != ConceptStatus.active:
                problems.append(f"{ref!r} is deprecated")
            else:
                ids.add(concept_id)
        if problems:
            raise KbError(ErrorCode.VALIDATION_ERROR, f"{concept_field.value}: " + "; ".join(problems),
                          {"field": concept_field.value, "problems": problems})
        return sorted(ids)

    def mentioned(self, text: str) -> frozenset[int]:
        """The concepts one of whose labels, in any language, ``text`` says as whole words ("renter" → *tenant*)."""
        words = " " + " ".join(_WORD.findall(normalise(text))) + " "
        if not words.strip():
            return frozenset()
        found = set()
        for concept_id, labels in self.labels.items():
            for label in labels:
                phrase = " ".join(_WORD.findall(normalise(label.text)))
                if phrase and f" {phrase} " in words:
                    found.add(self.effective(concept_id))
                    break
        return frozenset(found)

    def public(self, concept_id: int, language: str | None = None, used: int = 0) -> ConceptPublic:
        concept = self.concepts[concept_id]
        related = sorted(self.ref(r) for r in self.related.get(concept_id, set()))
        return ConceptPublic(
            ref=self.ref(concept_id), scheme=self.schemes[concept.scheme_id].key, key=concept.key, uri=concept.uri,
            label=self.label(concept_id, language), preferred=dict(sorted(self.preferred(concept_id).items())),
            alternative=self.alternative(concept_id),
            broader=self.ref(concept.broader_id) if concept.broader_id is not None else None,
            narrower=[self.ref(n) for n in self.narrower(concept_id)], related=related, status=concept.status,
            replaced_by=self.ref(concept.replaced_by_id) if concept.replaced_by_id is not None else None,
            used_by_versions=used,
        )


TAXONOMY_ACTIONS = ("concept_scheme.create", "concept.create", "concept.update", "concept.merge", "concept.deprecate",
                    "concept.delete")
"""Every event that changes the taxonomy: the newest one's sequence number says whether a read copy is current."""
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine → (seq, Vocabulary)
_CACHE_LOCK = threading.Lock()
_CHANGED = "kb.taxonomy.changed"


def _copy(row: SQLModel) -> SimpleNamespace:
    """A plain copy of a row: a cached vocabulary outlives the session that read it."""
    return SimpleNamespace(**{name: getattr(row, name) for name in type(row).model_fields})


def _read(session: Session) -> Vocabulary:
    schemes = {s.id: _copy(s) for s in session.execute(select(ConceptScheme)).scalars()}
    concepts = {c.id: _copy(c) for c in session.execute(select(Concept)).scalars()}
    labels: dict[int, list] = {}
    for label in session.execute(select(ConceptLabel).order_by(ConceptLabel.id)).scalars():
        labels.setdefault(label.concept_id, []).append(_copy(label))
    related: dict[int, set[int]] = {}
    for relation in session.execute(select(ConceptRelation)).scalars():
        related.setdefault(relation.concept_id, set()).add(relation.related_id)
        related.setdefault(relation.related_id, set()).add(relation.concept_id)
    return Vocabulary(schemes, concepts, labels, related)  # type: ignore[arg-type]


def vocabulary(session: Session) -> Vocabulary:
    """The whole taxonomy as it is in the database now (read-only).

    Read once per change, not once per search: a copy is kept with the sequence number of the newest
    taxonomy event (``TAXONOMY_ACTIONS``), and read again when a newer one is in the log, whichever
    process wrote it. Inside a transaction that changed the taxonomy (not yet committed, and so not
    seen by others), it is always read afresh.
    """
    if session.new or session.dirty or session.deleted or session.info.get(_CHANGED):
        return _read(session)
    key = session.get_bind()
    seq = provenance.latest_seq(session, TAXONOMY_ACTIONS)
    with _CACHE_LOCK:
        held = _CACHE.get(key)
    if held is not None and held[0] == seq:
        return held[1]
    fresh = _read(session)
    with _CACHE_LOCK:
        _CACHE[key] = (seq, fresh)
    return fresh


def use_counts(session: Session) -> dict[int, int]:
    """How many versions name each concept."""
    rows = session.execute(select(ConceptUse.concept_id, func.count()).group_by(ConceptUse.concept_id)).all()
    return {concept_id: count for concept_id, count in rows}


def schemes_public(session: Session, language: str | None = None) -> list[SchemePublic]:
    vocab = vocabulary(session)
    used = use_counts(session)
    result = []
    for scheme in sorted(vocab.schemes.values(), key=lambda s: s.key):
        concepts = sorted((cid for cid, c in vocab.concepts.items() if c.scheme_id == scheme.id),
                          key=lambda cid: vocab.concepts[cid].key)
        result.append(SchemePublic(key=scheme.key, uri=scheme.uri, field=scheme.field,
                                   title=vocab.scheme_title(scheme, language), titles=json.loads(scheme.titles),
                                   concepts=[vocab.public(cid, language, used.get(cid, 0)) for cid in concepts]))
    return result


def get_scheme(session: Session, key: str) -> ConceptScheme:
    scheme = session.execute(select(ConceptScheme).where(ConceptScheme.key == key)).scalar_one_or_none()
    if scheme is None:
        raise KbError(ErrorCode.NOT_FOUND, f"No concept scheme {key!r}")
    return scheme


def get_concept(session: Session, scheme_key: str, key: str) -> Concept:
    scheme = get_scheme(session, scheme_key)
    concept = session.execute(select(Concept).where(Concept.scheme_id == scheme.id, Concept.key == key)).scalar_one_or_none()
    if concept is None:
        raise KbError(ErrorCode.NOT_FOUND, f"No concept {scheme_key}:{key}")
    return concept


# ----------------------------------------------------------------------------------- changing

def _ref_of(session: Session, concept: Concept) -> str:
    scheme = session.get(ConceptScheme, concept.scheme_id)
    return f"{scheme.key}:{concept.key}"  # type: ignore[union-attr]


def _concept_by_ref(session: Session, ref: str) -> Concept:
    scheme_key, _, key = ref.partition(":")
    return get_concept(session, scheme_key, key)


def create_scheme(session: Session, *, actor: Actor, data: SchemeCreate) -> ConceptScheme:
    """Raises: KbError ALREADY_EXISTS: the key or URI is taken."""
    uri = data.uri or scheme_uri(data.key)
    if session.execute(select(ConceptScheme.id).where(or_(ConceptScheme.key == data.key, ConceptScheme.uri == uri))).first():
        raise KbError(ErrorCode.ALREADY_EXISTS, f"A concept scheme {data.key!r} (or with its URI) exists already")
    scheme = ConceptScheme(key=data.key, uri=uri, field=data.field,
                           titles=json.dumps(dict(sorted(data.titles.items())), ensure_ascii=False))
    session.add(scheme)
    session.flush()
    session.info[_CHANGED] = True  # this session reads the taxonomy afresh from now on: its change is not committed yet
    provenance.record(session, actor, "concept_scheme.create", ("concept_scheme", scheme.key),
                      {"uri": uri, "field": data.field.value, "titles": dict(sorted(data.titles.items())),
                       SCHEME_STATE: scheme_commitment(scheme)})
    return scheme


def _set_labels(session: Session, concept: Concept, preferred: dict[str, str], alternative: dict[str, list[str]]) -> None:
    session.execute(delete(ConceptLabel).where(ConceptLabel.concept_id == concept.id))
    for language, text in sorted(preferred.items()):
        session.add(ConceptLabel(concept_id=concept.id, language=language, kind=LabelKind.preferred, text=text))  # type: ignore[arg-type]
    for language, texts in sorted(alternative.items()):
        for text in sorted(set(texts)):
            if text != preferred.get(language):
                session.add(ConceptLabel(concept_id=concept.id, language=language, kind=LabelKind.alternative, text=text))  # type: ignore[arg-type]
    session.flush()


def _check_broader(session: Session, concept: Concept, broader: Concept | None) -> None:
    if broader is None:
        return
    if broader.scheme_id != concept.scheme_id:
        raise KbError(ErrorCode.VALIDATION_ERROR, "A broader concept must be in the same scheme")
    current: Concept | None = broader
    seen: set[int] = set()
    while current is not None and current.id not in seen:  # a loop already in the rows ends the walk, never hangs it
        if current.id == concept.id:
            raise KbError(ErrorCode.VALIDATION_ERROR, "That broader concept is below this one: the hierarchy would loop")
        seen.add(current.id)  # type: ignore[arg-type]
        current = session.get(Concept, current.broader_id) if current.broader_id is not None else None


def _set_related(session: Session, concept: Concept, refs: list[str]) -> None:
    session.execute(delete(ConceptRelation).where(or_(ConceptRelation.concept_id == concept.id,
                                                      ConceptRelation.related_id == concept.id)))
    for ref in sorted(set(refs)):
        other = _concept_by_ref(session, ref)
        if other.id == concept.id:
            raise KbError(ErrorCode.VALIDATION_ERROR, "A concept is not related to itself")
        low, high = sorted((concept.id, other.id))  # type: ignore[type-var]
        session.add(ConceptRelation(concept_id=low, related_id=high))
    session.flush()


def _committed(session: Session, *concept_ids: Iterable[int] | int | None) -> dict:
    """The ``concept_state`` member of an event's payload: the commitments of every concept it changed,
    as the change leaves them (``kb.taxonomy.commitments``)."""
    ids: set[int] = set()
    for item in concept_ids:
        if isinstance(item, int):
            ids.add(item)
        elif item is not None:
            ids.update(item)
    session.flush()
    return {CONCEPT_STATE: concept_state(session, ids)}


def _related_ids(session: Session, concept_id: int) -> set[int]:
    return {low if high == concept_id else high for low, high in session.execute(
        select(ConceptRelation.concept_id, ConceptRelation.related_id).where(
            or_(ConceptRelation.concept_id == concept_id, ConceptRelation.related_id == concept_id)))}


def _labels_detail(preferred: dict[str, str], alternative: dict[str, list[str]]) -> dict:
    return {"preferred": dict(sorted(preferred.items())),
            "alternative": {k: sorted(set(v)) for k, v in sorted(alternative.items())}}


def create_concept(session: Session, *, actor: Actor, scheme_key: str, data: ConceptCreate) -> Concept:
    """Raises: KbError NOT_FOUND (scheme, broader or related concept), ALREADY_EXISTS, VALIDATION_ERROR."""
    scheme = get_scheme(session, scheme_key)
    uri = data.uri or concept_uri(scheme.key, data.key)
    if session.execute(select(Concept.id).where(or_((Concept.scheme_id == scheme.id) & (Concept.key == data.key),
                                                    Concept.uri == uri))).first():
        raise KbError(ErrorCode.ALREADY_EXISTS, f"A concept {scheme.key}:{data.key} (or with its URI) exists already")
    broader = get_concept(session, scheme.key, data.broader) if data.broader else None
    concept = Concept(scheme_id=scheme.id, key=data.key, uri=uri, broader_id=broader.id if broader else None)  # type: ignore[arg-type]
    session.add(concept)
    session.flush()
    _set_labels(session, concept, data.preferred, data.alternative)
    _set_related(session, concept, data.related)
    session.info[_CHANGED] = True  # this session reads the taxonomy afresh from now on: its change is not committed yet
    provenance.record(session, actor, "concept.create", ("concept", f"{scheme.key}:{concept.key}"),
                      {"uri": uri, "broader": data.broader, "related": sorted(set(data.related)),
                       **_labels_detail(data.preferred, data.alternative),
                       **_committed(session, concept.id, _related_ids(session, concept.id))})
    return concept


def labels_of(session: Session, concept_id: int) -> tuple[dict[str, str], dict[str, list[str]]]:
    """A concept's preferred and alternative labels, read for it alone (an import changes thousands)."""
    preferred: dict[str, str] = {}
    alternative: dict[str, list[str]] = {}
    for label in session.execute(select(ConceptLabel).where(ConceptLabel.concept_id == concept_id).order_by(ConceptLabel.id)).scalars():
        if label.kind == LabelKind.preferred:
            preferred[label.language] = label.text
        else:
            alternative.setdefault(label.language, []).append(label.text)
    return preferred, {language: sorted(texts) for language, texts in sorted(alternative.items())}


def _related_refs(session: Session, concept_id: int) -> list[str]:
    others = [r.related_id if r.concept_id == concept_id else r.concept_id for r in session.execute(
        select(ConceptRelation).where(or_(ConceptRelation.concept_id == concept_id, ConceptRelation.related_id == concept_id))).scalars()]
    return sorted(_ref_of(session, session.get(Concept, other)) for other in others)  # type: ignore[arg-type]


def update_concept(session: Session, *, actor: Actor, scheme_key: str, key: str, data: ConceptUpdate) -> Concept:
    """Change what ``data`` gives; audited as ``concept.update`` only when something changed.

    Raises: KbError NOT_FOUND, VALIDATION_ERROR (a loop, another scheme, labels without English)."""
    concept = get_concept(session, scheme_key, key)
    detail: dict = {}
    related_before = _related_ids(session, concept.id)  # type: ignore[arg-type]
    if data.preferred is not None or data.alternative is not None:
        held_preferred, held_alternative = labels_of(session, concept.id)  # type: ignore[arg-type]
        before = _labels_detail(held_preferred, held_alternative)
        preferred = data.preferred if data.preferred is not None else held_preferred
        alternative = data.alternative if data.alternative is not None else held_alternative
        if "en" not in preferred:
            raise KbError(ErrorCode.VALIDATION_ERROR, "give at least an English preferred label ('en')")
        alternative = {lang: [t for t in texts if t != preferred.get(lang)] for lang, texts in alternative.items()}
        after = _labels_detail(preferred, {lang: texts for lang, texts in alternative.items() if texts})
        if after != before:
            _set_labels(session, concept, preferred, alternative)
            detail.update(after)
    if data.broader is not None:
        broader = get_concept(session, scheme_key, data.broader) if data.broader else None
        if (broader.id if broader else None) != concept.broader_id:
            _check_broader(session, concept, broader)
            concept.broader_id = broader.id if broader else None
            detail["broader"] = data.broader or None
    if data.related is not None:
        wanted = sorted(set(data.related))
        if wanted != _related_refs(session, concept.id):  # type: ignore[arg-type]
            _set_related(session, concept, wanted)
            detail["related"] = wanted
    if not detail:
        return concept
    session.add(concept)
    session.flush()
    session.info[_CHANGED] = True  # this session reads the taxonomy afresh from now on: its change is not committed yet
    provenance.record(session, actor, "concept.update", ("concept", f"{scheme_key}:{key}"),
                      {**detail, **_committed(session, concept.id, related_before, _related_ids(session, concept.id))})  # type: ignore[arg-type]
    return concept


def set_status(session: Session, *, actor: Actor, scheme_key: str, key: str, replaced_by: str | None) -> Concept:
    """Deprecate a concept as an imported vocabulary says, replaced by ``replaced_by`` (a key in the same
    scheme) or by nothing, without moving labels (the file states them). Audited as ``concept.merge``
    (with a replacement) or ``concept.deprecate``, with the number of versions that name it.

    Raises: KbError NOT_FOUND; VALIDATION_ERROR: the replacements would lead back to the concept."""
    concept = get_concept(session, scheme_key, key)
    target = get_concept(session, scheme_key, replaced_by) if replaced_by else None
    ref = f"{scheme_key}:{key}"
    current, seen = target, set()
    while current is not None and current.id not in seen:  # found by review: an import made tenant ⇄ lodger
        if current.id == concept.id:
            raise KbError(ErrorCode.VALIDATION_ERROR, f"{ref} cannot be replaced by {scheme_key}:{replaced_by}: "
                          "the replacements would lead back to it")
        seen.add(current.id)  # type: ignore[arg-type]
        current = session.get(Concept, current.replaced_by_id) if current.replaced_by_id is not None else None
    if concept.status == ConceptStatus.deprecated and concept.replaced_by_id == (target.id if target else None):
        return concept
    changes_reading = concept.replaced_by_id != (target.id if target else None)  # a replacement set, changed or undone
    if changes_reading and not actor.system and approved_spaces(session, concept.id):  # type: ignore[arg-type]
        raise KbError(ErrorCode.CONFLICT, f"{ref} is named by approved pages: replacing it changes how they read, "
                      f"which needs a second person; ask for the merge (POST /api/v1/taxonomy/{scheme_key}/concepts/"
                      f"{key}/merge, or kb taxonomy merge) and import again once it is approved",
                      {"rule": "separation_of_duties", "concept": ref})
    concept.status = ConceptStatus.deprecated
    concept.replaced_by_id = target.id if target else None
    session.add(concept)
    session.flush()
    session.info[_CHANGED] = True  # this session reads the taxonomy afresh from now on: its change is not committed yet
    uses = _uses(session, concept.id)  # type: ignore[arg-type]
    if target is not None:
        provenance.record(session, actor, "concept.merge", ("concept", ref),
                          {"into": f"{scheme_key}:{replaced_by}", "uses": uses, **_committed(session, concept.id)})
    else:
        provenance.record(session, actor, "concept.deprecate", ("concept", ref), {"uses": uses, **_committed(session, concept.id)})
    return concept


def _require_active(concept: Concept, ref: str) -> None:
    if concept.status != ConceptStatus.active:
        raise KbError(ErrorCode.ILLEGAL_TRANSITION, f"{ref} is deprecated already")


def deprecate_concept(session: Session, *, actor: Actor, scheme_key: str, key: str) -> Concept:
    """Keep a concept for the versions that name it, but offer it to no one any more.

    Raises: KbError NOT_FOUND, ILLEGAL_TRANSITION (deprecated already)."""
    concept = get_concept(session, scheme_key, key)
    ref = f"{scheme_key}:{key}"
    _require_active(concept, ref)
    concept.status = ConceptStatus.deprecated
    session.add(concept)
    session.flush()
    session.info[_CHANGED] = True  # this session reads the taxonomy afresh from now on: its change is not committed yet
    provenance.record(session, actor, "concept.deprecate", ("concept", ref),
                      {"uses": _uses(session, concept.id), **_committed(session, concept.id)})  # type: ignore[arg-type]
    return concept


def _uses(session: Session, concept_id: int) -> int:
    return int(session.execute(select(func.count()).select_from(ConceptUse).where(ConceptUse.concept_id == concept_id)).scalar_one())


_VERSION = table("document_version", column("id"), column("document_id"), column("state"),
                 column("applies_to"), column("topic"), column("region"))
_DOCUMENT = table("document", column("id"), column("space_id"))
MERGE_REQUEST = "concept.merge"


def read_through(session: Session, concept_id: int) -> set[int]:
    """The concept and every concept read through it: those merged into it and those below it, all the
    way down (a version naming any of them reads differently when this one is merged)."""
    found, frontier = {concept_id}, [concept_id]
    while frontier:
        rows = session.execute(select(Concept.id).where(or_(Concept.replaced_by_id.in_(frontier),  # type: ignore[union-attr]
                                                            Concept.broader_id.in_(frontier)))).scalars()  # type: ignore[union-attr]
        frontier = [i for i in rows if i not in found]
        found.update(frontier)
    return found


def approved_spaces(session: Session, concept_id: int) -> set[int]:
    """The spaces whose approved versions read differently if the concept is merged: those that name it,
    or a concept read through it (``read_through``).

    Read from the versions' own concept fields, which their provenance hash commits to, not from
    ``concept_use`` (derived rows an operator could empty for the moment of a merge), and through the
    tables' names alone: the taxonomy sits below the documents and never imports them.
    """
    wanted = read_through(session, concept_id)
    rows = session.execute(select(_DOCUMENT.c.space_id, _VERSION.c.applies_to, _VERSION.c.topic, _VERSION.c.region)
                           .join(_VERSION, _VERSION.c.document_id == _DOCUMENT.c.id)
                           .where(_VERSION.c.state == "approved",
                                  or_(_VERSION.c.applies_to.is_not(None), _VERSION.c.topic.is_not(None),
                                      _VERSION.c.region.is_not(None))))
    return {space_id for space_id, *fields in rows if wanted & {i for value in fields for i in stored_ids_lenient(value)}}


def stored_ids_lenient(value: str | None) -> list[int]:
    """``stored_ids``, but a malformed value (edited outside kb: ``kb audit verify`` names it) is no ids."""
    try:
        ids = json.loads(value) if value else []
    except ValueError:
        return []
    return [i for i in ids if isinstance(i, int)] if isinstance(ids, list) else []


def merge_concept(session: Session, *, actor: Actor, scheme_key: str, key: str, into: str,
                  request_id: int | None = None) -> Concept | GovernanceRequest:
    """Merge ``key`` into ``into`` (same scheme): every version naming it is read as naming ``into``; its
    labels become alternative labels of ``into``; its narrower and related concepts move to ``into``.

    A merge of a concept that approved versions name changes how pages read that their approvers signed,
    without a new approval: when a person asks, it is a governance request (returned, nothing merged)
    that an owner of one of those pages' spaces or an admin, not the requester, approves
    (``request_id``: the approved request being applied). kb itself (``SYSTEM``) merges at once.

    Raises: KbError NOT_FOUND, VALIDATION_ERROR (itself), ILLEGAL_TRANSITION (either is deprecated),
    CONFLICT (the same merge waits already)."""
    source = get_concept(session, scheme_key, key)
    target = get_concept(session, scheme_key, into)
    ref, target_ref = f"{scheme_key}:{key}", f"{scheme_key}:{into}"
    if source.id == target.id:
        raise KbError(ErrorCode.VALIDATION_ERROR, "A concept cannot be merged into itself")
    _require_active(source, ref)
    _require_active(target, target_ref)
    if request_id is None and not actor.system and approved_spaces(session, source.id):  # type: ignore[arg-type]
        return governance.open_request(session, actor=actor, kind=MERGE_REQUEST, target=ref, change={"into": into})
    vocab = vocabulary(session)
    preferred = vocab.preferred(target.id)  # type: ignore[arg-type]
    alternative = vocab.alternative(target.id)  # type: ignore[arg-type]
    for language, text in [*vocab.preferred(source.id).items(),  # type: ignore[arg-type]
                           *((lang, t) for lang, texts in vocab.alternative(source.id).items() for t in texts)]:  # type: ignore[arg-type]
        if text != preferred.get(language):
            alternative.setdefault(language, []).append(text)
    _set_labels(session, target, preferred, alternative)
    # The source's narrower concepts move under the target, except the target itself and those it sits
    # under (merging a concept into one below it): they take the source's place, so no loop is made.
    above_target = {target.id, *vocab.broader_chain(target.id)}  # type: ignore[arg-type]
    changed: set[int] = {source.id, target.id, *vocab.related.get(source.id, set()), *vocab.related.get(target.id, set())}  # type: ignore[arg-type,misc]
    for child in session.execute(select(Concept).where(Concept.broader_id == source.id)).scalars():
        child.broader_id = source.broader_id if child.id in above_target else target.id
        session.add(child)
        changed.add(child.id)  # type: ignore[arg-type]
    moved = sorted(vocab.ref(r) for r in vocab.related.get(source.id, set()) if r != target.id)  # type: ignore[arg-type]
    kept = sorted(vocab.ref(r) for r in vocab.related.get(target.id, set()) if r != source.id)  # type: ignore[arg-type]
    session.execute(delete(ConceptRelation).where(or_(ConceptRelation.concept_id == source.id, ConceptRelation.related_id == source.id)))
    _set_related(session, target, sorted(set(moved) | set(kept)))
    for earlier in session.execute(select(Concept).where(Concept.replaced_by_id == source.id)).scalars():
        earlier.replaced_by_id = target.id
        session.add(earlier)
        changed.add(earlier.id)  # type: ignore[arg-type]
    source.status, source.replaced_by_id = ConceptStatus.deprecated, target.id
    session.add(source)
    session.flush()
    session.info[_CHANGED] = True  # this session reads the taxonomy afresh from now on: its change is not committed yet
    provenance.record(session, actor, "concept.merge", ("concept", ref),
                      {"into": target_ref, "uses": _uses(session, source.id), **_committed(session, changed),  # type: ignore[arg-type]
                       **({"request": request_id} if request_id is not None else {})})
    return target


def _may_decide_merge(session: Session, actor: Actor, request: GovernanceRequest) -> bool:
    """An admin, or an owner of every space whose approved pages the merge re-reads (they stand behind
    them: the owners of one space do not decide for another's pages)."""
    if actor.is_admin:
        return True
    scheme_key, _, key = request.target.partition(":")
    try:
        concept = get_concept(session, scheme_key, key)
    except KbError:
        return False
    spaces = approved_spaces(session, concept.id)  # type: ignore[arg-type]
    return bool(spaces) and all(actor.owns(space_id) for space_id in spaces)


def _apply_merge(session: Session, actor: Actor, request: GovernanceRequest) -> None:
    scheme_key, _, key = request.target.partition(":")
    merge_concept(session, actor=actor, scheme_key=scheme_key, key=key, into=str(request.change["into"]),
                  request_id=request.id)


governance.register(MERGE_REQUEST, entitled=_may_decide_merge, apply=_apply_merge,
                    deciders="a second person (an admin, or an owner of every space whose approved pages name the concept)")


def delete_concept(session: Session, *, actor: Actor, scheme_key: str, key: str) -> None:
    """Delete a concept no version names, no concept sits under and nothing was merged into.

    Raises: KbError NOT_FOUND; CONFLICT (in use: merge or deprecate it instead)."""
    concept = get_concept(session, scheme_key, key)
    ref = f"{scheme_key}:{key}"
    uses = _uses(session, concept.id)  # type: ignore[arg-type]
    if uses:
        raise KbError(ErrorCode.CONFLICT, f"{ref} is named by {uses} document version(s): merge it into another "
                      "concept or deprecate it; it cannot be deleted", {"uses": uses})
    if session.execute(select(Concept.id).where(or_(Concept.broader_id == concept.id, Concept.replaced_by_id == concept.id))).first():
        raise KbError(ErrorCode.CONFLICT, f"{ref} has narrower concepts or concepts merged into it: move them first")
    related = _related_ids(session, concept.id)  # type: ignore[arg-type]
    session.execute(delete(ConceptLabel).where(ConceptLabel.concept_id == concept.id))
    session.execute(delete(ConceptRelation).where(or_(ConceptRelation.concept_id == concept.id, ConceptRelation.related_id == concept.id)))
    concept_id = concept.id
    session.delete(concept)
    session.flush()
    session.info[_CHANGED] = True  # this session reads the taxonomy afresh from now on: its change is not committed yet
    provenance.record(session, actor, "concept.delete", ("concept", ref),
                      {"uri": concept.uri, **_committed(session, concept_id, related)})


def set_uses(session: Session, version_id: int, concept_ids: Iterable[int], *, new: bool = False) -> None:
    """Record which concepts a version names (called by documents whenever it writes the fields): the rows
    it no longer names are deleted, the new ones added; one read when nothing changes. ``new``: the version
    was inserted in this transaction, so it names none yet and nothing is read (a new document's draft)."""
    wanted = set(concept_ids)
    held = set() if new else set(session.execute(select(ConceptUse.concept_id).where(ConceptUse.version_id == version_id)).scalars())
    if held - wanted:
        session.execute(delete(ConceptUse).where(ConceptUse.version_id == version_id,
                                                 ConceptUse.concept_id.in_(sorted(held - wanted))))  # type: ignore[attr-defined]
    for concept_id in sorted(wanted - held):
        session.add(ConceptUse(concept_id=concept_id, version_id=version_id))
    if wanted - held:
        session.flush()


def stored_ids(value: str | None) -> list[int]:
    """A version's concept field as stored: a sorted JSON list of ids, or null for none."""
    return list(json.loads(value)) if value else []


def record_baseline(session: Session) -> int:
    """Commit, once, to the taxonomy rows that taxonomy events recorded before events carried commitments.

    Called by the upgrade across migration 0023. Only a scheme or concept that such an earlier event
    names (by key; a concept whose newest such event deleted it is left out), and that the log holds no
    commitment for, is committed to, as its row is at that moment, in one ``audit.baseline`` event by
    kb itself. A row no event ever named was put there outside kb and stays a difference; a row with a
    commitment is never re-committed, so rewinding the schema revision and upgrading again launders
    nothing.

    Returns:
        The number of rows committed to (0: nothing recorded).
    """
    if provenance.list_events(session, action="audit.baseline", object_type="taxonomy", limit=1):
        return 0  # once: a rewound schema revision must not commit to rows changed or planted since
    state = provenance.committed_state(session)
    legacy: set[tuple[str, str]] = set()
    newest: dict[tuple[str, str], tuple[int, str]] = {}
    for action in TAXONOMY_ACTIONS:
        after = 0
        while page := provenance.list_events(session, action=action, after_seq=after, limit=5000):
            for event in page:
                subject = (event.object_type, event.object_id)
                if CONCEPT_STATE not in event.payload and SCHEME_STATE not in event.payload:
                    legacy.add(subject)
                if subject not in newest or newest[subject][0] < event.seq:  # every event: a later delete counts
                    newest[subject] = (event.seq, action)
            after = page[-1].seq
    named = {subject: newest[subject] for subject in legacy}
    schemes = [s for s in session.execute(select(ConceptScheme).order_by(ConceptScheme.id)).scalars()
               if str(s.id) not in state.schemes and ("concept_scheme", s.key) in named]
    keys = {s.id: s.key for s in session.execute(select(ConceptScheme)).scalars()}
    concepts = [c.id for c in session.execute(select(Concept).order_by(Concept.id)).scalars()
                if str(c.id) not in state.concepts
                and named.get(("concept", f"{keys.get(c.scheme_id)}:{c.key}"), (0, "concept.delete"))[1] != "concept.delete"]
    if not schemes and not concepts:
        return 0
    provenance.record(session, SYSTEM, "audit.baseline", ("taxonomy", "kb"),
                      {SCHEME_STATE: [scheme_commitment(s) for s in schemes], CONCEPT_STATE: concept_state(session, concepts)})  # type: ignore[arg-type]
    return len(schemes) + len(concepts)
