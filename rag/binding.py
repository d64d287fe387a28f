"""Whether a claim ties an amount of its source to the thing the source counts with another
amount (`misbound`): "four parking bays" from "four chargers, which would serve eight
parking bays", "31 crimes in February" from "23 crimes ... in February, down from 31 in
January". Every amount of such a claim is in its source, so only what each one counts tells
them apart. And whether it moves an amount the other way (`turned`): "rose to 7.4%" where
its source "fell to 7.4%", or "rose to 7.4% from 8.1%". By spaCy's parse (rag.support) and
rag.quantities; pure functions.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import Any

from rag import support
from rag.framing import FALLING, RISING
from rag.quantities import Value, same, values


def _number(doc: Any, value: Value) -> Any:
    """The number token of an amount, or None: of "more than 20", the 20 the words modify."""
    tokens = [t for t in doc if value.start <= t.idx < value.end and t.pos_ == "NUM"]
    if not tokens:
        return None
    token = tokens[-1]
    for _ in range(8):
        if token.dep_ in ("quantmod", "compound") and token.head.pos_ == "NUM":
            token = token.head
        else:
            break
    return token


def _phrase_head(doc: Any, value: Value) -> Any:
    """The word heading an amount's phrase: the noun it counts, else its own number; None
    when it has no number token."""
    token = _number(doc, value)
    if token is None:
        return None
    return token.head if token.dep_ == "nummod" else token


def counted(doc: Any, value: Value) -> str:
    """The lemma of the noun an amount counts ("chargers" of "four chargers") or measures
    ("interview" of "a 45-minute interview"), that of the noun it shares by coordination
    ("the eight holidays ..., or the nine observed ..."), or "" where it counts none ("down
    from 31 in January")."""
    token = _number(doc, value)
    if token is None:
        return ""
    if token.dep_ == "nummod":
        head = token.head
        if head.dep_ == "compound" and head.head.pos_ == "NOUN":
            return head.head.lemma_.lower()  # "a 45-minute interview" measures the interview
        return head.lemma_.lower()
    if token.dep_ == "conj":
        head = token.head
        if head.pos_ in ("NOUN", "PROPN"):
            return head.lemma_.lower()
        if head.pos_ == "NUM" and head.dep_ == "nummod":
            return head.head.lemma_.lower()
    return ""


def misbound(claim: str, source: str) -> str:
    """Why the claim's amount counts, in its source, another thing than the claim says: the
    thing it counts in the claim is what another amount of the source counts and no
    occurrence of its own amount there counts it; "" when none does."""
    said, heard = support.parse(claim), support.parse(source)
    stated = [(value, counted(heard, value)) for value in values(source)]
    for value in values(claim):
        noun = counted(said, value)
        if not noun:
            continue
        own = [thing for other, thing in stated if same(value, other)]
        others = [thing for other, thing in stated if not same(value, other)]
        if own and noun not in own and noun in others:
            written = claim[value.start : value.end]
            return f"{written} counts something else in its source than {noun}"
    return ""


def _phrase(doc: Any, value: Value) -> list[Any]:
    """The words of the phrase an amount heads: the noun it counts with that noun's
    modifiers ("the eight holidays observed in England"), or the amount's own ("£94,150 from
    Rampworks UK"), less what is joined to it ("..., or the nine observed in Scotland"),
    which is the phrase of the joined amount."""
    head = _phrase_head(doc, value)
    if head is None:
        return []
    if head.pos_ == "PROPN":
        return []  # a date's day or year ("11 March 2025") heads no phrase of its own
    joined = {t.i for child in head.children if child.dep_ == "conj" for t in child.subtree}
    return [t for t in head.subtree if t.i not in joined]


def _kind(doc: Any, value: Value) -> str:
    """What an amount counts or measures: the noun it counts, else its unit's dimension
    (money, length); "" for a bare number or a time of day."""
    if value.dimension == "time of day":
        return ""
    return counted(doc, value) or value.dimension


def misplaced(claim: str, source: str, names: Sequence[str]) -> str:
    """Why a name or word of the claim goes, in its source, with another amount than the
    claim's: the source gives one kind of amount twice, each with its own words ("the eight
    public holidays observed in England, or the nine observed in Scotland", "18 weeks of
    maternity leave at full pay, followed by 21 weeks at Statutory Maternity Pay"), and the
    claim gives the words of one amount's phrase the other amount ("eight public holidays in
    Scotland", "21 weeks of maternity leave at full pay"); "" when none does."""
    said, heard = support.parse(claim), support.parse(source)
    stated = [(value, _kind(heard, value), _phrase(heard, value)) for value in values(source)]
    claimed = values(claim)
    for value in claimed:
        own = [phrase for other, kind, phrase in stated if same(value, other) and kind]
        kinds = {kind for other, kind, phrase in stated if same(value, other) and phrase}
        others = [
            (other, phrase)
            for other, kind, phrase in stated
            if not same(value, other) and kind in kinds and phrase
        ]
        if not others or not own or _kind(said, value) not in kinds | {""}:
            continue
        if any(same(mine, other) for mine in claimed for other, _phrase_ in others):
            continue  # both amounts claimed: each with its own words, as in the source
        # one phrase inside the other ("7 spaces, including 1 space ...") ties nothing apart
        owned = {t.i for phrase in own for t in phrase}
        if any(owned & {t.i for t in phrase} for _o, phrase in others):
            continue
        words = [*names, *_attached(said, value)]
        for word in words:
            mine = any(_has(phrase, word) for phrase in own)
            if not mine and any(_has(phrase, word) for _other, phrase in others):
                written = claim[value.start : value.end]
                return f"{word} goes with another amount than {written} in its source"
    return ""


def _attached(doc: Any, value: Value) -> list[str]:
    """The content words, by lemma, that a claim attaches to the thing an amount counts by a
    preposition or a clause ("of maternity leave at full pay" of "21 weeks of maternity
    leave at full pay"): not the noun and its adjectives, which an amount joined to it in
    the source shares ("the eight public holidays ..., or the nine ...")."""
    head = _phrase_head(doc, value)
    if head is None:
        return []
    kept = [
        t
        for child in head.children
        if child.dep_ in ("prep", "acl", "relcl")
        for t in child.subtree
        if support.is_content(t)
    ]
    return [t.lemma_.lower() for t in kept]


def _has(phrase: Sequence[Any], word: str) -> bool:
    """Whether a phrase holds a name (its words in order) or a word (by lemma)."""
    text = " ".join(t.lower_ for t in phrase)
    return support.within(word, text) or word in {t.lemma_.lower() for t in phrase}


def turned(claim: str, source: str) -> str:
    """Why the claim moves an amount the other way: a word of rising governs it where, in its
    source, a word of falling governs the same amount (or the reverse), or the claim's own
    "to" and "from" amounts of one word of change go the other way ("rose to 7.4% from
    8.1%"); "" when neither."""
    said, heard = support.parse(claim), support.parse(source)
    amounts = values(claim)
    moves = [(value, _move(said, value)) for value in amounts]
    stated = [(value, _move(heard, value)) for value in values(source)]
    for value, (sign, word) in moves:
        for other, (their_sign, their_word) in stated:
            if sign and their_sign == -sign and same(value, other):
                return f"its source says the opposite: {word.text} / {their_word.text}"
    for token in said:
        sign = _sign(token.lemma_.lower())
        for start, end in _changes(claim, token, amounts) if sign else []:
            if start.dimension == end.dimension and (end.number - start.number) * sign < 0:
                shown = claim[start.start : start.end], claim[end.start : end.end]
                return f"{token.text} from {shown[0]} to {shown[1]} goes the other way"
    return ""


def _move(doc: Any, value: Value) -> tuple[int, Any]:
    """Which way a word of change moves an amount: (1, the word) for rising ("rose to 41.2%",
    "up from $43.8 million"), (-1, the word) for falling, (0, None) where none governs it
    within its clause."""
    token = _number(doc, value)
    for _ in range(7):
        if token is None:
            break
        if _sign(token.lemma_.lower()):
            return _sign(token.lemma_.lower()), token
        if token.pos_ in ("VERB", "AUX"):
            # "went up from 31": the particle says which way
            for child in token.children:
                if child.dep_ in ("prt", "advmod") and child.lower_ in ("up", "down"):
                    return (1 if child.lower_ == "up" else -1), child
            break
        if token.head is token:
            break
        token = token.head
    return 0, None


def _changes(claim: str, word: Any, amounts: Sequence[Value]) -> list[tuple[Value, Value]]:
    """The (from, to) amounts a word of change joins in the claim: "rose to 7.4% from 8.1%",
    "fell from 204 to 231", and "412 people, down from 386", where the amount before the
    word is where it went."""
    after = [value for value in amounts if value.start > word.idx]
    found = []
    for first, second in itertools.pairwise(after):
        before = (claim[word.idx + len(word) : first.start], claim[first.end : second.start])
        sides = [_side(text) for text in before]
        if sorted(sides) == ["from", "to"]:
            found.append((first, second) if sides[0] == "from" else (second, first))
    ahead = [value for value in amounts if value.end <= word.idx]
    if after and ahead and _side(claim[word.idx + len(word) : after[0].start]) == "from":
        between = claim[ahead[-1].end : word.idx]
        if len(between) <= 60 and not re.search(r"[.;]|\bto\b", between):
            found.append((after[0], ahead[-1]))
    return found


# "rose to 7.4% from 8.1%", "fell from 204 to 231": the words just before each amount
_ENDS_WITH_SIDE = re.compile(r"^[^.;]{0,40}?\b(to|from)\s*$", re.IGNORECASE)


def _side(text: str) -> str:
    """ "to" or "from" where `text` ends with it (the words before an amount), else ""."""
    found = _ENDS_WITH_SIDE.search(text)
    return found.group(1).lower() if found else ""


def _sign(lemma: str) -> int:
    """1 for a word of rising, -1 for one of falling, 0 for any other."""
    return 1 if lemma in RISING else -1 if lemma in FALLING else 0
