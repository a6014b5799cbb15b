"""The web UI in a real browser (chromium via Playwright): the journeys of issue 7, stored XSS, axe-core
on every page, and screenshots at desktop and 360 px widths."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import axe_violations, sign_in

pytestmark = pytest.mark.xdist_group("browser")

XSS_PAYLOADS = [
    '<script>alert("s1")</script>',
    '<img src=x onerror=alert("s2")>',
    '<svg onload=alert("s3")>',
    '[click me](javascript:alert("s4"))',
    '[tab](jav\tascript:alert("s5"))',
    '<a href="JaVaScRiPt:alert(\'s6\')">x</a>',
    '<iframe src="javascript:alert(\'s7\')"></iframe>',
    '<math><mtext><table><mglyph><style><img src=x onerror=alert("s8")>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(\'s9\')">',
    '![img](x" onerror="alert(\'s10\'))',
    '<details open ontoggle=alert("s11")>',
    '"><script>alert("s12")</script>',
]


def test_employee_searches_opens_a_document_comments_and_rates(page, live_server: str) -> None:  # noqa: ANN001
    sign_in(page, live_server, "rita")
    page.get_by_label("What are you looking for?").fill("how much child benefit do I get")
    page.get_by_role("button", name="Search").click()
    first = page.locator("ol.hits li.hit").first
    first.get_by_text("Provenance, rating and feedback").click()  # a compact hit: the full card on demand (issue 17)
    expect(first.locator(".card").get_by_text("Approved by")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("From the community"))).to_be_visible()
    first.locator("h3 a").click()
    page.wait_for_url(re.compile(r"/d/"))
    expect(page.get_by_role("link", name="Download PROV (JSON)")).to_be_visible()
    marker = f"Clear page, thanks {uuid.uuid4().hex[:8]}"
    page.get_by_label("Add a comment (Markdown)").fill(marker)
    page.get_by_role("button", name="Post comment").click()
    expect(page.get_by_role("paragraph").filter(has_text=marker)).to_be_visible()  # (the author's edit form holds it too)
    page.locator("fieldset", has_text="Rate this document").get_by_label("5").check()
    page.get_by_role("button", name="Rate", exact=True).click()
    expect(page.get_by_text("your rating: 5")).to_be_visible()


def _docx(path: Path, phrase: str) -> Path:
    from docx import Document

    document = Document()
    document.add_heading("Bicycle allowance", level=1)
    document.add_paragraph(f"Staff who cycle to work receive a bicycle allowance. Code {phrase}.")
    document.add_heading("How to claim", level=2)
    document.add_paragraph("Claim it monthly in the expenses tool.")
    document.save(path)
    return path


def test_contributor_imports_a_docx_owner_approves_and_it_becomes_searchable(browser, live_server: str, tmp_path: Path) -> None:  # noqa: ANN001
    phrase = f"velo{uuid.uuid4().hex[:6]}"
    upload = _docx(tmp_path / f"bicycle-allowance-{phrase}.docx", phrase)
    contributor = browser.new_context(viewport={"width": 1280, "height": 900})
    page = contributor.new_page()
    sign_in(page, live_server, "carl")
    page.goto(f"{live_server}/import")
    page.get_by_label("File", exact=True).set_input_files(str(upload))
    page.get_by_label("Intended use").fill("Tells staff how to claim the bicycle allowance")
    page.get_by_label("Submit for review right away").check()
    page.get_by_role("button", name="Import").click()
    page.wait_for_url(re.compile(r"/v/1"))
    expect(page.get_by_text("Submitted for review")).to_be_visible()
    slug = page.url.split("/d/")[1].split("/")[0]
    contributor.close()

    owner = browser.new_context(viewport={"width": 1280, "height": 900})
    page = owner.new_page()
    sign_in(page, live_server, "olga")
    page.goto(f"{live_server}/review")
    page.locator(f'a[href="/review/{slug}/1"]').click()
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url(re.compile(rf"/d/{slug}"))
    expect(page.get_by_text("Approved: it is now the version everyone sees")).to_be_visible()
    page.goto(f"{live_server}/search?q={phrase}+bicycle+allowance")
    expect(page.locator(f'ol.hits a[href="/d/{slug}"]')).to_have_count(1)
    owner.close()


def test_citizen_searches_publicly_and_sees_only_public_content(page, live_server: str) -> None:  # noqa: ANN001
    page.goto(f"{live_server}/public")
    page.get_by_label("Your question").fill("database failover runbook child benefit")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("ol.hits li.hit").first).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("failover", ignore_case=True, use_inner_text=True)  # the runbook is internal
    for person in ("Olga", "Otto", "Carl", "Rita", "olga", "northbridge.example"):
        assert person not in page.content()
    page.locator("ol.hits li.hit summary").first.click()  # the card on demand (issue 17)
    expect(page.get_by_text("Published by").first).to_be_visible()
    page.get_by_role("link", name="Nederlands").click()
    page.locator("ol.hits li.hit summary").first.click()
    expect(page.get_by_text("Gepubliceerd door").first).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "nl")


def test_stored_xss_in_a_comment_stays_inert(browser, live_server: str) -> None:  # noqa: ANN001
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    dialogs: list[str] = []
    errors: list[str] = []
    outbound: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: outbound.append(request.url) if not request.url.startswith(live_server) else None)
    sign_in(page, live_server, "rita")
    from kb.markdown import count_links
    from kb.social.service import NEW_ACCOUNT_MAX_LINKS

    batches: list[list[str]] = [[]]  # demo accounts are new: at most NEW_ACCOUNT_MAX_LINKS links per post
    for payload in XSS_PAYLOADS:
        if count_links("\n\n".join([*batches[-1], payload])) > NEW_ACCOUNT_MAX_LINKS:
            batches.append([])
        batches[-1].append(payload)
    for number, batch in enumerate(batches):
        page.goto(f"{live_server}/d/child-benefit")
        page.get_by_label("Add a comment (Markdown)").fill(f"Payloads {number} {uuid.uuid4().hex[:6]}:\n\n" + "\n\n".join(batch))
        page.get_by_role("button", name="Post comment").click()
        expect(page.get_by_text("Your comment is posted.")).to_be_visible()
    page.goto(f"{live_server}/d/child-benefit")
    page.wait_for_load_state("networkidle")
    for link in page.locator(".comments .prose a").all():
        href = link.get_attribute("href") or ""
        assert not href.lower().replace("\t", "").startswith("javascript:"), href
    expect(page.get_by_text('<script>alert("s1")</script>').first).to_be_visible()  # shown as text
    assert dialogs == [] and errors == [] and outbound == []
    context.close()


PAGES = {
    # name: (who, path)
    "login": (None, "/login"),
    "public-search": (None, "/public?q=child+benefit"),
    "public-document": (None, "/public/d/child-benefit"),
    "search": ("rita", "/search?q=child+benefit"),
    "search-empty": ("rita", "/search?q=zqxv+wobblefrotz"),
    "document": ("rita", "/d/child-benefit"),
    "history-diff": ("rita", "/d/child-benefit/diff?from=1&to=1"),
    "questions": ("rita", "/questions"),
    "ask": ("rita", "/questions/ask?q=parking"),
    "experts": ("rita", "/experts?q=benefits"),
    "profile": ("rita", "/people/olga"),
    "write": ("carl", "/write"),
    "import": ("carl", "/import"),
    "review": ("olga", "/review"),
    "insights": ("olga", "/insights"),
    "moderation": ("mona", "/moderation"),
    "audit": ("adam", "/audit?verify=1"),
}


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_passes_axe_and_fits_360px(browser, live_server: str, screenshots: Path, name: str) -> None:  # noqa: ANN001
    who, path = PAGES[name]
    for width, height in ((1280, 900), (360, 740)):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        if who:
            sign_in(page, live_server, who)
        response = page.goto(f"{live_server}{path}")
        assert response is not None and response.status == 200, (name, response and response.status)
        page.screenshot(path=str(screenshots / f"{name}-{width}.png"), full_page=True)
        assert axe_violations(page) == [], (name, width)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{name} scrolls sideways by {overflow}px at {width}px"
        context.close()


DUTCH_QUESTION = "vanaf welke leeftijd krijg ik pensioen van de staat"


def test_dutch_question_finds_the_english_page_then_its_dutch_translation(browser, live_server: str) -> None:  # noqa: ANN001
    citizen = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
    page = citizen.new_page()
    page.goto(f"{live_server}/public")
    page.get_by_role("searchbox").fill(DUTCH_QUESTION)
    page.get_by_role("button", name=re.compile("Zoeken|Search")).click()
    first = page.locator("ol.hits li.hit").first
    expect(first.locator("h3 a")).to_have_attribute("href", re.compile(r"^/public/d/state-pension"))
    expect(first).to_have_attribute("lang", "en")
    expect(first).to_contain_text("Geschreven in het Engels")  # labelled with its language, in the citizen's words
    first.locator("summary").click()  # the card on demand (issue 17)
    expect(first.get_by_text("Gepubliceerd door")).to_be_visible()
    citizen.close()

    writer = browser.new_context(viewport={"width": 1280, "height": 900})
    page = writer.new_page()
    sign_in(page, live_server, "carl")
    page.goto(f"{live_server}/write")
    page.get_by_label("Space").select_option("benefits")
    page.get_by_label(re.compile("Short name")).fill("staatspensioen")
    page.get_by_label("Title").fill("Staatspensioen (AOW)")
    page.get_by_label("Text (Markdown)").fill(
        "# Staatspensioen (AOW)\n\nHet staatspensioen is een basisinkomen per maand voor wie de pensioenleeftijd "
        "heeft bereikt. U krijgt het vanaf de pensioenleeftijd van de staat, naast uw pensioen van uw werkgever.")
    page.get_by_label(re.compile("Intended use")).fill("Legt burgers uit wanneer het staatspensioen begint")
    page.get_by_label("Audience").select_option("public")
    page.get_by_label("Language").select_option("nl")
    page.get_by_label(re.compile("Translation of")).fill("state-pension")
    page.get_by_role("button", name="Save and submit for review").click()
    page.wait_for_url(re.compile(r"/d/staatspensioen"))
    writer.close()

    owner = browser.new_context(viewport={"width": 1280, "height": 900})
    page = owner.new_page()
    sign_in(page, live_server, "olga")
    page.goto(f"{live_server}/review/staatspensioen/1")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url(re.compile(r"/d/staatspensioen"))
    owner.close()

    citizen = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
    page = citizen.new_page()
    page.goto(f"{live_server}/public?q={DUTCH_QUESTION.replace(' ', '+')}")
    first = page.locator("ol.hits li.hit").first
    expect(first.locator("h3 a")).to_have_attribute("href", re.compile(r"^/public/d/staatspensioen"))
    expect(first).to_have_attribute("lang", "nl")
    expect(first).to_contain_text("Geschreven in het Nederlands")
    expect(page.locator('ol.hits h3 a[href^="/public/d/state-pension"]')).to_have_count(0)  # one hit per translation group
    citizen.close()
