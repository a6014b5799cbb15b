"""The public endpoint never leaks (RELIABILITY T1 and T14).

A seeded generator builds documents in every state, both audiences and past/current/future validity
windows; every item that must not be public carries a unique canary token, and the people who write
them carry canary names. Queries: random words, the canaries, titles, query-syntax attacks, long and
odd-Unicode strings, bad paging. Then documents are flipped to internal or retired *in the database
only* (a stale index) and queried again. Figures: non-public results = 0, canary bytes = 0.
"""

from __future__ import annotations

import random

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import text

from kb.actors import SpaceRole
from kb.app import create_app
from tests.factories import make_cast, make_document, make_person

DOCUMENTS = 150
QUERIES = 300
STATES = ["draft", "in_review", "approved", "superseded", "retired", "rejected"]
WINDOWS = {"past": ("2020-01-01", "2021-01-01"), "current": ("2020-01-01", None), "future": ("2099-01-01", None)}
VOCABULARY = "benefit child housing allowance unemployment rent payment claim form quarter parents tenant income".split()
ATTACKS = ["benefit OR audience:internal", "state:draft OR benefit", "audience:internal", "*", "id:1", "zqleak*",
           "title:zqleak0001x", "benefit^100", "(zqleak) OR (zqpub)", '"zqleak0002x"~5', "\\", "((((", "‮zqleak",
           "NOT benefit", "benefit AND NOT x", "{!lucene}benefit", "benefit%00", "<script>zqleak</script>"]


def _corpus(database) -> tuple[set[str], list[str], dict[str, str], list[str]]:  # noqa: ANN001
    """Build the documents; return allowed slugs, canaries, token → slug of public documents, person canaries."""
    rng = random.Random(20261123)
    cast = make_cast(database)
    cast["contributor"] = make_person(database, "zqcanaryauthor", spaces={"benefits": SpaceRole.contributor})
    cast["owner"] = make_person(database, "zqcanaryowner", spaces={"benefits": SpaceRole.owner})
    people = ["zqcanaryauthor", "zqcanaryowner", "Zqcanaryauthor", "zqcanaryowner@example.test"]
    allowed: set[str] = set()
    canaries: list[str] = []
    public_tokens: dict[str, str] = {}
    for i in range(DOCUMENTS):
        state = rng.choices(STATES, weights=[1, 1, 3, 1, 1, 1])[0]
        audience, window = rng.choice(["public", "internal"]), rng.choices(list(WINDOWS), weights=[1, 2, 1])[0]
        slug = f"doc-{i:04d}"
        visible = state in ("approved", "superseded") and audience == "public" and window == "current"
        token = f"zqpub{i:04d}x" if visible and state == "approved" else f"zqleak{i:04d}x"
        words = " ".join(rng.sample(VOCABULARY, 4))
        # a superseded document's title lives on in its approved version 2: only its v1 body is secret
        title = words.title() if state == "superseded" else f"{words.title()} {token}"
        make_document(database, cast, slug=slug, state=state, audience=audience, title=title,
                      body=f"# {words.title()} {token}\n\nAbout {words}. Reference {token}.",
                      valid_from=WINDOWS[window][0], valid_until=WINDOWS[window][1])
        if visible:
            allowed.add(slug)
        if token.startswith("zqleak"):
            canaries.append(token)
        else:
            public_tokens[token] = slug
    return allowed, canaries, public_tokens, people


def _queries(rng: random.Random, canaries: list[str], public_tokens: dict[str, str]) -> list[str]:
    queries = list(canaries) + list(public_tokens) + ATTACKS
    queries += ["x" * 500, "é" * 499, "🙂" * 200, "中文 查询 benefit", "\u200b\u200bbenefit", "a\u0000b"]
    while len(queries) < QUERIES:
        queries.append(" ".join(rng.sample(VOCABULARY, rng.randint(1, 5))))
    return queries[:max(QUERIES, len(canaries) + len(public_tokens) + len(ATTACKS) + 6)]


def _assert_clean(response, allowed: set[str], forbidden: list[str]) -> int:  # noqa: ANN001
    import json

    assert response.status_code < 500, response.text
    payload = response.json()
    payload.pop("query", None)  # the echo of what the citizen typed is not a leak
    body = json.dumps(payload, ensure_ascii=False) + str(dict(response.headers))
    for canary in forbidden:
        assert canary not in body, f"{canary} leaked in {response.request.url}"
    if response.status_code == 200 and "data" in response.json():
        found = {hit["document"] for hit in response.json()["data"]}
        assert found <= allowed, f"non-public results: {found - allowed}"
        return len(found)
    return 0


def test_public_endpoint_leaks_nothing_even_with_a_stale_index(settings, database) -> None:  # noqa: ANN001
    allowed, canaries, public_tokens, people = _corpus(database)
    forbidden = canaries + people
    rng = random.Random(7)
    queries = _queries(rng, canaries, public_tokens)
    unlimited = settings.model_copy(update={"rate_limit_public_search": "100000/minute"})
    results = 0
    with TestClient(create_app(unlimited, database=database)) as client:
        for q in queries:
            results += _assert_clean(client.get("/public/v1/search", params={"q": q}), allowed, forbidden)
        for params in ({"q": "benefit", "page": 0}, {"q": "benefit", "page": -1}, {"q": "benefit", "page": 10**9},
                       {"q": "benefit", "page_size": 0}, {"q": "benefit", "page_size": 10**9}, {"q": ""}):
            response = client.get("/public/v1/search", params=params)
            assert 400 <= response.status_code < 500
            _assert_clean(response, allowed, forbidden)
        for i in range(DOCUMENTS):
            slug = f"doc-{i:04d}"
            response = client.get(f"/public/v1/documents/{slug}")
            assert response.status_code == (200 if slug in allowed else 404), slug
            _assert_clean(response, allowed, forbidden)
        spec = client.get("/openapi.json").text
        assert not any(canary in spec for canary in forbidden)

        # stale index: flip half the visible documents to internal or retired in the database only
        flipped = sorted(allowed)[::2]
        with database.engine.begin() as connection:
            for n, slug in enumerate(flipped):
                if n % 2:
                    connection.execute(text("UPDATE document_version SET audience = 'internal' WHERE id = "
                                            "(SELECT current_version_id FROM document WHERE slug = :s)"), {"s": slug})
                else:
                    connection.execute(text("UPDATE document_version SET state = 'retired' WHERE id = "
                                            "(SELECT current_version_id FROM document WHERE slug = :s)"), {"s": slug})
                    connection.execute(text("UPDATE document SET current_version_id = NULL WHERE slug = :s"), {"s": slug})
        still_allowed = allowed - set(flipped)
        stale_canaries = [token for token, slug in public_tokens.items() if slug in flipped]
        assert client.app.state.search.keyword.chunk_ids(), "the index still holds the flipped documents"
        for q in queries + stale_canaries:
            results += _assert_clean(client.get("/public/v1/search", params={"q": q}), still_allowed, forbidden + stale_canaries)
        for slug in flipped:
            assert client.get(f"/public/v1/documents/{slug}").status_code == 404
    assert results > 0 and len(allowed) >= 5 and len(canaries) >= 100
    print(f"T1: documents={DOCUMENTS} visible={len(allowed)} canaries={len(canaries)} queries={len(queries)} "
          f"(+{len(stale_canaries)} stale) flipped={len(flipped)} non_public_results=0 canary_hits=0")


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
    assert not any(canary in str(payload) for canary in forbidden)
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
