"""The records passed between stages. Spans are (start, end) characters, end exclusive."""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Document:
    """A source file's text: for .txt and .md exactly as read from disk (UTF-8, newlines
    untouched); for HTML, PDF and Word the text rag.extract took out of it."""

    doc_id: str  # path relative to the source folder, with "/" separators
    text: str
    pages: tuple[int, ...] = ()  # where each page starts in `text` (PDF); () without pages
    headings: tuple[tuple[int, int], ...] = ()  # (start, end) of each heading the format marks

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding `offset`, or None for a format without pages."""
        if not self.pages:
            return None
        return max(bisect.bisect_right(self.pages, offset), 1)


@dataclass(frozen=True)
class Span:
    """A stretch of one document: a sentence or a chunk; `text == document.text[start:end]`."""

    doc_id: str
    start: int
    end: int
    text: str

    @property
    def id(self) -> str:
        """A stable identifier, unique within an index."""
        return span_id(self.doc_id, self.start, self.end)


def span_id(doc_id: str, start: int, end: int) -> str:
    """The id of the span of `doc_id` from `start` to `end`: span_id("a.txt", 3, 9) ->
    "a.txt:3-9"."""
    return f"{doc_id}:{start}-{end}"


def span_place(identifier: str) -> tuple[str, int, int]:
    """The document and offsets a span id names: span_place("a.txt:3-9") -> ("a.txt", 3, 9)."""
    doc_id, _colon, offsets = identifier.rpartition(":")
    start, _dash, end = offsets.partition("-")
    return doc_id, int(start), int(end)


@dataclass(frozen=True)
class Chunk(Span):
    """A few neighbouring sentences: the unit that is embedded and retrieved."""

    sentences: tuple[Span, ...] = ()


@dataclass(frozen=True)
class Citation:
    """A verified quote: `quote` equals the document's text between `start` and `end`."""

    doc_id: str
    start: int
    end: int
    quote: str
    page: int | None = None  # 1-based page of `start` in a PDF; None for formats without


@dataclass(frozen=True)
class Turn:
    """An earlier turn of a conversation: the question and, when known, what was answered."""

    question: str
    answer: str = ""  # the answer's text; "" when it is not known
    short: str = ""  # the phrase that answered it (`Answer.short`'s quote); "" when none


@dataclass(frozen=True)
class Answer:
    """What `rag.answer()` returns: the answer text, its citations, and whether it abstained.

    `short` is the shortest phrase of the source that answers (a name, a number, a date ...),
    verified like every citation and lying inside the first cited span, or None;
    `retrieved` holds the chunks retrieval handed to the reader, best first, so tools can
    measure retrieval; `question` is the standalone question that was searched for;
    `confidence` is the reader's probability that the source answers the question;
    `hedged` is True for an answer given with middling confidence (its text says so).

    `reader` says which reader wrote `text`: "extractive" (quotes the reader chose) or "llm"
    (the sentences a language model wrote that survived verification). An "llm" answer's
    text is those sentences, each followed by the numbers of the citations it rests on,
    renumbered so that [n] is `citations[n - 1]` (a quotation's own span is numbered right
    after its closing quotation mark); `short` is None and `confidence` is the extractive
    reader's. `dropped` counts the generated sentences left out as unsupported; `note` says
    why the extractive reader answered when a language model was asked ("" otherwise).
    """

    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    short: Citation | None = None
    question: str = ""
    retrieved: list[Chunk] = field(default_factory=list)
    confidence: float = 0.0
    hedged: bool = False
    reader: str = "extractive"  # "extractive" or "llm": which reader wrote `text`
    dropped: int = 0  # generated sentences dropped as unsupported
    note: str = ""  # why the extractive reader answered instead of the language model

    def as_text(self, documents: Mapping[str, Document] | None = None) -> str:
        """Plain text a person can paste: the answer (the short answer, or a language
        model's verified sentences), then each quote, numbered, with its citation
        (document, page, characters); `documents` adds each document's title.

        as_text() -> 'Two.\n\n[1] “… fired two missiles.”\n    a.txt, characters 442–513'
        """
        if self.abstained or not self.citations:
            return self.text
        from rag.citations import quote_marks, title  # subtle: rag.citations imports this

        lines = []
        if self.reader == "llm":  # the generated sentences, their [n] numbering the quotes
            lines += [self.text, ""]
        elif self.short is not None:
            lines += [f"{self.short.quote[:1].upper()}{self.short.quote[1:]}.", ""]
        for number, citation in enumerate(self.citations, 1):
            document = (documents or {}).get(citation.doc_id)
            named = title(document) if document is not None else citation.doc_id
            name = citation.doc_id if named == citation.doc_id else f"{named} ({citation.doc_id})"
            page = f", page {citation.page}" if citation.page else ""
            lines.append(f"[{number}] {quote_marks(citation.quote, ellipses=False)}")
            lines.append(f"    {name}{page}, characters {citation.start}–{citation.end}")
        if self.hedged:
            from rag.citations import HEDGE

            lines.insert(0, HEDGE.strip())
        return "\n".join(lines)
