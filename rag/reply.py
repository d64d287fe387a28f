"""Reading a language model's reply: its sentences (as a whole, or as it arrives, each chunk
looked at once), the passages each cites ([2], [1, 3], [passage 2]), its quotations, and
whether it declines to answer. Pure text work; rag.verification judges what it finds.
"""

from __future__ import annotations

import re

from rag.chunking import split_sentences

REFUSAL = "The passages do not say."  # what the model is told to reply when they do not answer


# -- parsing the reply -------------------------------------------------------------------

# A citation marker as models write them: [2], [1, 3], [1-3], [1][3] (two), [Passage 2],
# (Passage 2), (Source 2), and a bare "Passage 2" or "Source 2"; a bare "(2)" is not one (it
# numbers a list as often as it cites).
_NUMBERS = r"\d+(?:\s*(?:,|and|-|–|&)\s*\d+)*"
_NAMED = r"(?:passages?|sources?|documents?|refs?\.?|references?)"
MARKER = re.compile(
    rf"\[\s*(?:{_NAMED}\s*)?({_NUMBERS})\s*\]"
    rf"|\(\s*{_NAMED}\s*({_NUMBERS})\s*\)"
    rf"|[\"“]{_NAMED}\s*({_NUMBERS})[\"”]"
    rf"|\b{_NAMED}\s+({_NUMBERS})\b",
    re.IGNORECASE,
)
MARKERS = re.compile(rf"\s*(?:{MARKER.pattern})", re.IGNORECASE)
_PARTIAL_MARKER = re.compile(r"\[[^\]]*$")
# A sentence end (. ! ? and closing quotes) with markers after it, then the next sentence.
_END_THEN_MARKERS = re.compile(
    rf"[.!?][\"”’')]*((?:\s*(?:{MARKER.pattern}))+)(?=\s*\S)", re.IGNORECASE
)
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
        lead = re.match(rf"(?:\s*(?:{MARKER.pattern}))+", piece, re.IGNORECASE)
        if lead and sentences:  # markers that open a line belong to the sentence before
            sentences[-1] += " " + lead.group().strip()
            piece = piece[lead.end() :].strip()
        if piece:
            sentences.append(piece)
    return sentences


def complete_sentences(reply: str) -> list[str]:
    """The sentences of a reply still arriving that can no longer change: all but the last,
    and not the one before a last that holds no words yet (it may be its markers)."""
    return _complete(split_reply(reply))


# A character after which a sentence may end (see chunking's _TERMINAL and line breaks).
_MAY_END = re.compile(r"[.!?\n]")
_HAS_WORD = re.compile(r"\w")


class Sentences:
    """The sentences of a reply as it arrives, each chunk looked at once: `feed(chunk)` gives
    the sentences that chunk completed (as `complete_sentences` would of the whole reply),
    `close()` the rest once the reply ends. Only the unfinished tail is kept, and it is split
    again only when the chunk brings a word after a possible sentence end.

    s = Sentences(); s.feed("It left. [1] It"), s.close() -> ["It left. [1]"], ["It"]
    """

    def __init__(self) -> None:
        self._tail = ""
        self._may_end = False  # the tail holds a character a sentence may end at

    def feed(self, chunk: str) -> list[str]:
        self._tail += chunk
        self._may_end = self._may_end or bool(_MAY_END.search(chunk))
        if not (self._may_end and _HAS_WORD.search(chunk)):
            return []
        sentences = split_reply(self._tail)
        done = _complete(sentences)
        if done:
            # the sentences still open, as split_reply wrote them, and the tail's last spaces
            # (so the next chunk's word does not join the last word)
            space = self._tail[len(self._tail.rstrip()) :]
            self._tail = " ".join(sentences[len(done) :]) + space
            self._may_end = bool(_MAY_END.search(self._tail))
        return done

    def close(self) -> list[str]:
        sentences, self._tail, self._may_end = split_reply(self._tail), "", False
        return sentences


def _complete(sentences: list[str]) -> list[str]:
    if len(sentences) < 2:
        return []
    tail = _PARTIAL_MARKER.sub("", MARKERS.sub("", sentences[-1]))
    return sentences[:-1] if re.search(r"\w", tail) else sentences[:-2]


def cited_numbers(sentence: str) -> tuple[int, ...]:
    """The passage numbers a sentence cites, in order, each once: "A [2][1, 2]." -> (2, 1);
    a range counts every number in it: "B [1-3]." -> (1, 2, 3)."""
    numbers: list[int] = []
    for match in MARKER.finditer(sentence):
        written = next(group for group in match.groups() if group is not None)
        for first, last in re.findall(r"(\d+)(?:\s*[-–]\s*(\d+))?", written):
            low, high = int(first), int(last or first)
            for number in range(low, min(high, low + 20) + 1):
                if number not in numbers:
                    numbers.append(number)
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
    # a quotation inside one ('"what it called “a golden opportunity”"') opens and closes
    inner = [sentence[start:end] for start, end in found]
    unclosed = unclosed or any(piece.count("“") != piece.count("”") for piece in inner)
    return found, unclosed


def is_refusal(sentence: str) -> bool:
    """True for the reply the model is told to give when the passages do not answer (or one
    that begins like it: "The passages do not mention ...")."""
    words = " ".join(MARKERS.sub("", sentence).replace("’", "'").lower().split())
    opening = REFUSAL.lower().rstrip(".").rsplit(" ", 1)[0]  # "the passages do not"
    return words.startswith(opening) or words.startswith(opening.replace("do not", "don't"))
