"""webui.render: every string the page shows, escaped first: source views with their marked
citations, answers and refusals, streamed prefixes and the status line."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag import Citation
from rag.chain import DocQA
from rag.documents import Skipped
from rag.presentation import title
from rag.types import Answer, Document
from tests.ui_helpers import MARKUP, view_text
from webui import render


@pytest.mark.parametrize(
    "text",
    [MARKUP, "<script>alert(1)</script>", "*bold* _it_ [link](http://x) `code` # h", "a & b"],
)
def test_escape_leaves_no_markup(text: str) -> None:
    shown = render.escape(text)
    assert "<" not in shown and ">" not in shown
    assert "[link](" not in shown and "`" not in shown.replace("\\`", "")


@given(st.text(max_size=200), st.lists(st.integers(0, 200), max_size=8))
def test_source_view_shows_the_text_and_marks_each_citation(text: str, cuts: list[int]) -> None:
    """The view shows the document exactly; each numbered mark holds its citation's text."""
    bounds = sorted(min(cut, len(text)) for cut in cuts)
    citations = [
        Citation("d", start, end, text[start:end])
        for start, end in zip(bounds[::2], bounds[1::2], strict=False)
        if start < end
    ]
    view = render.source_html(Document("d", text), citations, turn=0)
    assert view_text(view) == text
    marked = re.findall(
        r"<mark [^>]*data-n='(\d+)'[^>]*><span class='text'>(.*?)</span>", view, re.S
    )
    assert [html.unescape(quote) for _, quote in marked] == [c.quote for c in citations]
    assert [int(n) for n, _ in marked] == list(range(1, len(citations) + 1))


def test_source_view_numbers_citations_across_documents() -> None:
    citations = [Citation("a", 0, 2, "ab"), Citation("b", 3, 5, "cd")]
    view = render.source_html(Document("b", "ab cd"), citations, turn=3, focus=2)
    assert "data-n='2'" in view and "data-n='1'" not in view
    assert "data-turn='3'" in view and "data-focus='2'" in view


def test_source_view_escapes_markup_in_a_document() -> None:
    view = render.source_html(Document("evil.html", f"Text {MARKUP} more <script>x</script>"))
    assert "<img" not in view and "<script" not in view
    assert view_text(view) == f"Text {MARKUP} more <script>x</script>"


def test_markdown_headings_are_headings_without_their_marks() -> None:
    text = "## Launches\n\nTwo missiles flew.\n"
    document = Document("notes.md", text, headings=((0, 11),))
    view = render.source_html(document)
    assert "<span class='heading'><span class='md-mark'>## </span>Launches</span>" in view
    assert view_text(view) == text  # the marks stay in the text (offsets), hidden by CSS
    assert title(document) == "Launches"


def test_pdf_pages_are_marked_and_cited_pages_named() -> None:
    document = Document("r.pdf", "Page one.\n\nPage two.", pages=(0, 11))
    view = render.source_html(document)
    assert "<span class='page-mark' data-page='2'>page 2</span>Page two." in view
    assert render.place(Citation("r.pdf", 11, 20, "Page two.", page=2)) == (
        "r\\.pdf, page 2, characters 11–20"
    )


def test_a_hedged_answer_says_so_before_the_answer_and_in_the_copied_text() -> None:
    text = "Early Friday North Korea fired two missiles into the sea, officials said."
    quote = Citation("n.txt", 13, 56, text[13:56])
    short = Citation("n.txt", 31, 34, "two")
    documents = {"n.txt": Document("n.txt", text)}
    hedged = Answer("Possibly: Two. …", [quote], short=short, question="How many?", hedged=True)
    shown = render.format_answer(hedged, 1, documents)
    assert shown.index("<em class='hedge'>Possibly:</em>") < shown.index("class='short'")
    assert hedged.as_text(documents).startswith("Possibly:\nTwo.")
    plain = Answer("Two. …", [quote], short=short, question="How many?")
    assert "hedge" not in render.format_answer(plain, 1, documents)


def test_an_answer_shows_the_short_answer_in_bold_before_its_quotes() -> None:
    text = "Early Friday North Korea fired two missiles into the sea, officials said."
    quote = Citation("n.txt", 13, 56, text[13:56])
    result = Answer("Two. …", [quote], short=Citation("n.txt", 31, 34, "two"), question="How many?")
    shown = render.format_answer(result, 4, {"n.txt": Document("n.txt", text)})
    assert shown.startswith("<strong class='short'>Two</strong>")
    assert shown.index("Two") < shown.index("<q class='quote'>")
    assert "<span class='cite turn-4 n-1'" in shown
    assert "<span class='context'>Early Friday </span>" in shown  # words around the quote
    assert "characters 13–56" in shown


def test_an_answer_copies_as_plain_text_with_each_quote_and_its_place() -> None:
    """The copy button copied the chat's markup; it now copies Answer.as_text(), which the
    answer message carries in a hidden element (the page's script reads it)."""
    text = "Harbour report\n\nEarly Friday North Korea fired two missiles, officials said."
    document = Document("n & m.pdf", text, pages=(0, 16))
    quote = Citation("n & m.pdf", 16, 59, text[16:59], page=2)
    result = Answer("Two. …", [quote], short=Citation("n & m.pdf", 45, 48, "two"))
    copied = result.as_text({"n & m.pdf": document})
    assert copied == (
        "Two.\n\n[1] “Early Friday North Korea fired two missiles”\n"
        "    Harbour report (n & m.pdf), page 2, characters 16–59"
    )
    assert result.as_text().endswith("\n    n & m.pdf, page 2, characters 16–59")
    shown = render.format_answer(result, 0, {"n & m.pdf": document})
    kept = re.search(r"<pre class='copy-text'>(.*)</pre>$", shown, re.S)
    assert kept and html.unescape(kept.group(1)) == copied and "<" not in kept.group(1)
    refused = Answer("“Harbour report” does not say.", abstained=True)
    assert refused.as_text() == refused.text


@pytest.mark.parametrize(
    ("documents", "expected"),
    [
        ({"a.txt": Document("a.txt", "Short title\n\nBody.")}, "“Short title” does not say."),
        ({"a.md": Document("a.md", "# Notes\n", headings=((0, 7),))}, "“Notes” does not say."),
        (
            {"a.txt": Document("a.txt", "A long first sentence that is not a title at all.")},
            "“a.txt” does not say.",
        ),
        (
            {"a.txt": Document("a.txt", "x"), "b.txt": Document("b.txt", "y")},
            "The documents do not say.",
        ),
    ],
)
def test_refusals_name_the_collection_never_an_article(documents: dict, expected: str) -> None:
    shown = render.format_answer(
        Answer("The article…", abstained=True, question="Q?"), 0, documents
    )
    assert shown.startswith("<span class='abstained'>" + render.ABSTAIN_MARK)
    assert render.escape(expected) in shown
    assert "article" not in shown and "Quotes" not in shown


@pytest.mark.parametrize("text", ["", "one", "one two three", "word " * 200])
def test_stream_prefixes_grow_to_the_whole_text(text: str) -> None:
    prefixes = list(render.stream_prefixes(text))
    assert all(text.startswith(prefix) for prefix in prefixes)
    assert [len(p) for p in prefixes] == sorted({len(p) for p in prefixes})
    assert (prefixes[-1] if prefixes else "") == text
    assert len(prefixes) <= render.STREAM_STEPS


def test_status_says_loading_ready_or_what_went_wrong() -> None:
    documents = {"a.txt": Document("a.txt", "Some text.")}
    loading = render.status_text(False, None, documents)
    assert "Loading" in loading and "⏳" not in loading
    assert "Skipped" not in render.status_text(True, None, documents)
    status = render.status_text(True, None, documents, [Skipped("scan.pdf", "an encrypted PDF")])
    assert status.startswith("✓ **Ready**: 1 document ")
    assert render.escape("Skipped 1 file: scan.pdf (an encrypted PDF)") in status
    assert render.status_text(True, "no index", documents).startswith(render.ERROR_MARK)


def test_status_counts_the_index_s_characters_without_fetching_its_documents(
    docqa: DocQA, article_text: str
) -> None:
    documents = docqa.corpus.documents  # the served index's: fetched by id when asked for
    status = render.status_text(True, None, documents)
    assert f"1 document ({len(article_text):,} characters)" in status


def test_a_quote_that_opens_with_a_quotation_mark_gets_no_second_one() -> None:
    text = "“We are ready,” Blinken said. The ferry left."
    quote = "“We are ready,” Blinken said."
    shown = render.format_answer(
        Answer(text=quote, citations=[Citation("a.txt", 0, len(quote), quote)]),
        0,
        {"a.txt": Document("a.txt", text)},
    )
    assert "<q class='quote opens-quoted'>" in shown  # the browser adds no “ before it
    plain = "<q class='quote'>" in render.format_answer(
        Answer(text="x", citations=[Citation("a.txt", 30, 46, "The ferry left.")]),
        0,
        {"a.txt": Document("a.txt", text)},
    )
    assert plain
