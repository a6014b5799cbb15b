"""Crash safety (RELIABILITY T4): kill -9 a writer in the middle of ingesting, many times; lose nothing acknowledged.

    .venv/bin/python bench/crash_ingest.py --rounds 20                       # SQLite, in-process writer
    .venv/bin/python bench/crash_ingest.py --rounds 20 --mode serve          # SQLite, writes through kb serve
    .venv/bin/python bench/crash_ingest.py --rounds 20 --mode serve \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test     # PostgreSQL (a schema of its own)

``writer`` mode: a child process creates, submits and approves documents through kb.documents (one
transaction per step, as the API does) with the search indexes wired to the event bus as in the
app, and prints a document's slug only after the approving COMMIT has returned. ``serve`` mode:
the same steps over HTTP against a ``kb serve`` process, a slug acknowledged when the approve
request answered 200. Each round the supervisor kills the child (writer, or server) with SIGKILL at
a random moment, then starts it again. At the end it checks:

* acknowledged documents missing or not approved in the database = 0;
* ``kb audit verify`` passes;
* after one catch-up, the indexes equal the database: indexed chunk ids (keyword and vector) ==
  approved chunk ids, no stale entries, and faiss ``ntotal`` == the number of approved chunks.

Prints ``result ...`` lines; exits non-zero when any check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CRANFIELD = ROOT.parent / "shared" / "data" / "cranfield" / "corpus.jsonl"


def texts() -> list[tuple[str, str]]:
    """(title, body) pairs to import: the Cranfield abstracts when present, generated text otherwise."""
    if CRANFIELD.exists():
        rows = [json.loads(line) for line in CRANFIELD.open(encoding="utf-8")]
        return [((r.get("title") or "Untitled").strip()[:200] or "Untitled", (r.get("text") or "").strip() or "Empty.")
                for r in rows]
    return [(f"Note {i}", f"Generated note number {i} about topic {i % 17} and measure {i % 5}.") for i in range(500)]


def body_of(title: str, text: str) -> str:
    return f"# {title}\n\n{text}\n\n## Summary\n\n{text[:300]}"


# ------------------------------------------------------------------------------- the writer (child)

def writer(start: int) -> None:
    """Ingest documents forever, printing ``ack SLUG`` after each approval's commit returned."""
    from kb.accounts import service as accounts
    from kb.actors import Channel
    from kb.app import wire_search
    from kb.config import load_settings
    from kb.db import Database, transaction
    from kb.documents import service as documents
    from kb.documents.schemas import DocumentCreate
    from kb.search.indexer import SearchIndexes

    settings = load_settings()
    database = Database(settings)
    indexes = SearchIndexes(settings)
    wire_search(database, indexes)
    indexes.embedder.encode(["warm up"])  # load the model first, so that kills land while ingesting
    with database.session() as session:
        caught_up = indexes.catch_up(session)
        author = accounts.actor_for(session, accounts.get_user(session, "author"), Channel.system)
        approver = accounts.actor_for(session, accounts.get_user(session, "approver"), Channel.system)
    print(f"ready slot={indexes.root.name} caught_up={caught_up}", flush=True)
    corpus = texts()
    i = start
    with database.session() as session:
        while True:
            title, text = corpus[i % len(corpus)]
            slug = f"crash-{i}"
            with transaction(session):
                documents.create_document(session, actor=author, space_slug="crash", data=DocumentCreate(
                    slug=slug, title=title, body_md=body_of(title, text), audience="public", intended_use="Crash test"))
            with transaction(session):
                documents.submit(session, actor=author, slug=slug, number=1)
            with transaction(session):
                documents.approve(session, actor=approver, slug=slug, number=1)
            print(f"ack {slug}", flush=True)  # only now: the approval's COMMIT has returned
            i += 1


# --------------------------------------------------------------------------------------- supervisor

@dataclass
class Outcome:
    rounds: int = 0
    acknowledged: set[str] = field(default_factory=set)
    caught_up: list[int] = field(default_factory=list)  # documents re-synced at each restart
    slots: set[str] = field(default_factory=set)
    lost: int = -1
    not_approved: int = -1
    audit_ok: bool = False
    audit_line: str = ""
    index_equal: bool = False
    indexed_chunks: int = 0
    approved_chunks: int = 0
    faiss_ntotal: int = 0
    drift: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.not_approved == 0 and self.audit_ok and self.index_equal


def prepare(settings) -> dict[str, str]:  # noqa: ANN001
    """A space, an author and an approver (with API tokens); returns the tokens."""
    from kb.accounts import service as accounts
    from kb.actors import Channel
    from kb.accounts.schemas import SpaceCreate, UserCreate
    from kb.actors import SYSTEM, SpaceRole
    from kb.db import Database, transaction
    from kb.migrations import upgrade

    database = Database(settings)
    upgrade(database)
    tokens = {}
    with database.session() as session:
        with transaction(session):
            accounts.create_space(session, actor=SYSTEM, data=SpaceCreate(slug="crash", name="Crash"), four_eyes_default=True)
            for username, role in (("author", SpaceRole.contributor), ("approver", SpaceRole.owner)):
                user = accounts.create_user(session, actor=SYSTEM, data=UserCreate(username=username, display_name=username.title()))
                accounts.set_membership(session, actor=SYSTEM, slug="crash", username=username, role=role)
                tokens[username] = accounts.create_token(session, actor=SYSTEM, user=user, name="crash")[1]
    database.dispose()
    return tokens


def _read_lines(stream, outcome: Outcome, lock: threading.Lock) -> None:  # noqa: ANN001
    for line in stream:
        line = line.strip()
        with lock:
            if line.startswith("ack "):
                outcome.acknowledged.add(line[4:])
            elif line.startswith("ready "):
                parts = dict(p.split("=", 1) for p in line.split()[1:])
                outcome.slots.add(parts["slot"])
                outcome.caught_up.append(int(parts["caught_up"]))


def run_writer_rounds(settings, rounds: int, min_s: float, max_s: float, work: Path, rng: random.Random,  # noqa: ANN001
                      outcome: Outcome, after_ack: bool = False) -> None:
    from tests.processes import kb_env

    env = kb_env(settings)
    lock = threading.Lock()
    for r in range(rounds):
        with lock:
            start = len(outcome.acknowledged) + 100_000 * (r + 1)  # unacknowledged slugs may exist: never reuse
        child = subprocess.Popen([sys.executable, __file__, "--writer", str(start)], env=env, cwd=ROOT,
                                 stdout=subprocess.PIPE, stderr=(work / f"writer-{r}.log").open("wb"), text=True,
                                 start_new_session=True)
        reader = threading.Thread(target=_read_lines, args=(child.stdout, outcome, lock), daemon=True)
        reader.start()
        deadline = time.monotonic() + 300
        while len(outcome.caught_up) <= r and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        if child.poll() is not None:
            raise RuntimeError(f"writer exited with {child.returncode}: {(work / f'writer-{r}.log').read_text()[-2000:]}")
        if after_ack:  # a slow machine: make sure this round ingests something before the kill
            with lock:
                before = len(outcome.acknowledged)
            while time.monotonic() < deadline and child.poll() is None:
                with lock:
                    if len(outcome.acknowledged) > before:
                        break
                time.sleep(0.02)
        time.sleep(rng.uniform(min_s, max_s))
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        reader.join(timeout=10)
        outcome.rounds += 1
        print(f"round {r + 1}: killed writer, acknowledged so far {len(outcome.acknowledged)}", flush=True)


def run_serve_rounds(settings, tokens: dict[str, str], rounds: int, min_s: float, max_s: float, work: Path,  # noqa: ANN001
                     rng: random.Random, outcome: Outcome) -> None:
    import httpx

    from tests.processes import ServeProcess, kb_env

    env = kb_env(settings, KB_INDEX_CATCH_UP_SECONDS="1")
    corpus = texts()
    stop = threading.Event()
    lock = threading.Lock()
    current: dict[str, str] = {}

    def client() -> None:
        i = 0
        headers = {k: {"Authorization": f"Bearer {v}"} for k, v in tokens.items()}
        while not stop.is_set():
            url = current.get("url")
            if not url:
                time.sleep(0.05)
                continue
            title, text = corpus[i % len(corpus)]
            slug = f"crash-{i}"
            i += 1  # an interrupted slug is never retried: its state is whatever the crash left
            steps = [("post", f"/api/v1/spaces/crash/documents", "author",
                      {"slug": slug, "title": title, "body_md": body_of(title, text), "audience": "public",
                       "intended_use": "Crash test"}),
                     ("post", f"/api/v1/documents/{slug}/versions/1/submit", "author", {}),
                     ("post", f"/api/v1/documents/{slug}/versions/1/approve", "approver", {})]
            try:
                for _, path, who, body in steps:
                    response = httpx.post(url + path, json=body, headers=headers[who], timeout=60)
                    if response.status_code >= 500:
                        raise RuntimeError(f"{path}: {response.status_code} {response.text}")
                    if response.status_code >= 400:
                        raise httpx.HTTPError(f"{path}: {response.status_code}")
                with lock:
                    outcome.acknowledged.add(slug)
            except httpx.HTTPError:
                time.sleep(0.05)

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    for r in range(rounds):
        server = ServeProcess(env, work / f"serve-{r}.log")
        server.ready(timeout=300)
        health = httpx.get(f"{server.url}/api/v1/health", timeout=10).json()
        current["url"] = server.url
        time.sleep(rng.uniform(min_s, max_s))
        server.kill()
        current.pop("url", None)
        outcome.rounds += 1
        print(f"round {r + 1}: killed kb serve at audit seq >= {health['audit_head_seq']}, "
              f"acknowledged so far {len(outcome.acknowledged)}", flush=True)
    stop.set()
    thread.join(timeout=120)
    outcome.slots = {p.name for p in settings.index_root.iterdir()}


def verify(settings, outcome: Outcome) -> None:  # noqa: ANN001
    from sqlalchemy import select

    from kb import documents
    from kb.db import Database
    from kb.documents.models import Document, Version
    from kb.search.indexer import SearchIndexes

    database = Database(settings)
    with database.session() as session:
        rows = session.execute(select(Document.slug, Version.state).join(Version, Version.id == Document.current_version_id)
                               .where(Document.slug.in_(sorted(outcome.acknowledged)))).all()  # type: ignore[union-attr]
        states = dict(rows)
        outcome.lost = len(outcome.acknowledged - set(states))
        outcome.not_approved = sum(1 for s in states.values() if str(s) != "approved")
    from tests.processes import kb_env

    audit = subprocess.run([sys.executable, "-m", "kb", "audit", "verify"], env=kb_env(settings), cwd=ROOT,
                           capture_output=True, text=True)
    outcome.audit_ok = audit.returncode == 0
    outcome.audit_line = (audit.stdout or audit.stderr).strip().splitlines()[-1] if (audit.stdout or audit.stderr) else ""
    indexes = SearchIndexes(settings)  # the writer is dead: its slot is free again
    with database.session() as session:
        indexes.catch_up(session)
        drift = indexes.check(session)
        approved = {chunk.id for item in documents.published(session) for chunk in item.chunks}
    keyword_ids, vector_ids = indexes.keyword.chunk_ids(), indexes.vector.chunk_ids()
    outcome.indexed_chunks = len(keyword_ids)
    outcome.approved_chunks = len(approved)
    outcome.faiss_ntotal = indexes.vector.ntotal
    outcome.index_equal = (drift.clean and keyword_ids == approved == vector_ids and indexes.vector.ntotal == len(approved))
    outcome.drift = drift.summary()
    indexes.close()
    database.dispose()


def run(settings, rounds: int, mode: str = "writer", min_s: float = 0.5, max_s: float = 4.0, seed: int = 1,  # noqa: ANN001
        work: Path | None = None, after_ack: bool = False) -> Outcome:
    """Prepare the database, run the kill rounds, verify. ``settings`` must point at an empty database."""
    work = work or Path(tempfile.mkdtemp(prefix="kb-crash-"))
    rng = random.Random(seed)
    outcome = Outcome()
    started = time.perf_counter()
    tokens = prepare(settings)
    if mode == "writer":
        run_writer_rounds(settings, rounds, min_s, max_s, work, rng, outcome, after_ack)
    else:
        run_serve_rounds(settings, tokens, rounds, min_s, max_s, work, rng, outcome)
    verify(settings, outcome)
    outcome.seconds = time.perf_counter() - started
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--mode", choices=["writer", "serve"], default="writer")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (a fresh schema is created and dropped)")
    parser.add_argument("--min-seconds", type=float, default=0.5, help="shortest time before a kill")
    parser.add_argument("--max-seconds", type=float, default=4.0, help="longest time before a kill")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--writer", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.writer is not None:
        writer(args.writer)
        return

    from kb.config import Environment, Settings

    work = Path(tempfile.mkdtemp(prefix="kb-crash-"))
    schema = None
    if args.database_url:
        schema = f"kbcrash_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        settings = Settings(data_dir=work, database_url=args.database_url, database_schema=schema, env=Environment.test)
    else:
        settings = Settings(data_dir=work, env=Environment.test)
    print(f"crash test mode={args.mode} database={'postgresql' if schema else 'sqlite'} rounds={args.rounds} "
          f"kill after {args.min_seconds}-{args.max_seconds} s, loadavg {open('/proc/loadavg').read().split()[0]}", flush=True)
    try:
        outcome = run(settings, args.rounds, args.mode, args.min_seconds, args.max_seconds, args.seed, work)
    finally:
        if schema:
            from sqlalchemy import create_engine, text

            engine = create_engine(args.database_url)
            with engine.begin() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            engine.dispose()
    print(f"result rounds={outcome.rounds} acknowledged={len(outcome.acknowledged)} lost={outcome.lost} "
          f"not_approved={outcome.not_approved} seconds={outcome.seconds:.0f}")
    print(f"result audit_verify={'ok' if outcome.audit_ok else 'FAILED'} ({outcome.audit_line})")
    print(f"result index_equals_db={outcome.index_equal} indexed_chunks={outcome.indexed_chunks} "
          f"approved_chunks={outcome.approved_chunks} faiss_ntotal={outcome.faiss_ntotal} ({outcome.drift})")
    print(f"result restarts_that_caught_up={sum(1 for c in outcome.caught_up[1:] if c)} of {max(0, len(outcome.caught_up) - 1)} "
          f"slots_used={sorted(outcome.slots)}")
    sys.exit(0 if outcome.ok else 1)


if __name__ == "__main__":
    main()
