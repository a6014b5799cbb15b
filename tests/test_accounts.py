"""Accounts service rules not covered through the API: web sessions, roles, passwords."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from kb.accounts import service
from kb.db import transaction
from kb.errors import KbError
from tests.audit import audit_events
from tests.factories import make_person


def test_web_session_lifecycle(database) -> None:  # noqa: ANN001
    make_person(database, "rita", password="long enough password")
    with database.session() as session:
        user = service.authenticate(session, username="rita", password="long enough password")
        with transaction(session):
            _row, cookie = service.create_web_session(session, user=user, max_age_seconds=60)
        actor, web_session = service.resolve_web_session(session, cookie)
        assert actor.username == "rita" and len(web_session.csrf_token) >= 24
        assert service.resolve_web_session(session, cookie + "x") is None
        with transaction(session):
            service.end_web_session(session, actor=actor, web_session=web_session)
        assert service.resolve_web_session(session, cookie) is None
    with database.engine.connect() as connection:
        stored = connection.execute(text("SELECT token_hash FROM web_session")).scalar()
    assert stored != cookie and len(stored) == 64
    assert [e["action"] for e in audit_events(database)][-2:] == ["session.create", "session.end"]


def test_expired_web_session_is_refused(database) -> None:  # noqa: ANN001
    make_person(database, "rita", password="long enough password")
    with database.session() as session:
        user = service.get_user(session, "rita")
        with transaction(session):
            _row, cookie = service.create_web_session(session, user=user, max_age_seconds=60)
        with transaction(session):
            session.execute(text("UPDATE web_session SET expires_at = '2000-01-01 00:00:00'"))
        assert service.resolve_web_session(session, cookie) is None


def test_passwords_are_argon2_hashes(database) -> None:  # noqa: ANN001
    make_person(database, "rita", password="long enough password")
    with database.engine.connect() as connection:
        stored = connection.execute(text("SELECT password_hash FROM user_account")).scalar()
    assert stored.startswith("$argon2id$") and "long enough" not in stored


def test_kb_hashes_passwords_with_argon2id_at_rfc_9106_cost() -> None:
    """kb's own hasher, read in a fresh process (this one hashes cheaply: tests/conftest.py): argon2id, 3 passes
    over 64 MiB in 4 lanes (RFC 9106's second recommended option), and a hash it makes says so."""
    import subprocess
    import sys

    probe = ("from kb.accounts import service\n"
             "h = service._hasher\n"
             "print(h.type.name, h.time_cost, h.memory_cost, h.parallelism, service.hash_password('x' * 12).split('$')[3])\n")
    printed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert printed == ["ID", "3", "65536", "4", "m=65536,t=3,p=4"]


def test_user_without_password_cannot_log_in(database) -> None:  # noqa: ANN001
    make_person(database, "tokenonly")
    with database.session() as session, pytest.raises(KbError) as caught:
        service.authenticate(session, username="tokenonly", password="anything at all")
    assert caught.value.code.code == "invalid_credentials"
