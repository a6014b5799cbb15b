"""Cross-lingual public search (issue 9): MRR and hit@3 on kb's own judged set, per method and language.

    .venv/bin/python bench/crosslingual.py [-v]

Loads the sample content exactly as ``kb demo`` does (every page imported, submitted and approved
through kb.documents) into a temporary SQLite database, builds the indexes with kb's indexer, and
asks each question of bench/data/crosslingual_questions.tsv through kb's own search code:

  (a) keyword   the keyword index read with the analyser of the query's language (detected)
  (b) english   all-MiniLM-L6-v2 over every public passage
  (c) multi     the multilingual index (USE multilingual v3) of public passages
  (d) public    the public hybrid: service.public_search, what /public/v1/search answers
  (e) first     the first design of (d), measured and replaced: (a), (b) and (c) fused by plain z-score
                fusion (a page missing from a ranking counts as ranked last there, even where that
                ranking could not have found it), the English model used for every language
  (f) before    the public hybrid before issue 9 (keyword over all languages' fields + MiniLM)

A hit on the relevant page or on an approved translation of it counts. MRR is over the first 10
documents. ``cross`` is the subset of questions whose language has no version of the relevant page.
Also prints the multilingual encoder's speed, the public search's latency, and the similarity floor
check: the highest cosine of off-topic questions (bench/data/off_topic_queries.txt) against the
public passages, per encoder.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.config import Environment, Settings  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "crosslingual_questions.tsv"
OFF_TOPIC = Path(__file__).resolve().parent / "data" / "off_topic_queries.txt"
# The similarity floor of method (e), the first design, as it was measured (the English model's 0.2 of then).
FIRST_DESIGN_FLOOR = 0.2
METHODS = ("keyword", "english", "multi", "public", "first", "before")


def questions() -> list[tuple[str, str, str, str]]:
    rows = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            qid, language, slug, text = line.split("\t")
            rows.append((qid, language, slug, text))
    return rows


def reciprocal_rank(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    for position, slug in enumerate(ranked[:k], start=1):
        if slug in relevant:
            return 1.0 / position
    return 0.0


def main() -> None:  # noqa: C901, PLR0915
    from kb import documents
    from kb.db import Database
    from kb.fixtures import load_demo, sample_documents
    from kb.migrations import upgrade
    from kb.search import language as languages
    from kb.search import service
    from kb.search.hybrid import group_by, zscore_fusion
    from kb.search.indexer import SearchIndexes
    from kb.search.interfaces import SearchFilters
    from kb.search.schemas import Mode

    verbose = "-v" in sys.argv
    work = Path(tempfile.mkdtemp(prefix="kb-xling-"))
    settings = Settings(data_dir=work, env=Environment.test)
    database = Database(settings)
    upgrade(database)
    load_demo(database)
    samples = sample_documents()
    groups: dict[str, str] = {s.slug: s.translation_of or s.slug for s in samples}
    page_languages: dict[str, set[str]] = defaultdict(set)
    for s in samples:
        if s.audience == "public":
            page_languages[groups[s.slug]].add(s.language)

    indexes = SearchIndexes(settings)
    started = time.perf_counter()
    with database.session() as session:
        indexes.rebuild(session)
    build_s = time.perf_counter() - started
    public_chunks = len(indexes.multilingual.chunk_ids())

    rows = questions()
    texts = [text for _, _, _, text in rows]
    encoder = indexes.multilingual_embedder
    encoder.encode(["warm up"])
    started = time.perf_counter()
    encoder.encode(texts)
    batch_per_s = len(texts) / (time.perf_counter() - started)
    started = time.perf_counter()
    for text in texts:
        encoder.encode([text])
    one_ms = (time.perf_counter() - started) / len(texts) * 1000
    with database.session() as session:
        items = [i for i in documents.published(session) if str(i.version.audience) == "public"]
    passages = [c.text for i in items for c in i.chunks]
    started = time.perf_counter()
    passage_vectors = encoder.encode(passages)
    passages_per_s = len(passages) / (time.perf_counter() - started)
    import numpy as np

    off_topic = [line for line in OFF_TOPIC.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    floors = {}
    for name, model, vectors in (("multilingual", encoder, passage_vectors),
                                 ("english", indexes.embedder, indexes.embedder.encode(passages))):
        cosines = model.encode(off_topic) @ vectors.T
        floors[name] = (float(cosines.max()), float(np.percentile(cosines, 99)))

    filters = SearchFilters()
    scores: dict[str, list[tuple[str, str, float, bool]]] = {m: [] for m in METHODS}
    detected_right = 0
    latencies = []
    with database.session() as session:
        slug_of = {i.document.id: i.document.slug for i in documents.published(session)}

        def doc_ranking(ranked: list[tuple[int, float]]) -> list[str]:
            facts = documents.published_chunk_facts(session, [cid for cid, _ in ranked])
            kept = [(cid, s) for cid, s in ranked if cid in facts and facts[cid].audience == "public"]
            return [slug_of[doc] for doc, _s, _c in group_by(kept, key=lambda cid: facts[cid].document_id)]

        service.public_search(session, indexes, query="warm up")
        for qid, language, slug, text in rows:
            relevant = {s for s, g in groups.items() if g == groups[slug]}
            cross = language not in page_languages[groups[slug]]
            decided = languages.resolve(text)
            detected_right += decided.query == language
            keyword_chunks = indexes.keyword.search(text, filters, 100, language=decided.query)
            english_chunks = [(c, s) for c, s in indexes.vector.search(indexes.embedder.encode([text])[0], filters, 100)
                              if s >= FIRST_DESIGN_FLOOR]
            multi_chunks = [(c, s) for c, s in indexes.multilingual.search(encoder.encode([text])[0], filters, 100)
                            if s >= FIRST_DESIGN_FLOOR]
            ranked = {
                "keyword": [slug_of[f.document_id] for f in service.ranked_documents(
                    session, indexes, text, Mode.keyword, filters, decided.query, 10)],
                "first": doc_ranking(zscore_fusion([keyword_chunks, english_chunks, multi_chunks])),  # type: ignore[arg-type]
                "english": [slug_of[f.document_id] for f in service.ranked_documents(
                    session, indexes, text, Mode.semantic, filters, None, 10)],
                "multi": doc_ranking(indexes.multilingual.search(encoder.encode([text])[0], filters, 100)),
                "before": [slug_of[f.document_id] for f in service.ranked_documents(
                    session, indexes, text, Mode.hybrid, filters, None, 10)],
            }
            started = time.perf_counter()
            results = service.public_search(session, indexes, query=text)
            latencies.append((time.perf_counter() - started) * 1000)
            ranked["public"] = [hit.document for hit in results.data]
            for method in METHODS:
                rr = reciprocal_rank(ranked[method], relevant)
                hit3 = any(s in relevant for s in ranked[method][:3])
                scores[method].append((language, qid, rr, hit3))
            if verbose:
                print(f"{qid} {language} det={decided.query} {'X' if cross else ' '} {slug:<20} "
                      + " ".join(f"{m}={reciprocal_rank(ranked[m], relevant):.2f}" for m in METHODS)
                      + f"  public top3={ranked['public'][:3]}")
    database.dispose()

    cross_ids = {qid for qid, language, slug, _ in rows if language not in page_languages[groups[slug]]}
    subsets = {
        "all": lambda lang, qid: True,
        "en": lambda lang, qid: lang == "en",
        "non-en": lambda lang, qid: lang != "en",
        "cross": lambda lang, qid: qid in cross_ids,
        **{lang: (lambda lang, qid, wanted=lang: lang == wanted) for lang in ("nl", "de", "es", "fr")},
    }
    counts = {name: sum(1 for qid, lang, _, _ in rows if test(lang, qid)) for name, test in subsets.items()}
    print(f"questions={len(rows)} ({', '.join(f'{n} {c}' for n, c in counts.items())}); "
          f"public pages={len(items)}, public chunks={public_chunks}")
    print("| method | " + " | ".join(f"{n} MRR | {n} hit@3" for n in subsets) + " |")
    print("|---|" + "---|---|" * len(subsets))
    for method in METHODS:
        cells = []
        for test in subsets.values():
            picked = [(rr, h) for lang, qid, rr, h in scores[method] if test(lang, qid)]
            cells.append(f"{statistics.mean(rr for rr, _ in picked):.3f} | {statistics.mean(h for _, h in picked):.3f}")
        print(f"| {method} | " + " | ".join(cells) + " |")
    print("public hit@1: " + ", ".join(
        f"{name} {statistics.mean(rr == 1.0 for lang, qid, rr, _ in scores['public'] if test(lang, qid)):.3f}"
        for name, test in subsets.items()))
    ordered = sorted(latencies)
    print(f"query language detected right: {detected_right}/{len(rows)} (unsure counts as wrong)")
    print(f"multilingual encoder: {batch_per_s:.0f} questions/s in one batch, {one_ms:.1f} ms per single question, "
          f"{passages_per_s:.1f} passages/s; kb reindex of the sample {build_s:.1f} s")
    for name, (top, p99) in floors.items():
        print(f"off-topic questions ({len(off_topic)}) x public passages ({len(passages)}), {name} encoder: "
              f"max cosine {top:.3f}, p99 {p99:.3f}")
    print(f"public search latency: p50 {ordered[len(ordered) // 2]:.1f} ms, p95 {ordered[int(0.95 * (len(ordered) - 1))]:.1f} ms")


if __name__ == "__main__":
    main()
