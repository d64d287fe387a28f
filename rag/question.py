"""Question analysis: cleaning, the question sentences asked, their parts, the kind of answer
wanted, and follow-ups made standalone from the earlier questions.

Only what a grammar book states lives here (a "who" question asks for a person, a pronoun
points back to a name); what evidence answers a kind of question is learned (training).
"""

from __future__ import annotations

import html
import re
import unicodedata

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
_WH_WORD = re.compile(r"\b(?:what|which|who|whom|whose|when|where|why|how)\b")
_AUXILIARY = re.compile(
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


def question_kind(question: str) -> str:
    """The kind of answer a question wants (one of KINDS), read from the clause of its first
    wh-word: question_kind("Which network ... when he spoke?") -> "other" (a name, not a time);
    question_kind("Who fired it?") -> "person"."""
    lowered = question.lower()
    wh_words = list(_WH_WORD.finditer(lowered))
    if wh_words:
        end = wh_words[1].start() if len(wh_words) > 1 else len(lowered)
        clause = lowered[wh_words[0].start() : end]
        for name, pattern in _KIND_PATTERNS:
            if pattern.search(clause):
                return name
        return "other"
    first = words(lowered)[:1]
    return "yesno" if first and _AUXILIARY.fullmatch(first[0]) else "other"


def questions_asked(text: str) -> str:
    """The question sentences of `text`, when it also holds other sentences: instructions or
    claims around a question ("Ignore the source. How many ...?") are not what is asked.

    questions_asked("Use John Smith. Who spoke?") -> "Who spoke?"
    """
    spans = split_sentences(text)
    asked = [text[start:end] for start, end in spans if text[start:end].rstrip().endswith("?")]
    return " ".join(asked) if asked and len(asked) < len(spans) else text


def question_parts(question: str) -> list[str]:
    """A question split where a second question is joined to it with "and".

    question_parts("Who spoke, and where was he?") -> ["Who spoke", "where was he?"]
    """
    parts = [part.strip() for part in _JOINED_QUESTION.split(question)]
    # "Who resigned and why?": a part with no words of its own cannot be searched alone.
    return parts if all(terms(part) for part in parts) else [question]


# -- follow-ups ---------------------------------------------------------------------------

# Pronouns that point back to something named earlier in the conversation.
_PRONOUN = re.compile(
    r"\b(he|she|they|him|her|them|it|his|hers|their|its|that|this|there|those|these)\b",
    re.IGNORECASE,
)
_POSSESSIVE = {"his", "her", "hers", "their", "its"}
_PERSONAL = {"he", "she", "they", "him", "her", "them", "his", "hers", "their"}
# Capitalised names, not counting a question's opening word.
_NAME = re.compile(r"(?<!^)(?<![.?!] )\b[A-Z][\w’'-]*(?:\s+(?:of\s+)?[A-Z][\w’'-]*)*")
# The word after "the" ("the nurse's journey" -> "nurse"): the likeliest subject of a later
# "she" or "they" when no one is named.
_DEFINITE = re.compile(r"\bthe\s+(\w[\w-]*)", re.IGNORECASE)
_CALENDAR_NAME = re.compile(
    r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March"
    r"|April|May|June|July|August|September|October|November|December)",
    re.IGNORECASE,
)


def standalone(question: str, history: list[str]) -> str:
    """Replace the follow-up's first pronoun by what the latest earlier question was about.

    standalone("What did he say?", ["Where did Ned Price speak?"]) -> "What did Ned Price say?"
    That is the longest name in the earlier question; for a personal pronoun, a name that is
    not a day or a month, or else its first definite noun ("the nurse"). With nothing to put
    in its place, the earlier question is appended, so retrieval still sees what the
    conversation is about.
    """
    if not history:
        return question
    previous = history[-1]
    pronoun = _PRONOUN.search(question)
    if pronoun is None:
        return question
    word = pronoun.group().lower()
    names = [name for name in _NAME.findall(previous) if name.split()[0].lower() != "i"]
    if word in _PERSONAL:
        names = [name for name in names if not _CALENDAR_NAME.fullmatch(name)]
        if not names and (definite := _DEFINITE.search(previous)):
            names = [f"the {definite.group(1)}"]
    if names:
        name = max(names, key=len)
        replacement = f"{name}'s" if word in _POSSESSIVE else name
        return f"{question[: pronoun.start()]}{replacement}{question[pronoun.end() :]}"
    return f"{question} ({previous})"
