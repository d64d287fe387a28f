"""Citations: verified against the document, rendered as numbered quotes."""

import pytest

from rag.citations import cite, verify
from rag.presentation import quote_marks, render
from rag.types import Citation, Document, Span

TEXT = "The ferry left at dawn. Crews, who had voted to strike, stayed home."
DOCUMENT = Document("a.txt", TEXT)


def _span(piece: str) -> Span:
    start = TEXT.index(piece)
    return Span("a.txt", start, start + len(piece), piece)


def test_cite_keeps_exact_spans_and_drops_the_rest() -> None:
    good = _span("The ferry left at dawn.")
    moved = Span("a.txt", good.start + 1, good.end + 1, good.text)
    (citation,) = cite([good, moved], {"a.txt": DOCUMENT})
    assert (citation.start, citation.end, citation.quote) == (good.start, good.end, good.text)
    assert verify(citation, DOCUMENT)


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
