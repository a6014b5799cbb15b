"""The relevance bar of search ("no good answer", issue 17): its false "no answer" and false "answer" rates.

    .venv/bin/python bench/answer_bar.py [--work DIR] [--queries N] [--calibrate] [COLLECTION ...]

COLLECTION is ``cranfield``, ``scifact`` (BEIR layout in ../shared/data) or ``sample`` (kb's own
sample content, loaded as ``kb demo`` loads it, with the judged questions of
bench/data/crosslingual_questions.tsv in five languages). Default: all three.

Each collection is ingested through kb.documents (created, submitted, approved) and indexed by kb's
indexer into ``DIR/COLLECTION`` once; later runs reuse it. Then every judged query (the first N with
``--queries``) and every off-topic question (bench/data/off_topic_queries.txt and
bench/data/off_topic_workplace.txt) is asked through kb's own search code, and the bar of
``kb.search.relevance`` judges the answer:

- false "no answer": a judged query, which has a relevant document in the collection, answered "none";
  also given among the queries whose relevant document search ranks in the top 10 (where "none"
  hides a real answer);
- false "answer": an off-topic question answered "good".

Employees' search (hybrid, English model) is measured on every collection; on ``sample`` the
citizens' search too (the cross-lingual path, which judges non-English questions by the multilingual
encoder). ``--calibrate`` prints, per collection, the signals' distributions and the error rates on a
grid of bars, pooled over the collections (what kb's bar was chosen from: docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from kb.config import Environment, Settings  # noqa: E402

DATA = Path("/work/shared/data") if Path("/work/shared/data").exists() else ROOT.parent / "shared" / "data"
HERE = Path(__file__).resolve().parent / "data"
OFF_TOPIC_FILES = (HERE / "off_topic_queries.txt", HERE / "off_topic_workplace.txt")
COLLECTIONS = ("cranfield", "scifact", "sample")


def off_topic() -> list[str]:
    lines = [line.strip() for path in OFF_TOPIC_FILES for line in path.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def build(name: str, work: Path):  # noqa: ANN201
    """The collection's database and indexes under ``work/name``, built once: (database, indexes, judged, qrels, ids)."""
    from kb.db import Database
    from kb.migrations import upgrade
    from kb.search.indexer import SearchIndexes

    directory = work / name
    ready = directory / "built.json"
    settings = Settings(data_dir=directory, env=Environment.test)
    fresh = not ready.exists()
    if fresh:
        directory.mkdir(parents=True, exist_ok=True)
        for leftover in directory.glob("kb.sqlite3*"):
            leftover.unlink()
    database = Database(settings)
    if name == "sample":
        from crosslingual import questions

        if fresh:
            from kb.fixtures import load_demo

            upgrade(database)
            load_demo(database)
        judged = {qid: text for qid, _lang, _slug, text in questions()}
        qrels = {qid: {slug: 1} for qid, _lang, slug, _text in questions()}
        ids = None
    else:
        from search_quality import ingest, load_collection

        corpus, judged, qrels = load_collection(DATA / name, None)
        if fresh:
            upgrade(database)
            started = time.perf_counter()
            ids = ingest(database, corpus)
            print(f"{name}: ingested {len(corpus)} documents in {time.perf_counter() - started:.0f} s", flush=True)
            (directory / "ids.json").write_text(json.dumps(ids), encoding="utf-8")
        ids = {int(k): v for k, v in json.loads((directory / "ids.json").read_text(encoding="utf-8")).items()}
    indexes = SearchIndexes(settings)
    if fresh:
        started = time.perf_counter()
        with database.session() as session:
            chunks = indexes.rebuild(session)
        print(f"{name}: indexed {chunks} passages in {time.perf_counter() - started:.0f} s", flush=True)
        ready.write_text(json.dumps({"built": True}), encoding="utf-8")
    else:
        with database.session() as session:
            indexes.catch_up(session)
    return database, indexes, judged, qrels, ids


def ask(session, indexes, text: str, public: bool):  # noqa: ANN001, ANN201
    """The documents search ranks for ``text``, as kb's own search asks: employees' hybrid, or the citizens' path."""
    from kb.search import language as languages
    from kb.search import service
    from kb.search.interfaces import SearchFilters
    from kb.search.schemas import Mode

    language = languages.resolve(text).query
    filters = SearchFilters() if public else SearchFilters(include_internal=True)
    if public:
        found = service.ranked_documents(session, indexes, text, Mode.hybrid, filters, language, 10,
                                         multilingual=indexes.multilingual_enabled)
    else:
        found = service.ranked_documents(session, indexes, text, Mode.hybrid, filters, None, 10)
    return service.judge(session, indexes, text, found, language, filters), language


def signals(name: str, work: Path, max_queries: int, public: bool) -> dict:
    """Per question: the best similarity under each encoder among the first 10 documents, and whether a relevant one is there."""
    from kb.search.relevance import JUDGED

    database, indexes, judged, qrels, ids = build(name, work)
    if max_queries:
        judged = dict(list(judged.items())[:max_queries])
    names_of: dict[int, str] = {}
    with database.session() as session:
        if ids is None:  # the sample: a hit on the relevant page or on a translation of it counts
            from kb import documents

            published = documents.published(session)
            slugs = {item.document.id: item.document.slug for item in published}
            names_of = {item.document.id: slugs.get(item.document.translation_of_id or item.document.id, item.document.slug)
                        for item in published}
            root = {slugs[doc]: name for doc, name in names_of.items()}
            qrels = {qid: {root.get(slug, slug): 1 for slug in wanted} for qid, wanted in qrels.items()}
        else:
            names_of = ids
        rows: dict[str, list[dict]] = {"judged": [], "off_topic": []}
        for kind, questions in (("judged", judged), ("off_topic", dict(enumerate(off_topic())))):
            for qid, text in questions.items():
                found, language = ask(session, indexes, text, public)
                found = found[:JUDGED]
                names = {names_of.get(f.document_id) for f in found}
                relevant = set(qrels.get(qid, {}))
                rows[kind].append({
                    "q": text, "lang": language, "sim": max((f.similarity for f in found if f.similarity is not None), default=None),
                    "multi": max((f.multilingual for f in found if f.multilingual is not None), default=None),
                    "hits": [[f.similarity, f.multilingual] for f in found],
                    "found_relevant": bool(relevant & set(names)),
                })
    indexes.close()
    database.dispose()
    return rows


def judge(row: dict, bar) -> str:  # noqa: ANN001
    from kb.search.relevance import answer_quality
    from kb.search.retrieval import Found

    hits = [Found(0, 0, 0.0, similarity, multilingual) for similarity, multilingual in row["hits"]]
    return answer_quality(hits, row["lang"], bar).value


def rates(rows: dict, bar) -> dict:  # noqa: ANN001
    judged, off = rows["judged"], rows["off_topic"]
    findable = [r for r in judged if r["found_relevant"]]
    false_none = sum(judge(r, bar) == "none" for r in judged)
    false_none_findable = sum(judge(r, bar) == "none" for r in findable)
    false_answer = sum(judge(r, bar) == "good" for r in off)
    return {"judged": len(judged), "false_none": false_none / len(judged), "findable": len(findable),
            "false_none_findable": false_none_findable / max(1, len(findable)), "off_topic": len(off),
            "false_answer": false_answer / len(off)}


def quantiles(values: list[float]) -> str:
    values = sorted(v for v in values if v is not None)
    if not values:
        return "-"
    pick = lambda p: values[min(len(values) - 1, int(p * (len(values) - 1)))]  # noqa: E731
    return " ".join(f"{p:.0%}={pick(p):.2f}" for p in (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99))


def calibrate(results: dict[str, dict]) -> None:
    """Error rates on a grid of bars, each collection weighing the same; the best first."""
    from kb.search.relevance import Bar

    for name, rows in results.items():
        for kind in ("judged", "off_topic"):
            for signal in ("sim", "multi"):
                print(f"{name:>18} {kind:>9} {signal:>5}: {quantiles([r[signal] for r in rows[kind]])}")
    grid = []
    for s in range(20, 71, 2):
        for m in range(10, 61, 2):
            bar = Bar(similarity=s / 100, multilingual=m / 100)
            per = {name: rates(rows, bar) for name, rows in results.items()}
            cost = sum(r["false_none"] + r["false_answer"] for r in per.values()) / len(per)
            worst = max(max(r["false_none"], r["false_answer"]) for r in per.values())
            grid.append((cost, worst, bar))
    grid.sort(key=lambda item: (item[0], item[1]))
    for cost, worst, bar in grid[:10]:
        print(f"bar similarity={bar.similarity:.2f} multilingual={bar.multilingual:.2f}: "
              f"mean(false none + false answer)={cost:.3f} worst single rate={worst:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("collections", nargs="*", default=list(COLLECTIONS), choices=COLLECTIONS)
    parser.add_argument("--work", type=Path, default=Path("/tmp/kb-answer-bar"))
    parser.add_argument("--queries", type=int, default=0, help="only the first N judged queries of each collection")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--calibrate", action="store_true")
    args = parser.parse_args()
    if args.build_only:
        for name in args.collections:
            build(name, args.work)
        return
    from kb.search.relevance import BAR

    results: dict[str, dict] = {}
    started = time.perf_counter()
    for name in args.collections:
        results[f"{name} (employees)"] = signals(name, args.work, args.queries, public=False)
        if name == "sample":
            results[f"{name} (citizens)"] = signals(name, args.work, args.queries, public=True)
    print(f"bar: similarity >= {BAR.similarity:.2f} (English model) or multilingual >= {BAR.multilingual:.2f}, "
          f"among the first 10 documents")
    print("| collection, search | judged queries | false \"no answer\" | of them with a relevant hit in the top 10 | "
          "off-topic questions | false \"answer\" |")
    print("|---|---|---|---|---|---|")
    for name, rows in results.items():
        r = rates(rows, BAR)
        print(f"| {name} | {r['judged']} | {r['false_none']:.1%} | {r['false_none_findable']:.1%} of {r['findable']} | "
              f"{r['off_topic']} | {r['false_answer']:.1%} |")
    print(f"({time.perf_counter() - started:.0f} s)")
    if args.calibrate:
        calibrate(results)
        (args.work / "signals.json").write_text(json.dumps(results), encoding="utf-8")


if __name__ == "__main__":
    main()
