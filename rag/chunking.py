"""Sentence splitting and sentence-aware chunking that keep character offsets."""

from __future__ import annotations

import itertools
import re

from rag.types import Chunk, Document, Span

# A sentence ends at . ! or ? (and any closing quotes or brackets) before white space and
# a character that can open a sentence; a line break before such a character ends one too.
_TERMINAL = re.compile(r"[.!?]+[\"”’')\]]*(?=\s+(\S))")
_OPENERS = "\"“‘'(["
_LINE_BREAK = re.compile(r"\n(?=[ \t]*\S)")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
# Words that end in a period without ending a sentence: titles, initials, initialisms.
_ABBREVIATION = re.compile(
    r"(?:^|[\s(\"“])(?:Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|Gen|Col|Lt|Sgt|Capt|Gov|Sen|Rep|Rev|Hon"
    r"|No|Vol|Fig|Inc|Ltd|Co|Corp|vs|etc|e\.g|i\.e|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept"
    r"|Oct|Nov|Dec|[A-Z]|(?:[A-Za-z]\.){1,}[A-Za-z])\.$"
)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans of `text`, white space trimmed.

    split_sentences("Hi there. Bye!") -> [(0, 9), (10, 14)]
    """
    cuts = {0, len(text)}
    for match in _TERMINAL.finditer(text):
        following = match.group(1)
        if not (following.isupper() or following.isdigit() or following in _OPENERS):
            continue
        if match.group().startswith(".."):  # an ellipsis pauses a sentence, it rarely ends one
            continue
        head = text[max(0, match.start() - 12) : match.start() + 1]
        if match.group().startswith(".") and _ABBREVIATION.search(head):
            continue
        cuts.add(match.end())
    for match in _BLANK_LINE.finditer(text):
        cuts.add(match.start())
    for match in _LINE_BREAK.finditer(text):
        following = text[match.end() :].lstrip(" \t")[:1]
        previous = text[: match.start()].rstrip(" \t\r")[-1:]
        # A wrapped line goes on in lower case; anything else after a line break starts anew.
        if not following.islower() or previous in '.!?:"”’':
            cuts.add(match.start())
    spans = []
    ordered = sorted(cuts)
    for start, end in itertools.pairwise(ordered):
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            spans.append((start, end))
    return spans


def sentences(document: Document) -> list[Span]:
    """The document's sentences as spans."""
    return [
        Span(document.doc_id, start, end, document.text[start:end])
        for start, end in split_sentences(document.text)
    ]


def chunk_document(document: Document, size: int, overlap: int) -> list[Chunk]:
    """Windows of `size` sentences, neighbours sharing `overlap`; the last reaches the end."""
    spans = sentences(document)
    step = size - overlap
    chunks = []
    for first in range(0, len(spans), step):
        window = tuple(spans[first : first + size])
        start, end = window[0].start, window[-1].end
        chunks.append(Chunk(document.doc_id, start, end, document.text[start:end], window))
        if first + size >= len(spans):
            break
    return chunks
