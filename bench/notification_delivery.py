"""Issue 17's delivery figures: N events (default 1,000) while the SMTP server and the webhook receiver are
down for a while, real ``kb serve`` workers killed with SIGKILL twice (tests/delivery_scenario.py).

    .venv/bin/python bench/notification_delivery.py [--events 1000] [--database-url postgresql+psycopg://…]

Prints the inbox, e-mail and webhook counts: expected, received, unique; failures; attempts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (a fresh schema is used); default SQLite")
    args = parser.parse_args()

    from sqlalchemy import create_engine, text

    from kb.accounts import service as accounts
    from kb.actors import Channel
    from kb.config import Environment, Settings
    from kb.db import Database, transaction
    from kb.migrations import upgrade
    from kb.notifications import service
    from kb.notifications.models import DeliveryMode
    from tests import delivery_scenario
    from tests.factories import make_cast

    with tempfile.TemporaryDirectory() as tmp:
        schema = f"kbbench_{uuid.uuid4().hex[:8]}" if args.database_url else None
        settings = Settings(data_dir=Path(tmp), env=Environment.test, database_url=args.database_url, database_schema=schema)
        database = Database(settings)
        upgrade(database)
        make_cast(database)
        with database.session() as session, transaction(session):
            olga = accounts.actor_for(session, accounts.get_user(session, "olga"), Channel.api)
            service.set_preference(session, actor=olga, mode=DeliveryMode.email)
        started = time.monotonic()
        try:
            outcome = delivery_scenario.run(settings, database, Path(tmp), events=args.events, cause=delivery_scenario.ask_olga)
        finally:
            database.dispose()
            if schema:
                with create_engine(args.database_url).begin() as connection:
                    connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        print(f"database: {'postgresql' if args.database_url else 'sqlite'}; events {outcome.events}; "
              f"workers killed with SIGKILL: {outcome.kills}; {time.monotonic() - started:.0f} s in all")
        print(f"inbox: {outcome.inbox_rows} rows, {outcome.inbox_unique} distinct")
        print(f"e-mail: {outcome.emails_expected} expected, {outcome.emails_received} received, "
              f"{outcome.emails_unique} distinct ids, {len(outcome.missing_emails)} missing")
        print(f"webhook: {outcome.webhooks_expected} expected, {outcome.webhooks_received} received, "
              f"{outcome.webhooks_unique} distinct ids, {len(outcome.missing_webhooks)} missing")
        print(f"failed deliveries: {outcome.failed}; attempts in all: {outcome.attempts_total}")


if __name__ == "__main__":
    main()
