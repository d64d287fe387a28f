"""Follow-ups made standalone: a pronoun ("he", "it", "that restoration") or a fragment ("And
in 2024?") of a later question resolved from the earlier turn of the conversation.

Only what a grammar book states lives here: a pronoun points back to a name or a thing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from rag.lexicon import words
from rag.question import AUXILIARY, SUBJECT_DEPS, WH_WORD, parse_text, question_kind, split_aside
from rag.types import Turn

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


def standalone(question: str, history: Sequence[str | Turn], context: str = "") -> str:
    """The follow-up made standalone from the latest earlier turn, or from the statements
    of its own message (`context`, see `message_context`), which then follow it in brackets.

    standalone("What did he say?", ["Where did Ned Price speak?"]) -> "What did Ned Price say?"
    - A question that names its own subject is left alone: a personal or possessive pronoun
      after a name or a definite noun of the question itself points to that ("Why did the
      Quillfeather Rail Company close its line?").
    - A personal pronoun after a who-question that was answered becomes the answer ("Who
      scored?" answered "Tomás Reilly", then "What was he booked for?"); "there" after an
      answered where-question becomes the place. A pronoun for a thing becomes the answer
      of a what- or which-question when the question asked for its subject ("Which charity
      helps?", then "What's their number?"), and "that", "this", "those" or "these" does
      whenever a thing was asked for ("What do I bring?", then "Why is that needed?").
    - Otherwise a personal pronoun becomes the longest name of the earlier question (one
      that is not a day or a month, or else its first definite noun, "the nurse"); a
      pronoun for a thing its main noun phrase (the subject unless that is the wh-word or a
      pronoun, then an object: "the clock tower"), or else its longest name.
    - A demonstrative before a noun ("that restoration") keeps its noun, what it points to
      follows in brackets; a dummy "it" ("How long does it take to ...") or "there" ("Is
      there ...") and a "this" of time ("this term") point to nothing.
    - An ellipsis ("And in 2024?", "What about Dundee?") is the earlier question asked again
      with the fragment; a pronoun with nothing to put in its place gets the earlier question
      appended, so retrieval sees what the conversation is about.
    """
    if context:  # the message's own statements say what its pronouns point to
        found = _anaphor(question)
        if found and not found.determiner and not _names_own_subject(question, found):
            phrase = _main_phrase(context, thing=found.word not in _PERSONAL)
            question = _put(question, found, phrase) if phrase else question
        return f"{question} ({context})"
    if not history:
        return question
    previous = _as_turn(history[-1])
    if _is_ellipsis(question):  # the earlier question first: it says what kind of answer
        return f"{previous.question} ({question})"
    found = _anaphor(question)
    if found is None or _names_own_subject(question, found):
        return question
    replacement = _referent(found.word, previous)
    if found.determiner:
        return f"{question} ({replacement or previous.question})"
    if replacement:
        return _put(question, found, replacement)
    return f"{question} ({previous.question})"


def _as_turn(item: str | Turn) -> Turn:
    return item if isinstance(item, Turn) else Turn(item)


class _Anaphor(NamedTuple):
    """A word of a follow-up that points back: where it is, and whether it is a determiner
    ("that" in "that restoration") rather than a pronoun."""

    start: int
    end: int
    word: str
    determiner: bool = False


_DEMONSTRATIVE = {"that", "this", "those", "these"}
_THING = {"it", "its", "that", "this", "those", "these", "they", "them", "their"}
# Pronouns that may point to nothing ("Is it true that ...", "Is there ...", "that" joining
# a clause, "this month"): read in the parse before they are replaced.
_AMBIGUOUS = {"it", "there", *_DEMONSTRATIVE}


def _anaphor(question: str) -> _Anaphor | None:
    """The first word of `question` that points back to something named earlier, or None."""
    parsed = None
    for match in _PRONOUN.finditer(split_aside(question)[0]):  # not in the context after it
        word = match.group().lower()
        if word not in _AMBIGUOUS:
            return _Anaphor(match.start(), match.end(), word)
        parsed = parsed or parse_text(question)
        token = next((token for token in parsed if token.idx == match.start()), None)
        if token is None:
            continue
        if token.dep_ == "expl" or (word == "it" and _dummy(token)):
            continue
        if word in _DEMONSTRATIVE:
            if token.tag_ in ("WDT", "IN") or token.ent_type_ in ("DATE", "TIME"):
                continue  # "the fee that ...", "so that", "this term"
            return _Anaphor(match.start(), match.end(), word, token.dep_ == "det")
        return _Anaphor(match.start(), match.end(), word)
    return None


def _dummy(token) -> bool:
    """Whether "it" is the subject of a verb whose real subject is a clause after it: "How
    long does it take to get there?", "Is it true that it closed?"."""
    if token.dep_ != "nsubj":
        return False
    return any(
        child.dep_ in ("xcomp", "ccomp")
        and child.i > token.i
        and any(
            part.dep_ in ("aux", "mark") and part.lower_ in ("to", "that")
            for part in child.children
        )
        for child in token.head.children
    )


def _names_own_subject(question: str, found: _Anaphor) -> bool:
    """Whether a personal or possessive pronoun follows a name or a definite noun of the
    question itself, which it points to."""
    before = question[: found.start]
    return found.word in _PERSONAL | _POSSESSIVE and bool(
        _names(before) or _DEFINITE.search(before)
    )


def _names(text: str) -> list[str]:
    """The capitalised names of `text`, not counting its opening word nor "I"."""
    return [name for name in _NAME.findall(text) if not _SELF.fullmatch(name.split()[0])]


_SELF = re.compile(r"I(?:['’]\w+)?")  # "I", "I'm", "I’ve"


def _put(question: str, found: _Anaphor, replacement: str) -> str:
    """`question` with the pronoun `found` replaced ("their" by "the fund's")."""
    if found.word in _POSSESSIVE:
        replacement = f"{replacement}'s"
    return f"{question[: found.start]}{replacement}{question[found.end :]}"


def _referent(word: str, previous: Turn) -> str:
    """What `word` in a follow-up stands for, from the earlier turn, or ""."""
    kind = question_kind(previous.question)
    if previous.short and (
        (word in _PERSONAL and kind == "person") or (word == "there" and kind == "place")
    ):
        return previous.short
    thing = word in _THING - _PERSONAL
    asked_thing = previous.short and word in _THING and kind == "other"
    if asked_thing and (word in _DEMONSTRATIVE or _asks_subject(previous.question)):
        return previous.short
    names = _names(previous.question)
    if thing and (phrase := _main_phrase(previous.question, thing=True)):
        return phrase
    if word in _PERSONAL:
        names = [name for name in names if not _CALENDAR_NAME.fullmatch(name)]
        if not names and (definite := _DEFINITE.search(previous.question)):
            names = [f"the {definite.group(1)}"]
    return max(names, key=len) if names else ""


_WH_TAGS = {"WDT", "WP", "WP$", "WRB"}
# The roles a noun phrase may play, likeliest referent first.
_ROLES = ("nsubj", "nsubjpass", "dobj", "attr", "pobj")


def _asks_subject(question: str) -> bool:
    """Whether the wh-word of `question` is, or is in, its subject: "Which charity helps?"."""
    for token in parse_text(question):
        if token.tag_ in _WH_TAGS:
            head = token if token.dep_ in SUBJECT_DEPS else token.head
            return head.dep_ in ("nsubj", "nsubjpass") and head.i >= token.i
    return False


def _main_phrase(text: str, thing: bool) -> str:
    """The noun phrase of `text` a later pronoun likeliest points to: the subject, else an
    object, that is not a wh-word or a pronoun (nor, for a `thing`, a person's name); ""
    when none. _main_phrase("When was the clock tower restored?", True) -> "the clock tower"
    """
    chunks = [
        chunk
        for chunk in parse_text(text).noun_chunks
        if not any(token.tag_ in _WH_TAGS for token in chunk)
        and chunk.root.tag_ not in ("PRP", "EX")
        and not (thing and chunk.root.ent_type_ == "PERSON")
    ]
    if not chunks:
        return ""
    rank = {role: at for at, role in enumerate(_ROLES)}
    best = min(chunks, key=lambda chunk: (rank.get(chunk.root.dep_, len(_ROLES)), chunk.start))
    first = best[0]
    # "My daughter" inside a question reads "my daughter"; a name keeps its capital.
    lowered = first.tag_ in ("DT", "PRP$") and first.text[:1].isupper()
    return best.text[:1].lower() + best.text[1:] if lowered else best.text


# "And in 2024?", "What about the Dundee office?", "And for staff in Dundee?": a fragment that
# asks the earlier question again of something else.
_ELLIPSIS = re.compile(r"^(?:and|but|or|what about|how about)\b", re.IGNORECASE)


def _is_ellipsis(question: str) -> bool:
    """Whether `question` is a fragment leaning on the earlier question: it opens with "and"
    or "what about" and has no verb of its own before a wh-word asks something new."""
    if not _ELLIPSIS.match(question):
        return False
    rest = _ELLIPSIS.sub("", question).strip()
    return not WH_WORD.match(rest.lower()) and not AUXILIARY.fullmatch((words(rest)[:1] or [""])[0])
