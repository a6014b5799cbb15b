"""How long a change made through one kb serve process takes to reach another's search.

    .venv/bin/python bench/multiprocess_lag.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/multiprocess_lag.py                    # SQLite: two processes on one file

Starts two ``kb serve`` processes on one database (PostgreSQL: a fresh schema, dropped at the end)
with ``KB_INDEX_CATCH_UP_SECONDS`` (default 1); N times: create, submit and approve a document
through process A, then poll process B's keyword search every 20 ms until the document is found
(approval lag), retire it through A and poll B until it is gone (retirement lag). Prints p50, p95
and max of both, and ``kb index check`` of every slot at the end.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import drop_schema, schema_name  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--interval", type=float, default=1.0, help="KB_INDEX_CATCH_UP_SECONDS of both processes")
    parser.add_argument("-n", type=int, default=20, help="documents approved and retired")
    args = parser.parse_args()

    import httpx

    from kb.config import Environment, Settings
    from kb.db import Database
    from kb.migrations import upgrade
    from tests.factories import make_cast
    from tests.processes import ServeProcess, kb_env

    work = Path(tempfile.mkdtemp(prefix="kb-lag-"))
    schema = schema_name("kblag") if args.database_url else None
    settings = Settings(data_dir=work, database_url=args.database_url, database_schema=schema, env=Environment.test)
    database = Database(settings)
    upgrade(database)
    cast = make_cast(database)
    env = kb_env(settings, KB_INDEX_CATCH_UP_SECONDS=str(args.interval))
    a, b = ServeProcess(env, work / "a.log"), ServeProcess(env, work / "b.log")
    approve_lags, retire_lags = [], []
    try:
        a.ready(300)
        b.ready(300)
        headers = {k: {"Authorization": f"Bearer {cast[k].token}"} for k in ("reader", "contributor", "owner")}

        def found(slug: str, words: str) -> bool:
            response = httpx.get(f"{b.url}/api/v1/search", params={"q": words, "mode": "keyword"},
                                 headers=headers["reader"], timeout=60)
            return any(h["document"] == slug for h in response.json()["data"])

        def post(path: str, who: str, body: dict) -> None:
            response = httpx.post(f"{a.url}{path}", json=body, headers=headers[who], timeout=120)
            assert response.status_code in (200, 201), response.text

        def wait(condition) -> float:  # noqa: ANN001
            start = time.monotonic()
            while not condition():
                if time.monotonic() - start > 120:
                    raise TimeoutError("no change within 120 s")
                time.sleep(0.02)
            return time.monotonic() - start

        print(f"database={'postgresql' if schema else 'sqlite'} interval={args.interval} n={args.n} "
              f"loadavg={open('/proc/loadavg').read().split()[0]}", flush=True)
        for i in range(args.n + 1):  # the first round warms both processes up (model load) and is not counted
            slug, words = f"lag-{i}", f"zebracorn{i} allowance"
            post("/api/v1/spaces/benefits/documents", "contributor", {
                "slug": slug, "title": f"Allowance {i}", "audience": "public", "intended_use": "Lag test",
                "body_md": f"# Allowance {i}\n\nThe zebracorn{i} allowance is paid monthly."})
            post(f"/api/v1/documents/{slug}/versions/1/submit", "contributor", {})
            post(f"/api/v1/documents/{slug}/versions/1/approve", "owner", {})
            lag = wait(lambda: found(slug, words))
            post(f"/api/v1/documents/{slug}/retire", "owner", {"reason": "lag test"})
            gone = wait(lambda: not found(slug, words))
            if i:
                approve_lags.append(lag)
                retire_lags.append(gone)
        for name, lags in (("approval", approve_lags), ("retirement", retire_lags)):
            print(f"{name}_lag_s p50={statistics.median(lags):.2f} p95={percentile(lags, 95):.2f} max={max(lags):.2f}")
        check = subprocess.run([sys.executable, "-m", "kb", "index", "check"], env=env, cwd=ROOT, capture_output=True, text=True)
        print("kb index check:", (check.stdout + check.stderr).strip().replace("\n", " | "))
    finally:
        a.stop()
        b.stop()
        database.dispose()
        drop_schema(args.database_url, schema)


if __name__ == "__main__":
    main()
