"""Abuse by exhaustion (issue 16, point 5): hostile .docx imports while citizens search and people log in.

Generates, in a temporary directory, .docx files of 8,000 and of 1,000,000 short paragraphs (python-docx's
own template, see ``tests.hostile_files.docx_of_paragraphs``), times kb's parser on them in-process
(paragraphs per second, and the 50,000-paragraph file at the cap), then starts a real ``kb serve`` on
127.0.0.1 over a SQLite database with a few approved public documents and runs three phases of
SECONDS each with four clients that search publicly (``GET /public/v1/search``) and log in
(``POST /api/v1/auth/token``, one in five requests):

1. quiet: nothing else;
2. a contributor imports 8,000-paragraph files back to back (new bytes each time, so each is parsed);
3. the same with the 1,000,000-paragraph file.

Reports the failed requests of the clients and of the imports (any status but 200/201, and the 422 of
a cap for the imports, which is the expected answer to the 1M file; transport errors), the public
search's p50/p95 per phase, each import's status and duration, and the query-log rows the server could
not write (a warning in its log). Goals: 0 failed requests, p95 during an import within 2x of quiet,
each import refused by a cap or finished within them.

Usage: .venv/bin/python bench/hostile_import.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERIES = ["child benefit", "housing allowance", "rent support for families", "parental leave", "winter fuel payment",
           "unemployment benefit amount", "who may ask for rent support", "pension age"]
PASSWORD = "correct horse battery staple"  # noqa: S105 - a bench account in a temporary database


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def parser_speed(files: dict[str, bytes]) -> None:
    """Parse each file in-process, once: paragraphs per second, or the cap that refused it."""
    from kb.documents.ingest_docx import parse_upload
    from kb.errors import KbError

    for name, data in files.items():
        paragraphs = int(name.split("-")[0])
        began = time.perf_counter()
        try:
            markdown = parse_upload(f"{name}.docx", data).markdown
            outcome = f"parsed chars={len(markdown)}"
        except KbError as exc:
            outcome = f"refused too_large={(exc.details or {}).get('too_large')}"
        seconds = time.perf_counter() - began
        speed = f" paragraphs_per_s={paragraphs / seconds:,.0f}" if outcome.startswith("parsed") else ""
        print(f"parse file={name} bytes={len(data)} seconds={seconds:.2f}{speed} {outcome}", flush=True)


async def clients(url: str, stop: asyncio.Event, latencies: list[float], failures: Counter[str],
                  counts: Counter[str]) -> None:
    import httpx

    async def worker(n: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=120) as client:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    if i % 5 == 0:
                        response = await client.post("/api/v1/auth/token", json={
                            "username": "pat", "password": PASSWORD, "token_name": f"bench-{n}-{i}"})
                        counts["login"] += 1
                        if response.status_code != 201:
                            failures[f"login {response.status_code}"] += 1
                        continue
                    began = time.perf_counter()
                    response = await client.get("/public/v1/search", params={"q": QUERIES[(n + i) % len(QUERIES)]})
                    counts["search"] += 1
                    if response.status_code == 200:
                        latencies.append((time.perf_counter() - began) * 1000)
                    else:
                        failures[f"search {response.status_code}"] += 1
                except httpx.HTTPError as exc:
                    failures[type(exc).__name__] += 1

    await asyncio.gather(*(worker(n) for n in range(4)))


async def phase(url: str, seconds: float, token: str, files: list[bytes]) -> dict:
    import httpx

    stop = asyncio.Event()
    latencies: list[float] = []
    failures: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    imports: list[tuple[int, float, str]] = []
    load = asyncio.create_task(clients(url, stop, latencies, failures, counts))
    deadline = time.monotonic() + seconds
    if files:
        async with httpx.AsyncClient(base_url=url, timeout=600) as importer:
            n = 0
            while time.monotonic() < deadline:
                data = files[n % len(files)]
                began = time.perf_counter()
                response = await importer.post("/api/v1/spaces/benefits/import", headers={"Authorization": f"Bearer {token}"},
                                               files={"file": (f"hostile-{n}.docx", data, "application/octet-stream")})
                body = response.json()
                detail = (body.get("error") or {}).get("details") or {} if response.status_code >= 400 else {}
                imports.append((response.status_code, time.perf_counter() - began,
                                detail.get("too_large", "") if isinstance(detail, dict) else ""))
                n += 1
    else:
        await asyncio.sleep(seconds)
    stop.set()
    await load
    return {"latencies": latencies, "failures": failures, "counts": counts, "imports": imports}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="length of each phase")
    args = parser.parse_args()

    from kb.actors import SpaceRole
    from kb.config import Environment, Settings
    from kb.db import Database
    from kb.migrations import upgrade
    from tests.factories import make_cast, make_document, make_person
    from tests.hostile_files import docx_of_paragraphs
    from tests.processes import ServeProcess, kb_env

    work = Path(tempfile.mkdtemp(prefix="kb-hostile-"))
    files = {"8000-a": docx_of_paragraphs(8000, width=0, seed=1), "50000-at-cap": docx_of_paragraphs(50_000),
             "1000000": docx_of_paragraphs(1_000_000, width=4, seed=3)}
    parser_speed(files)
    eight_thousand = [docx_of_paragraphs(8000, width=6, seed=s) for s in range(1, 40)]  # new bytes every import

    settings = Settings(data_dir=work, env=Environment.test)
    database = Database(settings)
    upgrade(database)
    cast = make_cast(database)
    make_person(database, "pat", password=PASSWORD)
    make_person(database, "ivan", spaces={"benefits": SpaceRole.contributor})
    for n, query in enumerate(QUERIES):
        make_document(database, cast, slug=f"public-{n}", state="approved",
                      body=f"# {query.title()}\n\nWhat to know about {query}: who may ask, how much, and where to ask.")
    token = cast["contributor"].token
    database.dispose()
    env = kb_env(settings, KB_RATE_LIMIT_PUBLIC_SEARCH="10000000/minute", KB_RATE_LIMIT_LOGIN="10000000/minute",
                 KB_RATE_LIMIT_LOGIN_IP="10000000/minute", KB_LOGIN_MAX_CONCURRENT_HASHES="8")
    server = ServeProcess(env, work / "serve.log")
    try:
        server.ready(600)
        asyncio.run(phase(server.url, 3, token, []))  # warm-up: model loaded, connections open
        results = {
            "quiet": asyncio.run(phase(server.url, args.seconds, token, [])),
            "import 8,000 paragraphs": asyncio.run(phase(server.url, args.seconds, token, eight_thousand)),
            "import 1,000,000 paragraphs": asyncio.run(phase(server.url, args.seconds, token, [files["1000000"]])),
        }
    finally:
        server.stop()
    quiet_p95 = percentile(results["quiet"]["latencies"], 95)
    for name, result in results.items():
        latencies, imports = result["latencies"], result["imports"]
        statuses = Counter(f"{status}{' ' + cap if cap else ''}" for status, _, cap in imports)
        durations = [seconds for _, seconds, _ in imports]
        print(f"phase='{name}' searches={result['counts']['search']} logins={result['counts']['login']} "
              f"failed={sum(result['failures'].values())} {dict(result['failures']) or ''} "
              f"search_p50_ms={statistics.median(latencies):.0f} search_p95_ms={percentile(latencies, 95):.0f} "
              f"p95_vs_quiet={percentile(latencies, 95) / quiet_p95:.2f}x", flush=True)
        if imports:
            print(f"  imports={len(imports)} outcomes={dict(statuses)} "
                  f"import_s_median={statistics.median(durations):.2f} import_s_max={max(durations):.2f}", flush=True)
    log = server.log_tail(10**9)
    print(f"query-log rows not written (server warnings): {log.count('query log row not written')}; "
          f"'database is locked' in the server log: {log.count('database is locked')}; "
          f"internal errors: {log.count('Unhandled error')}")
    print(f"file sizes: 8,000 paragraphs {len(eight_thousand[0]):,} bytes; 1,000,000 paragraphs {len(files['1000000']):,} bytes")


if __name__ == "__main__":
    main()
