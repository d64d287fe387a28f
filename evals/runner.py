"""Asking the questions: each one through the run's DocQA, timed, then scored; and the
one-sentence baselines on the same questions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import cache
from pathlib import Path

from evals.baselines import BM25Baseline, CosineBaseline, Sentences
from evals.dataset import Question, evidence_spans, read_text
from evals.metrics import CurvePoint, contains_answer, refusal_curve
from evals.readers import DEFAULT_READER, ask
from evals.reliability import Outcome
from evals.scoring import Row, score
from rag import Answer
from rag.chain import DocQA
from rag.errors import DatasetError

WARM_UP_QUESTION = "What is this document about?"  # loads the model and index; not timed
Exchange = tuple[str, Answer]  # an earlier question and docqa's answer to it


def run(
    docqa: DocQA,
    questions: Sequence[Question],
    source_dir: Path,
    progress: Callable[[int, int, Row], None] | None = None,
    reader: str = DEFAULT_READER,
) -> list[Row]:
    """Answer and score every question in order through `docqa.stream` (evals.readers.ask:
    with no language model, one final answer, the same as the public `rag.answer()`);
    `progress(done, total, row)` after each one. `reader` names the reader `docqa` has, for
    the report. A follow-up's earlier questions are asked first, each with the turns before
    it, so it is asked with the earlier questions and their answers, as in a conversation."""
    k = docqa.settings.top_k
    document_text = _reader(source_dir)
    spans = {q.id: _evidence(q, document_text) for q in questions}
    docqa.answer(WARM_UP_QUESTION)
    rows = []
    for question in questions:
        turns = conversation(docqa, question.history)
        asked = ask(docqa, question.question, turns)
        row = score(question, asked.answer, spans[question.id], document_text, k, asked.seconds)
        rows.append(
            replace(
                row,
                asked_reader=reader,
                answered_by=asked.answer.reader,
                first_token=asked.first_token,
                sentences=asked.sentences,
                dropped=asked.dropped,
                drop_reasons=asked.reasons,
            )
        )
        if progress is not None:
            progress(len(rows), len(questions), rows[-1])
    return rows


def conversation(docqa: DocQA, earlier: Sequence[str]) -> list[Exchange]:
    """The earlier questions, oldest first, each asked with the exchanges before it, paired
    with their answers: the history a follow-up is asked with."""
    turns: list[Exchange] = []
    for question in earlier:
        turns.append((question, docqa.answer(question, list(turns))))
    return turns


def baselines(docqa: DocQA, questions: Sequence[Question]) -> dict[str, list[Outcome]]:
    """Each one-sentence baseline's outcome on every question, from the sentences of the
    documents `docqa` indexed; a follow-up is searched with its earlier questions before it."""
    documents = {doc_id: docqa.source_text(doc_id) for doc_id in docqa.corpus.documents}
    sentences = Sentences.of(documents)
    systems = (BM25Baseline(sentences), CosineBaseline(sentences, docqa.embeddings))
    return {
        system.name: [
            _baseline_outcome(q, system.answer(" ".join([*q.history, q.question])))
            for q in questions
        ]
        for system in systems
    }


def _baseline_outcome(question: Question, answer: Answer) -> Outcome:
    right = question.answerable and contains_answer(
        answer.text, question.answers, question.all_answers_needed
    )
    return Outcome(question.answerable, False, right, answer.confidence, split=question.split)


def curve(rows: Sequence[Row]) -> list[CurvePoint] | None:
    """The refusal trade-off curve from each answer's `confidence`, or None without one."""
    pairs = [(row.confidence, row.answerable) for row in rows if row.confidence is not None]
    if not rows or len(pairs) < len(rows):
        return None
    return refusal_curve(pairs)


def _evidence(
    question: Question, document_text: Callable[[str], str | None]
) -> list[tuple[str, int, int]]:
    """The question's evidence spans in its own document."""
    doc_id = Path(question.document).as_posix()
    text = document_text(doc_id)
    if text is None:
        raise DatasetError(
            f"question {question.id!r}: cannot read its document {doc_id}; check that it is in "
            "the run's source folder and readable"
        )
    return [(doc_id, *span) for span in evidence_spans(question, text)]


def _reader(source_dir: Path) -> Callable[[str], str | None]:
    @cache
    def document_text(doc_id: str) -> str | None:
        path = source_dir / doc_id
        try:
            return read_text(path)
        except (OSError, UnicodeDecodeError):
            return None

    return document_text
