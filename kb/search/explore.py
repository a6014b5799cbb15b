"""What applies to me (issue 20): citizens pick their situation and see the approved public pages that apply.

Owns the reading of the situation schemes (the taxonomy's ``applies_to`` field) as plain questions,
the set of pages that apply to picked situations, grouped by topic, and the anonymous counts of what
citizens pick (``SituationCount``) with the owners' reading of them: which situations are picked and
where no approved page applies, per language (the content gaps).

A page applies when a picked situation is among the concepts its ``applies_to`` carries
(``Vocabulary.carried``: a merged concept reads as its replacement, a page for *student* applies to
whoever picked its broader *in education*). Only approved, public, currently valid pages are read
(``SearchFilters()``, the public-safe defaults, checked against the database), so no label, count
or link ever comes from anything else. A translation group shows once, in the citizen's language
where an approved public translation exists, as public search shows it. A question ranks within
the set through the public hybrid search, restricted to the set's concepts inside the engines.

No permission checks and no transactions (``kb.search.actions`` is the door). Must not import
FastAPI, the web UI or ``kb.experts``; documents and the taxonomy only through what they re-export.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from kb import documents, taxonomy
from kb.db import utcnow
from kb.errors import ErrorCode, KbError
from kb.search import i18n, relevance
from kb.search import language as languages
from kb.search.indexer import SearchIndexes
from kb.search.interfaces import SearchFilters
from kb.search.models import SituationCount
from kb.search.retrieval import Found, admitted, ranked_documents
from kb.search.schemas import (
    ExploreGroup, ExplorePage, ExploreResults, Mode, SituationDemand, SituationOption, SituationQuestion,
)
from kb.search.service import _in_preferred_language, _links, _original, _validate, judge, public_card, receipt_url

MAX_SITUATIONS = 20
"""The most situations one visit may pick (more is refused, 422)."""
MAX_VALUE_CHARS = 200
RANKED = 200
"""How deep the question's ranking reads within the set: pages it does not reach follow, by title."""
EXPLORE_PATH = "/public/explore"


# ----------------------------------------------------------------------------------- questions

def _situation_ids(vocab: taxonomy.Vocabulary) -> list[int]:
    return sorted(cid for cid in vocab.concepts if vocab.in_field(cid) is taxonomy.ConceptField.applies_to)


def value_of(vocab: taxonomy.Vocabulary, concept_id: int) -> str:
    """What stands for a situation in the address: its key (``student``), or ``scheme:key`` where two
    situation schemes share the key."""
    key = vocab.concepts[concept_id].key
    same = [cid for cid in _situation_ids(vocab) if vocab.concepts[cid].key == key]
    return key if len(same) == 1 else vocab.ref(concept_id)


def parse_situations(vocab: taxonomy.Vocabulary, values: list[str]) -> list[int]:
    """The situations ``values`` name (keys or ``scheme:key``), each read as its replacement after a merge.

    Raises:
        KbError VALIDATION_ERROR: too many, too long, not a situation, or a key two schemes share.
    """
    if len(values) > MAX_SITUATIONS:
        raise KbError(ErrorCode.VALIDATION_ERROR, f"Pick at most {MAX_SITUATIONS} situations")
    situations = _situation_ids(vocab)
    picked: set[int] = set()
    problems: list[str] = []
    for value in values:
        value = value.strip()
        if not value:
            continue
        if len(value) > MAX_VALUE_CHARS:
            problems.append("a situation is longer than 200 characters")
            continue
        if ":" in value:
            found = [vocab.by_ref(value)] if vocab.by_ref(value) in situations else []
        else:
            found = [cid for cid in situations if vocab.concepts[cid].key == value]
        if len(found) != 1:
            problems.append(f"{value[:60]!r} is no situation" if not found else f"{value!r} is ambiguous: use scheme:key")
            continue
        picked.add(vocab.effective(found[0]))  # type: ignore[arg-type]
    if problems:
        raise KbError(ErrorCode.VALIDATION_ERROR, "; ".join(problems), {"problems": problems})
    return sorted(picked)


def questions(vocab: taxonomy.Vocabulary, language: str | None, picked: frozenset[int] = frozenset()) -> list[SituationQuestion]:
    """The situation schemes as plain questions in ``language``: one per top concept with narrower ones
    (titled by it: "Your home" → tenant, homeowner), and per scheme one for the top concepts that stand
    alone (titled by the scheme). Only active concepts are offered; options sorted by label."""
    result: list[SituationQuestion] = []
    situations = _situation_ids(vocab)
    active = [cid for cid in situations if vocab.concepts[cid].status == taxonomy.ConceptStatus.active]
    # Read once per request, not once per option (found by review: quadratic in the situations offered).
    shared_keys = {key for key, n in Counter(vocab.concepts[cid].key for cid in situations).items() if n > 1}
    below_top: dict[int, list[int]] = {}
    for cid in active:
        chain = vocab.broader_chain(cid)
        if chain:
            below_top.setdefault(chain[-1], []).append(cid)

    def option(cid: int) -> SituationOption:
        key = vocab.concepts[cid].key
        return SituationOption(value=vocab.ref(cid) if key in shared_keys else key, ref=vocab.ref(cid),
                               label=vocab.label(cid, language), picked=cid in picked)

    def by_label(ids: list[int]) -> list[int]:
        return sorted(ids, key=lambda cid: (vocab.label(cid, language).casefold(), vocab.ref(cid)))

    for scheme in sorted({vocab.scheme_of(cid).key: vocab.scheme_of(cid) for cid in situations}.values(), key=lambda s: s.key):
        tops = [cid for cid in active if vocab.concepts[cid].scheme_id == scheme.id and vocab.concepts[cid].broader_id is None]
        alone = by_label([cid for cid in tops if not below_top.get(cid)])
        for top in sorted(set(tops) - set(alone), key=lambda cid: vocab.concepts[cid].key):
            below = by_label(below_top.get(top, []))
            result.append(SituationQuestion(scheme=scheme.key, title=vocab.label(top, language),
                                            options=[option(cid) for cid in below]))
        if alone:
            result.append(SituationQuestion(scheme=scheme.key, title=vocab.scheme_title(scheme, language),
                                            options=[option(cid) for cid in alone]))
    return result


# ------------------------------------------------------------------------------------- results

@dataclass(frozen=True)
class Applying:
    """Pages that apply, one per translation group: the group's member shown, its own translations, and
    which of the picked situations the group applies to."""

    shown: documents.Published
    translations: dict[str, documents.Published]
    situations: frozenset[int]
    members: tuple[int, ...]


def applying(session: Session, vocab: taxonomy.Vocabulary, picked: list[int], preferred: str | None) -> list[Applying]:
    """The approved, public, currently valid pages that apply to any of ``picked``, each translation group
    once (in ``preferred`` where an approved public translation exists).

    Every current approved version's facts are scanned (plain rows); only the versions that apply are
    loaded, and checked again as loaded.
    """
    if not picked:
        return []
    wanted = frozenset(picked)
    filters = SearchFilters()  # the public-safe defaults
    hits_of: dict[int, frozenset[int]] = {}
    for row in documents.approved_facts(session):
        if row.applies_to and admitted(row.facts, filters):
            hits = vocab.carried(row.applies_to) & wanted
            if hits:
                hits_of[row.document_id] = hits
    matched: dict[int, tuple[documents.Published, set[int]]] = {}
    for item in documents.published(session, sorted(hits_of), with_chunks=False):
        if not admitted(documents.facts_of(item), filters):
            continue  # changed since the scan
        group = item.document.translation_of_id or item.document.id
        _first, situations = matched.setdefault(group, (item, set()))  # type: ignore[arg-type]
        situations.update(hits_of[item.document.id])  # type: ignore[index]
    groups = documents.translation_groups(session, [item.document for item, _ in matched.values()])
    result = []
    for group, (item, situations) in sorted(matched.items()):
        shown, translations, _replaced = _in_preferred_language(groups, item, preferred, filters)
        members = tuple(sorted({m.document.id for m in groups.get(group, [])} | {item.document.id}))  # type: ignore[misc]
        result.append(Applying(shown, translations, frozenset(situations), members))
    return result


def _ranked(session: Session, indexes: SearchIndexes, vocab: taxonomy.Vocabulary, text: str,
            decided: languages.QueryLanguage, picked: list[int], within: list[Applying]) -> tuple[dict[int, int], list[Found]]:
    """Each applying page's place in the public hybrid search's ranking of ``text`` (best 0), and the
    ranking's documents that apply (what the relevance bar judges).

    The search is restricted to the set inside the engines, before top-k (``SearchFilters.concepts``:
    one group, every stored id read as carrying a picked situation), so a page of the set is never
    crowded out by pages outside it; a translation group ranks where its best member does.
    """
    carrying = frozenset().union(*(vocab.covering(cid) for cid in picked))
    filters = SearchFilters(concepts=(carrying,))
    if indexes.multilingual_enabled:
        found = ranked_documents(session, indexes, text, Mode.hybrid, filters, decided.query, RANKED, multilingual=True)
    else:
        found = ranked_documents(session, indexes, text, Mode.hybrid, filters, None, RANKED)
    group_of = {member: n for n, item in enumerate(within) for member in item.members}
    places: dict[int, int] = {}
    kept: list[Found] = []
    for place, hit in enumerate(found):
        n = group_of.get(hit.document_id)
        if n is None:
            continue
        kept.append(hit)
        places.setdefault(n, place)
    return places, judge(session, indexes, text, kept, decided.query, filters)


@dataclass(frozen=True)
class Explored:
    """The citizen's results, what to count, and what the question found (for the query log)."""

    results: ExploreResults
    picked: list[int]
    language: str | None
    ranked: list[Found] | None
    query_language: str | None


def share_path(vocab: taxonomy.Vocabulary, picked: list[int], language: str | None) -> str:
    """The address of the web page for these situations: bookmarkable, shareable; never the question."""
    params = [("s", value_of(vocab, cid)) for cid in sorted(picked, key=lambda cid: value_of(vocab, cid))]
    if language:
        params.append(("lang", language))
    return EXPLORE_PATH + ("?" + urlencode(params) if params else "")


def explore(session: Session, indexes: SearchIndexes | None, *, situations: list[str], query: str | None = None,
            language: str | None = None, accept_language: str | None = None, base_url: str = "") -> Explored:
    """What applies to a citizen in ``situations``: approved public pages grouped by topic, optionally
    ranked by a question in their own words.

    Args:
        situations: keys or ``scheme:key`` of situation concepts (``s=`` in the address).
        indexes: the search indexes; needed only to rank by a question (``None`` without one).
        query: the citizen's question; ranks the pages that apply (it adds none and removes none).
        language: the citizen's explicit ``lang=``; else ``accept_language``'s first language; pages
            are preferred and labels given in it.
        base_url: the site's address, for the share link (empty: a path).

    Raises:
        KbError VALIDATION_ERROR: a situation that is none (``parse_situations``), a query too long.
    """
    vocab = taxonomy.vocabulary(session)
    picked = parse_situations(vocab, situations)
    text = _validate(query) if query and query.strip() else None
    if text is not None:
        decided = languages.resolve(text, explicit=language, preferred=accept_language)
        preferred = decided.answer
    else:
        decided = None
        preferred = languages.base_language(language or accept_language)
    labels_in = i18n.labels_language(preferred)
    words = i18n.labels(labels_in)
    pages = applying(session, vocab, picked, preferred)
    places: dict[int, int] = {}
    ranked = None
    if text is not None and pages:
        if indexes is None:
            raise RuntimeError("Bug: a question to rank by, and no search indexes")
        places, ranked = _ranked(session, indexes, vocab, text, decided, picked, pages)  # type: ignore[arg-type]
    elif text is not None:
        ranked = []
    by_topic: dict[int | None, list[tuple[tuple, ExplorePage]]] = {}
    for n, item in enumerate(pages):
        shown = item.shown
        page = ExplorePage(
            document=shown.document.slug, title=shown.version.title, language=shown.version.language,
            language_label=i18n.language_name(shown.version.language, labels_in),
            in_preferred_language=None if preferred is None else languages.base_language(shown.version.language) == preferred,
            applies_to=[vocab.label(cid, labels_in) for cid in sorted(item.situations, key=lambda c: vocab.label(c, labels_in).casefold())],
            provenance=public_card(shown), translation_links=_links(item.translations, labels_in),
            original=_original(shown, item.translations, labels_in), receipt_url=receipt_url(shown.document.slug),
            href=f"/public/v1/documents/{shown.document.slug}",
        )
        order = (places.get(n, RANKED + 1), shown.version.title.casefold(), shown.document.slug)
        topics = sorted({vocab.effective(t) for t in taxonomy.stored_ids(shown.version.topic) if t in vocab.concepts})
        for topic in topics or [None]:
            by_topic.setdefault(topic, []).append((order, page))
    groups = []
    for topic, items in by_topic.items():
        items.sort(key=lambda pair: pair[0])
        label = words["explore.other"] if topic is None else vocab.label(topic, labels_in)
        groups.append((items[0][0][0] if text else 0, topic is None, label.casefold(), ExploreGroup(
            topic=None if topic is None else vocab.ref(topic), label=label, pages=[page for _, page in items])))
    groups.sort(key=lambda g: g[:3])
    # The shared address shows what the sharer sees: in the language chosen, else the one answered in (when the
    # pages speak it); the recipient can switch it, the situations stay.
    shown_in = languages.base_language(language) or (preferred if preferred in i18n.catalogues() else None)
    results = ExploreResults(
        situations=[vocab.ref(cid) for cid in picked], query=text, questions=questions(vocab, labels_in, frozenset(picked)),
        total=len(pages), groups=[g[3] for g in groups],
        share_url=base_url.rstrip("/") + share_path(vocab, picked, shown_in), preferred_language=preferred,
        labels_language=labels_in, labels=words,
    )
    return Explored(results=results, picked=picked, language=preferred, ranked=ranked,
                    query_language=decided.query if decided else None)


def answer_quality(explored: Explored):  # noqa: ANN201
    """Whether the question found a good answer within the set (for the query log)."""
    return relevance.answer_quality(explored.ranked or [], explored.query_language)


# ------------------------------------------------------------------------------ anonymous counts

def count_pick(session: Session, *, situations: list[int], language: str | None, results: int,
               day: dt.date | None = None) -> None:
    """Count one visit that picked ``situations`` (analytics, not an audited state change; issue 20).

    Nothing else is kept: no time of day, no address, no question. Adds one to the day's row for these
    situations, language and number of results, or starts it; a concurrent first visit that started it
    first makes this one add to it instead.
    """
    if not situations:
        return
    # Only a language kb speaks to citizens is kept: any other (an invented Accept-Language: "zz") would
    # make a false content gap in the owners' queue (found by review).
    base = languages.base_language(language)
    key = {"day": day or utcnow().date(), "situations": json.dumps(sorted(situations)),
           "language": base if base in i18n.catalogues() else "", "results": results}
    where = [getattr(SituationCount, name) == value for name, value in key.items()]
    if session.execute(update(SituationCount).where(*where).values(picks=SituationCount.picks + 1)).rowcount:
        return
    try:
        with session.begin_nested():
            session.add(SituationCount(**key, picks=1))
    except IntegrityError:
        session.execute(update(SituationCount).where(*where).values(picks=SituationCount.picks + 1))


def situation_demand(session: Session, *, days: int = 30, on: dt.date | None = None) -> list[SituationDemand]:
    """Per situation and language, over the last ``days`` days: how often citizens picked it, how often
    nothing applied, and how many approved public pages apply now (in any language, and in that one);
    most picked first. A merged situation is counted as its replacement; a deleted one is left out."""
    end = on or utcnow().date()
    rows = session.execute(select(SituationCount.situations, SituationCount.language, SituationCount.results,
                                  SituationCount.picks)
                           .where(SituationCount.day > end - dt.timedelta(days=days), SituationCount.day <= end)).all()
    vocab = taxonomy.vocabulary(session)
    picks: Counter[tuple[int, str]] = Counter()
    empty: Counter[tuple[int, str]] = Counter()
    for stored, language, results, count in rows:
        for cid in {vocab.effective(c) for c in json.loads(stored) if c in vocab.concepts}:
            picks[(cid, language)] += count
            if results == 0:
                empty[(cid, language)] += count
    situations = sorted({cid for cid, _ in picks})
    pages_any: Counter[int] = Counter()
    pages_in: Counter[tuple[int, str]] = Counter()
    if situations:
        filters = SearchFilters()
        groups: dict[int, tuple[set[int], set[str]]] = {}
        for row in documents.approved_facts(session):
            if not admitted(row.facts, filters):
                continue
            group = groups.setdefault(row.group_id, (set(), set()))
            group[0].update(vocab.carried(row.applies_to) & set(situations))
            group[1].add(languages.base_language(row.facts.language) or "")
        for carried, langs in groups.values():
            for cid in carried:
                pages_any[cid] += 1
                for language in langs:
                    pages_in[(cid, language)] += 1
    result = []
    for (cid, language), count in picks.items():
        within = pages_in[(cid, language)] if language else pages_any[cid]
        result.append(SituationDemand(situation=vocab.ref(cid), label=vocab.label(cid, "en"), language=language,
                                      picks=count, picks_without_result=empty[(cid, language)], pages=pages_any[cid],
                                      pages_in_language=within, gap=within == 0))
    return sorted(result, key=lambda d: (-d.picks, d.situation, d.language))
