"""The records passed between stages. Spans are (start, end) characters, end exclusive."""

from __future__ import annotations

import bisect
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rag.presentation import as_text

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Document:
    """A source file's text: for .txt and .md exactly as read from disk (UTF-8, newlines
    untouched); for HTML, PDF and Word the text rag.extract took out of it."""

    doc_id: str  # path relative to the source folder, with "/" separators
    text: str
    pages: tuple[int, ...] = ()  # where each page starts in `text` (PDF); () without pages
    headings: tuple[tuple[int, int], ...] = ()  # (start, end) of each heading the format marks

    def span(self, start: int, end: int) -> Span:
        """The stretch of this document from `start` to `end`, with its text."""
        return Span(self.doc_id, start, end, self.text[start:end])

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
        (document, page, characters); `documents` adds each document's title
        (rag.presentation.as_text).

        as_text() -> 'Two.\n\n[1] “… fired two missiles.”\n    a.txt, characters 442–513'
        """
        return as_text(self, documents)


# -- what a question becomes on its way to the reader ----------------------------------


@dataclass(frozen=True)
class Phrase:
    """A candidate short answer: characters [start, end) of the text it was found in."""

    start: int
    end: int
    label: str  # one of LABELS
    dependency: str = "other"  # the role of the phrase's head word: one of DEPENDENCIES
    governor: str = ""  # the word the head word depends on, lower case ("fired" in "fired two")


@dataclass(frozen=True)
class Query:
    """A question (or one part of it) ready for retrieval."""

    asked: str  # the user's words, cleaned
    standalone: str  # with the conversation's references resolved
    part: str  # the part of the standalone question this query searches for
    kind: str  # the kind of answer wanted (rag.question.KINDS)
    terms: tuple[str, ...]
    vector: np.ndarray
    lent_terms: frozenset[str] = frozenset()  # terms a resolved pronoun brought in


@dataclass(frozen=True)
class Candidate:
    """A sentence offered to the reader with everything the reader's models read about it."""

    sentence: Span
    clauses: tuple[Span, ...]  # its clauses, when it has two or more
    phrases: tuple[Phrase, ...]  # its candidate short answers, offsets within the sentence
    terms: tuple[str, ...]
    dense: float  # cosine similarity of sentence and question
    clause_dense: float  # the closest clause's cosine (the sentence's when it has one clause)
    best_clause: int  # index into `clauses` of the closest clause; -1 when it has none
    bm25: float  # the sentence's BM25 score for the question's terms
    coverage: float  # idf-weighted share of the question's terms it holds
    chunk_rank: int  # rank of the best fused chunk holding it, 0 first (NOT_RANKED: none)
    dense_rank: int  # its rank by dense score among every sentence of the corpus
    bm25_rank: int  # its rank by BM25 score among every sentence of the corpus
    neighbour_dense: float  # the closer neighbour's cosine to the question
    neighbour_coverage: float  # the larger neighbour coverage
    context_coverage: float  # coverage of the sentence and its neighbours together
    missing_idf: float  # the rarest question term the sentence lacks (its idf; 0 if none)
    context_missing_idf: float  # the same for the sentence, its neighbours, heading and title
    context_dense: float  # the cosine of the mean of its own and the previous sentence's vectors
    beside: tuple[tuple[Span, tuple[Phrase, ...]], ...] = ()  # the sentences before and after
    heading: str = ""  # the text of the heading it stands under; "" when none


@dataclass(frozen=True)
class Retrieval:
    """What retrieval hands the reader for one query."""

    query: Query
    chunks: list[Chunk]  # best first
    candidates: list[Candidate]  # in document order


class Abstention(enum.Enum):
    """Why the reader did not answer."""

    NO_CANDIDATES = "nothing in the sources matches the question"
    NO_TERMS = "the question has no words to look for"
    NO_WORD_SHARED = "no passage found shares a word with the question"
    LOW_CONFIDENCE = "no passage is likely enough to answer it"


@dataclass(frozen=True)
class Reading:
    """The reader's verdict: the spans to quote and the short answer, or an abstention."""

    spans: tuple[Span, ...]
    short: Span | None
    confidence: float  # the answerability model's probability that the sources answer
    abstention: Abstention | None = None
    # the sentence model's probability per candidate, when the models ran (empty otherwise)
    scores: tuple[float, ...] = ()

    @property
    def abstained(self) -> bool:
        """True when the reader found no answer."""
        return self.abstention is not None


# -- the events of an answer's stream (rag.stream, DocQA.stream) ----------------------------


@dataclass(frozen=True)
class Token:
    """A piece of the model's reply as it arrives."""

    text: str


@dataclass(frozen=True)
class Verdict:
    """One generated sentence, once verified: kept with its verified spans (for each passage
    it cites, in the order cited, the sentences of it that hold the sentence's words; then
    each quotation's own span), or dropped with the reason."""

    sentence: str  # as the model wrote it, its [n] markers numbering the passages
    kept: bool
    citations: tuple[Citation, ...]
    reason: str  # why it was dropped; "" when kept
    # kept although its markers named no passage there: docqa found the passage stating it
    attributed: bool = False


@dataclass(frozen=True)
class Done:
    """The final answer: always the last event of a stream."""

    answer: Answer


Event = Token | Verdict | Done
