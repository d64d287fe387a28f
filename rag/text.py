"""Word-level text analysis shared by retrieval and reading: terms and question types."""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

import Stemmer

from rag.chunking import split_sentences

_WORD = re.compile(r"\w+(?:['’]\w+)*")
_TAG = re.compile(r"<[^<>]{0,200}>")
_STEMMER = Stemmer.Stemmer("english")

# Common English function words; they carry no evidence that a passage answers a question.
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "also",
        "may",
        "might",
        "must",
        "shall",
        "let",
        "us",
        "s",
        "t",
        "d",
        "ll",
        "m",
        "o",
        "re",
        "ve",
        "y",
        "ok",
        "okay",
        "please",
        "tell",
        "say",
        "says",
        "said",
        "give",
        "show",
        "explain",
        "anyway",
        "uhh",
        "uh",
        "um",
        "lol",
    ]
)

# A question's wanted answer, read from its wording (first match wins).
_QUESTION_TYPES = (
    # "How much longer/more ...?" asks for a comparison ("twice as long"), not a sum.
    ("multiple", re.compile(r"\bhow much (?:\w+er|more|less|fewer)\b|\bhow many times\b")),
    ("amount", re.compile(r"\bhow much\b|\bwhat (?:price|cost|sum)\b")),
    (
        "duration",
        re.compile(r"\bhow long\b|\bfor how (?:many|much) (?:\w+ )?(?:time|days|hours)\b"),
    ),
    (
        "number",
        re.compile(r"\bhow (?:many|far|old|large|big)\b|\bwhat (?:number|percentage|amount)\b"),
    ),
    ("date", re.compile(r"\b(?:what|which) (?:\w+ )?(?:date|year|month)\b|\bcalendar\b")),
    ("time", re.compile(r"\bwhen\b|\b(?:what|which) (?:\w+ )?(?:day|time|hour)\b|\bhow soon\b")),
    ("person", re.compile(r"\bwho(?:m|se)?\b|\bname\b")),
    (
        "place",
        re.compile(
            r"\bwhere\b|\b(?:what|which) (?:\w+ )?"
            r"(?:country|city|place|direction|region|nation|town)\b"
        ),
    ),
    ("reason", re.compile(r"\bwhy\b|\bfor what reason\b|\bwhat (?:reason|cause[ds]?)\b")),
)
_AUXILIARIES = frozenset(
    [
        "is",
        "are",
        "was",
        "were",
        "do",
        "does",
        "did",
        "has",
        "have",
        "had",
        "can",
        "could",
        "will",
        "would",
        "should",
        "may",
        "might",
    ]
)


def clean_question(raw: str) -> str:
    """The question as searched for: markup and control characters gone, spaces folded."""
    text = html.unescape(raw)
    untagged = _TAG.sub(" ", text)
    # A question made only of markup is kept as typed: it is text, not a page to render.
    text = untagged if _WORD.search(untagged) else text
    text = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text
    )
    return " ".join(text.split())


def words(text: str) -> list[str]:
    """Lower-case words, apostrophes kept inside them."""
    return [match.group().lower().replace("’", "'") for match in _WORD.finditer(text)]


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    if word.endswith("'s"):
        word = word[:-2]
    return _STEMMER.stemWord(word)


def terms(text: str) -> list[str]:
    """Stemmed content words: what lexical matching and coverage compare."""
    return [term for _start, _end, term in term_spans(text)]


def term_spans(text: str) -> list[tuple[int, int, str]]:
    """Each content word's (start, end) in `text`, with its stemmed term."""
    found = []
    for match in _WORD.finditer(text):
        word = match.group().lower().replace("’", "'")
        if word not in STOPWORDS:
            found.append((match.start(), match.end(), _stem(word)))
    return found


_WH_WORD = re.compile(r"\b(?:what|which|who|whom|whose|when|where|why|how)\b")
# A second question joined to the first: "..., and which network was he on?"
_JOINED_QUESTION = re.compile(
    r",?\s+and\s+(?=(?:(?:at|in|on|for|from|to|with|by|about|during|after|before|under)\s+"
    r"(?:what|which|whom|whose)|what|which|who|whom|whose|when|where|why|how|did|does|do|is"
    r"|are|was|were|has|have)\b)",
    re.IGNORECASE,
)


def question_type(question: str) -> str:
    """The kind of answer a question wants: amount, multiple, duration, number, date, time,
    person, place, reason, yesno or other. question_type("Who fired it?") -> "person"."""
    lowered = question.lower()
    wh_words = list(_WH_WORD.finditer(lowered))
    if wh_words:
        # The clause of the first wh-word decides: "Which network ... when he spoke?" wants a
        # name, not a time.
        end = wh_words[1].start() if len(wh_words) > 1 else len(lowered)
        clause = lowered[wh_words[0].start() : end]
        for name, pattern in _QUESTION_TYPES:
            if pattern.search(clause):
                return name
        return "other"
    first = words(lowered)[:1]
    if first and first[0] in _AUXILIARIES:
        return "yesno"
    return "other"


_COUNTED = re.compile(r"\bhow many\s+(.*)", re.IGNORECASE)
# "Who is the X ...?", "What is the name of the X ...?": the answer names the X.
_ROLE = re.compile(
    r"\b(?:who\s+(?:is|was|are|were)\s+(?:the|a|an)|name\s+of(?:\s+(?:the|a|an))?)\s+(.*)",
    re.IGNORECASE,
)
# Where the X ends: a relative or another determiner, a preposition other than "of", a
# participle ("quoted", "leading"), or punctuation.
_ROLE_END = re.compile(
    r"\s(?:who|whom|whose|which|that|the|a|an|this|in|at|on|for|from|to|with|by|as|about|during"
    r"|after|before|under|\w+ed|\w+ing)\b|[,;:?!.]",
    re.IGNORECASE,
)


def focus_terms(question: str) -> set[str]:
    """What the answer must stand next to, as terms: the thing a "how many" question counts
    ("How many red cars?" -> {red, car}), or the role a "who is the X" question names
    ("Who is the club's new coach?" -> {coach}); otherwise nothing."""
    if match := _COUNTED.search(question):
        # The counted noun phrase ends at its verb: "How many boats does X run?" counts boats.
        counted = []
        for word in words(match.group(1)):
            if word in _AUXILIARIES:
                break
            counted.append(word)
        return set(terms(" ".join(counted))[-2:])  # the noun, last, and a modifier
    if match := _ROLE.search(question):
        role = match.group(1)
        end = _ROLE_END.search(role)
        found = terms(role[: end.start()] if end else role)
        return {found[-1]} if found else set()
    return set()


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


_NUMBER_WORDS = (
    "zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen"
    "|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy"
    "|eighty|ninety|hundreds?|thousands?|millions?|billions?|dozens?|half|once|twice"
)
_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December"
    "|Jan\\.|Feb\\.|Mar\\.|Apr\\.|Jun\\.|Jul\\.|Aug\\.|Sept?\\.|Oct\\.|Nov\\.|Dec\\."
)
_WEEKDAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_CALENDAR_NAME = re.compile(rf"(?:{_WEEKDAYS}|{_MONTHS})", re.IGNORECASE)


def is_calendar_name(name: str) -> bool:
    """Whether a capitalised word names a day or a month: is_calendar_name("Monday") -> True."""
    return _CALENDAR_NAME.fullmatch(name) is not None


_RELATIVE_TIME = (
    r"today|yesterday|tomorrow|tonight|earlier|later|recently|ago|morning|afternoon|evening"
    r"|night|(?:last|next|this|past|coming|recent) (?:\w+ )?(?:days?|weeks?|months?|years?)"
)
_ANSWER_PATTERNS = {
    "number": re.compile(rf"\b\d[\d,.]*\b|\b(?:{_NUMBER_WORDS})\b", re.IGNORECASE),
    "amount": re.compile(
        r"[$€£¥]\s?\d[\d,.]*|\b\d[\d,.]*\s?(?:%|percent|per cent|dollars|euros|pounds|yen|yuan"
        r"|won|rupees|million|billion|trillion)\b"
        rf"|\b(?:{_NUMBER_WORDS}|\d+)\s+(?:thirds?|quarters?|fifths?|tenths?)\b",
        re.IGNORECASE,
    ),
    "multiple": re.compile(
        rf"\b(?:half|twice|thrice|double|triple)\b|\b(?:{_NUMBER_WORDS}|\d[\d.]*)\s*(?:times|%|percent"
        r"|per cent|fold)\b|\b\d[\d.]*-fold\b",
        re.IGNORECASE,
    ),
    "duration": re.compile(
        rf"\b(?:{_NUMBER_WORDS}|\d[\d,.]*|a few|several|a|an)\s+(?:\w+\s+)?(?:seconds?|minutes?"
        r"|hours?|days?|nights?|weeks?|months?|years?|decades?)\b"
        r"|\b(?:indefinitely|until|till|overnight|all (?:day|night|week))\b"
        r"|\bas long as(?:\s+[\w’']+){1,3}",  # "as long as it takes"
        re.IGNORECASE,
    ),
    "date": re.compile(
        rf"\b(?:{_MONTHS})(?:\s+\d{{1,2}})?|\b\d{{1,2}}\s+(?:{_MONTHS})|\b(?:1[5-9]|20)\d\d\b"
    ),
    "time": re.compile(
        rf"\b(?:{_WEEKDAYS}|{_MONTHS})\b|\b(?:1[5-9]|20)\d\d\b|\b\d{{1,2}}(?::\d\d)?\s?[ap]\.?m\b"
        rf"|\b(?:{_RELATIVE_TIME})\b",
        re.IGNORECASE,
    ),
    # Capitalised words in a row, joined by "of", "for" or "and" (see _person_names).
    "person": re.compile(
        r"\b[A-Z][\w’'.-]*(?:\s+(?:(?:of|for|and|de|van|von)\s+)?[A-Z][\w’'.-]*)*"
    ),
    # A capitalised name, or a compass direction.
    "place": re.compile(
        r"\b[A-Z][a-z][\w’'-]*(?:\s+[A-Z][a-z][\w’'-]*)*|\b(?:north|south|east|west)(?:ern|ward)?\b"
    ),
    "reason": re.compile(
        r"\b(?:because|since|so that|in order to|due to|owing to|as a result|aimed at|to \w+)\b",
        re.IGNORECASE,
    ),
}


def answer_spans(
    text: str, kind: str, question_terms: set[str], focus: set[str] = frozenset()
) -> list[tuple[int, int]]:
    """Spans of `text` that could answer a question of `kind` and are not the question's
    own words. With `focus` (see focus_terms), a number must come just before one of its
    terms and a name must stand near one.
    answer_spans("They fired two.", "number", set()) -> [(11, 14)]"""
    pattern = _ANSWER_PATTERNS.get(kind)
    if pattern is None:
        return []
    if kind == "person":
        return list(_person_names(text, pattern, question_terms, focus or question_terms))
    spans = []
    for match in pattern.finditer(text):
        found = terms(match.group())
        if kind == "place" and match.start() == 0 and len(found) < 2:
            continue  # a capitalised first word is only the sentence's start
        if kind == "number" and focus and not focus & set(terms(text[match.end() :])[:3]):
            continue  # "two missiles" answers how many missiles, not how many talks
        if not found or not set(found) <= question_terms:
            spans.append(match.span())
    return spans


_ARTICLE_BEFORE = re.compile(r"\b(?:the|a|an|this|that|these|those)\s+$", re.IGNORECASE)
_POSSESSIVE = re.compile(r"['’]s?$")
_NAME_WINDOW = 4  # words either side of a name in which a question word must stand


def _person_names(text: str, runs: re.Pattern, question_terms: set[str], near: set[str]):
    """Spans of `text` that look like a person's name: two or more capitalised words in a
    row that are new to the question.

    A run of capitalised words after an article names a thing ("the United Nations Security
    Council"). Inside a run, what comes before "of" or "for" is a title or an institution
    ("Secretary of State Antony Blinken", "Chamber of Commerce"), what comes before a
    possessive is an owner ("Japan's Prime Minister"), and acronyms ("US") and the
    question's own words ("Secretary") are titles or subjects, not the answer. A name must
    stand within a few words of one of the `near` terms."""
    for run in runs.finditer(text):
        if _ARTICLE_BEFORE.search(text[max(0, run.start() - 8) : run.start()]):
            continue
        tokens = list(re.finditer(r"\S+", run.group()))
        name: list[re.Match] = []
        for token in tokens:
            word = token.group()
            if word in ("of", "for") or (_POSSESSIVE.search(word) and token is not tokens[-1]):
                name = []  # "Chamber of Commerce"; an owner: "Japan's Prime Minister"
            elif word.lower() in STOPWORDS:
                name = []  # a sentence's first word: "On Wednesday"
            elif not (word.isupper() or _is_question_word(word, question_terms)):
                name.append(token)
        if len(name) < 2:
            continue
        start, end = run.start() + name[0].start(), run.start() + name[-1].end()
        # A name answers when it stands next to what the question asks about: "spokesman
        # Ned Price" answers "Who is the spokesman?", a name elsewhere in the sentence not.
        nearby = words(text[:start])[-_NAME_WINDOW:] + words(text[end:])[:_NAME_WINDOW]
        if not near or any(_is_question_word(word, near) for word in nearby):
            yield start, end


def _is_question_word(word: str, question_terms: set[str]) -> bool:
    """Whether `word` is one of the question's terms, up to its ending (Korea, Korean)."""
    term = _stem(word.lower().replace("’", "'"))
    for other in question_terms:
        shorter, longer = sorted((term, other), key=len)
        if shorter == longer or (len(shorter) >= 4 and longer.startswith(shorter)):
            return True
    return False


def wants_typed_answer(kind: str) -> bool:
    """Whether a question of `kind` needs a passage holding that kind of answer."""
    return kind in _ANSWER_PATTERNS
