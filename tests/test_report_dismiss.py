"""An owner dismisses a reader's report (wrong, outdated) as unfounded, without a new version: one rule on
the API, the web UI and the CLI (``kb.documents.actions.dismiss_report``).

Before, a report left the owners' review queue only when a version was approved since or the document
retired: an owner who found it unfounded could not clear it. Dismissing is an event that names the
report and why (so ``kb audit verify`` accepts it as kb's closing), the reader hears who dismissed it
and why, and in a four-eyes space the writer of the version the report is about may not dismiss it.
"""

from __future__ import annotations

from tests.audit import audit_events, head_seq
from tests.factories import make_document, make_page_written_by, run_cli, sign_in


def _report(client, cast, who: str = "reader", slug: str = "housing", reason: str = "outdated") -> int:  # noqa: ANN001
    made = client.post("/api/v1/flags", json={"target": "document", "target_id": slug, "reason": reason,
                                              "note": "The rates changed in April"}, headers=cast[who].headers)
    assert made.status_code == 201, made.text
    queue = client.get("/api/v1/review-queue", headers=cast["owner"].headers).json()["data"]
    reports = [item["report"] for item in queue if item["document"] == slug and item["reason"] == f"reported_{reason}"]
    assert len(reports) == 1, queue
    return reports[0]


def _queued_reports(client, cast) -> list[int]:  # noqa: ANN001
    return [item["report"] for item in client.get("/api/v1/review-queue", headers=cast["owner"].headers).json()["data"]
            if item["report"] is not None]


def _differences(database) -> list[str]:  # noqa: ANN001
    from kb.documents import integrity

    with database.session() as session:
        return [str(d) for d in integrity.differences(session)]


def test_an_owner_dismisses_a_report_through_the_api(client, database, cast) -> None:  # noqa: ANN001
    make_document(database, cast, slug="housing", state="approved")
    report = _report(client, cast)
    dismissed = client.post(f"/api/v1/reports/{report}/dismiss", json={"reason": "The April rates are in section 2"},
                            headers=cast["owner"].headers)
    assert dismissed.status_code == 200, dismissed.text
    body = dismissed.json()
    assert (body["report"], body["document"], body["reported"], body["dismissed_by"]) == (report, "housing", "outdated", "olga")
    assert _queued_reports(client, cast) == []
    event = [e for e in audit_events(database) if e["action"] == "report.dismiss"]
    assert len(event) == 1 and event[0]["actor"] == "olga" and event[0]["channel"] == "api"
    assert event[0]["payload"]["resolved_reports"] == [report] and event[0]["payload"]["reason"] == "The April rates are in section 2"
    told = client.get("/api/v1/notifications", headers=cast["reader"].headers).json()["data"]
    notice = [n for n in told if n["kind"] == "report_dismissed"]
    assert len(notice) == 1 and "Olga" in notice[0]["body"] and "section 2" in notice[0]["body"], told
    assert _differences(database) == []  # kb's own closing is no difference

    before = head_seq(database)
    again = client.post(f"/api/v1/reports/{report}/dismiss", json={"reason": "Again"}, headers=cast["owner"].headers)
    assert again.status_code == 409 and again.json()["error"]["details"]["rule"] == "report_closed", again.text
    assert head_seq(database) == before


def test_who_may_not_dismiss_a_report(client, database, cast) -> None:  # noqa: ANN001
    make_document(database, cast, slug="housing", state="approved")
    report = _report(client, cast)
    before = head_seq(database)
    for who, status in (("reader", 403), ("contributor", 403), ("outsider_owner", 404)):
        refused = client.post(f"/api/v1/reports/{report}/dismiss", json={"reason": "Not so"}, headers=cast[who].headers)
        assert refused.status_code == status, (who, refused.text)
    blank = client.post(f"/api/v1/reports/{report}/dismiss", json={"reason": "  "}, headers=cast["owner"].headers)
    assert blank.status_code == 422, blank.text
    missing = client.post("/api/v1/reports/999999/dismiss", json={"reason": "Not so"}, headers=cast["owner"].headers)
    assert missing.status_code == 404, missing.text
    assert head_seq(database) == before and _queued_reports(client, cast) == [report]


def test_the_writer_of_the_reported_version_may_not_dismiss_it_under_four_eyes(client, database, cast) -> None:  # noqa: ANN001
    """olga wrote *her-page* (otto approved it); a reader says it is wrong: otto decides, not olga."""
    make_page_written_by(database, cast, slug="her-page", author="owner", approver="owner2")
    report = _report(client, cast, slug="her-page", reason="wrong")
    own = client.post(f"/api/v1/reports/{report}/dismiss", json={"reason": "It is right"}, headers=cast["owner"].headers)
    assert own.status_code == 409 and own.json()["error"]["details"]["rule"] == "four_eyes", own.text
    assert "another owner" in own.json()["error"]["message"]
    other = client.post(f"/api/v1/reports/{report}/dismiss", json={"reason": "It is right"}, headers=cast["owner2"].headers)
    assert other.status_code == 200, other.text


def test_an_owner_dismisses_a_report_on_the_web(client, database, cast) -> None:  # noqa: ANN001
    make_document(database, cast, slug="housing", state="approved")
    report = _report(client, cast)
    csrf = sign_in(client, database, "olga")
    queue = client.get("/review")
    assert f'action="/review/reports/{report}/dismiss"' in queue.text
    empty = client.post(f"/review/reports/{report}/dismiss", data={"csrf": csrf, "reason": ""}, follow_redirects=False)
    assert empty.status_code == 422 and _queued_reports(client, cast) == [report]
    done = client.post(f"/review/reports/{report}/dismiss", data={"csrf": csrf, "reason": "Still right"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/review?done=report_dismissed"
    assert _queued_reports(client, cast) == []
    assert f'/review/reports/{report}/dismiss' not in client.get("/review").text
    twice = client.post(f"/review/reports/{report}/dismiss", data={"csrf": csrf, "reason": "Still right"}, follow_redirects=False)
    assert twice.status_code == 303 and twice.headers["location"] == "/review?done=report_closed"  # a double click
    assert "was closed already" in client.get(twice.headers["location"]).text
    event = [e for e in audit_events(database) if e["action"] == "report.dismiss"]
    assert len(event) == 1 and event[0]["channel"] == "web" and event[0]["actor"] == "olga"


def test_an_owner_lists_and_dismisses_a_report_on_the_cli(client, database, cast, cli_env) -> None:  # noqa: ANN001
    make_document(database, cast, slug="housing", state="approved")
    report = _report(client, cast)
    listed = run_cli("review-queue", token=cast["owner"].token)
    assert listed.exit_code == 0 and f"report {report}" in listed.stdout and "reported by rita" in listed.stdout, listed.output
    refused = run_cli("dismiss-report", str(report), "--reason", "Not so", token=cast["reader"].token)
    assert refused.exit_code != 0 and _queued_reports(client, cast) == [report], refused.output
    blank = run_cli("dismiss-report", str(report), "--reason", " ", token=cast["owner"].token)
    assert blank.exit_code != 0 and "--reason" in blank.output, blank.output
    done = run_cli("dismiss-report", str(report), "--reason", "Still right", token=cast["owner"].token)
    assert done.exit_code == 0 and f"Dismissed report {report} on housing as olga" in done.stdout, done.output
    assert _queued_reports(client, cast) == []
    event = [e for e in audit_events(database) if e["action"] == "report.dismiss"]
    assert len(event) == 1 and event[0]["channel"] == "cli" and event[0]["actor"] == "olga"


def test_a_readers_note_cannot_fake_lines_or_escape_codes_in_the_owners_terminal(client, database, cast, cli_env) -> None:  # noqa: ANN001
    """The review of 2026-12-07: a note with an escape sequence and a line break printed as it was, so a reader could
    clear an owner's screen or add a line that looked like a queue entry."""
    make_document(database, cast, slug="housing", state="approved")
    made = client.post("/api/v1/flags", json={"target": "document", "target_id": "housing", "reason": "wrong",
                                              "note": "ok\x1b[2J\x1b[31mFAKE\nin_review\tfake-doc v9\tInjected\u202e"},
                       headers=cast["reader"].headers)
    assert made.status_code == 201, made.text
    listed = run_cli("review-queue", token=cast["owner"].token)
    assert listed.exit_code == 0, listed.output
    assert "\x1b" not in listed.stdout and "\u202e" not in listed.stdout
    assert not any(line.startswith("in_review\tfake-doc") for line in listed.stdout.splitlines()), listed.stdout
    assert "ok\ufffd[2J\ufffd[31mFAKE in_review fake-doc v9 Injected\ufffd" in listed.stdout


def test_ids_and_reasons_that_are_not_ones_are_bad_input_everywhere(client, database, cast, cli_env) -> None:  # noqa: ANN001
    make_document(database, cast, slug="housing", state="approved")
    report = _report(client, cast)
    invisible = client.post(f"/api/v1/reports/{report}/dismiss", json={"reason": "\u200b\u2060"}, headers=cast["owner"].headers)
    assert invisible.status_code == 422, invisible.text
    for args in (["dismiss-report", "99999999999999999999", "--reason", "x"], ["dismiss-report", "abc", "--reason", "x"],
                 ["dismiss-report", str(report)], ["approve", "housing", "99999999999999999999"]):
        result = run_cli(*args, token=cast["owner"].token)
        assert result.exit_code == 1 and "Traceback" not in result.output, (args, result.output)
    assert _queued_reports(client, cast) == [report]
    sign_in(client, database, "olga")
    page = client.get("/review").text
    assert "reported outdated" in page and f"Dismiss report {report}" in page
    assert f'<label for="dismiss-{report}">Why is rita\'s report on Housing unfounded?' in page  # each row's own label


def test_a_reader_whose_report_was_closed_may_report_the_document_again(client, database, cast) -> None:  # noqa: ANN001
    """The review of 2026-12-07: once dismissed, rita could never report housing again ("You flagged this
    already"). A report closed by a dismissal or an approval no longer counts; one still open does."""
    make_document(database, cast, slug="housing", state="approved")
    first = _report(client, cast, reason="wrong")
    again = client.post("/api/v1/flags", json={"target": "document", "target_id": "housing", "reason": "outdated"},
                        headers=cast["reader"].headers)
    assert again.status_code == 409, again.text  # still open
    assert client.post(f"/api/v1/reports/{first}/dismiss", json={"reason": "Right as it is"},
                       headers=cast["owner"].headers).status_code == 200
    second = _report(client, cast, reason="outdated")
    assert second != first
    spam = client.post("/api/v1/flags", json={"target": "document", "target_id": "housing", "reason": "spam"},
                       headers=cast["reader"].headers)
    assert spam.status_code == 409, spam.text  # one flag per reader and document: a closed report opens only another report
    made = [e for e in audit_events(database) if e["action"] == "flag.create"]
    assert [e["payload"].get("again", False) for e in made] == [False, True]
    assert _differences(database) == []
