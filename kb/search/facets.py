"""Facets (issue 20): narrowing a search by concepts, counting the concepts the results carry, and the
concepts a query names by one of their labels.

Selected concepts become ``SearchFilters.concepts``: one group per scheme (concepts of the same scheme
widen, of different schemes narrow), each group the stored concept ids read as carrying a selected
concept (``Vocabulary.covering``: the concept, those below it, those merged into them), applied
inside both engines before top-k and re-checked against the database. Counts are taken over the
documents found (``total``: every page), after every permission and validity filter and the
database re-check, so a count never reveals a document the reader may not see. Pure functions over
the vocabulary and what retrieval found; no database, no permission checks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from kb import taxonomy
from kb.errors import ErrorCode, KbError
from kb.search.retrieval import Found
from kb.search.schemas import MAX_FACETS_SELECTED, Facet, FacetValue


def selection(vocabulary: taxonomy.Vocabulary, refs: Sequence[str], *,
              strict: bool = True) -> tuple[tuple[frozenset[int], ...] | None, frozenset[int]]:
    """The filter groups of the selected concepts (None: none selected) and their ids.

    Not ``strict`` (citizens, who may not read the taxonomy): a reference that names no concept is an
    empty group, which nothing passes, so an unknown concept answers as a known one that no public
    page carries and the answer is no oracle of which concepts exist (found by review).

    Raises:
        KbError VALIDATION_ERROR: too many, or (``strict``) a reference that names no concept.
    """
    wanted = sorted(set(refs))
    if not wanted:
        return None, frozenset()
    if len(wanted) > MAX_FACETS_SELECTED:
        raise KbError(ErrorCode.VALIDATION_ERROR, f"Select at most {MAX_FACETS_SELECTED} concepts")
    unknown = [ref for ref in wanted if vocabulary.by_ref(ref) is None]
    if unknown and strict:
        raise KbError(ErrorCode.VALIDATION_ERROR, f"No such concept: {', '.join(unknown)}", {"concept": unknown})
    if unknown:
        return (frozenset(),), frozenset()
    by_scheme: dict[int, set[int]] = {}
    selected = set()
    for ref in wanted:
        concept = vocabulary.effective(vocabulary.by_ref(ref))  # type: ignore[arg-type]
        selected.add(concept)
        by_scheme.setdefault(vocabulary.concepts[concept].scheme_id, set()).update(vocabulary.covering(concept))
    return tuple(frozenset(group) for _, group in sorted(by_scheme.items())), frozenset(selected)


def named(vocabulary: taxonomy.Vocabulary, text: str) -> frozenset[int]:
    """Stored concept ids a chunk may carry to be about a concept whose label ``text`` says ("renter")."""
    found: set[int] = set()
    for concept in vocabulary.mentioned(text):
        found |= vocabulary.covering(concept)
    return frozenset(found)


def count(vocabulary: taxonomy.Vocabulary, found: Sequence[Found], selected: frozenset[int],
          language: str | None, *, selected_at_zero: bool = True) -> list[Facet]:
    """Per scheme, each concept the documents in ``found`` carry (read through merges, with its broader
    ones) and how many carry it, most frequent first; a selected concept is listed even at 0 when
    ``selected_at_zero`` (not for citizens: its label would name a concept no public page carries)."""
    counts: Counter[int] = Counter()
    for item in found:
        counts.update(vocabulary.carried(item.concepts))
    facets = []
    for scheme in sorted(vocabulary.schemes.values(), key=lambda s: (list(taxonomy.ConceptField).index(taxonomy.ConceptField(s.field)), s.key)):
        ids = [cid for cid, c in vocabulary.concepts.items()
               if c.scheme_id == scheme.id and (counts[cid] or (selected_at_zero and cid in selected))]
        if not ids:
            continue
        values = [FacetValue(concept=vocabulary.ref(cid), label=vocabulary.label(cid, language), count=counts[cid],
                             selected=cid in selected) for cid in ids]
        values.sort(key=lambda v: (-v.count, v.label.casefold()))
        facets.append(Facet(scheme=scheme.key, field=str(scheme.field), title=vocabulary.scheme_title(scheme, language), values=values))
    return facets
