"""Asking the questions: each one through the run's DocQA, timed, then scored."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

from evals.dataset import Question, evidence_spans, read_text
from evals.metrics import CurvePoint, refusal_curve
from evals.scoring import Row, score
from rag.chain import DocQA

WARM_UP_QUESTION = "What is this document about?"  # loads the model and index; not timed


def run(
    docqa: DocQA,
    questions: Sequence[Question],
    source_dir: Path,
    doc_id: str,
    progress: Callable[[int, int, Row], None] | None = None,
) -> list[Row]:
    """Answer and score every question in order through `docqa.answer`, the same path as the
    public `rag.answer()`; `progress(done, total, row)` after each one."""
    k = docqa.settings.top_k
    text = read_text(source_dir / doc_id)
    spans = {q.id: [(doc_id, *span) for span in evidence_spans(q, text)] for q in questions}
    document_text = _reader(source_dir)
    docqa.answer(WARM_UP_QUESTION)
    rows = []
    for question in questions:
        started = time.perf_counter()
        result = docqa.answer(question.question, list(question.history))
        latency = time.perf_counter() - started
        rows.append(score(question, result, spans[question.id], document_text, k, latency))
        if progress is not None:
            progress(len(rows), len(questions), rows[-1])
    return rows


def curve(rows: Sequence[Row]) -> list[CurvePoint] | None:
    """The refusal trade-off curve from each answer's `confidence`, or None without one."""
    pairs = [(row.confidence, row.answerable) for row in rows if row.confidence is not None]
    if not rows or len(pairs) < len(rows):
        return None
    return refusal_curve(pairs)


def _reader(source_dir: Path) -> Callable[[str], str | None]:
    @cache
    def document_text(doc_id: str) -> str | None:
        path = source_dir / doc_id
        try:
            return read_text(path)
        except (OSError, UnicodeDecodeError):
            return None

    return document_text
