"""Notification delivery is reliable (issue 17): retried with backoff while a receiver is down, taken over
when a worker dies holding a claim, and — with real ``kb serve`` workers killed with SIGKILL twice while
the SMTP server and the webhook receiver are down for a while — every notification is in the inbox
exactly once and every e-mail and webhook arrives at least once, deduplicated by its stable id.

The SMTP server is aiosmtpd in this process; times are passed in (``now``), never waited for.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from kb.db import utcnow
from kb.notifications import outbox
from kb.notifications.models import Delivery
from kb.notifications.worker import deliver_due
from tests import delivery_scenario
from tests.delivery_scenario import Mailbox, ask_olga
from tests.factories import make_cast
from tests.processes import free_port


def _setup(settings, database):  # noqa: ANN001, ANN202
    from kb.accounts import service as accounts
    from kb.actors import Channel
    from kb.db import transaction
    from kb.notifications import service
    from kb.notifications.models import DeliveryMode

    make_cast(database)
    with database.session() as session, transaction(session):
        olga = accounts.actor_for(session, accounts.get_user(session, "olga"), Channel.api)
        service.set_preference(session, actor=olga, mode=DeliveryMode.email)


def _deliveries(database) -> list[Delivery]:  # noqa: ANN001
    with database.session() as session:
        return list(session.execute(select(Delivery).order_by(Delivery.id)).scalars())


def test_mail_is_retried_with_backoff_until_the_server_is_back(settings, database) -> None:  # noqa: ANN001
    _setup(settings, database)
    mailbox = Mailbox(free_port())
    configured = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": mailbox.port, "smtp_security": "none",
                                             "notify_backoff_seconds": 30, "notify_backoff_max_seconds": 3600})
    for n in range(5):
        ask_olga(database, configured, n)
    now = utcnow()
    assert deliver_due(database, configured, now=now).retrying == 5  # the server is down
    assert deliver_due(database, configured, now=now + dt.timedelta(seconds=29)).retrying == 0  # backing off: 30 s
    assert deliver_due(database, configured, now=now + dt.timedelta(seconds=31)).retrying == 5
    waits = [(d.next_attempt_at - (now + dt.timedelta(seconds=31))).total_seconds() for d in _deliveries(database)]
    assert all(59 <= wait <= 61 for wait in waits)  # doubled after the second failure
    mailbox.up()
    try:
        assert deliver_due(database, configured, now=now + dt.timedelta(minutes=5)).sent == 5
    finally:
        mailbox.down()
    assert sorted(mailbox.ids) == sorted(d.key for d in _deliveries(database)) and set(mailbox.ids.values()) == {1}
    assert all(d.attempts == 3 and d.status == "sent" for d in _deliveries(database))


def test_a_claim_of_a_dead_worker_is_taken_over_after_its_lease(settings, database) -> None:  # noqa: ANN001
    _setup(settings, database)
    mailbox = Mailbox(free_port())
    configured = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": mailbox.port, "smtp_security": "none",
                                             "notify_lease_seconds": 120})
    ask_olga(database, configured, 0)
    now = utcnow()
    with database.session() as session:
        dead = outbox.claim(session, worker="dead", limit=10, lease_seconds=120, now=now)  # and then it died
    assert len(dead) == 1
    mailbox.up()
    try:
        assert deliver_due(database, configured, worker="alive", now=now + dt.timedelta(seconds=60)).sent == 0  # still held
        assert deliver_due(database, configured, worker="alive", now=now + dt.timedelta(seconds=121)).sent == 1
    finally:
        mailbox.down()
    with database.session() as session:
        # the dead worker's late report changes nothing: its claim was lost
        assert outbox.finish(session, dead[0], worker="dead", error="boom", settings=configured) is None
    assert _deliveries(database)[0].status == "sent" and list(mailbox.ids.values()) == [1]


def test_kill_9_twice_while_receivers_are_down(settings, database, tmp_path) -> None:  # noqa: ANN001
    _setup(settings, database)
    outcome = delivery_scenario.run(settings, database, tmp_path, events=150, cause=ask_olga)
    assert outcome.kills == 2 and outcome.failed == 0
    assert outcome.inbox_rows == outcome.inbox_unique == 150  # exactly once
    assert outcome.emails_expected == outcome.webhooks_expected == 150
    assert outcome.missing_emails == set() and outcome.missing_webhooks == set()  # at least once
    assert outcome.emails_unique == outcome.webhooks_unique == 150  # deduplicated by id
