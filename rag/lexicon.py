"""Words, stems and stopwords: what lexical matching (BM25, coverage) compares."""

from __future__ import annotations

import re
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
