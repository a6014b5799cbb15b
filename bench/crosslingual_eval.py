"""Cross-lingual public search on a parallel question set kb was not written for (issue 18).

    .venv/bin/python bench/crosslingual_eval.py DIR [--work CACHE] [--per-language N] [--explicit] [-v]

DIR holds a SQuAD-layout collection per language, ``en.json`` plus one file per question language
(``ar.json``, ``hi.json``, …), whose question ids are shared across languages: MLQA-R (the MLQA
development set with sentence breaks, from the LAReQA repository) has this layout; XQuAD-R too.
The data is not in kb's repository (MLQA-R is CC BY-NC 4.0): docs/benchmarks.md says where it
came from.

Every English paragraph becomes one public page (the article's title, the paragraph as body),
created, submitted and approved through kb.documents and indexed by kb's indexer into CACHE (built
once, reused by later runs). Each question is then asked as ``/public/v1/search`` asks it:
``service.public_search`` with the language detected (``--explicit``: also with ``lang=`` set to the
question's language, what a citizen choosing a language sends). The relevant page is the English
paragraph that holds the answer. Per language it prints hit@1, hit@3 and MRR@10 of

  public   the public search (what citizens get)
  multi    the multilingual index alone (USE multilingual v3, no floor), pages grouped from passages
  bm25_en  kb's keyword index read over the English fields only (English analyser), the same questions

and how often the public search returned nothing or said "no good answer". Then the off-topic check:
the off-topic questions of bench/data/off_topic_*.txt asked of the same pages, and how many the
public search calls answered (``answer_quality`` good): each one would be a false answer.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.config import Environment, Settings  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_quality import author_and_approver  # noqa: E402

HERE = Path(__file__).resolve().parent / "data"
OFF_TOPIC_FILES = (HERE / "off_topic_queries.txt", HERE / "off_topic_workplace.txt")
METHODS = ("public", "multi", "bm25_en")


def paragraphs(directory: Path) -> tuple[list[dict], dict[str, str]]:
    """The English pages (slug, title, body) and, for each question id, the slug of the page that answers it."""
    data = json.loads((directory / "en.json").read_text(encoding="utf-8"))
    pages, answered_by = [], {}
    for a, article in enumerate(data["data"]):
        for p, paragraph in enumerate(article["paragraphs"]):
            slug = f"p-{a}-{p}"
            pages.append({"slug": slug, "title": article.get("title") or f"Article {a}", "body": paragraph["context"]})
            for qa in paragraph["qas"]:
                answered_by[qa["id"]] = slug
    return pages, answered_by


def questions(directory: Path, language: str, answered_by: dict[str, str], per_language: int) -> list[tuple[str, str, str]]:
    """(id, question, relevant slug) of ``language``, ordered by id (ids are hashes: a fair sample), the first N."""
    data = json.loads((directory / f"{language}.json").read_text(encoding="utf-8"))
    rows = sorted((qa["id"], qa["question"].strip(), answered_by[qa["id"]])
                  for article in data["data"] for paragraph in article["paragraphs"] for qa in paragraph["qas"]
                  if qa["id"] in answered_by and qa["question"].strip())
    return rows[:per_language] if per_language else rows


def ingest(database, pages: list[dict]) -> None:  # noqa: ANN001
    """Create, submit and approve every page as a public English document through the documents service."""
    from kb.db import transaction
    from kb.documents import service as documents
    from kb.documents.schemas import DocumentCreate

    with database.session() as session:
        author, approver = author_and_approver(session, "pages")
        for page in pages:
            with transaction(session):
                documents.create_document(session, actor=author, space_slug="pages", data=DocumentCreate(
                    slug=page["slug"], title=page["title"][:300], body_md=page["body"], audience="public", language="en",
                    intended_use="Evaluation"))
                documents.submit(session, actor=author, slug=page["slug"], number=1)
                documents.approve(session, actor=approver, slug=page["slug"], number=1)


def build(pages: list[dict], work: Path):  # noqa: ANN201
    """The pages' database and indexes under ``work``, built once and reused: (database, indexes)."""
    from kb.db import Database
    from kb.migrations import upgrade
    from kb.search.indexer import SearchIndexes

    ready = work / "built.json"
    settings = Settings(data_dir=work, env=Environment.test)
    fresh = not ready.exists() or json.loads(ready.read_text(encoding="utf-8")).get("pages") != len(pages)
    if fresh:
        work.mkdir(parents=True, exist_ok=True)
        for leftover in work.glob("kb.sqlite3*"):
            leftover.unlink()
    database = Database(settings)
    indexes = SearchIndexes(settings)
    if fresh:
        upgrade(database)
        started = time.perf_counter()
        ingest(database, pages)
        with database.session() as session:
            chunks = indexes.rebuild(session)
        print(f"ingested and indexed {len(pages)} pages ({chunks} passages) in {time.perf_counter() - started:.0f} s", flush=True)
        ready.write_text(json.dumps({"pages": len(pages)}), encoding="utf-8")
    else:
        with database.session() as session:
            indexes.catch_up(session)
    return database, indexes


def reciprocal_rank(ranked: list[str], relevant: str, k: int = 10) -> float:
    for position, slug in enumerate(ranked[:k], start=1):
        if slug == relevant:
            return 1.0 / position
    return 0.0


def main() -> None:  # noqa: C901, PLR0915
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help="en.json and one SQuAD-layout file per question language")
    parser.add_argument("--work", type=Path, default=None, help="where the pages' database and indexes are built "
                        "(reused when already built; default: a new temporary directory)")
    parser.add_argument("--languages", default="", help="comma-separated question languages (default: every file but en.json)")
    parser.add_argument("--per-language", type=int, default=0, help="ask only the first N questions of each language (by id)")
    parser.add_argument("--explicit", action="store_true", help="also ask with lang= set to the question's language")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per question")
    args = parser.parse_args()

    from kb import documents
    from kb.search import language as languages
    from kb.search import service
    from kb.search.hybrid import group_by
    from kb.search.interfaces import SearchFilters
    from kb.search.schemas import AnswerQuality

    pages, answered_by = paragraphs(args.directory)
    wanted = [code for code in args.languages.split(",") if code] or sorted(
        ["en"] + [path.stem for path in args.directory.glob("*.json") if path.stem != "en"])
    database, indexes = build(pages, args.work or Path(tempfile.mkdtemp(prefix="kb-xling-eval-")))
    methods = METHODS + (("explicit",) if args.explicit else ())
    filters = SearchFilters()
    scores: dict[str, dict[str, list[tuple[float, bool, bool]]]] = defaultdict(lambda: defaultdict(list))
    empty: Counter = Counter()
    unanswered: Counter = Counter()
    detected: dict[str, Counter] = defaultdict(Counter)
    latencies: list[float] = []
    with database.session() as session:
        slug_of = {item.document.id: item.document.slug for item in documents.published(session)}

        def pages_of(ranked: list[tuple[int, float]]) -> list[str]:
            facts = documents.published_chunk_facts(session, [cid for cid, _ in ranked])
            kept = [(cid, s) for cid, s in ranked if cid in facts]
            return [slug_of[doc] for doc, _s, _c in group_by(kept, key=lambda cid: facts[cid].document_id)][:10]

        service.public_search(session, indexes, query="warm up")
        for language in wanted:
            for qid, text, relevant in questions(args.directory, language, answered_by, args.per_language):
                text = service.clean_query(text)[:service.MAX_QUERY_CHARS]
                detected[language][languages.resolve(text).query or "unsure"] += 1
                started = time.perf_counter()
                results = service.public_search(session, indexes, query=text)
                latencies.append((time.perf_counter() - started) * 1000)
                ranked = {"public": [hit.document for hit in results.data]}
                empty[language] += not results.data
                unanswered[language] += results.answer_quality is AnswerQuality.none
                ranked["multi"] = pages_of(indexes.multilingual.search(
                    indexes.multilingual_embedder.encode([text])[0], filters, 100))
                ranked["bm25_en"] = pages_of(indexes.keyword.search(text, filters, 100, language="en"))
                if args.explicit:
                    ranked["explicit"] = [hit.document for hit in
                                          service.public_search(session, indexes, query=text, language=language).data]
                for method in methods:
                    rr = reciprocal_rank(ranked[method], relevant)
                    scores[method][language].append((rr, rr == 1.0, rr >= 1 / 3))
                if args.verbose:
                    print(f"{language} {qid[:8]} {relevant:<9} " + " ".join(
                        f"{m}={reciprocal_rank(ranked[m], relevant):.2f}" for m in methods) + f"  {text[:70]}")
        off_topic = [line.strip() for path in OFF_TOPIC_FILES for line in path.read_text(encoding="utf-8").splitlines()
                     if line.strip() and not line.startswith("#")]
        false_answers = [text for text in off_topic
                         if service.public_search(session, indexes, query=text).answer_quality is AnswerQuality.good]
    database.dispose()

    supported = {code for code in wanted if code in languages.DETECTABLE}
    groups = {code: [code] for code in wanted}
    groups["supported non-en"] = sorted(supported - {"en"})
    groups["unsupported"] = sorted(set(wanted) - supported)
    print(f"pages={len(pages)} questions per language: " + ", ".join(
        f"{code} {len(scores['public'][code])}" for code in wanted))
    print("| questions | n | " + " | ".join(f"{m} hit@1 | {m} hit@3 | {m} MRR@10" for m in methods)
          + " | public empty | public 'no answer' |")
    print("|---|---|" + "---|---|---|" * len(methods) + "---|---|")
    for name, codes in groups.items():
        if not codes:
            continue
        cells = []
        for method in methods:
            picked = [row for code in codes for row in scores[method][code]]
            cells.append(" | ".join(f"{statistics.mean(row[i] for row in picked):.3f}" for i in (1, 2, 0)))
        n = sum(len(scores["public"][code]) for code in codes)
        print(f"| {name} | {n} | " + " | ".join(cells) + f" | {sum(empty[c] for c in codes)} | {sum(unanswered[c] for c in codes)} |")
    print("detected as: " + "; ".join(f"{code}: " + ", ".join(f"{k} {v}" for k, v in detected[code].most_common(4))
                                       for code in wanted))
    ordered = sorted(latencies)
    print(f"public search latency: p50 {ordered[len(ordered) // 2]:.1f} ms, p95 {ordered[int(0.95 * (len(ordered) - 1))]:.1f} ms")
    print(f"off-topic questions answered (false answers): {len(false_answers)} of {len(off_topic)}"
          + (f": {false_answers}" if false_answers else ""))


if __name__ == "__main__":
    main()
