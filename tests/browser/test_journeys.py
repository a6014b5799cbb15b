"""The seven journeys of issue 17, walked end to end in a real browser (chromium via Playwright), each at
1280 and 360 px wide: employee, contributor, owner, questions, moderator, admin and citizen.

Every page a journey visits is screenshotted (``build/screenshots/journey-JOURNEY-STEP-WIDTH.png``), checked
with axe-core (0 serious or critical violations) and measured for sideways scrolling
(``document.scrollingElement.scrollWidth <= innerWidth``). Each step that should tell someone something is
followed by that person's inbox (/notifications) and the unread count in the header. The pages are found
by role and label, as a person finds them, not by CSS.

Both widths run against one server, so each walk makes its own documents and posts (a random marker in
their titles) and counts notifications as differences, never as totals.

Axe violations and sideways scrolling are collected along the walk and reported together at its end
(``Walk.done``), so one run names every page that needs fixing; a step that does not do what the issue
asks fails where it happens.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import LIVE, axe_violations, sign_in

pytestmark = pytest.mark.xdist_group("browser")

VIEWPORTS = {1280: (1280, 900), 360: (360, 740)}


@pytest.fixture(params=sorted(VIEWPORTS, reverse=True), ids=lambda width: f"{width}px")
def width(request: pytest.FixtureRequest) -> int:
    return request.param


@dataclass
class Walk:
    """One journey at one width: the people in it (one browser context each) and what every page showed."""

    browser: Browser
    base: str
    screenshots: Path
    journey: str
    width: int
    marker: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    pages: int = 0
    problems: list[str] = field(default_factory=list)
    _contexts: list = field(default_factory=list)

    def person(self, username: str | None = None, *, locale: str | None = None) -> Page:
        """A new browser (context) at this width, signed in as ``username`` (anonymous when None)."""
        w, h = VIEWPORTS[self.width]
        context = self.browser.new_context(viewport={"width": w, "height": h}, **({"locale": locale} if locale else {}))
        self._contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        if username:
            sign_in(page, self.base, username)
        return page

    def go(self, page: Page, path: str, step: str) -> Page:
        response = page.goto(f"{self.base}{path}")
        assert response is not None and response.status == 200, (path, response and response.status)
        self.check(page, step)
        return page

    def check(self, page: Page, step: str) -> None:
        """Screenshot the page, and note its serious or critical axe violations and any sideways scrolling."""
        page.wait_for_load_state("load")
        self.pages += 1
        page.screenshot(path=str(self.screenshots / f"journey-{self.journey}-{step}-{self.width}.png"), full_page=True)
        where = f"{step} ({page.url.removeprefix(self.base)}) at {self.width}px"
        violations = axe_violations(page)
        if violations:
            self.problems.append(f"axe on {where}: {violations}")
        scroll_width, inner_width = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
        if scroll_width > inner_width:
            self.problems.append(f"{where} scrolls sideways: scrollWidth {scroll_width} > innerWidth {inner_width}")

    def done(self) -> None:
        assert self.pages > 0
        if self.problems:
            pytest.fail(f"{len(self.problems)} problem(s) on the {self.pages} pages checked:\n" + "\n".join(self.problems),
                        pytrace=False)

    def close(self) -> None:
        for context in self._contexts:
            context.close()


@pytest.fixture
def walk(browser: Browser, live_server: str, screenshots: Path, width: int, request: pytest.FixtureRequest) -> Iterator[Walk]:
    journey = request.node.originalname.removeprefix("test_").split("_")[0]
    walk = Walk(browser, live_server, screenshots, journey, width)
    yield walk
    walk.close()


# --------------------------------------------------------------------------------- notifications

def unread(page: Page) -> int:
    """The unread count the header shows now (the page reloaded; 0 when it shows none)."""
    page.reload()
    link = page.get_by_role("banner").get_by_role("link", name=re.compile("Notifications"))
    expect(link).to_be_visible()
    found = re.search(r"\d+", link.inner_text())
    return int(found.group()) if found else 0


def inbox(walk: Walk, page: Page, step: str) -> None:
    walk.go(page, "/notifications", step)


def notice(page: Page, title: str | re.Pattern[str]) -> Locator:
    """The inbox entry whose link is ``title`` (on /notifications)."""
    return page.get_by_role("listitem").filter(has=page.get_by_role("link", name=title))


def said(display_name: str, username: str, what: str) -> re.Pattern[str]:
    """"<person> <did what>" in a notice: the person named as cards name them, display name and @username."""
    return re.compile(rf"{re.escape(display_name)} \(@{re.escape(username)}\) {re.escape(what)}")


def told(walk: Walk, page: Page, step: str, before: int, title: str | re.Pattern[str], *,
         body: str | re.Pattern[str] | None = None, more: int = 1) -> Locator:
    """``page``'s person was told: the header counts ``more`` new unread notices and the inbox shows this one, unread."""
    now = unread(page)
    assert now == before + more, f"{step}: the header should count {before + more} unread, counts {now}"
    inbox(walk, page, step)
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{now} unread")  # the inbox agrees with the header
    item = notice(page, title).first  # the newest (the walk at the other width may have left an older one)
    expect(item).to_contain_text("New")
    if body:
        expect(item).to_contain_text(body)
    return item


def _docx(path: Path, title: str, phrase: str) -> Path:
    from docx import Document

    document = Document()
    document.add_heading(title, level=1)
    document.add_paragraph(f"Staff who cycle to work receive a bicycle allowance of 20 euros a month. Code {phrase}.")
    document.add_heading("How to claim", level=2)
    document.add_paragraph("Claim it monthly in the expenses tool.")
    document.save(path)
    return path


# ------------------------------------------------------------------------------------- employee

def test_employee_searches_reads_the_card_comments_rates_and_watches(walk: Walk) -> None:
    rita = walk.person("rita")
    carl = walk.person("carl")  # the author and owner of "Child benefit"
    carl_before = unread(carl)

    walk.go(rita, "/", "start")
    # A question nothing curated answers: search says so, and offers the community first.
    rita.get_by_label("What are you looking for?").fill("can I bring my dog to the office on fridays")
    rita.get_by_role("button", name="Search").click()
    no_answer = rita.get_by_role("region", name="No good answer in curated knowledge")
    expect(no_answer).to_be_visible()
    expect(no_answer.get_by_role("link", name="Ask the community")).to_be_visible()
    walk.check(rita, "search-no-answer")
    rita.get_by_label("What are you looking for?").fill("how much child benefit do I get")
    rita.get_by_role("button", name="Search").click()
    rita.wait_for_url(re.compile(r"/search\?"))
    hit = rita.get_by_role("listitem").filter(has=rita.get_by_role("link", name="Child benefit", exact=True)).first
    expect(hit).to_be_visible()
    expect(hit).to_contain_text("Approved by")  # one line of provenance on the compact hit
    walk.check(rita, "search-results")
    hit.get_by_text("Provenance, rating and feedback").click()  # the full card, on demand
    card = hit.get_by_role("region", name=re.compile("Provenance of version"))
    expect(card).to_be_visible()
    for term in ("Approved by", "Intended use", "Licence", "Valid", "Source"):
        expect(card.get_by_text(term, exact=True)).to_be_visible()
    walk.check(rita, "search-card")

    hit.get_by_role("link", name="Child benefit", exact=True).click()
    rita.wait_for_url(re.compile(r"/d/child-benefit"))
    side = rita.get_by_role("complementary", name="Provenance panel")
    expect(side.get_by_role("region", name=re.compile("Provenance of version"))).to_contain_text("Approved by")
    expect(side).to_contain_text("Carl Contributor")
    walk.check(rita, "document")

    comment = f"Clear page, thanks {walk.marker}"
    rita.get_by_label("Add a comment (Markdown)").fill(comment)
    rita.get_by_role("button", name="Post comment").click()
    expect(rita.get_by_text("Your comment is posted.")).to_be_visible()
    expect(rita.get_by_role("paragraph").filter(has_text=comment)).to_be_visible()
    rita.get_by_role("group", name="Rate this document").get_by_label("5").check()
    rita.get_by_role("button", name="Rate", exact=True).click()
    expect(rita.get_by_text("your rating: 5")).to_be_visible()
    walk.check(rita, "commented-rated")

    # The author hears of the comment on his document.
    told(walk, carl, "author-inbox", carl_before, re.compile("A comment on your document Child benefit"),
         body=said("Rita Reader", "rita", "commented"))

    rita.get_by_role("button", name="Watch this document").click()
    expect(rita.get_by_text("You are watching it")).to_be_visible()
    expect(rita.get_by_role("button", name="Stop watching this document")).to_be_visible()
    walk.check(rita, "watching")
    inbox(walk, rita, "inbox-watching")
    expect(rita.get_by_role("region", name="What you watch")).to_contain_text("child-benefit")
    rita.get_by_role("banner").get_by_role("link", name="My work").click()
    expect(rita.get_by_role("region", name=re.compile("^What I watch")).get_by_role("link", name="child-benefit")).to_be_visible()
    walk.check(rita, "my-work-watching")
    rita_watching = unread(rita)

    # Someone else comments on the document she watches: she is told, and the notice leads to it.
    other = f"Is the amount per child the same for twins? {walk.marker}"
    carl.goto(f"{walk.base}/d/child-benefit")
    carl.get_by_label("Add a comment (Markdown)").fill(other)
    carl.get_by_role("button", name="Post comment").click()
    expect(carl.get_by_text("Your comment is posted.")).to_be_visible()
    item = told(walk, rita, "inbox-watched-comment", rita_watching, re.compile("A comment on Child benefit"),
                body=said("Carl Contributor", "carl", "commented"))
    item.get_by_role("link").first.click()
    rita.wait_for_url(re.compile(r"/d/child-benefit"))
    expect(rita.get_by_role("paragraph").filter(has_text=other)).to_be_visible()
    inbox(walk, rita, "inbox-after-reading")
    rita.get_by_role("button", name="Mark all read").click()
    expect(rita.get_by_text("Marked read.")).to_be_visible()
    assert unread(rita) == 0

    # She stops watching: the next comment tells her nothing.
    walk.go(rita, "/d/child-benefit", "document-watched")
    rita.get_by_role("button", name="Stop watching this document").click()
    expect(rita.get_by_text("You no longer watch it.")).to_be_visible()
    carl.goto(f"{walk.base}/d/child-benefit")
    carl.get_by_label("Add a comment (Markdown)").fill(f"And for triplets? {walk.marker}")
    carl.get_by_role("button", name="Post comment").click()
    expect(carl.get_by_text("Your comment is posted.")).to_be_visible()
    assert unread(rita) == 0
    walk.done()


# ---------------------------------------------------------------------------------- contributor

def test_contributor_imports_is_rejected_with_the_reason_fixes_and_resubmits(walk: Walk, tmp_path: Path) -> None:
    title = f"Bicycle allowance {walk.marker}"
    upload = _docx(tmp_path / f"bicycle-{walk.marker}.docx", title, walk.marker)
    carl = walk.person("carl")
    olga = walk.person("olga")
    carl_before, olga_before = unread(carl), unread(olga)

    walk.go(carl, "/import", "import-form")
    carl.get_by_label("File", exact=True).set_input_files(str(upload))
    carl.get_by_label("Space").select_option("safety")
    carl.get_by_label("Intended use").fill("Tells staff how to claim the bicycle allowance")
    carl.get_by_label("Submit for review right away").check()
    carl.get_by_role("button", name="Import").click()
    carl.wait_for_url(re.compile(r"/v/1"))
    expect(carl.get_by_text("Submitted for review")).to_be_visible()
    expect(carl.get_by_role("region", name=re.compile("Provenance of version"))).to_contain_text(f"bicycle-{walk.marker}.docx")
    slug = carl.url.split("/d/")[1].split("/")[0]
    walk.check(carl, "imported")

    # The owners are asked to review it.
    item = told(walk, olga, "owner-inbox-review-requested", olga_before, re.compile(f"Review requested: {title}"),
                body=said("Carl Contributor", "carl", "submitted it"))
    item.get_by_role("link", name=re.compile("Review requested")).click()
    olga.wait_for_url(re.compile(rf"/review/{slug}/1"))
    walk.check(olga, "review-item")
    reason = f"Say who may claim it: employees only, or contractors too? ({walk.marker})"
    olga.get_by_label(re.compile("Reason for rejecting")).fill(reason)
    olga.get_by_role("button", name="Reject").click()
    expect(olga.get_by_text("Rejected: the author has a new draft with your reason.")).to_be_visible()
    walk.check(olga, "rejected")

    # The contributor is told, with the reason, in his inbox and in "my work".
    item = told(walk, carl, "inbox-rejected", carl_before, re.compile(f"Rejected: {re.escape(title)}"), body=reason)
    expect(item).to_contain_text(said("Olga Owner", "olga", "rejected it"))

    # The notice leads to the new draft; the document page says who rejected it and why.
    item.get_by_role("link").first.click()
    carl.wait_for_url(re.compile(rf"/d/{slug}/v/2"))
    walk.check(carl, "new-draft")
    walk.go(carl, f"/d/{slug}", "document-rejected")
    expect(carl.get_by_role("paragraph").filter(has_text=re.compile(r"Version 1 was rejected by (Olga Owner|olga)"))) \
        .to_contain_text(reason)
    rejected = carl.get_by_role("region", name="Timeline").get_by_role("listitem").filter(has_text="rejected")
    expect(rejected).to_contain_text(re.compile(r"v1 rejected by (Olga Owner|olga)"))  # who, and why, in time order
    expect(rejected).to_contain_text(reason)

    # "My work" lists it as rejected, with who, why and the edit of the draft the rejection reopened.
    carl.get_by_role("banner").get_by_role("link", name="My work").click()
    carl.wait_for_load_state("load")
    walk.check(carl, "my-work-rejected")
    entry = carl.get_by_role("region", name=re.compile("^Rejected")).get_by_role("listitem").filter(has_text=title)
    expect(entry).to_contain_text(re.compile(r"Version 1 was rejected by (Olga Owner|olga)"))
    expect(entry).to_contain_text(reason)
    entry.get_by_role("link", name=re.compile("^Edit")).click()
    carl.wait_for_url(re.compile(r"/write\?slug="))
    walk.check(carl, "edit-draft")
    body = carl.get_by_label("Text (Markdown)")
    body.fill(body.input_value() + "\n\nEmployees on a contract of at least six months may claim it; contractors may not.\n")
    olga_before = unread(olga)
    carl.get_by_role("button", name="Save and submit for review").click()
    carl.wait_for_url(re.compile(rf"/d/{slug}"))
    expect(carl.get_by_text("Submitted for review")).to_be_visible()
    walk.check(carl, "resubmitted")

    # The owner is asked again, approves, and the contributor hears of it.
    told(walk, olga, "owner-inbox-resubmitted", olga_before, re.compile(rf"Review requested: {re.escape(title)} \(version 2\)"))
    walk.go(olga, f"/review/{slug}/2", "review-resubmitted")
    expect(olga.get_by_text("contractors may not")).to_be_visible()
    carl_before = unread(carl)
    olga.get_by_role("button", name="Approve").click()
    olga.wait_for_url(re.compile(rf"/d/{slug}"))
    expect(olga.get_by_text("Approved: it is now the version everyone sees")).to_be_visible()
    told(walk, carl, "inbox-approved", carl_before, re.compile(rf"Approved: {re.escape(title)} \(version 2\)"),
         body=said("Olga Owner", "olga", "approved it"))
    walk.done()


# ---------------------------------------------------------------------------------------- owner

def _write(page: Page, base: str, *, space: str, slug: str, title: str, body: str, intended_use: str) -> None:
    page.goto(f"{base}/write")
    page.get_by_label("Space").select_option(space)
    page.get_by_label(re.compile("Short name")).fill(slug)
    page.get_by_label("Title").fill(title)
    page.get_by_label("Text (Markdown)").fill(body)
    page.get_by_label(re.compile("Intended use")).fill(intended_use)
    page.get_by_role("button", name="Save and submit for review").click()
    page.wait_for_url(re.compile(rf"/d/{slug}"))


def test_owner_reviews_the_diff_decides_and_is_not_offered_self_approval(walk: Walk) -> None:
    slug, title = f"desk-booking-{walk.marker}", f"Desk booking {walk.marker}"
    carl, olga, otto = walk.person("carl"), walk.person("olga"), walk.person("otto")
    # A first approved version to compare against.
    _write(carl, walk.base, space="safety", slug=slug, title=title, intended_use="Tells staff how to book a desk",
           body=f"# {title}\n\nBook a desk in the booking tool before 10:00 on the day.\n")
    otto.goto(f"{walk.base}/review/{slug}/1")
    otto.get_by_role("button", name="Approve").click()
    otto.wait_for_url(re.compile(rf"/d/{slug}"))
    # The contributor writes version 2: new text, a new intended use.
    olga_before, carl_before = unread(olga), unread(carl)
    carl.goto(f"{walk.base}/write?slug={slug}")
    carl.get_by_label("Text (Markdown)").fill(f"# {title}\n\nBook a desk in the booking tool by 09:30 on the day; "
                                             "unclaimed desks are released at 10:00.\n")
    carl.get_by_label(re.compile("Intended use")).fill("Tells staff how and when to book a desk")
    carl.get_by_role("button", name="Save and submit for review").click()
    carl.wait_for_url(re.compile(rf"/d/{slug}"))

    told(walk, olga, "inbox-review-requested", olga_before, re.compile(rf"Review requested: {re.escape(title)} \(version 2\)"))
    walk.go(olga, "/review", "queue")
    queue = olga.get_by_role("region", name="In review")
    queue.get_by_role("link", name=title).click()
    olga.wait_for_url(re.compile(rf"/review/{slug}/2"))
    walk.check(olga, "diff")
    changes = olga.get_by_role("table").filter(has=olga.get_by_role("columnheader", name="Before"))
    row = changes.get_by_role("row").filter(has=olga.get_by_role("rowheader", name="intended use"))
    expect(row).to_contain_text("Tells staff how to book a desk")
    expect(row).to_contain_text("Tells staff how and when to book a desk")
    text_changed = olga.get_by_role("region", name="Text changed")
    expect(text_changed).to_contain_text("by 09:30")
    expect(text_changed).to_contain_text("before 10:00")
    expect(olga.get_by_role("complementary", name="Decision").get_by_role("button", name="Approve")).to_be_visible()

    olga.get_by_label(re.compile("Comment")).fill(f"Clearer, thanks ({walk.marker})")
    olga.get_by_role("button", name="Approve").click()
    olga.wait_for_url(re.compile(rf"/d/{slug}"))
    expect(olga.get_by_text("Approved: it is now the version everyone sees")).to_be_visible()
    walk.check(olga, "approved")
    told(walk, carl, "author-inbox-approved", carl_before, re.compile(rf"Approved: {re.escape(title)} \(version 2\)"),
         body=f"Clearer, thanks ({walk.marker})")
    walk.go(olga, f"/d/{slug}", "timeline")
    timeline = olga.get_by_role("region", name="Timeline")
    expect(timeline).to_contain_text(re.compile(r"v2 .*approved.* by olga", re.I))

    # Her own document: approving it is not offered, and the page says why.
    own_slug, own_title = f"visitor-badges-{walk.marker}", f"Visitor badges {walk.marker}"
    otto_before = unread(otto)
    _write(olga, walk.base, space="safety", slug=own_slug, title=own_title, intended_use="Tells hosts how to badge visitors",
           body=f"# {own_title}\n\nVisitors wear a badge at all times and are met at reception.\n")
    walk.go(olga, f"/review/{own_slug}/1", "own-version")
    decision = olga.get_by_role("complementary", name="Decision")
    expect(decision.get_by_role("button", name="Approve")).to_have_count(0)
    expect(decision.get_by_text("You cannot approve this version.")).to_be_visible()
    expect(decision).to_contain_text(re.compile("author|four", re.I))
    # The other owner can, and is asked to.
    told(walk, otto, "other-owner-inbox", otto_before, re.compile(f"Review requested: {re.escape(own_title)}"))
    walk.go(otto, f"/review/{own_slug}/1", "other-owner-review")
    expect(otto.get_by_role("complementary", name="Decision").get_by_role("button", name="Approve")).to_be_visible()
    walk.done()


# ------------------------------------------------------------------------------------ questions

def test_questions_ask_with_similar_shown_answer_accept_and_promote(walk: Walk) -> None:
    rita, carl, olga, otto = walk.person("rita"), walk.person("carl"), walk.person("olga"), walk.person("otto")
    title = f"Can I claim child benefit for a foster child {walk.marker}?"

    earlier = f"Does child benefit apply to a foster child? {walk.marker}"
    carl.goto(f"{walk.base}/questions/ask")
    carl.get_by_label("Your question in one line").fill(earlier)
    carl.get_by_label("Details (Markdown)").fill("A colleague fosters a child; can she claim child benefit?")
    carl.get_by_role("button", name="Post question").click()
    expect(carl.get_by_text("Your question is posted.")).to_be_visible()

    walk.go(rita, "/questions", "questions")
    rita.get_by_role("link", name="Ask a question").click()
    rita.wait_for_url(re.compile(r"/questions/ask"))
    rita.get_by_label("Your question in one line").press_sequentially("Can I claim child benefit for a foster child", delay=10)
    # While she types: documents that may answer it, and the question a colleague asked before.
    expect(rita.get_by_role("heading", name="Documents that may answer it")).to_be_visible(timeout=15_000)  # a search
    expect(rita.get_by_role("link", name="Child benefit", exact=True)).to_be_visible()
    expect(rita.get_by_role("heading", name=re.compile("^Similar questions"))).to_be_visible(timeout=15_000)
    expect(rita.get_by_role("link", name=earlier)).to_be_visible()
    walk.check(rita, "ask")
    rita.get_by_label("Your question in one line").fill(title)
    rita.get_by_label("Details (Markdown)").fill("We are fostering a child from next month. Does child benefit apply?")
    rita.get_by_label(re.compile("^Space")).select_option("benefits")
    rita.get_by_role("button", name="Post question").click()
    rita.wait_for_url(re.compile(r"/questions/\d+"))
    expect(rita.get_by_text("Your question is posted.")).to_be_visible()
    question = rita.url.split("/questions/")[1].split("?")[0].split("#")[0]
    walk.check(rita, "question")
    rita_before, carl_before = unread(rita), unread(carl)

    walk.go(carl, f"/questions/{question}", "answering")
    answer = f"Yes: a foster child who lives with you counts as your child for child benefit. ({walk.marker})"
    carl.get_by_label("Your answer (Markdown)").fill(answer)
    carl.get_by_role("button", name="Post answer").click()
    expect(carl.get_by_text("Your answer is posted.")).to_be_visible()
    item = told(walk, rita, "asker-inbox-answered", rita_before, f"Your question has an answer: {title}",
                body=said("Carl Contributor", "carl", "answered"))
    item.get_by_role("link").first.click()
    rita.wait_for_url(re.compile(rf"/questions/{question}"))
    rita.get_by_role("button", name="Accept this answer").click()
    expect(rita.get_by_text("The answer is accepted.")).to_be_visible()
    expect(rita.get_by_text("accepted answer", exact=True)).to_be_visible()
    walk.check(rita, "accepted")
    rita.get_by_role("banner").get_by_role("link", name="My work").click()
    expect(rita.get_by_role("region", name=re.compile("^Questions I asked")).get_by_role("listitem").filter(has_text=title)) \
        .to_contain_text("answered")
    walk.check(rita, "my-work-asked")
    told(walk, carl, "answerer-inbox-accepted", carl_before, f"Your answer was accepted: {title}", body=said("Rita Reader", "rita", "accepted"))

    # An owner of the question's space promotes the answer: a draft, titled from the question, in the review queue.
    walk.go(olga, f"/questions/{question}", "promote")
    promote = olga.get_by_role("region", name="Promote into curated knowledge")
    expect(promote.get_by_label("Space", exact=True)).to_have_value("benefits")  # the question's space
    expect(promote.get_by_label("Title", exact=True)).to_have_value(title)
    otto_before = unread(otto)
    promote.get_by_role("button", name=re.compile("^Promote")).click()
    olga.wait_for_url(re.compile(r"/d/[a-z0-9-]+"))
    expect(olga.get_by_role("status")).to_contain_text("submitted for review")
    walk.check(olga, "promoted")
    expect(olga.get_by_role("heading", level=1)).to_contain_text(title.rstrip("?"))
    told(walk, otto, "other-owner-inbox-promoted", otto_before, re.compile("Review requested: " + re.escape(title.rstrip("?"))))
    walk.go(otto, "/review", "queue-promoted")
    expect(otto.get_by_role("region", name="In review").get_by_role("link", name=re.compile(re.escape(title.rstrip("?"))))).to_be_visible()

    # The question says so, and promotion is not offered twice.
    olga.goto(f"{walk.base}/questions/{question}")
    expect(olga.get_by_text(re.compile("promoted into curated knowledge"))).to_be_visible()
    expect(olga.get_by_role("region", name="Promote into curated knowledge")).to_have_count(0)
    walk.done()


# ------------------------------------------------------------------------------------ moderator

def test_moderator_handles_three_flags_as_one_item_and_the_author_is_told_truthfully(walk: Walk) -> None:
    rita, mona = walk.person("rita"), walk.person("mona")
    spam = f"Cheap watches at www.example.com {walk.marker}"
    rita.goto(f"{walk.base}/d/housing-allowance")
    rita.get_by_label("Add a comment (Markdown)").fill(spam)
    rita.get_by_role("button", name="Post comment").click()
    expect(rita.get_by_text("Your comment is posted.")).to_be_visible()
    comment_id = rita.locator("li.comment", has_text=spam).get_attribute("id").removeprefix("comment-")
    mona_before = unread(mona)

    for number, username in enumerate(("carl", "olga", "otto"), start=1):
        flagger = walk.person(username)
        walk.go(flagger, "/d/housing-allowance", f"flag-{number}")
        post = flagger.get_by_role("listitem").filter(has_text=spam).last
        post.get_by_text("Flag", exact=True).click()
        post.get_by_label("Reason").select_option("spam")
        post.get_by_label("Note (optional)").fill(f"advertising, report {number}")
        post.get_by_role("button", name="Send flag").click()
        expect(flagger.get_by_text("Thank you: a moderator or the owners will look at it.")).to_be_visible()

    # Each flag tells the moderators; the third hides the comment pending moderation.
    told(walk, mona, "moderator-inbox", mona_before, re.compile(rf"Flagged comment {comment_id}: spam \(now hidden"), more=3)
    expect(notice(mona, re.compile(rf"Flagged comment {comment_id}: spam"))).to_have_count(3)
    walk.go(rita, "/d/housing-allowance", "author-auto-hidden")
    expect(rita.get_by_role("listitem").filter(has_text=spam).last).to_contain_text(
        "Hidden automatically after 3 reports, awaiting a moderator")

    walk.go(mona, "/moderation", "queue")
    entries = mona.get_by_role("listitem").filter(has=mona.get_by_role("heading", name=re.compile(rf"^Comment {comment_id} ")))
    expect(entries).to_have_count(1)  # one entry for the post, with its three flags
    entry = entries.first
    expect(entry).to_contain_text("3 open reports: spam ×3")
    expect(entry).to_contain_text("hidden automatically after 3 reports")
    for number in (1, 2, 3):
        expect(entry).to_contain_text(f"advertising, report {number}")
    expect(entry).to_contain_text(spam)
    reason = f"Advertising is not allowed here ({walk.marker})"
    entry.get_by_label(re.compile("Your reason")).fill(reason)
    entry.get_by_role("button", name="Hide it").click()
    expect(mona.get_by_text("Done, with your reason on record.")).to_be_visible()
    expect(mona.get_by_role("heading", name=re.compile(rf"^Comment {comment_id} "))).to_have_count(0)
    walk.check(mona, "queue-after")

    # The author is told truthfully who hid it and why; others no longer see it.
    walk.go(rita, "/d/housing-allowance", "author-hidden")
    expect(rita.get_by_role("listitem").filter(has_text=spam).last).to_contain_text(f"Hidden by a moderator: {reason}")
    carl = walk.person("carl")
    walk.go(carl, "/d/housing-allowance", "reader-hidden")
    expect(carl.get_by_text(spam)).to_have_count(0)
    walk.done()


# ---------------------------------------------------------------------------------------- admin

def _second_admin() -> str:
    """Ada, a second admin, made by the bootstrap (kb itself): the only way a second admin comes to be
    without one (docs/governance.md), as `kb init --admin` and `kb demo` do."""
    from kb.accounts import actions as accounts
    from kb.accounts.schemas import UserCreate
    from kb.actors import SYSTEM, GlobalRole
    from kb.errors import KbError

    database = LIVE["database"]
    with database.session() as session:  # type: ignore[attr-defined]
        try:
            accounts.read_user(session, SYSTEM, username="ada")
        except KbError:
            accounts.create_user(session, SYSTEM, data=UserCreate(
                username="ada", display_name="Ada Admin", email="ada@northbridge.example", password="ada-demo-2026",
                global_role=GlobalRole.admin))
    return "ada"


def test_admin_reads_the_audit_log_approves_a_governance_request_and_sees_insights(walk: Walk) -> None:
    ada = _second_admin()
    adam = walk.person("adam")
    space = f"journeys-{walk.marker}"
    # Ada creates a space and asks to switch its four eyes off: a request for a second admin (there is no
    # web form to ask; the API is the surface that asks).
    api = adam.context.request
    token = api.post(f"{walk.base}/api/v1/auth/token", data={"username": ada, "password": "ada-demo-2026"}).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    created = api.post(f"{walk.base}/api/v1/spaces", headers=headers, data={"slug": space, "name": f"Journeys {walk.marker}"})
    assert created.status == 201, created.text()
    asked = api.patch(f"{walk.base}/api/v1/spaces/{space}", headers=headers, data={"four_eyes": False})
    assert asked.status == 202, asked.text()
    request_id = asked.json()["id"]

    walk.go(adam, "/governance", "governance")
    pending = adam.get_by_role("listitem").filter(has_text=f"#{request_id}")
    expect(pending).to_contain_text(space)
    expect(pending).to_contain_text("pending")
    expect(pending).to_contain_text("ada")
    pending.get_by_role("button", name="Approve").click()
    expect(adam.get_by_text("Approved: the change has taken effect")).to_be_visible()
    walk.check(adam, "governance-approved")

    # The audit log, newest first: the approval and the change it carried out, by adam on the web.
    walk.go(adam, "/audit", "audit")
    lines = adam.get_by_role("list", name=re.compile("^Audit events")).get_by_role("listitem")
    seqs = [int(lines.nth(i).get_attribute("id").removeprefix("event-")) for i in range(5)]  # each line's sequence number
    assert seqs == sorted(seqs, reverse=True), f"the log's first lines are #{seqs}: not newest first"
    change, approval = lines.nth(0), lines.nth(1)  # the change, carried out by the approver, after his approval
    for line, action in ((change, "space.update"), (approval, "governance.approve")):
        expect(line).to_contain_text(action)
        expect(line.get_by_role("link", name="adam")).to_be_visible()
        expect(line).to_contain_text("web")  # the channel
        expect(line.get_by_role("time")).to_be_visible()
    change.get_by_text("Details").click()  # the payload on demand
    expect(change).to_contain_text("four_eyes")
    walk.check(adam, "audit-details")
    adam.get_by_label("Action").fill("governance.request")
    adam.get_by_label("By (user name)").fill(ada)
    adam.get_by_role("button", name="Filter").click()
    walk.check(adam, "audit-filtered")
    asked_line = adam.get_by_role("list", name=re.compile("^Audit events")).get_by_role("listitem").first
    expect(asked_line.get_by_role("link", name=ada)).to_be_visible()
    expect(asked_line).to_contain_text("api")
    asked_line.get_by_text("Details").click()
    expect(asked_line).to_contain_text(space)

    walk.go(adam, "/insights", "insights")
    expect(adam.get_by_role("term").filter(has_text="“No good answer” rate")).to_be_visible()
    for title in ("Documents overdue for review, per space", "Median approval lead time per space"):
        chart = adam.get_by_role("figure").filter(has_text=title)
        for name in ("benefits", "engineering", "hr", "safety"):  # every space named, with its value
            expect(chart.get_by_role("img")).to_have_attribute("aria-label", re.compile(rf"\b{name} \d", re.I))
        chart.get_by_text("Values").click()
        expect(chart.get_by_role("rowheader")).to_have_count(chart.get_by_role("cell").count())
        assert chart.get_by_role("rowheader").count() >= 4
    walk.check(adam, "insights-values")
    walk.done()


# -------------------------------------------------------------------------------------- citizen

def test_citizen_searches_in_dutch_reads_the_card_and_checks_the_receipt(walk: Walk) -> None:
    citizen = walk.person(None, locale="nl-NL")
    walk.go(citizen, "/public", "public-start")
    expect(citizen.locator("html")).to_have_attribute("lang", "nl")
    query = "hoeveel kinderbijslag krijg ik"
    citizen.get_by_role("searchbox").fill(query)
    citizen.get_by_role("button", name="Zoeken").click()
    citizen.wait_for_url(re.compile(r"/public\?"))
    expect(citizen.get_by_role("heading", level=1)).to_be_visible()
    first = citizen.get_by_role("listitem").filter(has=citizen.get_by_role("link", name="Kinderbijslag")).first
    expect(first).to_be_visible()
    expect(first).to_have_attribute("lang", "nl")
    walk.check(citizen, "public-results")
    for person in ("Olga", "Otto", "Carl", "Rita", "northbridge.example"):
        assert person not in citizen.content()

    first.locator("summary").click()  # the provenance card, on demand
    card = first.get_by_role("region")
    expect(card).to_be_visible()
    expect(card).to_contain_text("Gepubliceerd door")
    walk.check(citizen, "public-card")

    first.get_by_role("link", name="Kinderbijslag", exact=True).click()
    citizen.wait_for_url(re.compile(r"/public/d/kinderbijslag"))
    walk.check(citizen, "public-document")
    side = citizen.get_by_role("complementary")
    expect(side.get_by_role("region", name="Over dit antwoord")).to_contain_text("Gepubliceerd door")  # her language
    receipt = side.get_by_role("link", name=re.compile("ontvangstbewijs|receipt", re.I))
    href = receipt.get_attribute("href")
    assert href
    answer = citizen.context.request.get(f"{walk.base}{href}")
    assert answer.status == 200 and "json" in answer.headers["content-type"]
    from kb.provenance import verify_receipt

    check = verify_receipt(answer.text())  # offline, as a citizen's own checker would
    assert check.ok, check.problems
    assert check.document == "kinderbijslag"

    citizen.get_by_role("link", name=re.compile("resultaten", re.I)).click()  # "back to the results" keeps the query
    citizen.wait_for_url(re.compile(r"/public\?"))
    expect(citizen.get_by_role("searchbox")).to_have_value(query)
    walk.check(citizen, "back-to-results")
    citizen.get_by_role("link", name="Deutsch").click()
    expect(citizen.locator("html")).to_have_attribute("lang", "de")
    expect(citizen.get_by_role("searchbox")).to_have_value(query)
    walk.check(citizen, "public-results-de")
    walk.done()
