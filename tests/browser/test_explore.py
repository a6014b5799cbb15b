"""What applies to me (issue 20), in a real browser at 1280 and 360 px: a citizen in Dutch picks *student* and
*tenant*, sees the rent-allowance page (huurtoeslag) with its card, copies the share link, and a second
browser opens it and sees the same result. Every page is screenshotted
(``build/screenshots/journey-explore-STEP-WIDTH.png``), checked with axe-core (0 serious or critical
violations) and for sideways scrolling, by the walk of tests/browser/test_journeys.py.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_journeys import Walk, walk, width  # noqa: F401  (the fixtures)

pytestmark = pytest.mark.xdist_group("browser")


def _results(page: Page) -> list[tuple[str, list[str]]]:
    """The result as the page shows it: each topic's heading and its pages' titles."""
    shown = []
    for topic in page.locator("section.topic").all():
        heading = topic.get_by_role("heading", level=3).inner_text()
        shown.append((re.sub(r"\s*\d+$", "", heading), [a.inner_text() for a in topic.locator("h4 a").all()]))
    return shown


def test_explore_a_dutch_student_and_tenant_shares_what_applies(walk: Walk) -> None:
    citizen = walk.person(None, locale="nl-NL")
    walk.go(citizen, "/public", "public-start")
    citizen.get_by_role("link", name="Of zoek wat voor uw situatie geldt").click()
    citizen.wait_for_url(re.compile(r"/public/explore"))
    expect(citizen.locator("html")).to_have_attribute("lang", "nl")
    walk.check(citizen, "questions")

    citizen.get_by_role("checkbox", name="Student", exact=True).check()
    citizen.get_by_role("checkbox", name="Huurder", exact=True).check()
    citizen.get_by_role("button", name="Toon wat geldt").click()
    citizen.wait_for_url(re.compile(r"/public/explore\?.*s=student.*s=tenant"))
    expect(citizen.get_by_role("checkbox", name="Huurder", exact=True)).to_be_checked()

    housing = citizen.locator("section.topic").filter(has=citizen.get_by_role("heading", name=re.compile("^Wonen")))
    page_item = housing.get_by_role("listitem").filter(has=citizen.get_by_role("link", name="Huurtoeslag", exact=True))
    expect(page_item).to_be_visible()
    expect(page_item).to_have_attribute("lang", "nl")
    expect(page_item).to_contain_text("Geldt voor u als: Huurder")
    walk.check(citizen, "results")
    page_item.locator("summary").click()  # the provenance card, on demand
    card = page_item.get_by_role("region")
    expect(card).to_contain_text("Gepubliceerd door")
    expect(card).to_contain_text("Geldig")
    walk.check(citizen, "card")
    for person in ("Olga", "Otto", "Carl", "Rita"):
        assert person not in citizen.content()

    share = citizen.get_by_label("Deel dit met wie het aangaat")
    address = share.input_value()
    assert re.fullmatch(rf"{re.escape(walk.base)}/public/explore\?s=student&s=tenant&lang=nl", address), address
    seen = _results(citizen)
    assert ("Wonen", ["Huurtoeslag"]) in seen

    friend = walk.person(None)  # another browser, with another language: the address says what was shared
    friend.goto(address)
    walk.check(friend, "shared")
    expect(friend.locator("html")).to_have_attribute("lang", "nl")
    assert _results(friend) == seen
    expect(friend.get_by_role("checkbox", name="Student", exact=True)).to_be_checked()
    expect(friend.get_by_role("checkbox", name="Huurder", exact=True)).to_be_checked()
    walk.done()
