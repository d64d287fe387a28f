"""Shared fixtures: each test gets its own index folder; the real model is loaded once.

Also the helpers that hand-build what retrieval gives the reader (queries, candidates) and
tiny reader models with hand-set weights, for the tests that run without the embedding model,
and the spans and verdicts the verifier's tests build from a document.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest

from rag.answer_types import LABELS
from rag.chain import DocQA
from rag.chunking import clauses
from rag.features import ANSWER_FEATURES, PHRASE_FEATURES, SENTENCE_FEATURES
from rag.generation import verify
from rag.lexicon import terms
from rag.question import KINDS, question_kind
from rag.ranker import CATEGORY_SIZES, ReaderModel, Scorer
from rag.settings import Settings
from rag.types import Candidate, Document, Phrase, Query, Span, Verdict

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
ARTICLE_ID = "north-korea-missile-tests.txt"


def run_docqa(
    *args: str, env: Mapping[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """`docqa ARGS` in a process of its own from the project root, as a user runs it; its
    output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        capture_output=True,
        text=True,
        env=dict(env),
        cwd=ROOT,
        timeout=timeout,
    )


@pytest.fixture(autouse=True)
def isolated_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point DOCQA_INDEX_DIR at a fresh folder, so tests never share index state."""
    index_dir = tmp_path / "index"
    monkeypatch.setenv("DOCQA_INDEX_DIR", str(index_dir))
    monkeypatch.delenv("DOCQA_SOURCE_DIR", raising=False)
    monkeypatch.setenv("DOCQA_UPLOAD_DIR", str(tmp_path / "uploads"))  # never the project's
    return index_dir


@pytest.fixture(scope="session")
def article_text() -> str:
    """The seed article exactly as on disk."""
    with (SEEDS / ARTICLE_ID).open(encoding="utf-8", newline="") as handle:
        return handle.read()


@pytest.fixture(scope="session")
def docqa(tmp_path_factory: pytest.TempPathFactory) -> DocQA:
    """A DocQA over the seed article with its index built once for the session."""
    settings = Settings.from_env(
        {}, source_dir=SEEDS, index_dir=tmp_path_factory.mktemp("session-index")
    )
    engine = DocQA(settings)
    engine.warm_up()
    return engine


@pytest.fixture
def source_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the seeds, set as DOCQA_SOURCE_DIR, that a test may edit."""
    folder = tmp_path / "sources"
    shutil.copytree(SEEDS, folder)
    monkeypatch.setenv("DOCQA_SOURCE_DIR", str(folder))
    return folder


# -- hand-built retrieval results and models ---------------------------------------------


def hand_query(question: str, kind: str | None = None, lent: frozenset[str] = frozenset()) -> Query:
    """A Query as the chain would prepare it, with a stand-in vector (the reader ignores it)."""
    return Query(
        asked=question,
        standalone=question,
        part=question,
        kind=kind or question_kind(question),
        terms=tuple(terms(question)),
        vector=np.zeros(4, dtype=np.float32),
        lent_terms=lent,
    )


def hand_candidate(
    document: Document,
    sentence: str,
    phrases: Sequence[tuple[str, str]] = (),
    split: bool = False,
    **scores: object,
) -> Candidate:
    """A Candidate for `sentence` (a verbatim piece of `document`): `phrases` are (text, label)
    pairs inside it, `split` gives it its real clauses; every score and rank not given is 0
    (best_clause -1), but context_coverage, 1 (it shares words with the question: see
    rag.reader.shares_a_word)."""
    start = document.text.index(sentence)
    span = Span(document.doc_id, start, start + len(sentence), sentence)
    zero = {"float": 0.0, "int": 0}
    values: dict[str, object] = {
        field.name: zero[field.type]
        for field in dataclasses.fields(Candidate)
        if field.type in zero
    }
    values.update(
        sentence=span,
        clauses=tuple(clauses(span)) if split else (),
        phrases=tuple(
            Phrase(sentence.index(text), sentence.index(text) + len(text), label)
            for text, label in phrases
        ),
        terms=tuple(terms(sentence)),
        best_clause=-1,
        chunk_rank=0,
        context_coverage=1.0,
    )
    values.update(scores)
    return Candidate(**values)  # type: ignore[arg-type]


def logistic(features: Sequence[str], weights: Mapping[str, float], intercept: float = 0.0):
    """A logistic Scorer with hand-set weights on (non-categorical) features, unscaled."""
    coef: list[float] = []
    for name in features:
        width = CATEGORY_SIZES.get(name, 1)
        coef += [weights.get(name, 0.0)] * width
    return Scorer(
        "logistic",
        tuple(features),
        {
            "mean": [0.0] * len(coef),
            "scale": [1.0] * len(coef),
            "coef": coef,
            "intercept": intercept,
        },
    )


def tiny_model(
    sentence: Mapping[str, float],
    phrase: Mapping[str, float] | None = None,
    threshold: float = 0.0,
    short: float = 0.0,
) -> ReaderModel:
    """A reader model whose sentence and phrase scores follow the given weights; its
    confidence follows the best sentence's score."""
    return ReaderModel(
        sentence=logistic(SENTENCE_FEATURES, sentence),
        phrase=logistic(PHRASE_FEATURES, phrase or {}),
        answerable=logistic(ANSWER_FEATURES, {"best_score": 8.0}, -4.0),
        prior={kind: dict.fromkeys(LABELS, 1 / len(LABELS)) for kind in KINDS},
        no_answer_threshold=threshold,
        short_threshold=short,
        version="tiny",
    )


# -- the verifier's passages ------------------------------------------------------------


def span_of(document: Document, first: str, last: str | None = None) -> Span:
    """The span of `document` from `first` through `last` (or `first` alone)."""
    start = document.text.index(first)
    end = document.text.index(last or first) + len(last or first)
    return Span(document.doc_id, start, end, document.text[start:end])


def whole(document: Document) -> Span:
    """All of `document` as one passage."""
    return Span(document.doc_id, 0, len(document.text), document.text)


def verify_lines(document: Document, sentence: str) -> Verdict:
    """`verify` of a sentence citing each line of `document` as its own passage ([1] the
    first line, [2] the second, ...)."""
    passages = [span_of(document, line) for line in document.text.splitlines() if line]
    return verify(sentence, passages, {document.doc_id: document})


def verify_in(
    document: Document, sentence: str, question: str = "", previous: Verdict | None = None
) -> Verdict:
    """`verify` of a sentence citing all of `document` as its one passage [1]."""
    documents = {document.doc_id: document}
    return verify(sentence, [whole(document)], documents, question=question, previous=previous)
