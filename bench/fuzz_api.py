"""Schemathesis against kb in-process, every operation, every role (RELIABILITY T2, T3).

For each operation, CASES cases (half valid, half invalid data), each sent as one identity drawn
from: anonymous, reader, contributor, two owners, moderator, admin, and the owner of another space.
Checks: not_a_server_error, status_code/content_type/response_headers/response_schema conformance,
ignored_auth, negative_data_rejection. The code is tests/api_fuzz.py, which CI runs at a smaller size.

Usage:
  .venv/bin/python bench/fuzz_api.py [--cases 100] [--database-url sqlite|URL] [--seed 1]
Exit status 1 on any 5xx or failed check.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch import drop_schema, schema_name  # noqa: E402


PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100, help="cases per operation")
    parser.add_argument("--database-url", default="sqlite", help=f"'sqlite' (a temporary file) or a URL such as {PG_DEFAULT}")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from kb.app import create_app
    from kb.config import Environment, Settings
    from kb.db import Database
    from kb.migrations import upgrade
    from kb.search.indexer import SearchIndexes
    from tests.api_fuzz import Target, build_world, fuzz
    from tests.fakes import HashingEmbedder

    work = Path(tempfile.mkdtemp(prefix="kb-fuzz-"))
    schema = None if args.database_url == "sqlite" else schema_name("kbfuzz")
    settings = Settings(data_dir=work, env=Environment.test, database_url=None if schema is None else args.database_url,
                        database_schema=schema, rate_limit_public_search="1000000/minute",
                        rate_limit_login="1000000/minute", rate_limit_login_ip="1000000/minute",
                        rate_limit_posting="1000000/hour")
    database = Database(settings)
    upgrade(database)
    try:
        cast = build_world(database)
        app = create_app(settings, database=database, search=SearchIndexes(settings, embedder=HashingEmbedder()))
        with database.session() as session:
            app.state.search.catch_up(session)
        backend = database.engine.dialect.name
        figures = fuzz([Target(backend, app, database, cast)], cases_per_operation=args.cases, seed=args.seed)[backend]
        print(f"T2 backend={backend} cases_per_operation={args.cases} seed={args.seed}")
        print(f"T2 {figures.summary()}")
        print(f"T2 per_identity={dict(sorted(figures.per_identity.items()))}")
        short = {label: n for label, n in sorted(figures.per_operation.items()) if n < args.cases}
        print(f"T2 operations_with_fewer_than_{args.cases}_cases={len(short)} "
              "(hypothesis stops when it has tried every distinct input): " + ", ".join(f"{k}={v}" for k, v in short.items()))
        for line in figures.server_errors[:20]:
            print(f"  5xx: {line}")
        for name, items in sorted(figures.failures.items()):
            for line in items[:5]:
                print(f"  {name}: {line}")
        return 0 if not figures.server_errors and not figures.failures else 1
    finally:
        database.dispose()
        drop_schema(args.database_url, schema)


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
