"""Whether a claim ties an amount of its source to the thing the source counts with another
amount (`misbound`): "four parking bays" from "four chargers, which would serve eight
parking bays", "31 crimes in February" from "23 crimes ... in February, down from 31 in
January". Every amount of such a claim is in its source, so only what each one counts tells
them apart. By spaCy's parse (rag.support) and rag.quantities; pure functions.
"""

from __future__ import annotations

from typing import Any

from rag import support
from rag.quantities import Value, same, values


def counted(doc: Any, value: Value) -> str:
    """The lemma of the noun an amount counts ("chargers" of "four chargers"), that of the
    noun it shares by coordination ("the eight holidays ..., or the nine observed ..."), or
    "" where it counts none ("down from 31 in January")."""
    tokens = [t for t in doc if value.start <= t.idx < value.end and t.pos_ == "NUM"]
    if not tokens:
        return ""
    token = tokens[-1]
    for _ in range(8):  # "more than 20": the number the words around it modify
        if token.dep_ in ("quantmod", "compound") and token.head.pos_ == "NUM":
            token = token.head
        else:
            break
    if token.dep_ == "nummod":
        return token.head.lemma_.lower()
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
