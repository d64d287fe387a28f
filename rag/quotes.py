"""A quotation as models write it, found in a passage word by word (`near`): a model that
quotes from memory drops or adds a small word ("very focused with our allies" for "very
focused with allies"), spells a word the other way ("destabilising" for "destabilizing"), or
leaves out the quote marks the source had inside ("isolating and stifling" the North).
Only the words count: case, punctuation and quote marks do not. What the quotation claims
is checked like any other words of the sentence, so a word it changes must still be in the
stating sentence (rag.support).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from rag.types import Document, Span

MIN_WORDS_FOR_A_SLIP = 4  # a shorter quotation must match word for word (spelling aside)
MIN_SPELLING_CHARS = 7  # a word this long may differ from the source's by one letter
_WORD = re.compile(r"\w+(?:['’]\w+)*")


def words(text: str) -> list[tuple[str, int, int]]:
    """The words of `text` in lower case, straight apostrophes, with their offsets."""
    return [(m.group().lower().replace("’", "'"), m.start(), m.end()) for m in _WORD.finditer(text)]


def spelled_alike(one: str, other: str) -> bool:
    """The same word spelled another way: equal, or long and one letter apart (one added,
    left out or changed): spelled_alike("destabilising", "destabilizing") -> True."""
    if one == other:
        return True
    if min(len(one), len(other)) < MIN_SPELLING_CHARS or abs(len(one) - len(other)) > 1:
        return False
    if len(one) > len(other):
        one, other = other, one
    at = next((i for i, (a, b) in enumerate(zip(one, other, strict=False)) if a != b), len(one))
    return one[at + (len(one) == len(other)) :] == other[at + 1 :]


def near(quote: str, passage: Span) -> tuple[int, int] | None:
    """Where in `passage.text` (start, end) the quotation stands, one word off at most (not
    a negation; for a quotation of MIN_WORDS_FOR_A_SLIP words or more, else only
    spelling), or None."""
    wanted = [word for word, _, _ in words(quote)]
    if not wanted:
        return None
    found = words(passage.text)
    slips = 1 if len(wanted) >= MIN_WORDS_FOR_A_SLIP else 0
    best: tuple[int, int, int, int] | None = None  # cost, -size, start, end: the fewest
    # slips, then the longest span (one that leaves out a word still ends where it ends)
    for start in range(len(found)):
        if not (
            spelled_alike(wanted[0], found[start][0])
            or (slips and len(wanted) > 1 and spelled_alike(wanted[1], found[start][0]))
        ):
            continue
        for size in range(max(1, len(wanted) - slips), len(wanted) + slips + 1):
            window = [word for word, _, _ in found[start : start + size]]
            if len(window) < size:
                break
            cost = _distance(wanted, window, slips)
            if cost and _negation(wanted, window):
                continue
            if cost <= slips and (best is None or (cost, -size) < best[:2]):
                best = (cost, -size, found[start][1], found[start + size - 1][2])
    return None if best is None else (best[2], best[3])


def _negation(one: list[str], other: list[str]) -> bool:
    """Whether a negation is in one and not the other: a slip that reverses the meaning."""
    from rag.support import NEGATORS

    return {w for w in one if w in NEGATORS} != {w for w in other if w in NEGATORS}


def _distance(one: list[str], other: list[str], most: int) -> int:
    """Word edit distance (a word added, left out or changed), words spelled alike equal;
    anything over `most` is returned as most + 1."""
    previous = list(range(len(other) + 1))
    for i, word in enumerate(one, 1):
        current = [i]
        for j, theirs in enumerate(other, 1):
            same = spelled_alike(word, theirs)
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (0 if same else 1))
            )
        if min(current) > most:
            return most + 1
        previous = current
    return min(previous[-1], most + 1)


_SAME_CHARACTER = {
    "'": "['’‘]",
    "’": "['’‘]",
    "‘": "['’‘]",
    '"': '["“”]',
    "“": '["“”]',
    "”": '["“”]',
    "-": "[-‐‑–—]",
    "‐": "[-‐‑–—]",
    "‑": "[-‐‑–—]",
    "–": "[-‐‑–—]",
    "—": "[-‐‑–—]",
}
_ELLIPSIS = re.compile(r"\s*(?:\.\s?\.\s?\.|…|\[\s*(?:\.\.\.|…)\s*\])\s*")
_EDGE = " \t\n.,;:!?"  # punctuation a quotation may gain or lose at its ends


def locate(quote: str, cited: Sequence[Span], documents: Mapping[str, Document]) -> Span | None:
    """The quote's own span in the first cited passage holding it verbatim, or None. Quote
    marks and apostrophes of either kind and any run of white space count as the same; a
    full stop or comma at the end of the quote, or beside an ellipsis, need not be in the
    source ("calm." for "calm,"); its first letter may be a capital or not, and a hyphen or
    dash of any length stands for any other; an ellipsis stands for words left out (the span
    then runs from the first piece to the last). Failing that, a quotation with no ellipsis
    may be one word off, or spelled another way (rag.quotes.near). It starts and ends on
    whole words."""
    split = _ELLIPSIS.split(quote)
    # A quotation may gain or lose punctuation where it ends or meets an ellipsis; it never
    # opens with a full stop or a comma (a quote mark closing one quotation and opening the
    # next, misread).
    pieces = [split[0].lstrip().rstrip(_EDGE), *(piece.strip(_EDGE) for piece in split[1:])]
    pieces = [piece for piece in pieces if piece]
    if not pieces:
        return None
    patterns = [
        r"\s+".join(
            "".join(_SAME_CHARACTER.get(char, re.escape(char)) for char in word)
            for word in piece.split()
        )
        for piece in pieces
    ]
    first = pieces[0][0]
    if first.isalpha():  # a quotation may capitalise its first word, or not
        patterns[0] = f"[{first.lower()}{first.upper()}]" + patterns[0][len(re.escape(first)) :]
    pattern = r"(?s:.*?)".join(f"({part})" for part in patterns)
    # whole words: "i" is no quotation of the "I" of "It"
    if pieces[0][0].isalnum():
        pattern = r"(?<!\w)" + pattern
    if pieces[-1][-1].isalnum():
        pattern += r"(?!\w)"
    for passage in cited:
        match = re.search(pattern, passage.text)
        document = documents.get(passage.doc_id)
        if match and document is not None:
            return document.span(passage.start + match.start(), passage.start + match.end())
    for passage in cited if len(pieces) == 1 else ():
        place = near(pieces[0], passage)
        document = documents.get(passage.doc_id)
        if place and document is not None:
            return document.span(passage.start + place[0], passage.start + place[1])
    return None
