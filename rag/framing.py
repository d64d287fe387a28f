"""Which words of a generated sentence frame a claim without making one (`frame`): an
opening "Yes," / "No,", interjections, discourse adverbs ("However, ...", "also"), a
discourse phrase in commas ("..., by contrast, ..."), an opening purpose that only points
back ("To fix it, ..."), and the attribution frame ("according to the passages", "the
document states that ..."); and the closed word classes rag.support reads claims by
(negators, quantifiers, words of order, verbs of saying and of denying). Pure functions
over spaCy's parse.
"""

from __future__ import annotations

from typing import Any

# The words a generated sentence uses for the material it was given (the instructions call it
# "passages"): as a clause's subject or after "according to", they frame a claim, not make one.
MATERIAL = frozenset(
    {
        "passage",
        "document",
        "source",
        "text",
        "article",
        "excerpt",
        "extract",
        "context",
        # and the kinds of document a reply names its material by ("the manual states that")
        "leaflet",
        "manual",
        "handbook",
        "brochure",
        "booklet",
        "faq",
        "policy",
        "page",
        "website",
        "notice",
        "letter",
        "report",
        "minutes",
        "newsletter",
        "itinerary",
        "advert",
        "posting",
    }
)
# Words that negate what they attach to (English grammar, a closed class): "did not fire",
# "fired no missiles", "never fired".
NEGATORS = frozenset(
    {"not", "n't", "no", "never", "none", "nobody", "nothing", "neither", "nor", "nowhere"}
)
# Words that claim something of all of a kind (English quantifiers, a closed class): "anyone
# can install it" is not "an installer certified under ... must install it", in any words.
UNIVERSAL = frozenset(
    {
        "all",
        "every",
        "each",
        "both",
        "anyone",
        "anybody",
        "anything",
        "everyone",
        "everybody",
        "everything",
    }
)
# Verbs that report what someone said without judging it (English reporting verbs, a closed
# class): "It also claims the missile ..." reports what "The spokesperson said that the
# missile ..." does, so one stands for another.
SAYING = frozenset(
    {
        "say",
        "state",
        "claim",
        "explain",
        "add",
        "note",
        "tell",
        "report",
        "announce",
        "mention",
        "remark",
        "comment",
        "write",
        "assert",
        "insist",
        "stress",
        "emphasise",
        "emphasize",
        "argue",
        "reiterate",
        "describe",
    }
)
# Verbs that ask a reader to take a statement in ("Please note that the dishwasher will not
# be fitted until 28 April", "Remember that ..."): an order to note it, not to do anything.
NOTING = frozenset({"note", "remember", "notice"})
# Verbs that report a denial: "Ned Price denied X" says the opposite of "Ned Price said X",
# though the cross-encoder reads one as a paraphrase of the other.
DENYING = frozenset({"deny", "reject", "dispute", "refute", "contradict"})
# Words of order and comparison: small, but they change what is claimed ("before" / "after").
ORDER = frozenset(
    {
        "before",
        "after",
        "above",
        "below",
        "over",
        "under",
        "more",
        "less",
        "most",
        "least",
        "fewer",
        "first",
        "last",
        "until",
        "within",
        "without",
        "between",
        "behind",
        "ahead",
        "earlier",
        "later",
        *UNIVERSAL,
    }
)
# spaCy's stop words that restrict or widen what a claim says ("working alone", "already
# paid"): words to find, though they are stop words. Not "only", which replies use of what a
# passage leaves out ("They only say that ..."), nor words that replies write for others
# ("together with" for "with", "almost" for "nearly", "against" for "compared with").
RESTRICTING = frozenset({"alone", "except", "always", "already", "sometimes", "mostly", "whole"})
# Words of order and their opposites: a claim with one where its source has the other, and
# not the claim's, says the opposite ("received before 31 March" against "after 31 March",
# "one hour behind" against "one hour ahead of"), in whatever other words.
OPPOSITE_ORDER = (
    ("before", "after"),
    ("above", "below"),
    ("over", "under"),
    ("more", "less"),
    ("more", "fewer"),
    ("most", "least"),
    ("first", "last"),
    ("behind", "ahead"),
    ("earlier", "later"),
    ("higher", "lower"),
    ("highest", "lowest"),
    ("larger", "smaller"),
    ("largest", "smallest"),
    ("bigger", "smaller"),
    ("biggest", "smallest"),
    ("longer", "shorter"),
    ("longest", "shortest"),
    ("earliest", "latest"),
    ("upper", "lower"),
    ("maximum", "minimum"),
    ("inside", "outside"),
)
# Words that say which way an amount moved: a claim that has it rise where its source has it
# fall says the opposite, however sure a paraphrase model is of the pair (rag.binding.turned).
# Not "improve" or "worsen", which say whether the move was good: a wait time improves as it
# falls.
RISING = frozenset(
    {"rise", "increase", "grow", "climb", "gain", "jump", "soar", "surge", "up", "raise"}
)
FALLING = frozenset(
    {"fall", "decrease", "decline", "drop", "shrink", "dip", "slip", "plunge", "down", "reduce"}
)
# Quantifiers that say the same: "each April" is "every April".
SAME_QUANTIFIER = frozenset({"each", "every"})


def frame(doc: Any) -> set[int]:
    """The tokens that frame a claim without making one (see the module's docstring)."""
    framed: set[int] = set()
    for token in doc:
        if _no_claim(token):
            framed.add(token.i)
        if token.lemma_.lower() in MATERIAL:
            framed |= _material_frame(token)
        nxt = doc[token.i + 1] if token.i + 1 < len(doc) else None
        according = token.lower_ == "according" and nxt is not None and nxt.lower_ == "to"
        if according and all(child.dep_ != "pobj" for child in nxt.children):
            framed |= {token.i, nxt.i}  # "According to [2], ...": its passage was a marker
    framed |= _purpose(doc)
    framed |= _aside(doc)
    framed |= _noted(doc)
    for token in doc:  # the comma after a framed opening goes with it
        if token.is_punct and token.i - 1 in framed:
            framed.add(token.i)
    return framed


def _purpose(doc: Any) -> set[int]:
    """An opening purpose that only points back ("To fix it, ...", "To do this, ..."): its
    verb names what was asked, its pronoun what was spoken of; the steps after it are the
    claim. Empty when the purpose has a content word besides its verb ("To save money, ...")."""
    if len(doc) < 3 or doc[0].tag_ != "TO" or doc[0].head.dep_ != "advcl":
        return set()
    verb = doc[0].head
    words = sorted(t.i for t in verb.subtree)
    if words[0] != 0 or words[-1] + 1 >= len(doc) or doc[words[-1] + 1].text != ",":
        return set()
    if any(doc[i].pos_ not in ("PRON", "PART") and i != verb.i for i in words):
        return set()
    return set(words)


def _noted(doc: Any) -> set[int]:
    """An opening order to take a statement in ("Note that ...", "Remember that ...", "Keep
    in mind that ..."): the order frames what it asks to be noted, which is the claim."""
    roots = [t for t in doc if t.dep_ == "ROOT"]
    if not roots:
        return set()
    root = roots[0]
    children = list(root.children)
    said = [c for c in children if c.dep_ == "ccomp"]
    if not said or any(c.dep_ in ("nsubj", "nsubjpass") for c in children):
        return set()
    in_mind = [
        c for c in children if c.lower_ == "in" and any(g.lower_ == "mind" for g in c.children)
    ]
    if root.lemma_.lower() not in NOTING and not (root.lower_ in ("keep", "bear") and in_mind):
        return set()
    marks = [c.i for c in said[0].children if c.dep_ == "mark" and c.lower_ == "that"]
    return {root.i, *marks, *(t.i for c in in_mind for t in c.subtree)}


def _aside(doc: Any) -> set[int]:
    """A discourse phrase set off by commas, or opening the sentence before a comma: a
    preposition and a bare noun that names nothing ("..., by contrast, ...", "In turn, ..."),
    or one pointing at the situation just described ("In that case, ..."), said of the
    whole clause, like a discourse adverb."""
    framed: set[int] = set()
    for token in doc:
        objects = [child for child in token.children if child.dep_ == "pobj"]
        if token.dep_ != "prep" or token.head.pos_ not in ("VERB", "AUX") or len(objects) != 1:
            continue
        noun = objects[0]
        children = list(noun.children)
        bare = noun.pos_ == "NOUN" and not children and not noun.ent_type_
        # "In that case, ...": the case the sentence before spoke of
        pointing = [c for c in children if c.dep_ == "det" and c.lower_ in ("this", "that", "any")]
        conditional = noun.lemma_.lower() in _CONDITIONS and children == pointing != []
        start = noun.i - (1 if conditional else 0)
        if not (bare or conditional) or start != token.i + 1 or noun.i + 1 >= len(doc) - 1:
            continue
        opens = token.i == 0 or doc[token.i - 1].text == ","
        if opens and (doc[noun.i + 1].text == "," or (conditional and token.i == 0)):
            framed |= {t.i for t in token.subtree}
    return framed


# Nouns that name the situation the sentence before described ("in that case", "in this event",
# "in any case"): with a pointing word, a discourse phrase, no claim.
_CONDITIONS = frozenset({"case", "event"})


def _no_claim(token: Any) -> bool:
    """An interjection, an opening "Yes," or "No,", or a discourse adverb (never a negation:
    "never" is a stop-word adverb too)."""
    doc = token.doc
    # subtle: the answer "No," is no negation of the clause after it ("No, it was deferred")
    if token.i == 0 and token.lower_ in ("yes", "no") and len(doc) > 1 and doc[1].is_punct:
        return True
    if token.dep_ == "neg" or token.lower_ in NEGATORS:
        return False
    if token.pos_ == "INTJ" or token.dep_ == "intj":
        return True
    if token.pos_ != "ADV" or token.lower_ in ORDER or token.lower_ in RESTRICTING:
        return False
    return (token.dep_ == "advmod" and _set_off(token)) or token.is_stop


def _set_off(token: Any) -> bool:
    """An adverb opening its clause and followed by a comma: "However, ..."."""
    doc = token.doc
    opens = token.i == 0 or doc[token.i - 1].is_punct or doc[token.i - 1].pos_ == "CCONJ"
    return opens and token.i + 1 < len(doc) and doc[token.i + 1].text == ","


def _material_frame(noun: Any) -> set[int]:
    """The frame around a word for the material: "according to the passages", "the document
    states (that)", "as the passage says"; empty when the word is not in such a frame."""
    head = noun.head
    if noun.dep_ == "pobj" and head.lower_ == "to" and head.head.lower_ == "according":
        return {t.i for t in head.head.subtree}
    if noun.dep_ == "pobj" and head.dep_ == "prep" and head.head.pos_ in ("VERB", "AUX"):
        # "in passage 2, ..." / "as stated in the passages"
        verb = head.head
        if verb.dep_ == "advcl" or verb.tag_ == "VBN":
            return {t.i for t in verb.subtree}
        return {t.i for t in head.subtree}
    if noun.dep_ in ("nsubj", "nsubjpass") and head.pos_ in ("VERB", "AUX"):
        said = [c for c in head.children if c.dep_ in ("ccomp", "xcomp")]
        if not said:
            return set()
        if head.dep_ == "advcl":  # "as the passage says, ..."
            return {t.i for t in head.subtree}
        framed = {t.i for t in noun.subtree} | {head.i}
        framed |= {c.i for c in head.children if c.dep_ in ("aux", "advmod", "neg", "punct", "prt")}
        framed |= {c.i for clause in said for c in clause.children if c.dep_ == "mark"}
        return framed
    return set()
