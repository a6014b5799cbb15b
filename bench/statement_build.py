"""What building a SQL statement costs beside running it: ``first_owner``'s query built for each call, as kb
built it before the twenty-fourth session, against the statement built once (``kb.accounts.service._FIRST_OWNER``).

    .venv/bin/python bench/statement_build.py [--calls 3000]

On a fresh SQLite database with the test cast, each way runs ``--calls`` times in one session after 200 calls
of warm-up; the figure is CPU-milliseconds a call (``time.process_time``), and the statement's building alone
is timed too. It is why the statements a bulk import runs for every file are built once.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402
from sqlmodel import Session  # noqa: E402

from kb.accounts.models import SpaceMembership, User  # noqa: E402
from kb.accounts.service import _FIRST_OWNER  # noqa: E402
from kb.actors import SpaceRole  # noqa: E402
from kb.config import Environment, Settings  # noqa: E402
from kb.db import Database  # noqa: E402
from kb.migrations import upgrade  # noqa: E402
from tests.factories import make_cast  # noqa: E402


def built() -> object:
    return (select(User.id).join(SpaceMembership, SpaceMembership.user_id == User.id)
            .where(SpaceMembership.space_id == 1, SpaceMembership.role == SpaceRole.owner.value)
            .order_by(User.username).limit(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()
    database = Database(Settings(data_dir=Path(tempfile.mkdtemp(prefix="kb-statements-")), env=Environment.test))
    upgrade(database)
    make_cast(database)
    with Session(database.engine) as session:
        ways = {"built for each call": lambda: session.execute(built()).scalar_one_or_none(),
                "built once": lambda: session.execute(_FIRST_OWNER, {"space_id": 1}).scalar_one_or_none(),
                "building alone": built}
        for name, way in ways.items():
            for _ in range(200):
                way()
            start = time.process_time()
            for _ in range(args.calls):
                way()
            print(f"{name}: {(time.process_time() - start) / args.calls * 1e3:.3f} CPU-ms a call", flush=True)


if __name__ == "__main__":
    main()
