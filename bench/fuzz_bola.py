"""Schemathesis's object-level authorisation check (ST402) against a served kb (RELIABILITY T3).

    .venv/bin/python bench/fuzz_bola.py [--max-examples 20] [--database-url sqlite|URL] [--seed 1]

Builds the fuzz world of tests/api_fuzz.py (a person per role with an API token, the owner of
another space, documents in several states, a comment, a question and an answer), serves it with
``kb serve``, and runs the schemathesis CLI on it with the identities as a Web Fuzzing Commons auth
document whose users are all *peers*: when one identity reads an object (a ``GET`` answered 2xx)
with values drawn from its own earlier responses, the check replays the read as every other
identity and fails if a peer receives the same object while an anonymous client does not and the
peer cannot list it (what schemathesis calls object-level authorisation, ST402). Every phase runs
(examples, coverage, fuzzing, stateful), with ``not_a_server_error`` alongside, on every operation
but the two that revoke or demote the identities under test. Prints the
schemathesis summary line and exits with its status.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import drop_schema, schema_name  # noqa: E402

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# Accepted: a colleague's expertise profile is readable by every signed-in employee (expert location),
# which ST402's heuristic takes for one identity's object because it appeared in that identity's reads.
BASELINE = ROOT / "bench" / "data" / "bola_baseline.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=20, help="schemathesis --max-examples")
    parser.add_argument("--database-url", default="sqlite", help=f"'sqlite' (a temporary file) or a URL such as {PG_DEFAULT}")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline", type=Path, default=BASELINE,
                        help="failures accepted as by design (schemathesis --baseline); see docs/reliability.md")
    parser.add_argument("--baseline-update", action="store_true", help="merge this run's failures into --baseline")
    args = parser.parse_args()

    from kb.config import Environment, Settings
    from kb.db import Database
    from kb.migrations import upgrade
    from tests.api_fuzz import build_world
    from tests.processes import ServeProcess, kb_env

    work = Path(tempfile.mkdtemp(prefix="kb-bola-"))
    schema = None if args.database_url == "sqlite" else schema_name("kbbola")
    settings = Settings(data_dir=work, env=Environment.test, database_url=None if schema is None else args.database_url,
                        database_schema=schema)
    database = Database(settings)
    upgrade(database)
    server = None
    try:
        cast = build_world(database)
        identities = {name: person.token for name, person in cast.items()}
        (work / "wfc.json").write_text(json.dumps({"auth": [
            {"name": name, "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {token}"}]}
            for name, token in identities.items()]}), encoding="utf-8")
        (work / "schemathesis.toml").write_text(
            f'[auth.wfc]\npath = "{work / "wfc.json"}"\npeers = {json.dumps(sorted(identities))}\n', encoding="utf-8")
        limits = {"KB_RATE_LIMIT_PUBLIC_SEARCH": "1000000/minute", "KB_RATE_LIMIT_LOGIN": "1000000/minute",
                  "KB_RATE_LIMIT_LOGIN_IP": "1000000/minute", "KB_RATE_LIMIT_POSTING": "1000000/hour"}
        server = ServeProcess(kb_env(settings, KB_INDEX_CATCH_UP_SECONDS="0", **limits), work / "serve.log")
        server.ready()
        command = [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(work / "schemathesis.toml"),
                   "run", f"{server.url}/openapi.json", "--checks", "object_level_authorization,not_a_server_error",
                   "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", str(args.max_examples),
                   "--seed", str(args.seed), "--generation-deterministic", "--workers", "1",
                   # Left out: they revoke or demote the identities under test, whose later requests would
                   # all be 401/403 (covered by tests/test_role_matrix.py and tests/test_accounts.py).
                   "--exclude-name", "DELETE /api/v1/me/tokens/{token_id}", "--exclude-name", "PATCH /api/v1/users/{username}",
                   "--report", "ndjson", "--report-dir", str(work / "reports"), "--baseline", str(args.baseline.resolve())]
        if args.baseline_update:
            command.append("--baseline-update")
        print("$", " ".join(command), flush=True)
        result = subprocess.run(command, cwd=work, text=True, capture_output=True)
        output = result.stdout + result.stderr
        (work / "schemathesis.out").write_text(output, encoding="utf-8")
        print(output[-6000:])
        print(f"T3 backend={database.engine.dialect.name} identities={len(identities)} exit={result.returncode} "
              f"output={work / 'schemathesis.out'}")
        return result.returncode
    finally:
        if server is not None:
            server.stop()
        database.dispose()
        drop_schema(args.database_url, schema)


if __name__ == "__main__":
    sys.exit(main())
