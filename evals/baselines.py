"""Two one-sentence baselines for the SQuAD benchmark: the best sentence by BM25 or by cosine.

They measure what the reader adds over plain sentence retrieval. Each answers every question
with ONE sentence of the run's documents (split by `rag.chunking.split_sentences`), quoted
whole as its text, its citation and its short answer; it never refuses. Its `confidence` is
its own score (BM25's, or the cosine similarity), so a refusal curve can be drawn for it too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import bm25s
import numpy as np

from rag.chunking import split_sentences
from rag.errors import DatasetError
from rag.lexicon import terms
from rag.types import Answer, Citation

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it narrates every index build

NAMES = ("bm25", "cosine")


@dataclass(frozen=True)
class Sentences:
    """Every sentence of the documents, as verified citations, in document order."""

    spans: list[Citation]

    @classmethod
    def of(cls, documents: Mapping[str, str]) -> Sentences:
        """The sentences of `documents` (doc_id -> text), documents in sorted id order."""
        spans = [
            Citation(doc_id, start, end, text[start:end])
            for doc_id, text in sorted(documents.items())
            for start, end in split_sentences(text)
        ]
        if not spans:
            raise DatasetError("the documents hold no sentences to answer from")
        return cls(spans)

    def answer(self, row: int, score: float) -> Answer:
        """The sentence at `row` as a one-sentence answer that never abstains."""
        sentence = self.spans[row]
        return Answer(
            text=sentence.quote,
            citations=[sentence],
            abstained=False,
            short=sentence,
            confidence=float(score),
        )


class BM25Baseline:
    """The sentence with the highest BM25 score over `rag.lexicon.terms` (Snowball stems,
    stopwords dropped), as rag's chunk retrieval scores chunks; ties go to the earliest."""

    name = "bm25"

    def __init__(self, sentences: Sentences) -> None:
        self.sentences = sentences
        self.retriever = bm25s.BM25()
        self.retriever.index(
            [terms(sentence.quote) or [""] for sentence in sentences.spans], show_progress=False
        )

    def answer(self, question: str) -> Answer:
        query = terms(question)
        if not query:  # nothing to match: the first sentence, with no evidence behind it
            return self.sentences.answer(0, 0.0)
        scores = self.retriever.get_scores(query)
        row = int(np.argmax(scores))
        return self.sentences.answer(row, float(scores[row]))


class CosineBaseline:
    """The sentence whose MiniLM vector is closest to the question's (cosine similarity of
    unit vectors, from the DocQA's own model); ties go to the earliest."""

    name = "cosine"

    def __init__(self, sentences: Sentences, embeddings, progress: bool = False) -> None:
        # `embeddings`: a rag.embeddings.SentenceEmbeddings (docqa.embeddings)
        self.sentences = sentences
        self.embeddings = embeddings
        self.vectors = embeddings.encode(
            [sentence.quote for sentence in sentences.spans], progress=progress
        )

    def answer(self, question: str) -> Answer:
        vector = self.embeddings.encode([question])[0]
        scores = self.vectors @ vector
        row = int(np.argmax(scores))
        return self.sentences.answer(row, float(scores[row]))
