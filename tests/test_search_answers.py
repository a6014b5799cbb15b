"""Honest results (issue 17): "no good answer", plain-text snippets, compact hits, pages, the insights gap rate,
search readiness in /api/v1/health — on the API, the web page, the public API and the public page.

The bar's thresholds are the real model's (kb.search.relevance); these tests use the real model, as the
rest of tests/test_search.py does. The pure rule is tested with hand-made similarities.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from kb.app import create_app
from kb.search.relevance import BAR, Bar, answer_quality, clears
from kb.search.retrieval import Found
from kb.search.schemas import AnswerQuality
from tests.factories import make_cast, make_document, sign_in

DOG = "can I bring my dog to the office on fridays"
PENSION = "at what age do I get my state pension"


@pytest.fixture
def corpus(database):  # noqa: ANN001, ANN201
    cast = make_cast(database)
    make_document(database, cast, slug="state-pension", state="approved",
                  body="# State pension\n\nAn introduction to the scheme and its history, which began long ago.\n\n"
                       "## Age\n\nYou get the state pension from the **state pension age**, which is 67 today.")
    make_document(database, cast, slug="failover-runbook", state="approved", audience="internal",
                  body="# Failover runbook\n\nPromote the standby database when the primary fails.")
    for n in range(12):  # enough related pages for two pages of hits
        make_document(database, cast, slug=f"pension-note-{n}", state="approved",
                      body=f"# Pension note {n}\n\nA note on pension payments, number {n}, paid twice a year.")
    return cast


@pytest.fixture
def app_client(settings, database, corpus):  # noqa: ANN001, ANN201
    with TestClient(create_app(settings, database=database)) as test_client:
        yield test_client


# ------------------------------------------------------------------------------------------ the rule

@pytest.mark.parametrize(("similarity", "multilingual", "language", "expected"), [
    (BAR.similarity, None, "en", True), (BAR.similarity - 0.01, None, "en", False),
    (0.9, 0.0, "nl", False),  # the English model does not judge a Dutch question
    (None, BAR.multilingual, "nl", True),
    (0.9, BAR.multilingual - 0.01, None, False),  # unsure of the language: both encoders must agree
    (0.9, None, None, True),
])
def test_the_bar_asks_each_encoder_where_it_is_valid(similarity, multilingual, language, expected) -> None:  # noqa: ANN001
    assert clears(Found(1, 1, 0.0, similarity, multilingual), language) is expected


def test_answer_quality_looks_at_the_first_ten_documents_only() -> None:
    weak, strong = Found(1, 1, 0.0, 0.1), Found(2, 2, 0.0, 0.9)
    assert answer_quality([weak] * 10 + [strong], "en") is AnswerQuality.none
    assert answer_quality([weak] * 9 + [strong], "en") is AnswerQuality.good
    assert answer_quality([], "en", Bar(0.0, 0.0)) is AnswerQuality.none


# ------------------------------------------------------------------------------------------- the API

def test_api_says_no_good_answer_for_an_off_topic_question(app_client, corpus) -> None:  # noqa: ANN001
    body = app_client.get("/api/v1/search", params={"q": DOG}, headers=corpus["reader"].headers).json()
    assert body["answer_quality"] == "none"
    assert all(hit["answers"] is False for hit in body["data"])
    good = app_client.get("/api/v1/search", params={"q": PENSION}, headers=corpus["reader"].headers).json()
    assert good["answer_quality"] == "good" and good["data"][0]["document"] == "state-pension"
    assert good["data"][0]["answers"] is True


def test_api_snippet_is_plain_text_from_the_passage_that_answers(app_client, corpus) -> None:  # noqa: ANN001
    top = app_client.get("/api/v1/search", params={"q": PENSION}, headers=corpus["reader"].headers).json()["data"][0]
    text = top["passage"]["text"]
    assert "**" not in text and "state pension age" in text
    marked = {text[a:b].lower() for a, b in top["passage"]["highlights"]}
    assert "pension" in marked and not marked & {"the", "at", "what", "do", "i", "my"}


def test_api_pages_carry_totals_and_page_count(app_client, corpus) -> None:  # noqa: ANN001
    first = app_client.get("/api/v1/search", params={"q": "pension payments", "page_size": 5},
                           headers=corpus["reader"].headers).json()
    assert first["total"] >= 13 and first["page_count"] == -(-first["total"] // 5) and len(first["data"]) == 5
    last = app_client.get("/api/v1/search", params={"q": "pension payments", "page_size": 5, "page": first["page_count"]},
                          headers=corpus["reader"].headers).json()
    assert last["page"] == first["page_count"] and 1 <= len(last["data"]) <= 5


def test_public_api_says_no_good_answer_and_pages(app_client) -> None:  # noqa: ANN001
    body = app_client.get("/public/v1/search", params={"q": DOG}).json()
    assert body["answer_quality"] == "none" and "failover-runbook" not in {h["document"] for h in body["data"]}
    good = app_client.get("/public/v1/search", params={"q": PENSION, "page_size": 5}).json()
    assert good["answer_quality"] == "good" and good["page_count"] == -(-good["total"] // 5)
    assert "**" not in good["data"][0]["passage"]["text"]


def test_insights_count_searches_without_a_good_answer(app_client, corpus) -> None:  # noqa: ANN001
    for q in (DOG, DOG, PENSION):
        app_client.get("/api/v1/search", params={"q": q}, headers=corpus["reader"].headers)
    day = app_client.get("/api/v1/insights/queries", headers=corpus["owner"].headers).json()["data"][0]
    assert day["searches"] == 3 and day["no_answer"] == 2 and day["zero_result"] <= 2
    assert day["top_no_answer_queries"] == [{"query": DOG.casefold(), "count": 2}]


def test_health_says_when_search_is_ready(app_client) -> None:  # noqa: ANN001
    app_client.app.state.search_warmup.wait(120)
    body = app_client.get("/api/v1/health").json()
    assert body["search"] == "ready" and body["status"] == "ok"


# ------------------------------------------------------------------------------------------- the web

def test_web_puts_ask_the_community_first_when_nothing_answers(app_client, database, corpus) -> None:  # noqa: ANN001
    sign_in(app_client, database, "rita")
    page = app_client.get("/search", params={"q": DOG}).text
    assert "No good answer in curated knowledge" in page
    ask, hits = page.index("Ask the community"), page.find('class="hits"')
    assert hits == -1 or ask < hits
    assert "From the community" not in page  # its content moved into the notice


def test_web_hits_are_compact_with_the_card_on_demand_and_pages(app_client, database, corpus) -> None:  # noqa: ANN001
    sign_in(app_client, database, "rita")
    page = app_client.get("/search", params={"q": "pension payments"}).text
    assert "No good answer" not in page or 'class="hit weak"' in page
    first_hit = page[page.index('<li class="hit'):page.index("</li>", page.index('<li class="hit'))]
    assert 'class="provenance-line"' in first_hit and "Approved by" in first_hit
    assert re.search(r"<details class=\"hit-more\">\s*<summary>", first_hit)
    assert first_hit.index("provenance-line") < first_hit.index('<section class="card"')
    assert "page 1 of 2" in page and 'rel="next"' in page and 'rel="prev"' not in page
    second = app_client.get("/search", params={"q": "pension payments", "page": 2}).text
    assert "page 2 of 2" in second and 'rel="prev"' in second and 'rel="next"' not in second


def test_public_page_is_compact_honest_and_paged(app_client) -> None:  # noqa: ANN001
    page = app_client.get("/public", params={"q": DOG}).text
    assert "No page answers your question well." in page or "Nothing found. Try other words." in page
    good = app_client.get("/public", params={"q": "pension payments"}).text
    hit = good[good.index('<li class="hit'):good.index("</li>", good.index('<li class="hit'))]
    assert 'class="provenance-line"' in hit and "<details" in hit and "**" not in hit
    assert "Page 1 of 2" in good and 'rel="next"' in good
    assert 'rel="prev"' in app_client.get("/public", params={"q": "pension payments", "page": 2}).text


def test_admin_insights_show_the_no_good_answer_rate(app_client, database, corpus) -> None:  # noqa: ANN001
    app_client.get("/api/v1/search", params={"q": DOG}, headers=corpus["reader"].headers)
    sign_in(app_client, database, "adam")
    response = app_client.get("/insights")
    assert response.status_code == 200, response.text[-3000:]
    page = response.text
    assert "“No good answer” rate" in page and "Zero-result rate" not in page and DOG.casefold() in page
