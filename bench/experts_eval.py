"""Expert finding on a BEIR-layout collection whose corpus names its authors (``metadata.authors``).

    .venv/bin/python bench/experts_eval.py DIR [--queries N]

Every document is imported through kb.documents as an approved version authored by its first author
(co-authors credited as contributors; one person per author name). For each judged query, people
are ranked by (a) a most-prolific-author baseline, (b) Model 2 over keyword-only evidence, (c) Model
2 over hybrid evidence. A query's relevant experts are the authors of the documents judged 3 or 4.
Prints one line per method: ``METHOD mrr=… p@5=…``. The import and approval accounts opt out of
suggestions (a product feature), so they are never candidates.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from search_quality import load_collection  # noqa: E402


def person_names(raw: str) -> list[str]:
    names = [n.strip(" .,") for n in re.split(r"\band\b|;", raw or "") if n.strip(" .,")]
    usernames = []
    for name in names:
        username = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60]
        if len(username) >= 2 and username not in usernames:
            usernames.append(username)
    return usernames


def ingest(database, corpus: list[dict]) -> dict[str, list[str]]:  # noqa: ANN001
    from kb.accounts import service as accounts
    from kb.actors import Channel
    from kb.accounts.schemas import SpaceCreate, UserCreate
    from kb.actors import SYSTEM, SpaceRole
    from kb.db import transaction
    from kb.documents import service as documents
    from kb.documents.schemas import DocumentCreate
    from kb.experts import service as experts

    authors_of: dict[str, list[str]] = {}
    with database.session() as session:
        with transaction(session):
            accounts.create_space(session, actor=SYSTEM, data=SpaceCreate(slug="collection", name="Collection"), four_eyes_default=True)
            for username in ("importer", "approver"):
                accounts.create_user(session, actor=SYSTEM, data=UserCreate(username=username, display_name=username))
            accounts.set_membership(session, actor=SYSTEM, slug="collection", username="approver", role=SpaceRole.owner)
            accounts.set_membership(session, actor=SYSTEM, slug="collection", username="importer", role=SpaceRole.contributor)
            known = set()
            for doc in corpus:
                names = person_names((doc.get("metadata") or {}).get("authors", ""))
                authors_of[str(doc["_id"])] = names
                for username in names:
                    if username not in known:
                        accounts.create_user(session, actor=SYSTEM, data=UserCreate(username=username, display_name=username))
                        accounts.set_membership(session, actor=SYSTEM, slug="collection", username=username,
                                                role=SpaceRole.contributor)  # documents are written by a named person
                        known.add(username)
        approver = accounts.actor_for(session, accounts.get_user(session, "approver"), Channel.system)
        for username in ("importer", "approver"):
            with transaction(session):
                experts.update_profile(session, actor=accounts.actor_for(session, accounts.get_user(session, username), Channel.system),
                                       declared_skills=None, opted_out=True)
        for doc in corpus:
            names = authors_of[str(doc["_id"])] or ["importer"]
            slug = "d-" + re.sub(r"[^a-z0-9]+", "-", str(doc["_id"]).lower())[:100]
            title = (doc.get("title") or "").strip() or slug
            author = accounts.actor_for(session, accounts.get_user(session, names[0]), Channel.system)
            with transaction(session):
                documents.create_document(session, actor=author, space_slug="collection", contributors=names[1:],
                                          data=DocumentCreate(slug=slug, title=title[:300], body_md=(doc.get("text") or title).strip(),
                                                              audience="internal", intended_use="Evaluation"))
                documents.submit(session, actor=author, slug=slug, number=1)
                documents.approve(session, actor=approver, slug=slug, number=1)
    return authors_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--queries", type=int, default=0)
    args = parser.parse_args()

    from kb.actors import SYSTEM
    from kb.config import Settings
    from kb.db import Database
    from kb.experts import service as experts
    from kb.migrations import upgrade
    from kb.search.indexer import SearchIndexes
    from kb.search.schemas import Mode

    corpus, queries, qrels = load_collection(args.directory, args.queries or None)
    work = Path(tempfile.mkdtemp(prefix="kb-experts-"))
    settings = Settings(data_dir=work)
    database = Database(settings)
    upgrade(database)
    start = time.perf_counter()
    authors_of = ingest(database, corpus)
    indexes = SearchIndexes(settings)
    with database.session() as session:
        indexes.rebuild(session)
        relevant = {qid: {a for doc, gain in qrels[qid].items() if gain >= 3 for a in authors_of.get(doc, [])}
                    for qid in queries}
        judged = [qid for qid in queries if relevant[qid]]
        print(f"collection docs={len(corpus)} people={len({a for v in authors_of.values() for a in v})} "
              f"queries_with_experts={len(judged)} setup_s={time.perf_counter() - start:.0f}")
        baseline = experts.most_prolific(session, limit=200)
        baseline = [u for u in baseline if u not in ("importer", "approver")]
        methods = {"prolific": lambda text: baseline,
                   "keyword": lambda text: [h.username for h in experts.find_experts(
                       session, indexes, actor=SYSTEM, query=text, mode=Mode.keyword, limit=100)],
                   "hybrid": lambda text: [h.username for h in experts.find_experts(
                       session, indexes, actor=SYSTEM, query=text, mode=Mode.hybrid, limit=100)]}
        for name, rank in methods.items():
            reciprocal, precision = [], []
            for qid in judged:
                ranked = rank(queries[qid])
                first = next((i for i, user in enumerate(ranked, 1) if user in relevant[qid]), None)
                reciprocal.append(1 / first if first else 0.0)
                precision.append(sum(user in relevant[qid] for user in ranked[:5]) / 5)
            print(f"{name} mrr={statistics.mean(reciprocal):.4f} p@5={statistics.mean(precision):.4f}")


if __name__ == "__main__":
    main()
