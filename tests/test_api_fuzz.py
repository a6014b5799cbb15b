"""Schemathesis in CI (RELIABILITY T2, T3): every operation, as every role, on SQLite.

A small run (a few cases per operation); bench/fuzz_api.py runs ≥ 100 per operation on SQLite
and PostgreSQL. Checks: no 5xx, status codes, content types, headers and bodies as the OpenAPI
spec declares them, declared authentication enforced (ignored_auth), invalid input refused
(negative_data_rejection). object_level_authorization needs schemathesis's stateful CLI runner;
the hand-written role matrix (tests/test_role_matrix.py) covers object- and function-level access.
"""

from __future__ import annotations

import pytest

from kb.app import create_app
from kb.search.indexer import SearchIndexes
from tests.api_fuzz import build_world, fuzz
from tests.fakes import HashingEmbedder

CASES_PER_OPERATION = 8


def test_schemathesis_finds_no_server_error_and_no_failure(settings, database, backend: str) -> None:  # noqa: ANN001
    if backend != "sqlite":
        pytest.skip("CI runs the fuzz on SQLite; bench/fuzz_api.py covers PostgreSQL")
    cast = build_world(database)
    generous = settings.model_copy(update={
        "rate_limit_public_search": "100000/minute", "rate_limit_login": "100000/minute",
        "rate_limit_login_ip": "100000/minute", "rate_limit_posting": "100000/hour"})
    app = create_app(generous, database=database, search=SearchIndexes(generous, embedder=HashingEmbedder()))
    with database.session() as session:
        app.state.search.catch_up(session)
    figures = fuzz(app, database, cast, cases_per_operation=CASES_PER_OPERATION, seed=20261123)
    print("T2:", figures.summary())
    assert figures.server_errors == []
    assert figures.failures == {}
    assert figures.operations_tested == figures.operations_total >= 60
    assert set(figures.per_identity) == {"anonymous", "reader", "contributor", "owner", "owner2", "moderator", "admin",
                                         "outsider_owner"}
