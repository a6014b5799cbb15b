"""The citizens' pages (issue 17): correct translation labels, titles as link texts, "back to the results"
keeping the query, their own 404/422 pages in their language with the public header, the interface in
the five languages the search labels, and a language switch that keeps the page. On SQLite and
PostgreSQL (the ``client`` fixture); the catalogue checks need no database."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest

from kb.web.i18n import MESSAGES, MESSAGES_DIR, PUBLIC_LANGUAGES, switch_href
from tests.factories import make_document

FIVE = ("en", "nl", "de", "fr", "es")


# ------------------------------------------------------------------------------- catalogues

def test_the_public_pages_speak_the_five_languages_the_search_labels() -> None:
    from kb.search import i18n as search_i18n

    assert tuple(PUBLIC_LANGUAGES) == FIVE
    assert set(FIVE) <= set(search_i18n.catalogues())
    assert sorted(p.stem for p in MESSAGES_DIR.glob("*.json")) == sorted(FIVE)


@pytest.mark.parametrize("language", FIVE[1:])
def test_every_public_message_key_exists_in_every_language(language: str) -> None:
    english = json.loads((MESSAGES_DIR / "en.json").read_text(encoding="utf-8"))
    other = json.loads((MESSAGES_DIR / f"{language}.json").read_text(encoding="utf-8"))
    assert sorted(other) == sorted(english), f"{language}.json: missing {set(english) - set(other)}, extra {set(other) - set(english)}"
    for key, text in other.items():
        assert text.strip(), f"{language}.json: {key} is empty"
        assert re.findall(r"\{\w+\}", text) == re.findall(r"\{\w+\}", english[key]), f"{language}.json: {key} placeholders"
    # translated, not copied: only words that are the same in both languages (Version, Page) may repeat English
    same = [key for key in english if other[key] == english[key]]
    assert len(same) <= 3, f"{language}.json repeats English for {same}"


def test_the_switch_keeps_the_page_and_its_query() -> None:
    assert switch_href("/public", [("q", "kinderbijslag"), ("lang", "nl"), ("page", "2")], "de") == \
        "/public?q=kinderbijslag&page=2&lang=de"
    assert switch_href("/public/d/child-benefit", [("q", "a b"), ("done", "x")], "fr") == "/public/d/child-benefit?q=a+b&lang=fr"


# ------------------------------------------------------------------------------- pages

@pytest.fixture
def housing(database, cast):  # noqa: ANN001, ANN201
    """An English original and its Dutch translation, both public and approved."""
    make_document(database, cast, slug="housing-benefit", state="approved", title="Housing benefit",
                  body="# Housing benefit\n\nHousing benefit helps you pay the rent. Huurtoeslag in Dutch.")
    make_document(database, cast, slug="huurtoeslag", state="approved", language="nl", translation_of="housing-benefit",
                  title="Huurtoeslag", body="# Huurtoeslag\n\nHuurtoeslag helpt u de huur te betalen.")
    return cast


def link_texts(html: str) -> list[str]:
    return [unescape(re.sub(r"<[^>]+>", "", text)).strip() for text in re.findall(r"<a [^>]*>(.*?)</a>", html, re.S)]


def test_an_original_is_never_labelled_a_translation(client, housing) -> None:  # noqa: ANN001
    client.cookies.clear()
    english = client.get("/public", params={"q": "huurtoeslag", "lang": "en"})
    assert english.status_code == 200 and "Housing benefit" in english.text
    assert "Translation of" not in english.text and ">huurtoeslag<" not in english.text
    dutch = client.get("/public", params={"q": "huurtoeslag", "lang": "nl"})
    label = re.search(r"Vertaling van <a href=\"/public/d/housing-benefit\"[^>]*>([^<]+)</a>", dutch.text)
    assert label and label.group(1) == "Housing benefit"  # the original, named by its title
    page = client.get("/public/d/huurtoeslag")
    assert re.search(r'<a href="/public/d/housing-benefit"[^>]*>Housing benefit</a>', page.text)
    original = client.get("/public/d/housing-benefit")
    assert "Translation of" not in original.text and "Vertaling van" not in original.text


def test_the_public_api_names_the_original_only_of_a_translation(client, housing) -> None:  # noqa: ANN001
    translation = client.get("/public/v1/documents/huurtoeslag").json()
    assert translation["original"]["document"] == "housing-benefit" and translation["original"]["title"] == "Housing benefit"
    assert client.get("/public/v1/documents/housing-benefit").json()["original"] is None
    hits = client.get("/public/v1/search", params={"q": "huurtoeslag", "lang": "en"}).json()["data"]
    assert hits and hits[0]["document"] == "housing-benefit" and hits[0]["original"] is None
    assert hits[0]["translation_links"][0]["title"] == "Huurtoeslag"


def test_the_total_counts_pages_once_with_their_translations(client, housing) -> None:  # noqa: ANN001
    """A page and its translation both match "huurtoeslag" and show as one hit: the total said 2 and a second,
    empty page (the review of 2026-12-07)."""
    results = client.get("/public/v1/search", params={"q": "huurtoeslag", "lang": "en", "page_size": 1}).json()
    assert [hit["document"] for hit in results["data"]] == ["housing-benefit"]
    assert results["total"] == 1 and results["page_count"] == 1, results


def test_link_texts_are_titles_never_slugs(client, housing) -> None:  # noqa: ANN001
    for address in ("/public?q=housing+benefit&lang=en", "/public?q=huurtoeslag&lang=nl", "/public/d/huurtoeslag"):
        texts = link_texts(client.get(address).text)
        assert not {"housing-benefit", "huurtoeslag", "child-benefit"} & set(texts), (address, texts)
        assert {"Housing benefit", "Huurtoeslag"} & set(texts), (address, texts)  # the titles are there


def test_back_to_the_results_keeps_the_query_language_and_page(client, housing) -> None:  # noqa: ANN001
    results = client.get("/public", params={"q": "housing benefit", "lang": "en"})
    href = unescape(re.search(r'<h3><a href="([^"]+)"', results.text).group(1))
    assert href == "/public/d/housing-benefit?q=housing%20benefit&lang=en"
    document = client.get(href)
    back = re.search(r'<p class="way-back"><a href="([^"]+)">([^<]+)</a>', document.text)
    assert unescape(back.group(1)) == "/public?q=housing+benefit&lang=en" and back.group(2) == "Back to the results"
    later = client.get("/public/d/housing-benefit", params={"q": "rent", "page": 2})
    assert unescape(re.search(r'<p class="way-back"><a href="([^"]+)"', later.text).group(1)) == "/public?q=rent&page=2"
    direct = client.get("/public/d/housing-benefit")
    assert '<p class="way-back"><a href="/public">Back to the search</a>' in direct.text


def test_a_document_page_keeps_its_document_and_speaks_the_browsers_language(client, housing) -> None:  # noqa: ANN001
    """Without lang= the address names the page (the English original is not swapped for its translation), and
    all its words follow Accept-Language: the frame and the provenance card alike (the card was English)."""
    client.cookies.clear()
    page = client.get("/public/d/housing-benefit", headers={"Accept-Language": "nl-NL,nl;q=0.9"})
    text = unescape(page.text)
    assert page.status_code == 200 and "Housing benefit helps you pay the rent" in text
    assert "Gepubliceerd door" in text and "Published by" not in text
    assert "Over dit antwoord" in text and "About this answer" not in text


@pytest.mark.parametrize("language", FIVE)
def test_the_citizens_pages_speak_each_language_and_the_switch_keeps_the_page(client, housing, language) -> None:  # noqa: ANN001
    t = MESSAGES[language]
    page = client.get("/public", params={"q": "housing benefit", "lang": language})
    assert page.status_code == 200 and f'<html lang="{language}">' in page.text
    text = unescape(page.text)
    assert t["title"] in text and t["footer"] in text and t["search"] in text
    switch = dict(re.findall(r'<a href="([^"]+)" lang="(\w+)" hreflang', page.text))
    assert {lang: unescape(href) for href, lang in switch.items()} == {
        code: f"/public?q=housing+benefit&lang={code}" for code in FIVE}
    document = client.get("/public/d/housing-benefit", params={"q": "rent", "lang": language})
    assert unescape(document.text).count(f"/public/d/housing-benefit?q=rent&lang={language}") == 1  # its own switch link


@pytest.mark.parametrize("language", FIVE)
def test_the_citizens_404_and_422_are_theirs_in_their_language(client, database, cast, language) -> None:  # noqa: ANN001
    t = MESSAGES[language]
    client.cookies.clear()
    missing = client.get("/public/d/no-such-page", params={"lang": language})
    invalid = client.get("/public", params={"q": "x" * 501}, headers={"accept-language": f"{language};q=0.9"})
    unknown = client.get("/public/no/such/page", headers={"accept": "text/html", "accept-language": language})
    for response, status, title in ((missing, 404, t["not_found_title"]), (invalid, 422, t["invalid_title"]),
                                    (unknown, 404, t["not_found_title"])):
        assert response.status_code == status and response.headers["content-type"].startswith("text/html")
        assert f'<html lang="{language}">' in response.text and f"<h1>{title}</h1>" in unescape(response.text)
        top = response.text[response.text.index("<header"):response.text.index("</header>")]
        assert "Sign in" not in top and "/login" not in top and unescape(t["title"]) in unescape(top)
        assert f'href="/public?lang={language}"' in response.text  # the way back: the public search
    api = client.get("/public/v1/documents/no-such-page")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"


def test_a_citizens_error_page_never_sends_them_into_the_employees_pages(client, database, cast) -> None:  # noqa: ANN001
    inside = client.get("/public/d/no-such-page", headers={"referer": "http://testserver/d/child-benefit"})
    assert 'href="/d/child-benefit"' not in inside.text
    from_results = client.get("/public/d/no-such-page", headers={"referer": "http://testserver/public?q=rent"})
    assert 'href="/public?q=rent"' in from_results.text
