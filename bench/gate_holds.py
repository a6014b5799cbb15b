"""How long catch-ups hold the encoding gate (``kb.encoding_first``) while another benchmark runs beside it.

    .venv/bin/python bench/ingest_pipeline.py approvals ../shared/data/scifact --approvals 18 &
    .venv/bin/python bench/gate_holds.py '/tmp/kb-approvals-*/encoding-first.lock' --seconds 300

Reads ``/proc/locks`` every 20 ms (it takes no lock itself, so it changes nothing it watches) for the newest
file matching the pattern, and prints each span during which a shared ``flock`` (a catch-up's) was held,
then their count and sum. Spans shorter than the 20 ms between reads may be missed.
"""

from __future__ import annotations

import argparse
import glob
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pattern", help="a glob of the gate's file (the newest match is watched)")
    parser.add_argument("--seconds", type=float, default=300.0, help="how long to watch")
    args = parser.parse_args()
    end, inode, since, spans = time.monotonic() + args.seconds, None, None, []
    while time.monotonic() < end:
        if inode is None:
            found = sorted(glob.glob(args.pattern), key=os.path.getmtime)
            if found:
                inode = os.stat(found[-1]).st_ino
                print(f"watching {found[-1]} (inode {inode})", flush=True)
        if inode is not None:
            with open("/proc/locks", encoding="ascii") as locks:
                fields = [line.split() for line in locks]
            held = any(f[1] == "FLOCK" and f[3] == "READ" and f[5].endswith(f":{inode}") for f in fields if len(f) > 5)
            now = time.monotonic()
            if held and since is None:
                since = now
            elif not held and since is not None:
                spans.append(now - since)
                print(f"held {now - since:.2f} s", flush=True)
                since = None
        time.sleep(0.02)
    print(f"spans={len(spans)} total_s={sum(spans):.2f}")


if __name__ == "__main__":
    main()
