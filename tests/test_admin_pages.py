"""The admins' pages (issue 17): the audit log newest first, one readable line per event with its record
on demand, paginated (web and API); insight charts with their values and every space named. On SQLite
and PostgreSQL (the ``client`` fixture)."""

from __future__ import annotations

import re
from html import unescape

from tests.factories import make_space, sign_in


def seqs(html: str) -> list[int]:
    return [int(s) for s in re.findall(r'<li class="audit-line" id="event-(\d+)">', html)]


def test_the_audit_log_reads_newest_first_one_line_per_event(client, database, cast) -> None:  # noqa: ANN001
    sign_in(client, database, "adam")
    page = client.get("/audit")
    assert page.status_code == 200
    shown = seqs(page.text)
    assert shown == sorted(shown, reverse=True) and len(shown) > 5
    head = client.get("/api/v1/audit", params={"order": "desc", "limit": 1}, headers=cast["admin"].headers).json()["data"][0]
    assert shown[0] == head["seq"]  # the newest event comes first
    approve = client.get("/api/v1/audit", params={"action": "version.approve"}, headers=cast["admin"].headers).json()["data"][0]
    line = re.search(rf'<li class="audit-line" id="event-{approve["seq"]}">(.*?)</li>', page.text, re.S).group(1)
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", line.split("<details>")[0])).split())
    assert text.startswith(f'{approve["at"][:19].replace("T", " ")} UTC · olga approved child-benefit v1 api #{approve["seq"]}')
    assert '<a href="/people/olga">olga</a>' in line and '<a href="/d/child-benefit/v/1">child-benefit v1</a>' in line
    record = unescape(re.search(r'<details><summary>Details</summary><pre class="payload">(.*?)</pre></details>', line, re.S).group(1))
    assert '"version": 1' in record and "…" not in record  # the whole payload, on demand


def test_the_audit_log_pages_older_and_back_without_losing_an_event(client, database, cast, monkeypatch) -> None:  # noqa: ANN001
    from kb.web import admin

    monkeypatch.setattr(admin, "AUDIT_PAGE_SIZE", 4)
    sign_in(client, database, "adam")
    first = client.get("/audit")
    all_seqs = [e["seq"] for e in client.get("/api/v1/audit", params={"limit": 500}, headers=cast["admin"].headers).json()["data"]]
    pages, html = [], first.text
    while True:
        pages.append(seqs(html))
        older = re.search(r'<a rel="next" href="([^"]+)">Older events', html)
        if not older:
            break
        html = client.get(unescape(older.group(1))).text
    assert [s for page in pages for s in page] == sorted(all_seqs, reverse=True)  # every event once, newest first
    assert all(len(page) == 4 for page in pages[:-1]) and "Newer events" not in first.text
    newer = re.search(r'<a rel="prev" href="([^"]+)">← Newer events', html)
    assert newer and seqs(client.get(unescape(newer.group(1))).text) == pages[-2]
    filtered = client.get("/audit", params={"action": "version.approve"})
    blocks = re.findall(r'<li class="audit-line".*?</li>', filtered.text, re.S)
    assert blocks and all("<code>version.approve</code>" in block for block in blocks)


def test_the_audit_api_pages_newest_first(client, database, cast) -> None:  # noqa: ANN001
    headers = cast["admin"].headers
    everything = [e["seq"] for e in client.get("/api/v1/audit", params={"limit": 500}, headers=headers).json()["data"]]
    first = client.get("/api/v1/audit", params={"order": "desc", "limit": 3}, headers=headers).json()
    assert [e["seq"] for e in first["data"]] == sorted(everything, reverse=True)[:3]
    assert first["next_before_seq"] == first["data"][-1]["seq"] and first["next_after_seq"] is None
    second = client.get("/api/v1/audit", params={"order": "desc", "limit": 3, "before_seq": first["next_before_seq"]},
                        headers=headers).json()
    assert [e["seq"] for e in second["data"]] == sorted(everything, reverse=True)[3:6]
    assert client.get("/api/v1/audit", params={"order": "sideways"}, headers=headers).status_code == 422
    assert client.get("/api/v1/audit", params={"order": "desc"}, headers=cast["owner"].headers).status_code == 403


def test_insight_charts_show_their_values_and_name_every_space(client, database, cast) -> None:  # noqa: ANN001
    for space in ("housing", "pensions", "zoning"):  # every space is listed, with or without documents
        make_space(database, space)
    sign_in(client, database, "rita")
    client.get("/search?q=child+benefit")
    client.get("/search?q=child+benefit+paid")
    sign_in(client, database, "adam")
    page = client.get("/insights")
    assert page.status_code == 200
    overdue = re.search(r"<figcaption>Documents overdue for review, per space</figcaption>(.*?)</figure>", page.text, re.S).group(1)
    labels = re.findall(r'<text x="0" y="\d+" class="bar-label">([^<]+)<title>', overdue)
    assert {"benefits", "housing", "pensions", "zoning"} <= set(labels)  # every space named, not the first and last only
    values = re.findall(r'class="bar-value">([^<]+)</text>', overdue)
    assert len(values) == len(labels) and all(v.strip().isdigit() for v in values)
    volume = re.search(r"<figcaption>Searches per day</figcaption>(.*?)</figure>", page.text, re.S).group(1)
    assert re.findall(r'class="bar-value">2</text>', volume)  # today's bar says its value
    table = re.search(r"<details class=\"chart-values\"><summary>Values</summary>(.*?)</details>", volume, re.S).group(1)
    assert re.search(r"<td>2</td>", table)
