"""Synthetic corpora: copies of the seed article with its sentences shuffled, seeded."""

from __future__ import annotations

import random
from pathlib import Path

from bench.measure import ROOT
from rag.chunking import split_sentences

ARTICLE = ROOT / "seeds" / "north-korea-missile-tests.txt"
SEED = 1729  # fixed, so every run indexes the same documents


def read_article() -> str:
    """The seed article exactly as on disk."""
    with ARTICLE.open(encoding="utf-8", newline="") as handle:
        return handle.read()


def article_sentences() -> list[str]:
    """The article's sentences, in order."""
    text = read_article()
    return [text[start:end] for start, end in split_sentences(text)]


def write_corpus(folder: Path, docs: int, seed: int = SEED) -> Path:
    """Write `docs` shuffled copies of the article as .txt files into `folder`.

    Document i is the same for every `docs`, so a smaller corpus is a prefix of a larger one.
    """
    sentences = article_sentences()
    folder.mkdir(parents=True, exist_ok=True)
    width = len(str(max(docs - 1, 0)))
    for number in range(docs):
        order = sentences[:]
        random.Random(seed * 1_000_003 + number).shuffle(order)
        # One sentence per line, like the article's paragraphs; the splitter cuts at each.
        (folder / f"doc-{number:0{width}d}.txt").write_text("\n".join(order) + "\n", "utf-8")
    return folder
