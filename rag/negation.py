"""What a sentence negates, by spaCy's parse (`negated`: the verbs and adjectives a negator,
or the prefix "non-", attaches to), and whether a claim said in other words leaves out its
source's negation (`leaves_out_negation`). Pure functions over parsed text.
"""

from __future__ import annotations

from typing import Any

from rag import support
from rag.lexicon import english_words
from rag.quantities import same, values

_NEGATORS = support.NEGATORS
_parse = support.parse


def verb_of(token: Any) -> Any:
    """The verb a word hangs from: the nearest verb at or above it (the root else)."""
    for _ in range(64):
        if token.pos_ in ("VERB", "AUX") or token.head is token:
            return token
        token = token.head
    return token


def negated(doc: Any) -> set[str]:
    """The stems and lemmas of the verbs a negation attaches to, or of the adjective where it
    negates one that modifies ("escalating ..., not content with ...": not content, still
    escalating) rather than one a verb predicates ("is not safe")."""
    found = set()
    for token in doc:
        if support.non_prefix(token):
            found |= support.forms(doc[token.i + 2])  # "non-refundable": refundable is negated
            continue
        if not _negator(token):
            continue
        head = token.head if token.head is not token else token
        if head.pos_ == "ADJ" and head.dep_ not in ("ROOT", "acomp"):
            found |= support.forms(head)
        else:
            verb = verb_of(head)
            found |= support.forms(verb)
            # "never standing on or touching": a negation covers verbs joined by "or"
            for other in verb.children:
                joined = any(c.lower_ in ("or", "nor") for c in verb.children if c.dep_ == "cc")
                if other.dep_ == "conj" and other.pos_ == "VERB" and joined:
                    found |= support.forms(other)
    return found


# Words that bound a time ("before 5 May", "within 30 days"): against one of them, "not ...
# until" says something else than a time it happens at.
_BOUNDS = frozenset({"until", "till", "before", "after", "within", "by"})


def not_until(claim: Any, source: Any) -> set[str]:
    """The verbs the claim negates only to say when they happen ("won't be fitted until the
    week of 28 April": fitted in that week), where its source gives that time with no bound
    ("will be fitted in the week of 28 April"); set() where the source bounds a time
    ("valid until 1 May", "paid within 30 days") or negates anything itself."""
    if negated(source) or any(t.lower_ in _BOUNDS and t.dep_ != "agent" for t in source):
        return set()
    found = set()
    for verb in _negated_verbs(claim):
        timed = (c.dep_ == "prep" and c.lower_ in ("until", "till") for c in verb.children)
        if any(timed):
            found |= support.forms(verb)
    return found


def only_restates(sentence: Any, source: Any) -> set[str]:
    """The verbs the source negates of what lies outside a range, which "only" in the
    claim's `sentence` restates ("may only be open from 07:30" for "shall not be open outside
    the hours of 07:30 to 18:00"); set() where the sentence has no "only"."""
    if not any(t.lower_ == "only" for t in sentence):
        return set()
    found = set()
    for verb in _negated_verbs(source):
        if any(t.lower_ in _EXCLUDING for t in verb.subtree):
            found |= support.forms(verb)
    return found


def said_of_other_things(claim: Any, source: Any) -> set[str]:
    """The forms of "be", "have" and "do" the source negates only in clauses that share no
    content word with the claim ("a directory that is not empty" against "The flag is
    required"): a negated copula there says nothing of the claim's."""
    mine = {form for t in claim if support.is_content(t) for form in support.forms(t)}
    shared, other = set(), set()
    for clause in _negated_clauses(source):
        verbs = [t for t in clause if t.lemma_ in ("be", "have", "do") and t.pos_ == "AUX"]
        if not verbs:
            continue
        words = {
            form
            for t in clause
            if support.is_content(t) and t.dep_ != "neg"
            for form in support.forms(t)
        }
        forms = {form for verb in verbs for form in support.forms(verb)}
        (shared if words & mine else other).update(forms)
    return other - shared


def _negated_verbs(doc: Any) -> list[Any]:
    """The verb each negator of `doc` hangs from, in order (once per negator)."""
    return [
        verb_of(token.head if token.head is not token else token)
        for token in doc
        if _negator(token)
    ]


def _negator(token: Any) -> bool:
    """A word that negates what it attaches to ("not", "never", "no"); not "no" inside a
    phrase after a preposition ("carried out the cutting at no charge" affirms the cutting)."""
    if token.lower_ == "no" and token.head.dep_ == "pobj":
        return False
    return token.dep_ == "neg" or token.lower_ in _NEGATORS


# Words that leave things out of what a negation covers: "not open outside 07:30 to 18:00" is
# "only open from 07:30 to 18:00".
_EXCLUDING = frozenset({"outside", "except", "besides"})
# Words that say "not X" by contrast ("the oral syringe rather than a kitchen teaspoon").
_CONTRASTS = ("rather than", "instead of")


def leaves_out_negation(claim: str, source: str, sentence: str) -> bool:
    """Whether the claim, said in other words, leaves out a negation of its source: the
    source negates a clause that shares a content word or an amount with the claim ("should
    not exceed 45 °C" against "should be higher than 45 °C"), while neither the claim nor the
    whole sentence it is a clause of negates anything, by a negator, a negative prefix
    ("unavailable" for "could not complete") or a contrast ("rather than"). "Only" restates
    a negation of what lies outside ("may only be open from 07:30" for "shall not be open
    outside the hours of 07:30 to ...")."""
    said, heard = _parse(claim), _parse(source)
    if negated(said) or negated(_parse(sentence)) or _negative(said):
        return False
    lowered = sentence.lower()
    if any(contrast in lowered for contrast in _CONTRASTS):
        return False
    mine = {form for t in said if support.is_content(t) for form in support.forms(t)}
    amounts = values(claim)
    only = any(t.lower_ == "only" for t in _parse(sentence))
    for clause in _negated_clauses(heard):
        theirs = {
            form
            for t in clause
            if support.is_content(t) and t.dep_ != "neg"
            for form in support.forms(t)
        }
        text = heard.text[clause[0].idx : clause[-1].idx + len(clause[-1].text)]
        if only and any(t.lower_ in _EXCLUDING for t in clause):
            continue  # "may only be open from 07:30" for "shall not be open outside 07:30 ..."
        if mine & theirs or any(same(a, b) for a in amounts for b in values(text)):
            return True
    return False


def _negative(doc: Any) -> bool:
    """A word negated by its prefix: "non-refundable", "unavailable" (un- or non- before a
    word of at least four letters that is English on its own)."""
    known = english_words()
    for token in doc:
        lower = token.lower_
        if support.non_prefix(token):
            return True
        for prefix in support.NEGATIVE_PREFIXES:
            rest = lower.removeprefix(prefix).removeprefix("-")
            if lower.startswith(prefix) and len(rest) >= 4 and rest in known:
                return True
    return False


def _negated_clauses(doc: Any) -> list[list[Any]]:
    """The words of each clause a negation stands in, in order, less the clauses of their
    own inside it ("Being locked out is not treated as an emergency, and a call-out costs
    £85": the second is not negated)."""
    found = []
    for verb in _negated_verbs(doc):
        inner = {
            t.i
            for child in verb.children
            if child.dep_ in _OWN_CLAUSES and child.pos_ in ("VERB", "AUX")
            for t in child.subtree
        }
        found.append([t for t in verb.subtree if t.i not in inner])
    return found


_OWN_CLAUSES = frozenset({"conj", "advcl", "relcl", "parataxis", "ccomp"})
