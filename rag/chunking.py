"""Sentence splitting, clause splitting and sentence-aware chunking that keep character
offsets."""

from __future__ import annotations

import itertools
import re

from rag.presentation import ends_like_sentence
from rag.types import Chunk, Document, Span

# A sentence ends at . ! or ? (and any closing quotes or brackets) before white space and
# a character that can open a sentence; a line break before such a character ends one too.
_TERMINAL = re.compile(r"[.!?]+[\"”’')\]]*(?=\s+(\S))")
_OPENERS = "\"“‘'(["
_LINE_BREAK = re.compile(r"\n(?=[ \t]*(\S))")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
# Words that end in a period without ending a sentence: titles, initials, initialisms.
_ABBREVIATION = re.compile(
    r"(?:^|[\s(\"“])(?:Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|Gen|Col|Lt|Sgt|Capt|Gov|Sen|Rep|Rev|Hon"
    r"|No|Vol|Fig|Inc|Ltd|Co|Corp|vs|etc|e\.g|i\.e|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept"
    r"|Oct|Nov|Dec|[A-Z]|(?:[A-Za-z]\.){1,}[A-Za-z])\.$"
)


# A "sentence" longer than this is cut into pieces (a text with no full stops, a table
# flattened into one line): nothing reads that much as one unit, and the embedding model
# sees only its first few hundred words. Also the most spaCy is handed at once.
MAX_SENTENCE_CHARS = 2000
_UP_TO_LAST_SPACE = re.compile(r".*\s", re.DOTALL)


def _last_visible(text: str, end: int) -> str:
    """The last character before `end` that is not a space, tab or carriage return ("" at
    the start); it looks back only as far as it must, so splitting stays linear."""
    at = end - 1
    while at >= 0 and text[at] in " \t\r":
        at -= 1
    return text[at] if at >= 0 else ""


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans of `text`, white space trimmed; one longer than MAX_SENTENCE_CHARS is
    cut into pieces (see `pieces`).

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
        following = match.group(1)
        previous = _last_visible(text, match.start())
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
        if end - start > MAX_SENTENCE_CHARS:
            spans += pieces(text, start, end, MAX_SENTENCE_CHARS)
        elif start < end:
            spans.append((start, end))
    return spans


def pieces(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """text[start:end] in spans of at most `size` characters, trimmed of white space. Each
    cut is at the last white space that leaves a piece at least half that long, else at
    `size` characters.

    pieces("one two three", 0, 13, 8) -> [(0, 7), (8, 13)]
    """
    while end > start and text[end - 1].isspace():
        end -= 1
    spans = []
    while True:
        while start < end and text[start].isspace():
            start += 1
        if end - start <= size:
            break
        space = _UP_TO_LAST_SPACE.match(text, start + size // 2, start + size + 1)
        cut = space.end() - 1 if space else start + size
        last = cut
        while text[last - 1].isspace():  # subtle: stops by text[start], which is not
            last -= 1
        spans.append((start, last))
        start = cut
    if start < end:
        spans.append((start, end))
    return spans


# A clause ends at a comma, semicolon, colon or dash, or before a word that opens one.
_CLAUSE_BREAK = re.compile(
    r"[,;:—–]+[\"”’')\]]*\s+|\s+(?=(?:but|while|after|before|although|though|because|which"
    r"|who|whose|whom|where|despite|unless|whereas|if)\b)"
)
MIN_CLAUSE_WORDS = 4  # shorter pieces join the clause before them
# A comma before a list's next item is not a clause break: "with South Korea, Japan and the
# United Nations" stays whole when the next piece coordinates within its first few words.
_LIST_GOES_ON = re.compile(r"(?:[\w’'-]+\s+){0,3}(?:and|or|nor)\b")


def clauses(sentence: Span) -> list[Span]:
    """The sentence's clauses, when it has two or more; otherwise [].

    Pieces shorter than MIN_CLAUSE_WORDS words join their neighbour, and a comma between the
    items of a list is no break, so "South Korea, Japan and the United Nations" stays whole
    while "…, he said, after the missiles were fired" splits.
    """
    text = sentence.text
    breaks = [
        match.end()
        for match in _CLAUSE_BREAK.finditer(text)
        if not (match.group().startswith(",") and _LIST_GOES_ON.match(text, match.end()))
    ]
    cuts = [0, *breaks, len(text)]
    pieces: list[list[int]] = []
    for start, end in itertools.pairwise(cuts):
        if pieces and len(text[start:end].split()) < MIN_CLAUSE_WORDS:
            pieces[-1][1] = end
        else:
            pieces.append([start, end])
    if len(pieces) > 1 and len(text[pieces[0][0] : pieces[0][1]].split()) < MIN_CLAUSE_WORDS:
        pieces[1][0] = pieces[0][0]
        del pieces[0]
    spans = []
    for start, end in pieces:
        while end > start and (text[end - 1].isspace() or text[end - 1] in ",;:—–"):
            end -= 1
        if start < end:
            at = sentence.start
            spans.append(Span(sentence.doc_id, at + start, at + end, text[start:end]))
    return spans if len(spans) > 1 else []


MAX_HEADING_WORDS = 15


def is_heading(sentence: Span, document: Document) -> bool:
    """Whether `sentence` is a title or section heading of its document: one its format
    marks (Markdown, HTML, Word), or a short line of its own that does not end like a
    sentence. Headings help find a passage but are not statements to quote as an answer."""
    if any(start <= sentence.start and sentence.end <= end for start, end in document.headings):
        return True
    text = document.text
    whole_line = (sentence.start == 0 or text[sentence.start - 1] == "\n") and (
        sentence.end == len(text) or text[sentence.end] in "\r\n"
    )
    if not whole_line:
        return False
    return sentence.text.startswith("#") or (
        not ends_like_sentence(sentence.text)
        and len(sentence.text.split()) <= MAX_HEADING_WORDS
        and not sentence.text.lstrip().startswith(("-", "*", "•"))
    )


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
