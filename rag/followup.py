"""Turning a follow-up question into a standalone one, using the earlier questions."""

from __future__ import annotations

import re

from rag.text import is_calendar_name

# Pronouns that point back to something named earlier in the conversation.
_PRONOUN = re.compile(
    r"\b(he|she|they|him|her|them|it|his|hers|their|its|that|this|there|those|these)\b",
    re.IGNORECASE,
)
_POSSESSIVE = {"his", "her", "hers", "their", "its"}
# Pronouns for people (or groups of them): never a day or a month.
_PERSONAL = {"he", "she", "they", "him", "her", "them", "his", "hers", "their"}
# Capitalised names, not counting a question's opening word.
_NAME = re.compile(r"(?<!^)(?<![.?!] )\b[A-Z][\w’'-]*(?:\s+(?:of\s+)?[A-Z][\w’'-]*)*")
# The word after "the" ("the nurse's journey" -> "nurse"): a definite noun, by itself or as
# an owner, the likeliest subject of a later "she" or "they" when no one is named.
_DEFINITE = re.compile(r"\bthe\s+(\w[\w-]*)", re.IGNORECASE)


def standalone(question: str, history: list[str]) -> str:
    """Replace the follow-up's first pronoun by what the latest earlier question was about.

    standalone("What did he say?", ["Where did Ned Price speak?"]) -> "What did Ned Price say?"
    That is the longest name in the earlier question; for "he", "she" or "they", a name that
    is not a day or a month, or else its first definite noun ("the nurse"). With nothing to
    put in its place, the earlier question's words are appended instead, so retrieval still
    sees what the conversation is about.
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
        names = [name for name in names if not is_calendar_name(name)]
        if not names and (definite := _DEFINITE.search(previous)):
            names = [f"the {definite.group(1)}"]
    if names:
        name = max(names, key=len)
        replacement = f"{name}'s" if word in _POSSESSIVE else name
        return f"{question[: pronoun.start()]}{replacement}{question[pronoun.end() :]}"
    return f"{question} ({previous})"
