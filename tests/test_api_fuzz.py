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

from contextlib import ExitStack

import pytest

from kb.app import create_app
from kb.search.indexer import SearchIndexes
from tests.api_fuzz import IDENTITIES, Target, build_world, fuzz
from tests.audit import head_seq
from tests.conftest import available_backends, backend_database, backend_settings
from tests.fakes import HashingEmbedder

CASES_PER_OPERATION = 100
FEW_INPUTS = {"GET /api/v1/taxonomy/export"}  # ?format=turtle|json-ld (issue 20)


@pytest.mark.slow  # about 200 s with both backends
@pytest.mark.parametrize("backends", [available_backends()], ids="+".join)  # the test's id names the backends it ran on
def test_schemathesis_finds_no_server_error_and_no_failure(backends, tmp_path, request) -> None:  # noqa: ANN001
    """Each case is drawn once and sent to kb on SQLite and to kb on PostgreSQL (when KB_TEST_DATABASE_URL is set)."""
    with ExitStack() as stack:
        targets = []
        for backend in backends:
            (tmp_path / backend).mkdir()
            settings = backend_settings(backend, tmp_path / backend, request)
            database = stack.enter_context(backend_database(settings, backend))
            cast = build_world(database)
            generous = settings.model_copy(update={
                "rate_limit_public_search": "100000/minute", "rate_limit_login": "100000/minute",
                "rate_limit_login_ip": "100000/minute", "rate_limit_posting": "100000/hour"})
            app = create_app(generous, database=database, search=SearchIndexes(generous, embedder=HashingEmbedder()))
            with database.session() as session:
                app.state.search.catch_up(session)
            targets.append(Target(backend, app, database, cast))
        before = {target.name: head_seq(target.database) for target in targets}
        results = fuzz(targets, cases_per_operation=CASES_PER_OPERATION, seed=20261123)
        after = {target.name: head_seq(target.database) for target in targets}
    assert list(results) == backends
    for backend, figures in results.items():
        print(f"T2 {backend}:", figures.summary())
        assert figures.server_errors == [], backend
        assert figures.failures == {}, backend
        assert figures.operations_tested == figures.operations_total >= 60, backend
        assert set(figures.per_identity) == {"anonymous", "reader", "contributor", "owner", "owner2", "moderator", "admin",
                                             "outsider_owner"}, backend
        # Every operation gets its 100 cases, unless it takes no input but the identity: then hypothesis
        # has tried each identity once and there is nothing else to draw. FEW_INPUTS take only a few values
        # besides it: hypothesis draws them all (valid and invalid) and stops short too, with more than one a person.
        short = {label: n for label, n in figures.per_operation.items() if n < CASES_PER_OPERATION}
        assert all(n == len(IDENTITIES) or (label in FEW_INPUTS and n > len(IDENTITIES)) for label, n in short.items()), (
            backend, short)
    # The backends were sent the same requests, case for case.
    assert len({figures.cases for figures in results.values()}) == 1
    assert len({tuple(sorted(figures.per_operation.items())) for figures in results.values()}) == 1
    # Each backend answered its own requests (its audit log grew), and the same request got the same status on each.
    assert all(after[backend] > before[backend] for backend in results), (before, after)
    first, *others = results.values()
    for figures in others:
        differ = [(one, other) for one, other in zip(first.answers, figures.answers) if one != other]
        assert differ == [], differ[:20]

