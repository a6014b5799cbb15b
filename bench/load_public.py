"""Load test of the public search: C concurrent clients for S seconds against P kb serve processes.

    .venv/bin/python bench/load_public.py ../shared/data/cranfield --chunks 100000 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test --processes 2 --clients 32 --seconds 60

Set-up: the collection is created, submitted and approved through kb.documents (public audience),
indexed by kb.search, then its rows and index entries are replicated until there are at least
``--chunks`` approved chunks (as bench/search_quality.py --scale does: the same passages under new
ids, so the engines do the work of a corpus that size). The index slot is copied once per process,
so each ``kb serve`` starts with indexes current at the audit head. The public search's rate limit
is raised through its setting (``KB_RATE_LIMIT_PUBLIC_SEARCH``), not bypassed.

Load: an asyncio httpx client (the load generator; it runs on the same machine) with C workers,
each sending ``GET /public/v1/search?q=…`` with the collection's queries in turn, spread round-robin
over the processes (a load balancer's job), for S seconds. Prints requests/s, latency p50/p95/p99,
errors (any status other than 200, and transport errors), and per process the resident memory
after the run and its peak; on PostgreSQL also the size of the main tables.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench.scratch import drop_schema, schema_name  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MiB: resident now, and its peak."""
    values = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line.split(":")[0]] = int(line.split()[1]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


async def load(urls: list[str], queries: list[str], clients: int, seconds: float) -> tuple[list[float], Counter]:
    import httpx

    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    counter = iter(range(10**9))
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients * 2, max_keepalive_connections=clients * 2)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        async def worker() -> None:
            while time.monotonic() < deadline:
                n = next(counter)
                url = urls[n % len(urls)]
                start = time.perf_counter()
                try:
                    response = await client.get(f"{url}/public/v1/search", params={"q": queries[n % len(queries)]})
                    outcomes[str(response.status_code)] += 1
                    if response.status_code == 200:
                        latencies.append((time.perf_counter() - start) * 1000)
                except httpx.HTTPError as exc:
                    outcomes[type(exc).__name__] += 1

        await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies, outcomes


def table_sizes(database) -> dict[str, tuple[int, float]]:  # noqa: ANN001
    from sqlalchemy import text

    sizes = {}
    with database.engine.connect() as connection:
        for table in ("document", "document_version", "document_chunk", "audit_event", "query_log"):
            exists = connection.execute(text("SELECT to_regclass(:t)"), {"t": table}).scalar()
            if exists:
                rows = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                size = connection.execute(text("SELECT pg_total_relation_size(:t)"), {"t": table}).scalar()
                sizes[table] = (int(rows), size / 2**20)
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--max-load", type=float, default=2.5, help="wait (up to 5 min) for the 1-minute load to fall below this")
    args = parser.parse_args()

    from kb.config import Environment, Settings
    from kb.db import Database
    from kb.migrations import upgrade
    from kb.search.indexer import SearchIndexes
    from search_quality import ingest, load_collection, replicate
    from tests.processes import ServeProcess, kb_env

    corpus, queries, _ = load_collection(args.directory, None)
    query_texts = list(queries.values())
    work = Path(tempfile.mkdtemp(prefix="kb-load-"))
    schema = schema_name("kbload") if args.database_url else None
    settings = Settings(data_dir=work, database_url=args.database_url, database_schema=schema, env=Environment.test)
    database = Database(settings)
    servers: list[ServeProcess] = []
    try:
        upgrade(database)
        started = time.perf_counter()
        ingest(database, corpus)
        indexes = SearchIndexes(settings)
        with database.session() as session:
            indexes.rebuild(session)
        total = replicate(database, indexes, args.chunks)
        slot = indexes.root
        indexes.close()
        for n in range(1, args.processes):
            shutil.copytree(slot, slot.parent / f"slot-{n}", ignore=shutil.ignore_patterns("lock"))
        print(f"setup chunks={total} database={'postgresql' if schema else 'sqlite'} seconds={time.perf_counter() - started:.0f}",
              flush=True)
        env = kb_env(settings, KB_RATE_LIMIT_PUBLIC_SEARCH="10000000/minute")
        servers = [ServeProcess(env, work / f"serve-{n}.log") for n in range(args.processes)]
        for server in servers:
            server.ready(600)
        warm = asyncio.run(load([s.url for s in servers], query_texts[:8], len(servers), 5))
        print(f"warm-up outcomes={dict(warm[1])}", flush=True)
        for _ in range(10):
            if float(open("/proc/loadavg").read().split()[0]) <= args.max_load:
                break
            time.sleep(30)
        loadavg = open("/proc/loadavg").read().strip()
        rss_before = [memory_mb(s.pid)[0] for s in servers]
        began = time.perf_counter()
        latencies, outcomes = asyncio.run(load([s.url for s in servers], query_texts, args.clients, args.seconds))
        elapsed = time.perf_counter() - began
        loadavg_after = open("/proc/loadavg").read().strip()
        errors = sum(n for k, n in outcomes.items() if k != "200")
        print(f"load processes={args.processes} clients={args.clients} seconds={elapsed:.1f} chunks={total} "
              f"loadavg_before='{loadavg}' loadavg_after='{loadavg_after}'")
        print(f"result requests={outcomes['200']} rps={outcomes['200'] / elapsed:.1f} p50_ms={statistics.median(latencies):.0f} "
              f"p95_ms={percentile(latencies, 95):.0f} p99_ms={percentile(latencies, 99):.0f} errors={errors} "
              f"outcomes={json.dumps(dict(outcomes))}")
        for n, server in enumerate(servers):
            rss, peak = memory_mb(server.pid)
            print(f"result process={n} rss_before_mb={rss_before[n]:.0f} rss_after_mb={rss:.0f} peak_rss_mb={peak:.0f}")
        if schema:
            for table, (rows, mb) in table_sizes(database).items():
                print(f"table {table} rows={rows} total_mb={mb:.1f} bytes_per_row={mb * 2**20 / max(rows, 1):.0f}")
    finally:
        for server in servers:
            server.stop()
        database.dispose()
        drop_schema(args.database_url, schema)


if __name__ == "__main__":
    main()
