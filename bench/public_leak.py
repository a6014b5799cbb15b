"""The public-leak check at scale (RELIABILITY T1 and T14), on SQLite or PostgreSQL.

Builds DOCUMENTS documents in every state, audience and validity window (plus comments, hidden and
deleted comments, questions and answers, and canary people) through the services, then asks every
public endpoint at least QUERIES queries and every slug, flips documents in the database only
(stale index) and asks again. The check is tests/leak_check.py, the same one CI runs at a smaller size.

The indexes use a hashing embedder (tests/fakes.py) unless --real-embedder is given: the property
under test is what the filters and the database re-check let through, not ranking quality, and
embedding 2,000 documents and 5,000 queries with the model would multiply the run time.

Usage:
  .venv/bin/python bench/public_leak.py [--documents 2000] [--queries 1000] [--database-url sqlite|URL] [--real-embedder]
Exit status 1 when any violation is found.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch import drop_schema, schema_name  # noqa: E402


PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--database-url", default="sqlite", help=f"'sqlite' (a temporary file) or a URL such as {PG_DEFAULT}")
    parser.add_argument("--real-embedder", action="store_true", help="use all-MiniLM-L6-v2 instead of the hashing embedder")
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from kb.app import create_app
    from kb.config import Environment, Settings
    from kb.db import Database
    from kb.migrations import upgrade
    from kb.search.indexer import SearchIndexes
    from tests.fakes import HashingEmbedder
    from tests.leak_check import build_corpus, queries_for, run_leak_check

    work = Path(tempfile.mkdtemp(prefix="kb-leak-"))
    schema = None if args.database_url == "sqlite" else schema_name("kbleak")
    settings = Settings(data_dir=work, env=Environment.test, rate_limit_public_search="1000000/minute",
                        database_url=None if schema is None else args.database_url, database_schema=schema)
    database = Database(settings)
    upgrade(database)
    try:
        started = time.perf_counter()

        def progress(done: int) -> None:
            if done % 250 == 0:
                print(f"  built {done}/{args.documents} documents ({time.perf_counter() - started:.0f} s)", flush=True)

        corpus = build_corpus(database, args.documents, progress=progress)
        built = time.perf_counter() - started
        queries = queries_for(corpus, args.queries)
        search = SearchIndexes(settings, embedder=None if args.real_embedder else HashingEmbedder())
        started = time.perf_counter()
        with TestClient(create_app(settings, database=database, search=search)) as client:
            indexed = time.perf_counter() - started
            started = time.perf_counter()
            figures = run_leak_check(client, database, corpus, queries)
            checked = time.perf_counter() - started
        print(f"T1 backend={database.engine.dialect.name} embedder={'all-MiniLM-L6-v2' if args.real_embedder else 'hashing'} "
              f"states={dict(sorted(corpus.states.items()))}")
        print(f"T1 {figures.summary()}")
        print(f"T1 build_s={built:.0f} index_s={indexed:.0f} check_s={checked:.0f}")
        for name in ("non_public_results", "canary_hits", "wrong_document_status", "bad_input_accepted", "server_errors"):
            for item in getattr(figures, name)[:10]:
                print(f"  {name}: {item}")
        return 0 if figures.clean else 1
    finally:
        database.dispose()
        drop_schema(args.database_url, schema)


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
