"""What applies to me (issue 20): citizens pick their situation and see the approved public pages that apply,
grouped by topic, with their cards, in their language; the address holds the situations; only anonymous
counts are kept; the owners see which situations are picked and where no page applies (the content gaps).
On SQLite and PostgreSQL (the ``client`` fixture)."""

from __future__ import annotations

import datetime as dt
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import select

from kb.db import transaction
from kb.search.models import QueryLog, SituationCount
from kb.taxonomy import actions as taxonomy
from kb.taxonomy.schemas import ConceptCreate, SchemeCreate
from tests.factories import make_document, sign_in

FIVE = {"en", "nl", "de", "fr", "es"}


def build_taxonomy(database, actor) -> None:  # noqa: ANN001
    """Situations (one hierarchy: in education > student) and topics, labelled in English and Dutch."""
    with database.session() as session:
        taxonomy.create_scheme(session, actor, data=SchemeCreate(key="situation", field="applies_to",
                                                                 titles={"en": "Life situation", "nl": "Levenssituatie"}))
        for key, en, nl, broader in [("education", "In education", "In opleiding", None),
                                     ("student", "Student", "Student", "education"),
                                     ("tenant", "Tenant", "Huurder", None), ("parent", "Parent", "Ouder", None),
                                     ("carer", "Carer", "Mantelzorger", None)]:
            taxonomy.create_concept(session, actor, scheme="situation",
                                    data=ConceptCreate(key=key, broader=broader, preferred={"en": en, "nl": nl}))
        taxonomy.create_scheme(session, actor, data=SchemeCreate(key="topic", field="topic", titles={"en": "Topic"}))
        for key, en, nl in [("housing", "Housing", "Wonen"), ("money", "Money", "Geld")]:
            taxonomy.create_concept(session, actor, scheme="topic", data=ConceptCreate(key=key, preferred={"en": en, "nl": nl}))


@pytest.fixture
def situations(database, cast):  # noqa: ANN001, ANN201
    build_taxonomy(database, cast["admin"].actor)
    make_document(database, cast, slug="housing-allowance", state="approved", title="Housing allowance",
                  body="# Housing allowance\n\nHelp to pay the rent when you rent your home.",
                  applies_to=["situation:tenant"], topic=["topic:housing"])
    make_document(database, cast, slug="huurtoeslag", state="approved", language="nl", translation_of="housing-allowance",
                  title="Huurtoeslag", body="# Huurtoeslag\n\nHulp bij het betalen van de huur.",
                  applies_to=["situation:tenant"], topic=["topic:housing"])
    make_document(database, cast, slug="student-grant", state="approved", title="Student grant",
                  body="# Student grant\n\nMoney for your studies: the grant and the student loan.",
                  applies_to=["situation:student"], topic=["topic:money"])
    make_document(database, cast, slug="study-costs", state="approved", title="Study costs",
                  body="# Study costs\n\nWhat books and travel cost while you study.", applies_to=["situation:student"])
    # never to be seen: internal, a draft, expired, and a public page that applies to nobody in particular
    make_document(database, cast, slug="tenant-internal", state="approved", audience="internal", title="Zqinternal rent rules",
                  applies_to=["situation:tenant"], topic=["topic:housing"])
    make_document(database, cast, slug="tenant-draft", state="draft", title="Zqdraft rent rules", applies_to=["situation:tenant"])
    make_document(database, cast, slug="tenant-expired", state="approved", title="Zqexpired rent rules",
                  valid_from="2020-01-01", valid_until="2021-01-01", applies_to=["situation:tenant"])
    return cast


def _slugs(payload: dict) -> list[str]:
    return [page["document"] for group in payload["groups"] for page in group["pages"]]


# ------------------------------------------------------------------------------------- API

def test_a_dutch_student_and_tenant_sees_what_applies_grouped_by_topic(client, situations) -> None:  # noqa: ANN001
    response = client.get("/public/v1/explore", params=[("s", "student"), ("s", "tenant"), ("lang", "nl")])
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["situations"] == ["situation:student", "situation:tenant"]
    assert payload["total"] == 3  # housing allowance and its translation count once
    assert [g["label"] for g in payload["groups"]] == ["Geld", "Wonen", "Overige onderwerpen"]
    assert [g["topic"] for g in payload["groups"]] == ["topic:money", "topic:housing", None]
    housing = payload["groups"][1]["pages"]
    assert [p["document"] for p in housing] == ["huurtoeslag"]  # the Dutch translation, shown once
    assert housing[0]["applies_to"] == ["Huurder"] and housing[0]["in_preferred_language"] is True
    assert housing[0]["provenance"]["organisation"] and housing[0]["provenance"]["intended_use"] == "Tests"
    assert housing[0]["original"]["document"] == "housing-allowance"
    assert housing[0]["receipt_url"] == "/public/v1/documents/huurtoeslag/receipt"
    assert payload["labels"]["card.organisation"] == "Gepubliceerd door" or payload["labels_language"] == "nl"
    # the questions, in Dutch: one per top concept with what is below it, then the situations that stand alone
    assert [(q["title"], [o["label"] for o in q["options"]]) for q in payload["questions"]] == [
        ("In opleiding", ["Student"]), ("Levenssituatie", ["Huurder", "Mantelzorger", "Ouder"])]
    options = {o["value"]: o for q in payload["questions"] for o in q["options"]}
    assert options["tenant"]["label"] == "Huurder" and options["tenant"]["picked"] and not options["parent"]["picked"]
    share = urlsplit(payload["share_url"])
    assert share.path == "/public/explore"
    assert parse_qsl(share.query) == [("s", "student"), ("s", "tenant"), ("lang", "nl")]
    assert "zq" not in response.text.casefold()


def test_broader_situations_and_accept_language(client, situations) -> None:  # noqa: ANN001
    # a page for a student applies to whoever picked its broader "in education"
    payload = client.get("/public/v1/explore?s=situation:education", headers={"Accept-Language": "nl-NL,nl;q=0.9"}).json()
    assert sorted(_slugs(payload)) == ["student-grant", "study-costs"]
    assert payload["preferred_language"] == "nl" and payload["labels_language"] == "nl"
    assert payload["share_url"].endswith("/public/explore?s=education&lang=nl")  # what the sharer sees, in their language
    english = client.get("/public/v1/explore?s=tenant").json()
    assert _slugs(english) == ["housing-allowance"] and english["groups"][0]["label"] == "Housing"


def test_nothing_picked_gives_the_questions_and_counts_nothing(client, situations, database) -> None:  # noqa: ANN001
    payload = client.get("/public/v1/explore").json()
    assert payload["total"] == 0 and payload["groups"] == [] and payload["questions"]
    with database.session() as session:
        assert session.execute(select(SituationCount)).first() is None


def test_a_question_ranks_within_the_set_and_adds_nothing(client, situations) -> None:  # noqa: ANN001
    plain = client.get("/public/v1/explore?s=student&s=tenant").json()
    ranked = client.get("/public/v1/explore", params={"s": ["student", "tenant"], "q": "books and travel while you study"}).json()
    assert sorted(_slugs(ranked)) == sorted(_slugs(plain))
    assert _slugs(ranked)[0] == "study-costs"  # its group comes first: it holds the best page for the question
    assert ranked["query"] == "books and travel while you study"
    assert "q=" not in ranked["share_url"]  # the question is never put in the shared address


def test_the_question_searches_only_the_set_inside_the_engines(client, situations, database, monkeypatch) -> None:  # noqa: ANN001
    """The ranking is asked with the set's concepts as a filter (applied before top-k, issue 20), so pages
    outside the set can never crowd the set's pages out of the candidates."""
    from kb.search import explore
    from kb.taxonomy import vocabulary

    asked = []
    real = explore.ranked_documents

    def spy(session, indexes, text, mode, filters, *args, **kwargs):  # noqa: ANN001, ANN202
        asked.append(filters)
        return real(session, indexes, text, mode, filters, *args, **kwargs)

    monkeypatch.setattr(explore, "ranked_documents", spy)
    client.get("/public/v1/explore", params={"s": ["education", "tenant"], "q": "rent"})
    with database.session() as session:
        vocab = vocabulary(session)
        expected = {vocab.by_ref(f"situation:{key}") for key in ("education", "student", "tenant")}
    assert [f.concepts for f in asked] == [(frozenset(expected),)]
    assert not asked[0].include_internal  # the public-safe defaults otherwise


def test_picks_are_counted_anonymously_and_the_question_only_in_the_query_log(client, situations, database) -> None:  # noqa: ANN001
    client.get("/public/v1/explore?s=tenant&s=student&lang=nl")
    client.get("/public/v1/explore?s=student&s=tenant&lang=nl&q=huur+betalen")
    client.get("/public/v1/explore?s=carer&lang=de")
    client.get("/public/v1/explore?s=carer", headers={"Accept-Language": "zz"})  # an invented language is kept as none
    with database.session() as session:
        rows = {(r.situations, r.language, r.results): r.picks for r in session.execute(select(SituationCount)).scalars()}
        ids = {key: taxonomy_id(session, key) for key in ("student", "tenant", "carer")}
        logged = [(q.audience, q.query) for q in session.execute(select(QueryLog)).scalars()]
    assert rows == {(f"[{ids['student']}, {ids['tenant']}]", "nl", 3): 2, (f"[{ids['carer']}]", "de", 0): 1,
                    (f"[{ids['carer']}]", "", 0): 1}
    assert logged == [("public", "huur betalen")]
    columns = set(SituationCount.__table__.columns.keys())
    assert columns == {"id", "day", "situations", "language", "results", "picks"}  # no address, no time, no text


def taxonomy_id(session, key: str) -> int:  # noqa: ANN001
    from kb.taxonomy import vocabulary

    return vocabulary(session).by_ref(f"situation:{key}")  # type: ignore[return-value]


@pytest.mark.parametrize("params", [
    [("s", "nobody")], [("s", "topic:housing")], [("s", "x" * 300)], [("s", f"s{i}") for i in range(21)],
    [("s", "tenant"), ("q", "x" * 501)], [("s", "tenant"), ("lang", "../etc")],
])
def test_bad_input_is_a_4xx_json_error_and_a_friendly_page(client, situations, params) -> None:  # noqa: ANN001
    response = client.get("/public/v1/explore", params=params)
    assert response.status_code == 422, response.text
    assert set(response.json()["error"]) == {"code", "message", "details"}
    page = client.get("/public/explore", params=params, headers={"Accept": "text/html"})
    assert page.status_code == 422 and "text/html" in page.headers["content-type"]
    assert "Traceback" not in page.text and 'href="/public' in page.text


def test_an_unknown_situation_in_a_link_says_so_in_the_citizens_language(client, situations) -> None:  # noqa: ANN001
    """The page blamed the question's length for a situation it does not know (the review of 2026-12-07)."""
    for lang, words in (("en", "not one this site knows"), ("nl", "kent deze site niet")):
        page = client.get("/public/explore", params={"s": "bogus", "lang": lang}, headers={"Accept": "text/html"})
        alert = unescape(page.text).split('role="alert">')[1].split("</p>")[0]
        assert page.status_code == 422 and words in alert and "500" not in alert, alert
    long = client.get("/public/explore", params=[("s", "tenant"), ("q", "x" * 501)], headers={"Accept": "text/html"})
    assert long.status_code == 422 and "at most 500 characters" in long.text  # a question too long is still named as such


# ------------------------------------------------------------------------------------- web

def test_the_web_page_works_without_javascript(client, situations) -> None:  # noqa: ANN001
    first = client.get("/public/explore?lang=nl")
    assert first.status_code == 200
    assert "<script" not in first.text
    assert 'name="s" value="tenant"' in first.text and "Huurder" in first.text and "checked" not in first.text
    page = client.get("/public/explore?s=student&s=tenant&lang=nl")
    html = unescape(page.text)
    assert page.status_code == 200
    assert 'value="tenant" id=' in page.text and html.count(" checked") == 2
    assert html.index("Geld") < html.index("Wonen") < html.index("Overige onderwerpen")
    assert 'href="/public/d/huurtoeslag?lang=nl"' in html and "Housing allowance" in html  # the original, linked
    assert html.count('class="card"') == 3  # each page with its card
    assert 'id="share-url"' in page.text and "http://localhost:8000/public/explore?s=student&s=tenant&lang=nl" in html
    assert 'href="/public/v1/explore?s=student&s=tenant&lang=nl"' in html  # its API twin
    assert "zq" not in page.text.casefold()
    assert 'href="/public/explore' in client.get("/public?lang=nl").text  # the search links to it


def test_the_web_page_says_when_nothing_applies(client, situations) -> None:  # noqa: ANN001
    page = client.get("/public/explore?s=carer&lang=de")
    assert page.status_code == 200
    assert "Für die gewählte Situation gibt es noch keine freigegebene öffentliche Seite." in unescape(page.text)


# -------------------------------------------------------------------------------- insights

def test_owners_see_which_situations_are_picked_and_the_gaps(client, situations, database) -> None:  # noqa: ANN001
    for params in ("s=tenant&lang=nl", "s=tenant&lang=nl", "s=tenant&lang=de", "s=carer&lang=en", "s=student&lang=nl"):
        client.get(f"/public/v1/explore?{params}")
    owner = situations["owner"]
    payload = client.get("/api/v1/insights/situations", headers=owner.headers).json()
    demand = {(d["situation"], d["language"]): d for d in payload["data"]}
    assert demand[("situation:tenant", "nl")]["picks"] == 2 and not demand[("situation:tenant", "nl")]["gap"]
    # a German tenant finds only pages in other languages: a gap in German
    assert demand[("situation:tenant", "de")]["pages"] == 1 and demand[("situation:tenant", "de")]["pages_in_language"] == 0
    assert demand[("situation:carer", "en")]["picks_without_result"] == 1
    assert {(g["situation"], g["language"]) for g in payload["gaps"]} == {
        ("situation:tenant", "de"), ("situation:carer", "en"), ("situation:student", "nl")}
    assert payload["data"][0]["situation"] == "situation:tenant"  # most picked first
    assert client.get("/api/v1/insights/situations", headers=situations["reader"].headers).status_code == 403
    # the insights page and the owners' review queue show the gaps
    sign_in(client, database, owner.username)
    insights = unescape(client.get("/insights").text)
    assert "Carer" in insights and "content gaps" in insights.casefold()
    review = unescape(client.get("/review").text)
    assert "Carer" in review and "Tenant" in review and "content gaps" in review.casefold()


def test_gaps_reach_every_admin_and_owner_in_my_work(client, situations, database) -> None:  # noqa: ANN001
    client.get("/public/v1/explore?s=carer&lang=fr")
    for role in ("admin", "owner", "outsider_owner"):
        work = client.get("/api/v1/me/work", headers=situations[role].headers).json()
        assert [(g["situation"], g["language"]) for g in work["content_gaps"]] == [("situation:carer", "fr")], role
        sign_in(client, database, situations[role].username)
        assert "Carer" in unescape(client.get("/me/work").text), role
    assert client.get("/api/v1/me/work", headers=situations["reader"].headers).json()["content_gaps"] == []


def test_a_merged_situation_is_read_as_its_replacement(client, situations, database) -> None:  # noqa: ANN001
    client.get("/public/v1/explore?s=parent")
    with database.session() as session:
        taxonomy.merge_concept(session, situations["admin"].actor, scheme="situation", key="parent", into="carer")
    payload = client.get("/public/v1/explore?s=parent").json()
    assert payload["situations"] == ["situation:carer"]
    demand = client.get("/api/v1/insights/situations", headers=situations["owner"].headers).json()["data"]
    assert [(d["situation"], d["picks"]) for d in demand] == [("situation:carer", 2)]


def test_old_counts_leave_the_window(client, situations, database) -> None:  # noqa: ANN001
    from kb.search import explore

    with database.session() as session, transaction(session):
        explore.count_pick(session, situations=[taxonomy_id(session, "carer")], language="en", results=0,
                           day=dt.date.today() - dt.timedelta(days=40))
    headers = situations["owner"].headers
    assert client.get("/api/v1/insights/situations?days=30", headers=headers).json()["data"] == []
    assert client.get("/api/v1/insights/situations?days=60", headers=headers).json()["data"][0]["picks"] == 1


# ------------------------------------------------------------------------------------- CLI

def test_the_cli_asks_the_questions_and_lists_what_applies(cli_env, client, situations) -> None:  # noqa: ANN001
    from tests.factories import run_cli

    asked = run_cli("explore", "--lang", "nl")
    assert asked.exit_code == 0, asked.output
    assert "In opleiding" in asked.output and "Huurder (--situation tenant)" in asked.output
    found = run_cli("explore", "-s", "student", "-s", "tenant", "--lang", "nl")
    assert found.exit_code == 0, found.output
    assert "3 pages" in found.output and "Huurtoeslag" in found.output and "Wonen" in found.output
    assert "zq" not in found.output.casefold()
    bad = run_cli("explore", "-s", "nobody")
    assert bad.exit_code != 0 and "'nobody' is no situation" in bad.output


def test_the_share_link_starts_with_kb_base_url_never_the_requests_host(client, database) -> None:  # noqa: ANN001
    """Found by review: the link was built from the Host header, and the answer is publicly cacheable."""
    from kb.fixtures import load_demo

    load_demo(database)
    payload = client.get("/public/v1/explore", params={"s": "tenant"}, headers={"Host": "evil.example"}).json()
    assert payload["share_url"].startswith(client.app.state.settings.base_url.rstrip("/") + "/public/explore?")
    assert "evil.example" not in client.get("/public/explore", params={"s": "tenant"}, headers={"Host": "evil.example"}).text
