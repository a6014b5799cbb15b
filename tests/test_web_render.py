"""Pure rendering helpers: the one Markdown renderer (kb.markdown) under both policies, diff rows, chart bars."""

from __future__ import annotations

import pytest

from kb import markdown
from kb.markdown import COMMUNITY, CURATED, count_links, to_html
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


def test_community_policy_is_smaller_than_the_curated_one() -> None:
    text = "# Big\n\n### Small\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[ok](https://ok.example) ![i](https://t.example/p.png)"
    community = to_html(text, COMMUNITY)
    assert "<h1>" not in community and "<h3>Small</h3>" in community and "<table>" not in community and "<img" not in community
    assert '<a href="https://ok.example" rel="nofollow noopener ugc">ok</a>' in community
    curated = to_html(text, CURATED)
    assert "<h2>Big</h2>" in curated and "<h4>Small</h4>" in curated and "<table>" in curated and "<img" not in curated
    assert COMMUNITY.tags < CURATED.tags


def test_both_callers_go_through_the_one_renderer() -> None:
    """Curated pages and community posts render with kb.markdown.to_html, and nothing else parses Markdown
    (the import-linter contract "One Markdown renderer" keeps markdown-it and nh3 inside kb.markdown)."""
    from pathlib import Path

    import kb
    import kb.web.render as web_render
    from kb.social import service as social

    assert web_render.to_html is markdown.to_html and social.to_html is markdown.to_html
    assert document_html("Text [a](https://a.example)") == to_html("Text [a](https://a.example)", CURATED)
    importers = sorted(str(path.relative_to(Path(kb.__file__).parent)) for path in Path(kb.__file__).parent.rglob("*.py")
                       if any(word in path.read_text(encoding="utf-8") for word in ("import nh3", "markdown_it import")))
    assert importers == ["markdown.py"]


@pytest.mark.parametrize(("text", "links"), [
    ("[a](https://a.example) and [b](https://b.example)", 2),  # each Markdown link once (was counted twice)
    ("[a](https://a.example) [b](https://b.example) [c](https://c.example)", 3),
    ("see https://a.example https://b.example https://c.example", 3),  # bare URLs count although not linked
    ("<https://a.example> and mailto:x@example.org", 2),
    ("[https://a.example](https://a.example)", 1),  # a link whose text is its URL is one link
    ("![i](https://a.example/p.png)", 1),  # images are off: this is a link
    ("`https://a.example`\n\n    https://b.example", 2),  # code counts: spam pastes anywhere
    ("<a href=\"https://a.example\">x</a>", 1),  # raw HTML is text: its URL once
    ("no links here", 0),
])
def test_count_links_counts_each_link_once(text: str, links: int) -> None:
    assert count_links(text) == links
