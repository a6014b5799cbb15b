"""Schemathesis in CI (RELIABILITY T2, T3): every operation, as every role, on SQLite and PostgreSQL.

100 cases per operation (half valid, half invalid data), as bench/fuzz_api.py runs them; an
operation that takes no input but the identity has only as many distinct cases as there are
identities, and hypothesis stops once it has tried them all. Checks: no 5xx, status codes, content
types, headers and bodies as the OpenAPI spec declares them, declared authentication enforced
(ignored_auth), invalid input refused (negative_data_rejection). object_level_authorization needs
schemathesis's stateful CLI runner (bench/fuzz_bola.py); the hand-written role matrix
(tests/test_role_matrix.py) covers object- and function-level access.
"""

from __future__ import annotations

import pytest

from kb.app import create_app
from kb.search.indexer import SearchIndexes
from tests.api_fuzz import IDENTITIES, build_world, fuzz
from tests.fakes import HashingEmbedder

CASES_PER_OPERATION = 100
FEW_INPUTS = {"GET /api/v1/taxonomy/export"}  # ?format=turtle|json-ld (issue 20)


@pytest.mark.slow  # about 160 s per backend
def test_schemathesis_finds_no_server_error_and_no_failure(settings, database) -> None:  # noqa: ANN001
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
    # Every operation gets its 100 cases, unless it takes no input but the identity: then hypothesis
    # has tried each identity once and there is nothing else to draw. FEW_INPUTS take only a few values
    # besides it: hypothesis draws them all (valid and invalid) and stops short too, with more than one a person.
    short = {label: n for label, n in figures.per_operation.items() if n < CASES_PER_OPERATION}
    assert all(n == len(IDENTITIES) or (label in FEW_INPUTS and n > len(IDENTITIES)) for label, n in short.items()), short
