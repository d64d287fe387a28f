"""Question analysis: cleaning, the question sentences asked, their parts, the kind of answer
wanted, and follow-ups made standalone from the earlier questions.

Only what a grammar book states lives here (a "who" question asks for a person, a pronoun
points back to a name); what evidence answers a kind of question is learned (training).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Collection, Sequence

from rag.chunking import split_sentences
from rag.lexicon import WORD, terms, words
from rag.types import Turn

_TAG = re.compile(r"<[^<>]{0,200}>")
# Words this long or longer, unknown to the index, are matched to its closest word: one edit
# away up to SHORT_TYPO_WORD letters, two beyond.
MIN_TYPO_WORD = 4
SHORT_TYPO_WORD = 6

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
    question_parts("When and where is it?") -> ["When is it?", "where is it?"]
    """
    if paired := _PAIRED_WH.match(question):
        # "When and where is the meeting?": one question of each kind, about the same thing.
        rest = question[paired.end() :]
        return [f"{paired.group(1)}{rest}", f"{paired.group(2)}{rest}"]
    parts = [part.strip() for part in _JOINED_QUESTION.split(question)]
    # "Who resigned and why?": a part with no words of its own cannot be searched alone.
    return parts if all(terms(part) for part in parts) else [question]


_PAIRED_WH = re.compile(
    r"^(when|where|who|why|how|what|which)\s*,?\s+and\s+(when|where|who|why|how|what|which)\b",
    re.IGNORECASE,
)


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


def standalone(question: str, history: Sequence[str | Turn]) -> str:
    """The follow-up made standalone from the latest earlier turn.

    standalone("What did he say?", ["Where did Ned Price speak?"]) -> "What did Ned Price say?"
    - A question that names its own subject is left alone: a personal or possessive pronoun
      after a name or a definite noun of the question itself points to that ("Why did the
      Quillfeather Rail Company close its line?").
    - A personal pronoun after a who-question that was answered becomes the answer ("Who
      scored?" answered "Tomás Reilly", then "What was he booked for?"); "there" after an
      answered where-question becomes the place.
    - Otherwise a pronoun becomes the longest name of the earlier question (for a personal
      pronoun one that is not a day or a month, or else its first definite noun, "the nurse").
    - An ellipsis ("And in 2024?", "What about Dundee?") is the earlier question asked again
      with the fragment; a pronoun with nothing to put in its place gets the earlier question
      appended, so retrieval sees what the conversation is about.
    """
    if not history:
        return question
    previous = _as_turn(history[-1])
    if _is_ellipsis(question):  # the earlier question first: it says what kind of answer
        return f"{previous.question} ({question})"
    pronoun = _PRONOUN.search(question)
    if pronoun is None:
        return question
    word = pronoun.group().lower()
    before = question[: pronoun.start()]
    if word in _PERSONAL | _POSSESSIVE and (_NAME.search(before) or _DEFINITE.search(before)):
        return question
    replacement = _referent(word, previous)
    if replacement:
        if word in _POSSESSIVE:
            replacement = f"{replacement}'s"
        return f"{before}{replacement}{question[pronoun.end() :]}"
    return f"{question} ({previous.question})"


def _as_turn(item: str | Turn) -> Turn:
    return item if isinstance(item, Turn) else Turn(item)


def _referent(word: str, previous: Turn) -> str:
    """What `word` in a follow-up stands for, from the earlier turn, or ""."""
    kind = question_kind(previous.question)
    if previous.short and (
        (word in _PERSONAL and kind == "person") or (word == "there" and kind == "place")
    ):
        return previous.short
    names = [name for name in _NAME.findall(previous.question) if name.split()[0].lower() != "i"]
    if word in _PERSONAL:
        names = [name for name in names if not _CALENDAR_NAME.fullmatch(name)]
        if not names and (definite := _DEFINITE.search(previous.question)):
            names = [f"the {definite.group(1)}"]
    return max(names, key=len) if names else ""


# "And in 2024?", "What about the Dundee office?", "And for staff in Dundee?": a fragment that
# asks the earlier question again of something else.
_ELLIPSIS = re.compile(r"^(?:and|but|or|what about|how about)\b", re.IGNORECASE)


def _is_ellipsis(question: str) -> bool:
    """Whether `question` is a fragment leaning on the earlier question: it opens with "and"
    or "what about" and has no verb of its own before a wh-word asks something new."""
    if not _ELLIPSIS.match(question):
        return False
    rest = _ELLIPSIS.sub("", question).strip()
    return not _WH_WORD.match(rest.lower()) and not _AUXILIARY.fullmatch(
        (words(rest)[:1] or [""])[0]
    )


def correct_typos(question: str, vocabulary: Collection[str], known: Callable[[str], bool]) -> str:
    """`question` with each misspelt word replaced by the closest word of the index, within a
    small edit distance (rapidfuzz; a swap of two letters is one edit). Words `known(word)`
    accepts (the index's, English ones), short words and words with no close match are left
    as typed.

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
        best = process.extractOne(lower, choices, scorer=OSA.distance, score_cutoff=limit)
        if best is None:
            continue
        found = best[0]
        if word[:1].isupper():
            found = found[:1].upper() + found[1:]
        fixed.append(question[last : match.start()] + found)
        last = match.end()
    return "".join(fixed) + question[last:] if fixed else question
