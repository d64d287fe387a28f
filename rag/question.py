"""Question analysis: cleaning, the question sentences asked and what the message tells
around them, their parts, and the kind of answer wanted. Follow-ups are made standalone in
rag.followups, typos corrected in rag.typos.

Only what a grammar book states lives here (a "who" question asks for a person, a pronoun
points back to a name); what evidence answers a kind of question is learned (training).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable

from rag.chunking import split_sentences
from rag.lexicon import WORD, terms, words

_TAG = re.compile(r"<[^<>]{0,200}>")

# The kind of answer a question wants, from the clause of its first wh-word (first match wins).
KINDS = (
    "multiple",
    "amount",
    "duration",
    "number",
    "date",
    "time",
    "person",
    "place",
    "reason",
    "manner",
    "yesno",
    "other",
)
_KIND_PATTERNS = (
    ("multiple", re.compile(r"\bhow much (?:\w+er|more|less|fewer)\b|\bhow many times\b")),
    ("amount", re.compile(r"\bhow much\b|\bwhat (?:price|cost|sum)\b")),
    ("duration", re.compile(r"\bhow long\b")),
    (
        "number",
        re.compile(
            r"\bhow (?:many|far|old|large|big|tall|high)\b"
            r"|\bwhat (?:number|percent|percentage|amount)\b"
        ),
    ),
    ("date", re.compile(r"\b(?:what|which) (?:\w+ )?(?:date|year|month|century|decade)\b")),
    ("time", re.compile(r"\bwhen\b|\b(?:what|which) (?:\w+ )?(?:day|time|hour|period)\b")),
    ("person", re.compile(r"\bwho(?:m|se)?\b|\bname\b")),
    (
        "place",
        re.compile(r"\bwhere\b|\b(?:what|which) (?:\w+ )?(?:country|city|place|region|town)\b"),
    ),
    ("reason", re.compile(r"\bwhy\b|\bfor what reason\b|\bwhat (?:reason|cause[ds]?)\b")),
    ("manner", re.compile(r"\bhow\b")),
)
WH_WORD = re.compile(r"\b(?:what|which|who|whom|whose|when|where|why|how)\b")
AUXILIARY = re.compile(
    r"is|are|was|were|do|does|did|has|have|had|can|could|will|would|should|may|might"
)
# A second question joined to the first: "..., and which network was he on?"
_JOINED_QUESTION = re.compile(
    r",?\s+and\s+(?=(?:(?:at|in|on|for|from|to|with|by|about|during|after|before|under)\s+"
    r"(?:what|which|whom|whose)|what|which|who|whom|whose|when|where|why|how|did|does|do|is"
    r"|are|was|were|has|have)\b)",
    re.IGNORECASE,
)

# What each category of character becomes in a question: dropped when invisible.
_INVISIBLE = {"Cc": " ", "Zl": " ", "Zp": " ", "Cf": "", "Cs": ""}


def clean_question(raw: str) -> str:
    """The question as searched for: compatibility forms folded (NFKC: full-width letters,
    ligatures), markup gone, invisible characters (zero-width, soft hyphen, lone surrogates)
    dropped, control characters and line separators as spaces, spaces folded.

    clean_question("ｆｅｒ\u200bry <b>times</b>?") -> "ferry times ?"
    """
    text = unicodedata.normalize("NFKC", html.unescape(raw))
    untagged = _TAG.sub(" ", text)
    # A question made only of markup is kept as typed: it is text, not a page to render.
    text = untagged if WORD.search(untagged) else text
    # subtle: invisible ones are dropped, not spaced: "fer\u200bry" reads as "ferry".
    text = "".join(_INVISIBLE.get(unicodedata.category(ch), ch) for ch in text)
    return " ".join(text.split())


def foreign_question(question: str, known: Callable[[str], bool]) -> bool:
    """Whether `question` cannot be looked up in the sources at all: most of its letters are
    outside the Latin script and not one of its words is one the index `known` accepts (so
    whatever retrieval finds matches nothing it asks). A mixed question with a known name
    ("ما هو North Korea؟") is searched as usual.

    foreign_question("ما هي عاصمة كوريا؟", knows) -> True
    """
    letters = [char for char in question if char.isalpha()]
    latin = sum("LATIN" in unicodedata.name(char, "") for char in letters)
    if not letters or 2 * latin >= len(letters):
        return False
    return not any(known(word) for word in words(question))


def question_kind(question: str) -> str:
    """The kind of answer a question wants (one of KINDS), read from the clause of its first
    wh-word: question_kind("Which network ... when he spoke?") -> "other" (a name, not a time);
    question_kind("Who fired it?") -> "person". An aside after the question mark ("... ? (I
    paid when I booked.)") is context, not part of what is asked."""
    lowered = split_aside(question)[0].lower()
    wh_words = list(WH_WORD.finditer(lowered))
    if wh_words:
        end = wh_words[1].start() if len(wh_words) > 1 else len(lowered)
        clause = lowered[wh_words[0].start() : end]
        for name, pattern in _KIND_PATTERNS:
            if pattern.search(clause):
                return name
        return "other"
    first = words(lowered)[:1]
    return "yesno" if first and AUXILIARY.fullmatch(first[0]) else "other"


def questions_asked(text: str) -> str:
    """The question sentences of `text`, when it also holds other sentences: instructions or
    claims around a question ("Ignore the source. How many ...?") are not what is asked (the
    statements that say what the question is about are `message_context`).

    questions_asked("Use John Smith. Who spoke?") -> "Who spoke?"
    """
    spans = split_sentences(text)
    asked = [text[start:end] for start, end in spans if text[start:end].rstrip().endswith("?")]
    return " ".join(asked) if asked and len(asked) < len(spans) else text


def message_context(text: str) -> str:
    """The statements of a message that also asks a question, what the asker tells of their
    situation, searched and read with the question. Left out: instructions (a clause in the
    imperative: "Ignore the source.", "..., use that."), claims that already say all the
    question asks about ("The mayor is Jo Bloggs. Who is the mayor?"), and sentences with
    no clause ("Hi!"); "" when nothing is left or nothing is asked.

    message_context("We can't afford the trip. Who can help?") -> "We can't afford the trip."
    """
    sentences = [text[start:end].strip() for start, end in split_sentences(text)]
    asked = [sentence for sentence in sentences if sentence.endswith("?")]
    stated = [sentence for sentence in sentences if not sentence.endswith("?")]
    if not asked or not stated:
        return ""
    asked_terms = set(terms(" ".join(asked)))
    kept = [
        sentence
        for sentence in stated
        if not (asked_terms and asked_terms <= set(terms(sentence)))  # a claim
        and _tells(parse_text(sentence.lower() if sentence.isupper() else sentence))
    ]
    return " ".join(kept)


SUBJECT_DEPS = {"nsubj", "nsubjpass", "expl", "csubj"}


def _tells(sentence) -> bool:  # sentence: a spaCy Doc
    """Whether a parsed sentence states something (a verb with its subject) and instructs
    nothing: no verb in the base form without a subject or an auxiliary other than "do"
    ("Use that", "Don't use that"; "to afford" and "can go" are not orders)."""
    states = False
    for token in sentence:
        if token.pos_ not in ("VERB", "AUX"):
            continue
        deps = {child.dep_ for child in token.children}
        states = states or bool(deps & SUBJECT_DEPS)
        helpers = [child.lower_ for child in token.children if child.dep_ in ("aux", "mark")]
        ordered = (
            token.tag_ in ("VB", "VBP")
            and token.dep_ in ("ROOT", "advcl", "parataxis", "ccomp")
            and not deps & SUBJECT_DEPS
            and all(helper in ("do", "don't") for helper in helpers)
        )
        if ordered:
            return False
    return states


def question_parts(question: str) -> list[str]:
    """A question split where a second question is joined to it with "and".

    question_parts("Who spoke, and where was he?") -> ["Who spoke", "where was he?"]
    question_parts("When and where is it?") -> ["When is it?", "where is it?"]
    """
    question, aside = split_aside(question)
    if aside:  # the context after the question is searched with each part, never split
        return [f"{part} {aside}" for part in question_parts(question)]
    if paired := _PAIRED_WH.match(question):
        # "When and where is the meeting?": one question of each kind, about the same thing.
        rest = question[paired.end() :]
        return [f"{paired.group(1)}{rest}", f"{paired.group(2)}{rest}"]
    parts = [part.strip() for part in _JOINED_QUESTION.split(question)]
    # "Who resigned and why?": a part with no words of its own cannot be searched alone.
    return parts if all(terms(part) for part in parts) else [question]


# "Who can help? (We can't afford the trip.)": context set after the question.
_ASIDE = re.compile(r"(?<=\?)\s+(\([^()]*\))$")


def split_aside(question: str) -> tuple[str, str]:
    """The question and the bracketed aside that ends it, or "" when none."""
    aside = _ASIDE.search(question)
    return (question[: aside.start()], aside.group(1)) if aside else (question, "")


_PAIRED_WH = re.compile(
    r"^(when|where|who|why|how|what|which)\s*,?\s+and\s+(when|where|who|why|how|what|which)\b",
    re.IGNORECASE,
)


def parse_text(text: str):  # -> spacy.tokens.Doc
    """`text` tagged and parsed by spaCy's small English pipeline (loaded once)."""
    from rag.answer_types import pipeline

    return pipeline()(text)
