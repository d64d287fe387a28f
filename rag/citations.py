"""Building citations from spans and verifying them against the documents."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

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
