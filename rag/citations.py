"""Building citations from spans and verifying them against the documents."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping

from rag.chunking import ends_like_sentence
from rag.types import Citation, Document, Span

log = logging.getLogger(__name__)


def cite(spans: Iterable[Span], documents: Mapping[str, Document]) -> list[Citation]:
    """One verified citation per span; a span that fails verification is dropped (and logged)."""
    citations = []
    for span in spans:
        document = documents.get(span.doc_id)
        quote = document.text[span.start : span.end] if document else ""
        page = document.page_at(span.start) if document else None
        citation = Citation(span.doc_id, span.start, span.end, quote, page)
        if document is not None and verify(citation, document) and quote == span.text:
            citations.append(citation)
        else:
            log.warning("dropped a citation that does not match its source: %s", span.id)
    return citations


def verify(citation: Citation, document: Document) -> bool:
    """True when the quote is exactly the document's text at the citation's offsets."""
    return (
        citation.doc_id == document.doc_id
        and 0 <= citation.start < citation.end <= len(document.text)
        and document.text[citation.start : citation.end] == citation.quote
    )


HEDGE = "Possibly: "  # opens an answer given with middling confidence


def render(citations: list[Citation], short: Citation | None = None, hedged: bool = False) -> str:
    """The answer text: the short answer first when there is one, then each quote followed
    by its number, with an ellipsis where a quote starts or stops inside a sentence; a
    hedged answer (middling confidence) opens with HEDGE.

    render([c]) -> "quote [1]"; render([c], s) -> "Two. “…quote” [1]";
    render([c], s, hedged=True) -> "Possibly: Two. “…quote” [1]"
    """
    if hedged:
        return HEDGE + render(citations, short)
    # Behind a short answer the quotes are marked as quotes, so the two read apart.
    opening, closing = ("“", "”") if short else ("", "")
    quotes = " ".join(
        f"{quote_marks(citation.quote, opening, closing)} [{number}]"
        for number, citation in enumerate(citations, 1)
    )
    if short is None:
        return quotes
    return f"{short.quote[:1].upper()}{short.quote[1:]}. {quotes}"


OPENING_MARKS = "“‘\"'«"  # a quote that starts with one of these needs no opening mark of ours
CLOSING_MARKS = "”’\"'»"


def quote_marks(quote: str, opening: str = "“", closing: str = "”", ellipses: bool = True) -> str:
    """`quote` (with its ellipses) between quotation marks it does not already have:
    quote_marks("“We are ready,” he said.") -> "“We are ready,” he said.”" (not "““We")."""
    marked = _with_ellipses(quote) if ellipses else quote
    start = "" if quote[:1] in OPENING_MARKS else opening
    end = "" if quote[-1:] in CLOSING_MARKS else closing
    return f"{start}{marked}{end}"


def _with_ellipses(quote: str) -> str:
    starts_inside = quote[:1].islower()
    stops_inside = not ends_like_sentence(quote)
    return f"{'…' if starts_inside else ''}{quote}{'…' if stops_inside else ''}"


_TITLE_CHARS = 80  # a first line longer than this is a paragraph, not a title
_MARKDOWN_MARK = re.compile(r" {0,3}#{1,6}[ \t]+")


def title(document: Document) -> str:
    """What to call a document: its first heading, else a short first line, else its name."""
    if document.headings:
        start, end = document.headings[0]
        return _MARKDOWN_MARK.sub("", document.text[start:end], count=1).strip()
    first = document.text.strip().split("\n", 1)[0].strip()
    if first and len(first) <= _TITLE_CHARS and not first.endswith((".", "?", "!", ":")):
        return first
    return document.doc_id


def collection_name(documents: Mapping[str, Document]) -> str:
    """How answers and the UI name what they answer from: the one document's title (in
    quotes), or "the documents"."""
    if len(documents) == 1:
        return f"“{title(next(iter(documents.values())))}”"
    return "the documents"


def refusal(question: str, documents: Mapping[str, Document]) -> str:
    """The words of a refusal, naming the collection: "The documents do not say. …"."""
    if len(documents) == 1:
        name = collection_name(documents)
        return f"{name} does not say. Nothing in it answers “{question}”."
    return f"The documents do not say. Nothing in them answers “{question}”."
