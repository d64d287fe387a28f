"""How answers read (rag.presentation): the answer text with its numbered quotes, quotation
marks, the plain text to paste (`as_text`) and the note on dropped sentences."""

from __future__ import annotations

import re

import pytest

from rag.chain import DocQA
from rag.citations import cite
from rag.presentation import as_text, dropped_note, quote_marks, render
from rag.types import Answer, Citation, Document, Span
from tests.conftest import ARTICLE_ID
from tests.ui_helpers import FIRST_QUESTION

TEXT = "The ferry left at dawn. Crews, who had voted to strike, stayed home."
DOCUMENT = Document("a.txt", TEXT)


def _span(piece: str) -> Span:
    start = TEXT.index(piece)
    return Span("a.txt", start, start + len(piece), piece)


def test_render_numbers_quotes_and_marks_clauses_cut_from_a_sentence() -> None:
    whole, clause = _span("The ferry left at dawn."), _span("who had voted to strike")
    citations = cite([whole, clause], {"a.txt": DOCUMENT})
    assert render(citations) == "The ferry left at dawn. [1] …who had voted to strike… [2]"
    assert render([]) == ""
    assert render([Citation("a.txt", 0, 9, "“Go now.”")]) == "“Go now.” [1]"


def test_render_leads_with_the_short_answer_then_the_quoted_quotes() -> None:
    whole, clause = _span("The ferry left at dawn."), _span("who had voted to strike")
    citations = cite([whole, clause], {"a.txt": DOCUMENT})
    (short,) = cite([_span("dawn")], {"a.txt": DOCUMENT})
    assert render(citations, short) == (
        "Dawn. “The ferry left at dawn.” [1] “…who had voted to strike…” [2]"
    )
    assert render(citations, None) == render(citations)


@pytest.mark.parametrize(
    ("quote", "shown"),
    [
        ("two missiles were fired.", "“…two missiles were fired.”"),
        ("“We are ready,” he said.", "“We are ready,” he said.”"),
        ("He said “we are ready.”", "“He said “we are ready.”"),
        ('"Quoted whole."', '"Quoted whole."'),
    ],
)
def test_a_quote_gets_no_second_quotation_mark(quote: str, shown: str) -> None:
    assert quote_marks(quote) == shown


def test_an_answer_as_text_quotes_the_document_exactly(docqa: DocQA, article_text: str) -> None:
    result = docqa.answer(FIRST_QUESTION)
    copied = result.as_text(docqa.corpus.documents)
    places = re.findall(r"^\[\d+\] (.*)\n    (.+), characters (\d+)–(\d+)$", copied, re.M)
    assert len(places) == len(result.citations) > 0
    for shown, name, start, end in places:
        assert name == ARTICLE_ID
        assert shown == quote_marks(article_text[int(start) : int(end)], ellipses=False)
    opening = "Possibly:\n" if result.hedged else ""  # a middling confidence says so
    assert copied.startswith(f"{opening}{result.short.quote.capitalize()}.\n\n[1] “")


def test_as_text_gives_the_short_answer_then_each_quote_and_its_place() -> None:
    harbour = Document("h.txt", "Harbour report\n\nThe ferry left at dawn.")
    quote = Citation("h.txt", 16, 39, "The ferry left at dawn.")
    short = Citation("h.txt", 34, 38, "dawn")
    answer = Answer("Dawn. “The ferry left at dawn.” [1]", [quote], short=short)
    assert as_text(answer, {"h.txt": harbour}).split("\n") == [
        "Dawn.",
        "",
        "[1] “The ferry left at dawn.”",
        "    Harbour report (h.txt), characters 16–39",
    ]
    hedged = Answer("Possibly: Dawn. …", [quote], short=short, hedged=True)
    assert as_text(hedged).split("\n")[:2] == ["Possibly:", "Dawn."]
    assert as_text(hedged).endswith("\n    h.txt, characters 16–39")  # no documents: the id
    refused = Answer("“Harbour report” does not say.", abstained=True)
    assert as_text(refused) == refused.text == refused.as_text()


@pytest.mark.parametrize(
    ("reasons", "note"),
    [
        (["no valid citation"], "1 sentence dropped: no valid citation"),
        (["no valid citation", "no valid citation"], "2 sentences dropped: no valid citation"),
        (["a", "b", "a"], "3 sentences dropped: a; b"),
        (["", ""], "2 sentences dropped"),
        ([], "0 sentences dropped"),
    ],
)
def test_dropped_note_counts_the_sentences_and_gives_each_reason_once(
    reasons: list[str], note: str
) -> None:
    assert dropped_note(reasons) == note
