"""Concurrent audit appends and approval races across processes (RELIABILITY T7 and T12).

Part 1: WRITERS processes, each with its own app and its own database connections, append EVENTS
audited changes each through the API (``POST /api/v1/me/tokens``: one ``token.create`` event per
request). Figures: 5xx and exceptions, sequence gaps, forks (two events with one predecessor),
chain verification, retries of serialisation conflicts.
Part 2: ROUNDS approval races: a version in review, WRITERS owner processes approve it at the same
instant (a barrier). Figures: approved versions per document, winners per round, approval events.

Usage:
  .venv/bin/python bench/concurrency.py [--database-url URL] [--writers 8] [--events 250] [--rounds 20]
Default database: PostgreSQL at postgresql+psycopg://postgres@127.0.0.1:5432/test, in a fresh schema
dropped at the end; ``--database-url sqlite`` uses a SQLite file in a temporary directory.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch import drop_schema, schema_name  # noqa: E402

from sqlalchemy import text  # noqa: E402

from kb.config import Environment, Settings  # noqa: E402

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RETRYABLE = ("40001", "40P01")  # serialization_failure, deadlock_detected


def _settings(url: str, schema: str | None, data_dir: Path) -> Settings:
    if url == "sqlite":
        return Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir.parent / 'kb.sqlite3'}", env=Environment.test)
    return Settings(data_dir=data_dir, database_url=url, database_schema=schema, env=Environment.test)


def _retrying(action, retries: list[int]):  # noqa: ANN001, ANN202
    """Run ``action``; retry it when the database reports a serialisation conflict or a deadlock."""
    from sqlalchemy.exc import DBAPIError

    for attempt in range(20):
        try:
            return action()
        except DBAPIError as exc:
            code = getattr(exc.orig, "sqlstate", None)
            if code not in RETRYABLE or attempt == 19:
                raise
            retries[0] += 1
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


def writer(url: str, schema: str | None, work: str, worker: int, token: str, events: int, start, results) -> None:  # noqa: ANN001
    from fastapi.testclient import TestClient

    from kb.app import create_app
    from kb.search.indexer import SearchIndexes
    from tests.fakes import HashingEmbedder

    data_dir = Path(work) / f"writer{worker}"
    settings = _settings(url, schema, data_dir)
    app = create_app(settings, search=SearchIndexes(settings, embedder=HashingEmbedder()))
    statuses: dict[int, int] = {}
    exceptions, retries = 0, [0]
    with TestClient(app, raise_server_exceptions=False) as client:
        start.wait()
        began = time.time()
        for i in range(events):
            try:
                response = _retrying(lambda: client.post("/api/v1/me/tokens", json={"name": f"w{worker}-{i}"},
                                                         headers={"Authorization": f"Bearer {token}"}), retries)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            except Exception:  # noqa: BLE001 - counted, the figure must be 0
                exceptions += 1
    results.put({"worker": worker, "statuses": statuses, "exceptions": exceptions, "retries": retries[0],
                 "began": began, "ended": time.time()})


def approver(url: str, schema: str | None, work: str, username: str, slugs: list[str], barrier, results) -> None:  # noqa: ANN001
    from kb.accounts import service as accounts
    from kb.actors import Channel
    from kb.db import Database, transaction
    from kb.documents import service
    from kb.errors import KbError

    database = Database(_settings(url, schema, Path(work) / f"approver-{username}"))
    with database.session() as session:
        actor = accounts.actor_for(session, accounts.get_user(session, username), Channel.system)
    outcomes = []
    for slug in slugs:
        with database.session() as session:
            barrier.wait()
            try:
                with transaction(session):
                    service.approve(session, actor=actor, slug=slug, number=1)
                outcomes.append((slug, "approved"))
            except KbError as exc:
                outcomes.append((slug, exc.code.code))
            except Exception as exc:  # noqa: BLE001 - counted as an exception (would be a 5xx)
                outcomes.append((slug, f"exception:{type(exc).__name__}"))
    database.dispose()
    results.put(outcomes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=PG_DEFAULT)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--events", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    from kb import provenance
    from kb.accounts import service as accounts
    from kb.actors import Channel
    from kb.accounts.schemas import SpaceCreate, UserCreate
    from kb.actors import SYSTEM, SpaceRole
    from kb.db import Database, transaction
    from kb.documents import service as documents
    from kb.documents.schemas import DocumentCreate
    from kb.migrations import upgrade

    work = Path(tempfile.mkdtemp(prefix="kb-concurrency-"))
    schema = None if args.database_url == "sqlite" else schema_name("kbbench")
    settings = _settings(args.database_url, schema, work / "setup")
    database = Database(settings)
    upgrade(database)
    ctx = mp.get_context("spawn")
    try:
        with database.session() as session:
            with transaction(session):
                accounts.create_space(session, actor=SYSTEM, data=SpaceCreate(slug="race", name="Race"), four_eyes_default=True)
                author = accounts.create_user(session, actor=SYSTEM, data=UserCreate(username="author", display_name="Author"))
                accounts.set_membership(session, actor=SYSTEM, slug="race", username="author", role=SpaceRole.contributor)
            tokens = []
            for w in range(args.writers):
                with transaction(session):
                    user = accounts.create_user(session, actor=SYSTEM, data=UserCreate(username=f"owner{w}", display_name=f"Owner {w}"))
                    accounts.set_membership(session, actor=SYSTEM, slug="race", username=f"owner{w}", role=SpaceRole.owner)
                    tokens.append(accounts.create_token(session, actor=SYSTEM, user=user, name="bench")[1])
            author_actor = accounts.actor_for(session, author, Channel.system)
            slugs = [f"race-{r:03d}" for r in range(args.rounds)]
            for slug in slugs:
                with transaction(session):
                    documents.create_document(session, actor=author_actor, space_slug="race", data=DocumentCreate(
                        slug=slug, title=f"Race {slug}", body_md=f"# {slug}\n\nText.", intended_use="bench", licence="CC0"))
                with transaction(session):
                    documents.submit(session, actor=author_actor, slug=slug, number=1)
            before = provenance.head(session)[0]

        # ------------------------------------------------------------------- part 1: appends
        start, results = ctx.Barrier(args.writers), ctx.Queue()
        processes = [ctx.Process(target=writer, args=(args.database_url, schema, str(work), w, tokens[w], args.events, start, results))
                     for w in range(args.writers)]
        for process in processes:
            process.start()
        reports = [results.get(timeout=1800) for _ in processes]
        for process in processes:
            process.join()
        elapsed = max(r["ended"] for r in reports) - min(r["began"] for r in reports)
        statuses: dict[int, int] = {}
        for report in reports:
            for status, count in report["statuses"].items():
                statuses[status] = statuses.get(status, 0) + count
        with database.engine.connect() as connection:
            seqs = [row[0] for row in connection.execute(text("SELECT seq FROM audit_event ORDER BY seq"))]
            prevs = connection.execute(text("SELECT count(*) - count(DISTINCT prev_hash) FROM audit_event")).scalar()
            created = connection.execute(text("SELECT count(*) FROM audit_event WHERE action = 'token.create' AND seq > :s"),
                                         {"s": before}).scalar()
        with database.session() as session:
            verified = provenance.verify_chain(session)
        gaps = sum(1 for a, b in zip(seqs, seqs[1:]) if b != a + 1) + (0 if not seqs or seqs[0] == 1 else 1)
        print(f"T7 backend={database.engine.dialect.name} writers={args.writers} events_per_writer={args.events} "
              f"requests={sum(statuses.values())} statuses={dict(sorted(statuses.items()))} "
              f"exceptions={sum(r['exceptions'] for r in reports)} retries={sum(r['retries'] for r in reports)} "
              f"new_events={created} seq_gaps={gaps} forks={prevs} chain_ok={verified.ok} count={verified.count} "
              f"elapsed_s={elapsed:.1f} events_per_s={created / elapsed:.0f}")

        # ------------------------------------------------------------- part 2: approval races
        barrier, results = ctx.Barrier(args.writers), ctx.Queue()
        processes = [ctx.Process(target=approver, args=(args.database_url, schema, str(work), f"owner{w}", slugs, barrier, results))
                     for w in range(args.writers)]
        for process in processes:
            process.start()
        outcomes = [o for _ in processes for o in results.get(timeout=1800)]
        for process in processes:
            process.join()
        winners = {slug: sum(1 for s, o in outcomes if s == slug and o == "approved") for slug in slugs}
        kinds: dict[str, int] = {}
        for _slug, outcome in outcomes:
            kinds[outcome] = kinds.get(outcome, 0) + 1
        with database.engine.connect() as connection:
            per_doc = connection.execute(text(
                "SELECT max(n) FROM (SELECT count(*) AS n FROM document_version WHERE state = 'approved' GROUP BY document_id) t")).scalar()
            approvals = connection.execute(text("SELECT count(*) FROM audit_event WHERE action = 'version.approve'")).scalar()
        print(f"T12 backend={database.engine.dialect.name} rounds={args.rounds} racers={args.writers} "
              f"rounds_with_exactly_one_winner={sum(1 for n in winners.values() if n == 1)}/{args.rounds} "
              f"outcomes={dict(sorted(kinds.items()))} max_approved_versions_per_document={per_doc} approval_events={approvals}")
    finally:
        database.dispose()
        drop_schema(args.database_url, schema)


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
