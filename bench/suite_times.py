"""Where the test suite's time goes: each test's wall and CPU time, on every xdist worker.

As a pytest plugin, during the README's test command:

    PYTHONPATH=bench make test PYTEST_ARGS="-p suite_times -q"

each worker writes ``build/test-times/<worker>.json`` (node id, wall seconds, CPU seconds of the test
process and its waited-for children, from ``time.monotonic`` and ``os.times``). Then

    .venv/bin/python bench/suite_times.py [--top 20]

prints each worker's sums, the slowest tests and the slowest files. docs/benchmarks.md ("Test suite
time") has the figures. CPU that other processes spend for a test (chromium, a ``kb serve`` it did not
wait for, PostgreSQL's server) is not in the CPU column.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from pathlib import Path

import pytest

OUT = Path(__file__).resolve().parents[1] / "build" / "test-times"
_rows: list[tuple[str, float, float]] = []


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def pytest_configure(config) -> None:  # noqa: ANN001
    if not hasattr(config, "workerinput"):  # the run's first process (xdist's controller): an earlier run's files go
        for stale in OUT.glob("*.json"):
            stale.unlink()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):  # noqa: ANN001, ANN201, ARG001
    wall, cpu = time.monotonic(), _cpu()
    yield
    _rows.append((item.nodeid, time.monotonic() - wall, _cpu() - cpu))


def pytest_sessionfinish(session) -> None:  # noqa: ANN001, ARG001
    if _rows:
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.json").write_text(json.dumps(_rows), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    rows = {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(OUT.glob("*.json"))}
    if not rows:
        raise SystemExit(f"nothing in {OUT}: run the tests with -p suite_times (PYTHONPATH=bench) first")
    for worker, tests in rows.items():
        print(f"{worker}: {len(tests)} tests, wall {sum(t[1] for t in tests):.0f} s, CPU {sum(t[2] for t in tests):.0f} s")
    every = sorted((test for tests in rows.values() for test in tests), key=lambda test: -test[1])
    print("slowest tests (wall s, CPU s):")
    for nodeid, wall, cpu in every[:args.top]:
        print(f"  {wall:7.1f} {cpu:7.1f}  {nodeid}")
    files: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for nodeid, wall, cpu in every:
        held = files[nodeid.split("::")[0]]
        held[0], held[1], held[2] = held[0] + wall, held[1] + cpu, held[2] + 1
    print("slowest files (wall s, CPU s, tests):")
    for name, (wall, cpu, count) in sorted(files.items(), key=lambda item: -item[1][0])[:args.top]:
        print(f"  {wall:7.1f} {cpu:7.1f} {count:5d}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
