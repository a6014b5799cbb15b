"""Pure rendering helpers of the web UI: curated Markdown → safe HTML, diff rows, chart bars."""

from __future__ import annotations

from kb.web.render import bars, diff_lines, document_html


def test_document_html_keeps_structure_and_drops_what_could_run() -> None:
    html = document_html("# Title\n\n## Part\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
                         "<script>alert(1)</script> [x](javascript:alert(1)) ![i](http://t.example/p.png) [ok](https://ok.example)")
    assert "<h2>Title</h2>" in html and "<h3>Part</h3>" in html and "<table>" in html and "<td>1</td>" in html
    assert "<script" not in html and "href=\"javascript" not in html and "<img" not in html
    assert '<a href="https://ok.example" rel="noopener nofollow">ok</a>' in html


def test_document_html_drops_a_first_heading_that_repeats_the_title() -> None:
    assert "<h2>" not in document_html("# Child benefit\n\nText.", title="Child Benefit")
    assert "<h2>Other</h2>" in document_html("# Other\n\nText.", title="Child benefit")


def test_diff_lines_classify_a_unified_diff() -> None:
    kinds = [line.kind for line in diff_lines("--- a v1\n+++ a v2\n@@ -1,2 +1,2 @@\n same\n-old\n+new")]
    assert kinds == ["file", "file", "hunk", "same", "del", "add"]


def test_bars_scale_to_the_tallest_and_stay_flat_when_all_zero() -> None:
    assert [b.height for b in bars([("a", 2), ("b", 4), ("c", 0)])] == [50.0, 100.0, 0.0]
    assert [b.height for b in bars([("a", 0), ("b", 0)])] == [0.0, 0.0]
    assert bars([]) == []
