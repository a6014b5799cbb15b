"""The public endpoint never leaks (RELIABILITY T1 and T14).

The check itself lives in tests/leak_check.py: a seeded corpus in every state, audience and
validity window with canary tokens in every non-public item and in the people who write them, and a
concept of its own on every document (facets must never name or count a non-public one); every
public endpoint asked with canaries, attack syntax, odd strings and bad paging; then a stale-index
round. Here at CI size with the real embedding model and the multilingual index of public passages
(``KB_PUBLIC_MULTILINGUAL``, on by default) on throughout, with questions in other languages and
``lang=`` variants; bench/public_leak.py runs it at ≥ 2,000 documents × ≥ 1,000 queries. Figures:
non-public results = 0, canary bytes = 0.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from hypothesis import strategies as st

from kb.app import create_app
from tests.factories import make_cast, make_document
from tests.leak_check import ATTACKS, STATES, VOCABULARY, build_corpus, queries_for, run_leak_check

DOCUMENTS = 150
QUERIES = 300


def test_public_endpoint_leaks_nothing_even_with_a_stale_index(settings, database) -> None:  # noqa: ANN001
    corpus = build_corpus(database, DOCUMENTS)
    queries = queries_for(corpus, QUERIES)
    unlimited = settings.model_copy(update={"rate_limit_public_search": "100000/minute"})
    with TestClient(create_app(unlimited, database=database)) as client:
        multilingual = client.app.state.search.multilingual
        assert multilingual is not None and multilingual.chunk_ids(), "the multilingual index is on and filled"
        with database.session() as session:
            assert client.app.state.search.check(session).clean, "it holds exactly the public approved chunks"
        figures = run_leak_check(client, database, corpus, queries)
    assert figures.non_public_results == []
    assert figures.canary_hits == []
    assert figures.wrong_document_status == []
    assert figures.bad_input_accepted == [] and figures.server_errors == []
    assert figures.facet_leaks == [] and figures.facet_values > 0  # issue 20: no count or facet reveals a document
    assert figures.results > 0 and figures.visible >= 5 and figures.canaries >= 100 and figures.flipped >= 3
    assert set(corpus.states) == set(STATES)
    print("T1:", figures.summary())


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(q=st.one_of(st.text(min_size=1, max_size=80),
                   st.lists(st.sampled_from(VOCABULARY + ATTACKS + ["zqleak0001x", "OR", "AND", ":", "*"]),
                            min_size=1, max_size=6).map(" ".join)))
def test_generated_queries_never_reach_internal_content(q: str, hypothesis_corpus) -> None:  # noqa: ANN001
    client, forbidden = hypothesis_corpus
    response = client.get("/public/v1/search", params={"q": q})
    assert response.status_code in (200, 400, 422)
    payload = response.json()
    payload.pop("query", None)
    seen = str(payload).casefold()  # display names are title case ("Carl"), canaries are lower case
    assert not any(canary.casefold() in seen for canary in forbidden)
    if response.status_code == 200:
        assert {h["document"] for h in response.json()["data"]} <= {"public-page"}


@pytest.fixture
def hypothesis_corpus(settings, database):  # noqa: ANN001, ANN201
    cast = make_cast(database)
    make_document(database, cast, slug="public-page", state="approved", body="# Benefit claim\n\nHow to claim a benefit.")
    for i, state in enumerate(STATES):
        make_document(database, cast, slug=f"internal-{i}", state=state, audience="internal",
                      body=f"# Benefit OR claim zqleak000{i}x\n\nInternal benefit claim rules zqleak000{i}x.")
    unlimited = settings.model_copy(update={"rate_limit_public_search": "100000/minute"})
    with TestClient(create_app(unlimited, database=database)) as client:
        yield client, [f"zqleak000{i}x" for i in range(len(STATES))] + ["carl", "olga"]


def test_the_facet_check_can_fail() -> None:
    """The check itself: a facet naming a non-public document's own concept, or counting more than was found, is caught."""
    from tests.leak_check import Checker, Figures

    figures = Figures()
    checker = Checker(None, figures, [], slugs=["doc-00000", "doc-00001"])
    payload = {"total": 1, "data": [], "facets": [{"values": [
        {"concept": "subject:d0", "count": 1, "selected": False},  # allowed
        {"concept": "subject:d1", "count": 1, "selected": False},  # not allowed: a leak
        {"concept": "subject:d1", "count": 0, "selected": True},  # the citizen's own selection echoed: no leak
        {"concept": "subject:all", "count": 2, "selected": False},  # more than found: a leak
    ]}]}
    checker._facets(payload, {"doc-00000"}, "test")
    assert [concept for concept, _ in figures.facet_leaks] == ["subject:d1", "subject:all counts 2 of 1"]
    assert figures.facet_values == 4
