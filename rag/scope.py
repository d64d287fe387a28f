"""Whether a claim is about what the question asks about (`unscoped`): a passage often holds
the same kind of fact for several things (one motion carried, another deferred; one kind of
leave once a year, another not at all), and a sentence true of one of them can be written
of another with the passage's own words.

The question says which thing is meant: "the electric vehicle charging motion", "days of
paid leave for a wedding". Where a sentence speaks of that thing without naming it in full:
- a definite subject whose noun the question restricts ("The motion was carried ..."): the
  words restricting that noun in the question;
- a subject that points back ("This can be taken once a year ...") to a sentence of the
  reply that was not verified (or to nothing): the words of the question's noun phrases;
those words must stand in what a reader has read by the end of the supporting sentence
(`section`): from its section's heading, or its passage's start where that is earlier, and
the document's title. Pure functions over spaCy parses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rag import framing, support
from rag.chunking import is_heading, sentences
from rag.lexicon import stem
from rag.types import Document, Span

# Pronouns and determiners that point back to something said before ("It", "This", "These
# rules"): as a subject, the claim is about what they stand for.
POINTING = frozenset({"it", "this", "that", "these", "those", "they", "he", "she"})
_DEFINITE = frozenset({"the", "this", "that", "these", "those"})
_SUBJECTS = frozenset({"nsubj", "nsubjpass"})


def restrictions(question: str) -> dict[str, tuple[tuple[str, str], ...]]:
    """Each noun of the question (by lemma) and the content words that restrict it there,
    each as (lower case, lemma): the words of its noun phrase before it and of an "of" or
    "for" phrase after it. restrictions("Was the electric vehicle charging motion approved?")
    -> {"motion": (("electric", "electric"), ("vehicle", "vehicle"), ("charging", "charge"))}.
    By part-of-speech tags, not the parse: a small parser often misreads a question's
    noun phrases ("charging" as a verb taking "motion" as its object)."""
    doc = support.parse(question)
    runs = _runs(doc)
    found: dict[str, tuple[tuple[str, str], ...]] = {}
    for at, (head, words) in enumerate(runs):
        after = doc[head + 1] if head + 1 < len(doc) else None
        if after is not None and after.lower_ in ("of", "for") and at + 1 < len(runs):
            following, more = runs[at + 1]
            if (more and more[0] == head + 2) or following == head + 2:
                words = [*words, *more, following]
        mine = [_word(doc[i]) for i in words if support.is_content(doc[i])]
        if mine:
            found[doc[head].lemma_.lower()] = tuple(dict.fromkeys(mine))
    return found


_NOUN_TAGS = frozenset({"NN", "NNS", "NNP", "NNPS", "CD"})
_PHRASE_TAGS = _NOUN_TAGS | {"JJ", "JJR", "JJS", "VBG", "VBN", "HYPH", "POS", "FW", "AFX"}


def _runs(doc: Any) -> list[tuple[int, list[int]]]:
    """The noun phrases of `doc` by tags: each run of noun-phrase words ending in a noun, as
    (the noun's index, the indexes of the words before it)."""
    found, run = [], []
    for token in [*doc, None]:
        if token is not None and token.tag_ in _PHRASE_TAGS and token.dep_ != "ROOT":
            run.append(token.i)
            continue
        while run and doc[run[-1]].tag_ not in _NOUN_TAGS:
            run.pop()
        if run:
            found.append((run[-1], run[:-1]))
        run = []
    return found


def topic(question: str) -> tuple[tuple[str, str], ...]:
    """The words of the question's noun phrases, naming what it asks about, each as (lower
    case, lemma), less the noun its question word asks for ("what time", "how many days"):
    topic("How many days of paid leave do employees get for a wedding?")
    -> the words "paid", "leave", "employees", "wedding"."""
    doc = support.parse(question)
    found = []
    for head, words in _runs(doc):
        first = words[0] if words else head
        before = doc[first - 1] if first else None
        asked = doc[first].lower_ in ("many", "much") or (
            before is not None and before.tag_ in ("WDT", "WP", "WP$", "WRB")
        )
        found += [i for i in words] + ([] if asked else [head])
    return tuple(
        dict.fromkeys(
            _word(doc[i])
            for i in found
            if support.is_content(doc[i]) and doc[i].lemma_.lower() not in framing.MATERIAL
        )
    )


def subjects(sentence: str) -> list[tuple[str, tuple[str, ...]]]:
    """The subjects of the sentence's main clause that stand for something named before: a
    definite noun with no word of its own before it (its lemma: "the motion", not "the
    skate park motion"), or a pronoun that points back ("-") when it is the sentence's first
    noun or pronoun (else it may stand for that noun); not the subject of a verb of saying
    ("They say that ...": the claim is what is said), nor a pronoun reporting ("They
    describe a roof terrace": the passages or their author)."""
    doc = support.parse(sentence)
    nominal = [t.i for t in doc if t.pos_ in ("NOUN", "PROPN", "PRON")]
    found = []
    for token in doc:
        verb = token.head
        main = verb.dep_ == "ROOT" or (verb.dep_ == "conj" and verb.head.dep_ == "ROOT")
        if token.dep_ not in _SUBJECTS or not main:
            continue
        if any(child.dep_ == "ccomp" for child in verb.children):
            continue
        if token.dep_ == "nsubj" and token.pos_ == "PRON" and verb.lemma_.lower() in framing.SAYING:
            continue  # "They do describe a roof terrace": the passages, reporting
        if token.lower_ in POINTING and token.pos_ in ("PRON", "DET"):
            if nominal and nominal[0] == token.i:
                found.append(("-", ()))
        elif token.pos_ in ("NOUN", "PROPN"):
            dets = {c.lower_ for c in token.children if c.dep_ == "det"}
            named = any(
                support.is_content(t) for t in token.subtree if t is not token and t.i < token.i
            )
            if dets & _DEFINITE and not named:  # "the skate park motion" names its own
                found.append(("-" if dets & POINTING else token.lemma_.lower(), ()))
    return found


@dataclass(frozen=True)
class Where:
    """A source sentence, the document it is in and the passage it was cited in."""

    source: Span
    document: Document | None
    passage: Span | None = None


# Words that stand for a noun said before when they head a subject alone ("Most were thefts").
_ELLIPTICAL = frozenset({"most", "some", "all", "many", "both", "each", "none", "several"})


def points_back(sentence: str) -> bool:
    """Whether a source sentence is about what the one before it spoke of: the subject of
    its main clause points back, or a pronoun in it does ("She proposed four chargers.",
    "This is in addition to ...", "Most were thefts ...", "312 of them were alive.")."""
    if _opens_pointing(sentence):
        return True
    nominal = _main_subjects(sentence)
    if not nominal:
        return False
    first = nominal[0]
    back = POINTING | {"them", "its", "their", "him", "his", "her"}
    if any(t.lower_ in back and t.pos_ == "PRON" for t in first.subtree if t.i != first.i):
        return True  # "312 of them were still alive"
    return (
        first.lower_ in POINTING
        or _demonstrative(first)
        or (first.lower_ in _ELLIPTICAL and not any(c.pos_ == "NOUN" for c in first.children))
    )


_LIST_MARK = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+")  # "3. ", "- " opening a list item


def _opens_pointing(sentence: str) -> bool:
    """Whether a sentence opens with a phrase that points back to the one before ("On the
    same day, ...", "At that point, ...", "In these cases, ...")."""
    doc = support.parse(_LIST_MARK.sub("", sentence))
    start = next((t for t in doc if not t.is_punct and not t.is_space), None)
    if start is None or start.pos_ != "ADP" or start.dep_ != "prep":
        return False
    for noun in (c for c in start.children if c.dep_ == "pobj"):
        same = any(c.dep_ == "amod" and c.lower_ == "same" for c in noun.children)
        if same or _demonstrative(noun):
            return True
    return False


def _demonstrative(noun: Any) -> bool:
    """Whether a noun is "this", "these", "that" or "those" something ("This trip costs
    £14.50"): the thing the sentence before spoke of."""
    return any(c.dep_ == "det" and c.lower_ in POINTING for c in noun.children)


def part_of(sentence: str) -> str:
    """The word a sentence's subject picks out of what it points back to ("312" of "312 of
    them were still alive", "parts" of "large parts of it can turn white"), lower case; ""
    where the subject points back whole ("They ...")."""
    nominal = _main_subjects(sentence)
    if not nominal or nominal[0].lower_ in POINTING or _demonstrative(nominal[0]):
        return ""
    if _opens_pointing(sentence):
        return ""  # "On the same day, you will ...": the time points back, not the subject
    return nominal[0].lower_


def _main_subjects(sentence: str) -> list[Any]:
    """The subjects of the sentence's main verb (its root), in order."""
    return [t for t in support.parse(sentence) if t.dep_ in _SUBJECTS and t.head.dep_ == "ROOT"]


def unscoped(sentence: str, question: str, where: Where, anchored: bool = False) -> list[str]:
    """The words the question restricts the sentence's subject with (`subjects`) that the
    part of the document stating it (`section`) does not hold; [] when there are none. A
    pronoun stands for the question's topic unless it is `anchored` (the reply's sentence
    before, which it points to, was verified)."""
    if not question.strip() or where.document is None:
        return []
    wanted: list[tuple[str, str]] = []
    restricted = restrictions(question)
    for head, own in subjects(sentence):
        if head == "-":
            wanted += [] if anchored else topic(question)
        else:
            wanted += restricted.get(head, ())
        wanted = [word for word in wanted if word[0] not in own]
    if not wanted:
        return []
    held = _held(section(where.source, where.document, where.passage))
    return [word for word, lemma in dict.fromkeys(wanted) if not _in(word, lemma, held)]


def _word(token: Any) -> tuple[str, str]:
    return token.lower_, token.lemma_.lower()


def _in(word: str, lemma: str, held: tuple[frozenset[str], frozenset[str], str]) -> bool:
    lemmas, stems, lowered = held
    return lemma in lemmas or stem(word) in stems or support.within(word, lowered)


@lru_cache(maxsize=256)
def _held(text: str) -> tuple[frozenset[str], frozenset[str], str]:
    facts = support.facts(text)
    return facts.lemmas, facts.stems, facts.lowered


def section(source: Span, document: Document, passage: Span | None = None) -> str:
    """What a reader has read of a source sentence's subject by its end: the document's
    first line, and everything from the nearest heading before the sentence, or from the
    start of the `passage` it was shown in where that is earlier, to the sentence's end."""
    spans, headings = _outline(document)
    at = max((i for i, span in enumerate(spans) if span.start <= source.start), default=0)
    first = max((i for i in headings if i <= at), default=0)
    text = document.text
    start = spans[first].start if spans else source.start
    if passage is not None:
        start = min(start, passage.start)
    title = text.lstrip().split("\n", 1)[0]
    return title + "\n" + text[start : max(source.end, start)]


MAX_HEADER_LINE = 150  # characters: a longer line is the text itself, not its header


@lru_cache(maxsize=32)
def authors(document: Document) -> tuple[str, ...]:
    """The people a document's byline names (among its opening short lines, one opening "By",
    "Author:" or "From:": "By Nadia Ferreira · 3 June 2024"): who speaks in all of it, so
    "Nadia Ferreira explains that ..." frames a claim as "the document says that ..." does."""
    header = []
    for line in document.text.splitlines():
        if not line.strip():
            continue
        if len(line) > MAX_HEADER_LINE or len(header) == 4:
            break
        header.append(line)
    bylines = [line for line in header if _BYLINE.match(line)]
    doc = support.parse("\n".join(bylines)) if bylines else None
    return tuple(e.text for e in doc.ents if e.label_ == "PERSON") if doc is not None else ()


# A header line that names who wrote the document: "By Nadia Ferreira · 3 June 2024",
# "Written by ...", "Author: ...", an email's "From: ..."; a title or an address names no one.
_BYLINE = re.compile(r"^[\s*_#>-]*(?:by|written by|author|authors|from)\b[:\s]", re.IGNORECASE)


@lru_cache(maxsize=32)
def _outline(document: Document) -> tuple[Sequence[Span], tuple[int, ...]]:
    spans = sentences(document)
    return spans, tuple(i for i, span in enumerate(spans) if is_heading(span, document))
