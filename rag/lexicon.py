"""Words, stems and stopwords: what lexical matching (BM25, coverage) compares."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

WORD = re.compile(r"\w+(?:['’]\w+)*")
_STEMMER = Stemmer.Stemmer("english")

# English function words (bm25s's list, NLTK's by origin): no evidence that a passage answers.
STOPWORDS = frozenset(STOPWORDS_EN_PLUS)


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Some 82,000 common English words (symspellpy's frequency list, from its wheel): a word
    in it is spelled right even where the documents lack it, so it is never "corrected"."""
    from importlib.resources import files

    listing = files("symspellpy").joinpath("frequency_dictionary_en_82_765.txt")
    return frozenset(line.split(" ", 1)[0] for line in listing.read_text("utf-8").splitlines())


def words(text: str) -> list[str]:
    """Lower-case words, apostrophes kept inside them: words("Korea’s tests") -> ["korea's",
    "tests"]."""
    return [match.group().lower().replace("’", "'") for match in WORD.finditer(text)]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball stem of a lower-case word, a possessive 's dropped first."""
    if word.endswith("'s"):
        word = word[:-2]
    return _STEMMER.stemWord(word)


def term_spans(text: str) -> list[tuple[int, int, str]]:
    """Each content word's (start, end) in `text`, with its stemmed term."""
    found = []
    for match in WORD.finditer(text):
        word = match.group().lower().replace("’", "'")
        if word not in STOPWORDS:
            found.append((match.start(), match.end(), stem(word)))
    return found


def terms(text: str) -> list[str]:
    """Stemmed content words: terms("The missiles were fired") -> ["missil", "fire"]."""
    return [term for _start, _end, term in term_spans(text)]


# Regular English affixes. A word the lists lack but made of a known word and these is a
# real form, not a typo: "mown" (mow + n), "unsubscribed" (un + subscribed), "reindexed".
_PREFIXES = ("under", "over", "dis", "mis", "non", "pre", "re", "un")
# Each suffix with what its stem may have lost: "restored" -> "restor" + "e", "happily" ->
# "happ" + "y"; "+" marks a doubled final consonant ("stopped" -> "stopp" -> "stop").
_SUFFIXES = (
    ("iness", ("y",)),
    ("ness", ("",)),
    ("ment", ("",)),
    ("less", ("",)),
    ("able", ("", "e", "+")),
    ("ible", ("", "e")),
    ("iest", ("y",)),
    ("est", ("", "e", "+")),
    ("ier", ("y",)),
    ("er", ("", "e", "+")),
    ("ing", ("", "e", "+")),
    ("ied", ("y",)),
    ("ed", ("", "e", "+")),
    ("ies", ("y",)),
    ("es", ("",)),
    ("s", ("",)),
    ("en", ("", "e", "+")),
    ("n", ("",)),
    ("ily", ("y",)),
    ("ly", ("", "le")),
    ("ful", ("",)),
)
MIN_BASE = 3  # letters a known word must have to carry an affix: "mow" + "n"
MIN_PREFIXED_BASE = 4  # and to carry a prefix: "un" + "till" is no word


def derived_word(word: str, known: Callable[[str], bool], depth: int = 2) -> bool:
    """Whether a lower-case `word` is a known word with regular affixes around it (up to
    `depth` of them), so a real form even where the word lists lack it.

    derived_word("reindexed", known) -> True (re + index + ed); derived_word("misiles",
    known) -> False
    """
    if depth == 0:
        return False
    for prefix in _PREFIXES:
        base = word[len(prefix) :]
        prefixed = word.startswith(prefix) and len(base) >= MIN_PREFIXED_BASE
        if prefixed and (known(base) or derived_word(base, known, depth - 1)):
            return True
    for suffix, restored in _SUFFIXES:
        stem_ = word[: -len(suffix)]
        if not word.endswith(suffix) or len(stem_) < MIN_BASE:
            continue
        for ending in restored:
            if ending == "+":
                doubled = len(stem_) > MIN_BASE and stem_[-1] == stem_[-2]
                base = stem_[:-1] if doubled and stem_[-1] not in "aeiou" else ""
            else:
                base = stem_ + ending
            if base and (known(base) or derived_word(base, known, depth - 1)):
                return True
    return False
