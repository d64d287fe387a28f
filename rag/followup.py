"""Turning a follow-up question into a standalone one, using the earlier questions."""

from __future__ import annotations

import re

# Pronouns that point back to something named earlier in the conversation.
_PRONOUN = re.compile(
    r"\b(he|she|they|him|her|them|it|his|hers|their|its|that|this|there|those|these)\b",
    re.IGNORECASE,
)
_POSSESSIVE = {"his", "her", "hers", "their", "its"}
# Capitalised names, not counting a question's opening word.
_NAME = re.compile(r"(?<!^)(?<![.?!] )\b[A-Z][\w’'-]*(?:\s+(?:of\s+)?[A-Z][\w’'-]*)*")


def standalone(question: str, history: list[str]) -> str:
    """Replace the follow-up's first pronoun by the name the latest earlier question used.

    standalone("What did he say?", ["Where did Ned Price speak?"]) -> "What did Ned Price say?"
    Without a pronoun, or a name to put in its place, the earlier question's words are
    appended instead, so retrieval still sees what the conversation is about.
    """
    if not history:
        return question
    previous = history[-1]
    pronoun = _PRONOUN.search(question)
    if pronoun is None:
        return question
    names = [name for name in _NAME.findall(previous) if name.split()[0].lower() not in {"i"}]
    if names:
        name = max(names, key=len)
        replacement = f"{name}'s" if pronoun.group().lower() in _POSSESSIVE else name
        return f"{question[: pronoun.start()]}{replacement}{question[pronoun.end() :]}"
    return f"{question} ({previous})"
