"""Citations: built from spans and verified against the document."""

from rag.citations import cite, verify
from rag.types import Document, Span

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
