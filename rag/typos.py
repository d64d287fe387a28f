"""Typo correction: a misspelt word of the question replaced by the closest word of the index,
never by a word that turns the question around.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from rag.lexicon import WORD, derived_word

# Words this long or longer, unknown to the index, are matched to its closest word: one edit
# away up to SHORT_TYPO_WORD letters, two beyond.
MIN_TYPO_WORD = 4
SHORT_TYPO_WORD = 6


def correct_typos(question: str, vocabulary: Collection[str], known: Callable[[str], bool]) -> str:
    """`question` with each misspelt word replaced by the closest word of the index, within a
    small edit distance (rapidfuzz; a swap of two letters is one edit). Words `known(word)`
    accepts (the index's, English ones), short words and words with no close match are left
    as typed; so are real forms of a known word ("mown", "unsubscribed", "reindexed", see
    `derived_word`), unless the index word differs only by a slip at an affix's seam (a
    doubled letter or an "e": "occured" -> "occurred"). A correction never turns a word into
    its opposite ("unlockd" is not made "locked").

    correct_typos("How many misiles?", {"missiles", ...}, known) -> "How many missiles?"
    """
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    if not vocabulary:
        return question
    choices = list(vocabulary) if not isinstance(vocabulary, list) else vocabulary
    fixed = []
    last = 0
    for match in WORD.finditer(question):
        word = match.group()
        lower = word.lower()
        if len(lower) < MIN_TYPO_WORD or not lower.isalpha() or known(lower):
            continue
        limit = 1 if len(lower) <= SHORT_TYPO_WORD else 2
        close = process.extract(lower, choices, scorer=OSA.distance, score_cutoff=limit, limit=8)
        found = next((choice for choice, *_ in close if not _opposite(lower, choice)), None)
        if found is None or (derived_word(lower, known) and not _seam_slip(lower, found)):
            continue
        if word[:1].isupper():
            found = found[:1].upper() + found[1:]
        fixed.append(question[last : match.start()] + found)
        last = match.end()
    return "".join(fixed) + question[last:] if fixed else question


# Openings that turn a word into its opposite: a negating prefix added or dropped
# ("" -> "un"), or one swapped for its counterpart ("increase" -> "decrease").
_NEGATING = ("un", "in", "im", "il", "ir", "dis", "non")
_OPPOSITE_OPENINGS = (
    *(("", prefix) for prefix in _NEGATING),
    ("en", "dis"),
    ("in", "de"),
    ("in", "ex"),
    ("im", "ex"),
    ("in", "out"),
    ("pre", "post"),
    ("over", "under"),
    ("up", "down"),
    ("max", "min"),
)


def _opposite(typed: str, found: str) -> bool:
    """Whether `found` is `typed` with an opening that reverses it: the rests after two
    opposite openings are within one edit ("lockd" / "un" + "locked")."""
    from rapidfuzz.distance import OSA

    for one, other in _OPPOSITE_OPENINGS:
        for a, b in ((typed, found), (found, typed)):
            # Only openings that differ count: "ilegal" and "illegal" both open with "il".
            opens = a.startswith(one) and b.startswith(other)
            differ = opens and not a.startswith(other) and not (one and b.startswith(one))
            if differ and OSA.distance(a[len(one) :], b[len(other) :]) <= 1:
                return True
    return False


def _seam_slip(typed: str, found: str) -> bool:
    """Whether `typed` and `found` differ by one doubled letter or one "e", the slips made
    where an affix meets its word: _seam_slip("truely", "truly") -> True."""
    longer, shorter = (typed, found) if len(typed) > len(found) else (found, typed)
    if len(longer) != len(shorter) + 1:
        return False
    for at, char in enumerate(longer):
        if longer[:at] + longer[at + 1 :] == shorter:
            doubled = at > 0 and longer[at - 1] == char
            if char == "e" or doubled:
                return True
    return False
