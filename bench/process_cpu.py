"""CPU-seconds of every process on this machine over a window, processes that ended in it included.

    .venv/bin/python bench/process_cpu.py SECONDS [--every 0.2] [--top 25]

Run beside a benchmark (``bench/ingest_pipeline.py throughput``, say) to see what shares the cores with
it: kb's processes, and the machine's own (services, kernel threads). ``/proc/PID/stat`` is read every
``--every`` seconds; a process is known by its pid and start time, so a reused pid is another process.
A process that existed before the window counts from its first reading; one that started in it, from
zero. A process that starts and ends between two readings is missed, and one that ends counts up to
its last reading: shorten ``--every`` for short-lived processes. This script's own CPU is listed too.
Processes are grouped by command line (its first 110 characters).
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def reading() -> dict[tuple[str, str], tuple[float, str]]:
    """Every live process's (pid, start time) → (user + system CPU-seconds so far, command line)."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            command = Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ").strip()
        except OSError:  # ended meanwhile
            continue
        name, fields = stat.split("(", 1)[1].rsplit(")", 1)[0], stat.rsplit(")", 1)[1].split()
        found[(pid, fields[19])] = ((int(fields[11]) + int(fields[12])) / TICKS, (command or f"[{name}]")[:110])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("seconds", type=float)
    parser.add_argument("--every", type=float, default=0.2)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    first = {key: cpu for key, (cpu, _) in reading().items()}
    last: dict[tuple[str, str], tuple[float, str]] = {}
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        last.update(reading())
        time.sleep(args.every)
    last.update(reading())
    used: Counter[str] = Counter()
    for key, (cpu, command) in last.items():
        used[command] += cpu - first.get(key, 0.0)
    total = sum(used.values())
    print(f"{total:.1f} CPU-s in {args.seconds:.0f} s on {os.cpu_count()} cores ({total / args.seconds / (os.cpu_count() or 1):.1%} busy)")
    for command, cpu in used.most_common(args.top):
        if cpu >= 0.05:
            print(f"{cpu:8.2f}  {command}")


if __name__ == "__main__":
    main()
