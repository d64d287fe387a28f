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
from typing import NamedTuple

from rag.chunking import split_sentences
from rag.lexicon import WORD, derived_word, terms, words
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
    question_kind("Who fired it?") -> "person". An aside after the question mark ("... ? (I
    paid when I booked.)") is context, not part of what is asked."""
    lowered = _split_aside(question)[0].lower()
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
        and _tells(_parse(sentence.lower() if sentence.isupper() else sentence))
    ]
    return " ".join(kept)


_SUBJECT = {"nsubj", "nsubjpass", "expl", "csubj"}


def _tells(sentence) -> bool:  # sentence: a spaCy Doc
    """Whether a parsed sentence states something (a verb with its subject) and instructs
    nothing: no verb in the base form without a subject or an auxiliary other than "do"
    ("Use that", "Don't use that"; "to afford" and "can go" are not orders)."""
    states = False
    for token in sentence:
        if token.pos_ not in ("VERB", "AUX"):
            continue
        deps = {child.dep_ for child in token.children}
        states = states or bool(deps & _SUBJECT)
        helpers = [child.lower_ for child in token.children if child.dep_ in ("aux", "mark")]
        ordered = (
            token.tag_ in ("VB", "VBP")
            and token.dep_ in ("ROOT", "advcl", "parataxis", "ccomp")
            and not deps & _SUBJECT
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
    question, aside = _split_aside(question)
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


def _split_aside(question: str) -> tuple[str, str]:
    """The question and the bracketed aside that ends it, or "" when none."""
    aside = _ASIDE.search(question)
    return (question[: aside.start()], aside.group(1)) if aside else (question, "")


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
    for match in _PRONOUN.finditer(_split_aside(question)[0]):  # not in the context after it
        word = match.group().lower()
        if word not in _AMBIGUOUS:
            return _Anaphor(match.start(), match.end(), word)
        parsed = parsed or _parse(question)
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
    for token in _parse(question):
        if token.tag_ in _WH_TAGS:
            head = token if token.dep_ in _SUBJECT else token.head
            return head.dep_ in ("nsubj", "nsubjpass") and head.i >= token.i
    return False


def _main_phrase(text: str, thing: bool) -> str:
    """The noun phrase of `text` a later pronoun likeliest points to: the subject, else an
    object, that is not a wh-word or a pronoun (nor, for a `thing`, a person's name); ""
    when none. _main_phrase("When was the clock tower restored?", True) -> "the clock tower"
    """
    chunks = [
        chunk
        for chunk in _parse(text).noun_chunks
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


def _parse(text: str):  # -> spacy.tokens.Doc
    """`text` tagged and parsed by spaCy's small English pipeline (loaded once)."""
    from rag.answer_types import pipeline

    return pipeline()(text)


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
    as typed; so are real forms of a known word ("mown", "unsubscribed", "reindexed", see
    `derived_word`), unless the index word differs only by a slip at an affix's seam (a
    doubled letter or an "e": "occured" -> "occurred"). A correction never turns a word into
    its opposite ("unlockd" is not made "locked").

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
        close = process.extract(lower, choices, scorer=OSA.distance, score_cutoff=limit, limit=8)
        found = next((choice for choice, *_ in close if not _opposite(lower, choice)), None)
        if found is None or (derived_word(lower, known) and not _seam_slip(lower, found)):
            continue
        if word[:1].isupper():
            found = found[:1].upper() + found[1:]
        fixed.append(question[last : match.start()] + found)
        last = match.end()
    return "".join(fixed) + question[last:] if fixed else question


# Openings that turn a word into its opposite: a negating prefix added or dropped
# ("" -> "un"), or one swapped for its counterpart ("increase" -> "decrease").
_NEGATING = ("un", "in", "im", "il", "ir", "dis", "non")
_OPPOSITE_OPENINGS = (
    *(("", prefix) for prefix in _NEGATING),
    ("en", "dis"),
    ("in", "de"),
    ("in", "ex"),
    ("im", "ex"),
    ("in", "out"),
    ("pre", "post"),
    ("over", "under"),
    ("up", "down"),
    ("max", "min"),
)


def _opposite(typed: str, found: str) -> bool:
    """Whether `found` is `typed` with an opening that reverses it: the rests after two
    opposite openings are within one edit ("lockd" / "un" + "locked")."""
    from rapidfuzz.distance import OSA

    for one, other in _OPPOSITE_OPENINGS:
        for a, b in ((typed, found), (found, typed)):
            # Only openings that differ count: "ilegal" and "illegal" both open with "il".
            opens = a.startswith(one) and b.startswith(other)
            differ = opens and not a.startswith(other) and not (one and b.startswith(one))
            if differ and OSA.distance(a[len(one) :], b[len(other) :]) <= 1:
                return True
    return False


def _seam_slip(typed: str, found: str) -> bool:
    """Whether `typed` and `found` differ by one doubled letter or one "e", the slips made
    where an affix meets its word: _seam_slip("truely", "truly") -> True."""
    longer, shorter = (typed, found) if len(typed) > len(found) else (found, typed)
    if len(longer) != len(shorter) + 1:
        return False
    for at, char in enumerate(longer):
        if longer[:at] + longer[at + 1 :] == shorter:
            doubled = at > 0 and longer[at - 1] == char
            if char == "e" or doubled:
                return True
    return False
