"""Generative answers, grounded and verified: numbered passages in, checked sentences out.

The language model is handed the question, the conversation and a few numbered passages (the
extractive reader's best candidates with the sentences beside them, each a real span of its
document). Its reply is parsed into sentences; a sentence is kept only when every passage it
cites exists, every quotation in it is found verbatim in a passage it cites, and every content
word of it is found in the passages it cites. The rest is dropped, with the reason. Everything
here is pure except `timed`, which runs the model's stream in a thread to bound its time.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from rag.chunking import split_sentences
from rag.citations import cite
from rag.lexicon import term_spans, terms
from rag.types import Answer, Citation, Document, Span, Turn

MAX_PASSAGES = 5  # passages the model reads: a small model loses its way in more
MAX_PASSAGE_CHARS = 1200  # a passage longer than this is its sentence alone, without context
MAX_TURNS = 3  # earlier turns of the conversation the model is shown
REFUSAL = "The passages do not say."  # what the model is told to reply when they do not answer
REFUSED = "says the passages do not answer"  # a refusal's Verdict.reason
T = TypeVar("T")


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


@dataclass(frozen=True)
class Done:
    """The final answer: always the last event of a stream."""

    answer: Answer


Event = Token | Verdict | Done


# -- passages ----------------------------------------------------------------------------


def passages(
    ranked: Iterable[tuple[Span, Sequence[Span]]],
    documents: Mapping[str, Document],
    limit: int = MAX_PASSAGES,
) -> list[Span]:
    """The passages for the model, best first: each ranked sentence with the sentences beside
    it (`ranked` holds (sentence, its neighbours) pairs, best first) as one span of its
    document; a sentence already inside a passage adds nothing, one that overlaps a passage
    widens it, and a passage over MAX_PASSAGE_CHARS is its sentence alone."""
    chosen: list[Span] = []
    for sentence, beside in ranked:
        if len(chosen) >= limit:
            break
        document = documents.get(sentence.doc_id)
        if document is None or any(_inside(sentence, passage) for passage in chosen):
            continue
        around = [sentence, *(other for other in beside if other.doc_id == sentence.doc_id)]
        start, end = min(s.start for s in around), max(s.end for s in around)
        if end - start > MAX_PASSAGE_CHARS:
            start, end = sentence.start, sentence.end
        for at, passage in enumerate(chosen):
            if passage.doc_id == sentence.doc_id and passage.start < end and start < passage.end:
                wider = (min(start, passage.start), max(end, passage.end))
                if wider[1] - wider[0] <= MAX_PASSAGE_CHARS:
                    chosen[at] = _span(document, *wider)
                    break
                start, end = sentence.start, sentence.end
        else:
            chosen.append(_span(document, start, end))
    return chosen


def _span(document: Document, start: int, end: int) -> Span:
    return Span(document.doc_id, start, end, document.text[start:end])


def _inside(sentence: Span, passage: Span) -> bool:
    return (
        sentence.doc_id == passage.doc_id
        and passage.start <= sentence.start
        and sentence.end <= passage.end
    )


# -- the prompt --------------------------------------------------------------------------

INSTRUCTIONS = (
    "You answer questions using only the numbered passages you are given.\n"
    "Rules:\n"
    "1. Use only facts and words from the passages. Do not add anything else.\n"
    "2. End every sentence with the number of the passage it comes from, in square "
    "brackets, like [1] or [2][3].\n"
    '3. Put words you copy exactly from a passage in double quotes, like "these words".\n'
    f"4. If the passages do not answer the question, reply only: {REFUSAL}\n"
    "Answer in one to three short sentences."
)


def prompt(question: str, turns: Sequence[Turn], found: Sequence[Span]) -> list[tuple[str, str]]:
    """The chat messages, as (role, text) pairs LangChain takes: the instructions, then the
    numbered passages, the last MAX_TURNS turns of the conversation and the question."""
    numbered = "\n\n".join(
        f"[{number}] {_one_line(passage.text)}" for number, passage in enumerate(found, 1)
    )
    parts = [f"Passages:\n{numbered}"]
    earlier = [turn for turn in turns if turn.question][-MAX_TURNS:]
    if earlier:
        lines = []
        for turn in earlier:
            lines.append(f"Q: {turn.question}")
            if turn.answer:
                lines.append(f"A: {_one_line(MARKERS.sub('', turn.answer))}")
        parts.append("Earlier in this conversation:\n" + "\n".join(lines))
    parts.append(f"Question: {question}")
    return [("system", INSTRUCTIONS), ("human", "\n\n".join(parts))]


def _one_line(text: str) -> str:
    return " ".join(text.split())


# -- parsing the reply -------------------------------------------------------------------

# A citation marker: [2], [1, 3], [1][3] is two; "[passage 2]" is read as [2].
MARKER = re.compile(r"\[\s*(?:passages?\s*)?(\d+(?:\s*(?:,|and)\s*\d+)*)\s*\]", re.IGNORECASE)
MARKERS = re.compile(rf"\s*{MARKER.pattern}", re.IGNORECASE)
_PARTIAL_MARKER = re.compile(r"\[[^\]]*$")
# A sentence end (. ! ? and closing quotes) with markers after it, then the next sentence.
_END_THEN_MARKERS = re.compile(rf"[.!?][\"”’')]*((?:\s*{MARKER.pattern})+)(?=\s*\S)", re.IGNORECASE)
# A quotation in double quotes, straight or curly; a lone mark is an unclosed quotation.
QUOTATION = re.compile(r"\"([^\"]*)\"|“([^”“]*)”")
_QUOTE_MARKS = '"“”'


def split_reply(reply: str) -> list[str]:
    """The reply's sentences, each with the markers that follow it (a marker after the full
    stop belongs to the sentence before it).

    split_reply("Two were fired. [1] He spoke [2].") -> ["Two were fired. [1]", "He spoke [2]."]
    """
    # subtle: markers after a full stop ("fired.[1] He") end that sentence: a line break
    # after them makes the sentence splitter cut there.
    marked = _END_THEN_MARKERS.sub(lambda m: m.group() + "\n", reply)
    pieces = [" ".join(marked[start:end].split()) for start, end in split_sentences(marked)]
    sentences: list[str] = []
    for piece in pieces:
        if not piece:
            continue
        lead = re.match(rf"(?:\s*{MARKER.pattern})+", piece, re.IGNORECASE)
        if lead and sentences:  # markers that open a line belong to the sentence before
            sentences[-1] += " " + lead.group().strip()
            piece = piece[lead.end() :].strip()
        if piece:
            sentences.append(piece)
    return sentences


def complete_sentences(reply: str) -> list[str]:
    """The sentences of a reply still arriving that can no longer change: all but the last,
    and not the one before a last that holds no words yet (it may be its markers)."""
    sentences = split_reply(reply)
    if len(sentences) < 2:
        return []
    tail = _PARTIAL_MARKER.sub("", MARKERS.sub("", sentences[-1]))
    return sentences[:-1] if re.search(r"\w", tail) else sentences[:-2]


def cited_numbers(sentence: str) -> tuple[int, ...]:
    """The passage numbers a sentence cites, in order, each once: "A [2][1, 2]." -> (2, 1)."""
    numbers: list[int] = []
    for match in MARKER.finditer(sentence):
        for number in re.findall(r"\d+", match.group(1)):
            if int(number) not in numbers:
                numbers.append(int(number))
    return tuple(numbers)


def quotations(sentence: str) -> tuple[list[tuple[int, int]], bool]:
    """Where each quotation's words lie in `sentence` ((start, end), inside the marks), and
    whether a quotation mark is left unclosed."""
    found, rest = [], []
    last = 0
    for match in QUOTATION.finditer(sentence):
        group = 1 if match.group(1) is not None else 2
        found.append((match.start(group), match.end(group)))
        rest.append(sentence[last : match.start()])
        last = match.end()
    rest.append(sentence[last:])
    unclosed = any(mark in piece for piece in rest for mark in _QUOTE_MARKS)
    return found, unclosed


def is_refusal(sentence: str) -> bool:
    """True for the reply the model is told to give when the passages do not answer (or one
    that begins like it: "The passages do not mention ...")."""
    words = " ".join(MARKERS.sub("", sentence).replace("’", "'").lower().split())
    opening = REFUSAL.lower().rstrip(".").rsplit(" ", 1)[0]  # "the passages do not"
    return words.startswith(opening) or words.startswith(opening.replace("do not", "don't"))


# -- verification ------------------------------------------------------------------------


def verify(sentence: str, found: Sequence[Span], documents: Mapping[str, Document]) -> Verdict:
    """Keep `sentence` only when it cites passages that exist, each quotation in it lies
    verbatim in a passage it cites, and each of its content words is in a passage it cites;
    otherwise drop it, saying why."""
    numbers = cited_numbers(sentence)
    if is_refusal(sentence):
        return _dropped(sentence, REFUSED)
    plain = MARKERS.sub("", sentence)
    if not re.search(r"\w", plain):
        return _dropped(sentence, "no words")
    if not numbers:
        return _dropped(sentence, "no valid citation")
    wrong = [number for number in numbers if not 1 <= number <= len(found)]
    if wrong:
        return _dropped(sentence, f"cites passage {wrong[0]} of {len(found)}")
    cited = [found[number - 1] for number in numbers]
    places, unclosed = quotations(sentence)
    if unclosed:
        return _dropped(sentence, "unclosed quotation")
    quoted: list[Span] = []
    for start, end in places:
        span = locate(sentence[start:end], cited, documents)
        if span is None:
            where = ", ".join(str(number) for number in numbers)
            return _dropped(
                sentence, f"quotation not in passage{'s' if len(numbers) > 1 else ''} {where}"
            )
        quoted.append(span)
    known = {term for passage in cited for term in terms(passage.text)}
    spans = term_spans(plain)
    unsupported = [plain[s:e] for s, e, term in spans if term not in known]
    if unsupported:
        shown = ", ".join(dict.fromkeys(word.lower() for word in unsupported))
        return _dropped(sentence, f"words not in the passages it cites: {shown}")
    wanted = {term for _, _, term in spans}
    narrowed = [support(passage, wanted, documents) for passage in cited]
    citations = cite([*narrowed, *quoted], documents)
    if len(citations) != len(narrowed) + len(quoted):
        return _dropped(sentence, "a cited span does not match its source")
    return Verdict(sentence, True, tuple(citations), "")


def support(passage: Span, wanted: set[str], documents: Mapping[str, Document]) -> Span:
    """The fewest neighbouring sentences of `passage` that hold every term of `wanted` it
    holds (the earliest such run): what a citation of the passage points at. The whole
    passage when it holds none of them."""
    document = documents.get(passage.doc_id)
    spans = split_sentences(passage.text)
    held = [wanted.intersection(terms(passage.text[start:end])) for start, end in spans]
    needed = set().union(*held) if held else set()
    if document is None or not needed:
        return passage
    best = (0, len(spans) - 1)
    for first in range(len(spans)):
        covered: set[str] = set()
        for last in range(first, len(spans)):
            covered |= held[last]
            if covered >= needed:
                if last - first < best[1] - best[0]:
                    best = (first, last)
                break
    return _span(document, passage.start + spans[best[0]][0], passage.start + spans[best[1]][1])


def unsupported(verdicts: Iterable[Verdict]) -> int:
    """How many sentences were dropped as unsupported (a refusal is not counted: it is an
    answer, just not one to show)."""
    return sum(not verdict.kept and verdict.reason != REFUSED for verdict in verdicts)


def _dropped(sentence: str, reason: str) -> Verdict:
    return Verdict(sentence, False, (), reason)


_SAME_CHARACTER = {"'": "['’‘]", "’": "['’‘]", "‘": "['’‘]", '"': '["“”]'}


def locate(quote: str, cited: Sequence[Span], documents: Mapping[str, Document]) -> Span | None:
    """The quote's own span in the first cited passage holding it verbatim (apostrophes of
    either kind and any run of white space count as the same), or None."""
    words = quote.split()
    if not words:
        return None
    pattern = r"\s+".join(
        "".join(_SAME_CHARACTER.get(char, re.escape(char)) for char in word) for word in words
    )
    for passage in cited:
        match = re.search(pattern, passage.text)
        document = documents.get(passage.doc_id)
        if match and document is not None:
            return _span(document, passage.start + match.start(), passage.start + match.end())
    return None


# -- the answer --------------------------------------------------------------------------


def compose(verdicts: Sequence[Verdict]) -> tuple[str, list[Citation]]:
    """The kept sentences as the answer's text and their citations, numbered so that [n] in
    the text is the n-th citation: each sentence's passages after it, each quotation's span
    right after its closing mark.

    compose([Verdict('He said "no" [2].', True, (p2, q), "")]) -> ('He said "no" [1]. [2]', [q, p2])
    """
    citations: list[Citation] = []

    def number(citation: Citation) -> int:
        if citation not in citations:
            citations.append(citation)
        return citations.index(citation) + 1

    sentences = []
    for verdict in verdicts:
        if not verdict.kept:
            continue
        text = _tidy(MARKERS.sub("", verdict.sentence))
        places, _ = quotations(text)
        cited = verdict.citations[: len(verdict.citations) - len(places)]
        quoted = verdict.citations[len(cited) :]
        # numbered in reading order: the quotations inside the sentence, then its passages
        numbered = [(end, number(c)) for (_, end), c in zip(places, quoted, strict=True)]
        tail = "".join(f"[{number(citation)}]" for citation in cited)
        # subtle: insert from the last quotation back, so earlier offsets stay right
        for end, at in reversed(numbered):
            text = f"{text[: end + 1]} [{at}]{text[end + 1 :]}"
        sentences.append(f"{text} {tail}")
    return " ".join(sentences), citations


def _tidy(text: str) -> str:
    """Markers removed leave "spokesman ." behind: close such gaps."""
    return re.sub(r"\s+([.,;:!?])", r"\1", " ".join(text.split()))


# -- bounding the model's time -----------------------------------------------------------


class ModelTimeout(Exception):
    """The model did not finish its reply in time."""


def timed(make: Callable[[], Iterable[T]], timeout_s: float) -> Iterator[T]:
    """The items of `make()`, produced in a thread; ModelTimeout when the whole run takes
    longer than `timeout_s`, and whatever `make()` raised, raised here. A consumer that stops
    early, or times out, tells the thread to stop at its next item."""
    items: queue.Queue[tuple[str, object]] = queue.Queue()
    stop = threading.Event()

    def pump() -> None:
        try:
            for item in make():
                if stop.is_set():
                    return
                items.put(("item", item))
            items.put(("end", None))
        except BaseException as error:  # handed to the consumer, raised there
            items.put(("error", error))

    # subtle: not a daemon. A thread the model starts inherits this flag (transformers
    # generates in one), and a daemon thread still inside torch when the interpreter exits
    # aborts the process ("terminate called without an active exception").
    threading.Thread(target=pump, name="docqa-llm", daemon=False).start()
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                kind, item = items.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                raise ModelTimeout(f"no complete reply within {timeout_s:g} s") from None
            if kind == "end":
                return
            if kind == "error":
                assert isinstance(item, BaseException)
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
