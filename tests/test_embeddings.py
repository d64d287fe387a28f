"""The model from its wheel: sentence vectors, and clause vectors pooled from its tokens."""

import numpy as np
import pytest

from rag.embeddings import SentenceEmbeddings
from rag.settings import Settings


@pytest.fixture(scope="module")
def embeddings() -> SentenceEmbeddings:
    return SentenceEmbeddings(Settings.from_env({}).model_location())


def test_sentence_vectors_are_the_models_own(embeddings: SentenceEmbeddings) -> None:
    texts = ["The ferry left at dawn.", "Talks collapsed late on Sunday, the union said."]
    vectors, parts = embeddings.encode_with_parts(texts, [[], []])
    assert np.allclose(vectors, embeddings.encode(texts), atol=1e-5)
    assert [part.shape for part in parts] == [(0, vectors.shape[1])] * 2


def test_part_vectors_are_unit_and_follow_their_words(embeddings: SentenceEmbeddings) -> None:
    text = "The bakery raised bread prices, while the council repaired the harbour wall."
    bread, wall = (0, 30), (38, len(text) - 1)
    _vectors, (parts,) = embeddings.encode_with_parts([text], [[bread, wall]])
    assert np.allclose(np.linalg.norm(parts, axis=1), 1.0, atol=1e-5)
    prices, repairs = embeddings.encode(["the cost of a loaf", "fixing the sea wall"])
    assert parts[0] @ prices > parts[1] @ prices
    assert parts[1] @ repairs > parts[0] @ repairs


def test_no_texts_give_empty_results(embeddings: SentenceEmbeddings) -> None:
    vectors, parts = embeddings.encode_with_parts([], [])
    assert vectors.shape[0] == 0 and parts == []
