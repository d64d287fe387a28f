"""Scoring one answer against its question (`score`), and summing rows up (`aggregate`).

Denominators, so the numbers can be read without the code:
- recall_at_k, mrr, answer_accuracy, token_f1, false_refusal_rate: answerable questions
  (an abstention scores 0 on recall of the answer, F1 and containment, never its text).
- citation_validity: every citation of every question.
- citation_precision: the citations given to answerable questions (unanswerable ones have
  no gold evidence; answering them shows up in refusal_accuracy).
- citation_recall: answerable questions that were answered (not abstained).
- refusal_accuracy: unanswerable questions.
A metric with an empty denominator is None (shown as "-").
A run of the llm reader adds READER_METRICS (evals.readers.reader_metrics): llm_answered
[questions], sentences_dropped [generated sentences], first_token_p50 [questions whose
reply had a token]; latency_p50 is then the time to the full, verified answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from evals import metrics
from evals.dataset import SPLITS, Question
from evals.readers import reader_metrics
from evals.reliability import Outcome, short_label
from rag import Answer, Citation
from rag.question import question_kind

METRICS = (
    "questions",
    "pass_rate",
    "recall_at_k",
    "mrr",
    "answer_accuracy",
    "token_f1",
    "citation_validity",
    "citation_precision",
    "citation_recall",
    "refusal_accuracy",
    "false_refusal_rate",
    "latency_p50",
    "latency_p95",
)
LOWER_IS_BETTER = frozenset(
    {"false_refusal_rate", "latency_p50", "latency_p95", "sentences_dropped", "first_token_p50"}
)
RATES = tuple(m for m in METRICS if m not in {"questions", "latency_p50", "latency_p95"})


@dataclass(frozen=True)
class Row:
    """One question's outcome and scores; None marks a score that does not apply to it."""

    id: str
    category: str
    split: str
    question: str
    history: tuple[str, ...]
    answers: tuple[str, ...]
    answerable: bool
    searched: str  # the standalone question rag searched for
    text: str
    abstained: bool
    citations: tuple[Citation, ...]
    retrieved: tuple[metrics.Span, ...]
    latency: float  # seconds spent in answer()
    confidence: float | None  # Answer.confidence (see evals.runner.curve)
    recall: float | None
    reciprocal_rank: float | None
    contained: bool | None
    f1: float | None
    valid_citations: int
    citations_on_evidence: int
    evidence_cited: bool | None  # every gold quote overlapped by a citation (answered only)
    passed: bool
    kind: str  # the kind of answer the searched question asks for (rag.question.question_kind)
    short: str | None  # Answer.short's quote, when one is shown
    short_label: str | None  # its entity label (evals.reliability.short_label)
    # The reader the run asked (evals.readers) and what its stream showed; for `llm`, the
    # reader that answered ("extractive" when the model's answer fell back) and the
    # generated sentences the verifier judged and dropped.
    asked_reader: str = "extractive"
    answered_by: str = "extractive"
    first_token: float | None = None  # seconds to the model's first token
    sentences: int = 0
    dropped: int = 0
    drop_reasons: tuple[str, ...] = ()

    @property
    def first_quote(self) -> str:
        """The first citation's quote, or "" for an abstention."""
        return self.citations[0].quote if self.citations else ""


def score(
    question: Question,
    answer: Answer,
    evidence: Sequence[metrics.Span],
    document_text: Callable[[str], str | None],
    k: int,
    latency: float,
) -> Row:
    """Score `answer` to `question`; `evidence` are the gold quotes' spans in the document.

    `document_text(doc_id)` gives a cited document's text (None when there is no such file),
    so each citation is checked against the source on disk, not against rag's own copy.
    """
    chunks = [(chunk.doc_id, chunk.start, chunk.end) for chunk in answer.retrieved]
    cited = [(c.doc_id, c.start, c.end) for c in answer.citations]
    valid = sum(
        metrics.quote_matches(citation, document_text(citation.doc_id))
        for citation in answer.citations
    )
    answerable = question.answerable
    said = "" if answer.abstained else answer.text
    contained = answerable and metrics.contains_answer(
        said, question.answers, question.all_answers_needed
    )
    on_evidence = sum(any(metrics.spans_overlap(c, e) for e in evidence) for c in cited)
    shown = None if answer.abstained else answer.short
    evidence_cited = None
    if answerable and not answer.abstained:
        evidence_cited = all(any(metrics.spans_overlap(c, e) for c in cited) for e in evidence)
    return Row(
        id=question.id,
        category=question.category,
        split=question.split,
        question=question.question,
        history=question.history,
        answers=question.answers,
        answerable=answerable,
        searched=answer.question,
        text=answer.text,
        abstained=answer.abstained,
        citations=tuple(answer.citations),
        retrieved=tuple(chunks),
        latency=latency,
        confidence=getattr(answer, "confidence", None),
        recall=metrics.evidence_recall(chunks, evidence, k) if answerable else None,
        reciprocal_rank=metrics.reciprocal_rank(chunks, evidence) if answerable else None,
        contained=contained if answerable else None,
        f1=(
            metrics.best_f1(said, question.answers, question.all_answers_needed)
            if answerable
            else None
        ),
        valid_citations=valid,
        citations_on_evidence=on_evidence if answerable else 0,
        evidence_cited=evidence_cited,
        passed=(not answer.abstained and contained) if answerable else answer.abstained,
        kind=question_kind(answer.question or question.question),
        short=shown.quote if shown is not None else None,
        short_label=short_label(shown, None if shown is None else document_text(shown.doc_id)),
    )


def outcome(row: Row) -> Outcome:
    """The row as evals.reliability reads it: answered right when it holds a gold answer."""
    return Outcome(
        answerable=row.answerable,
        abstained=row.abstained,
        right=bool(row.contained) and not row.abstained,
        confidence=row.confidence or 0.0,
        kind=row.kind,
        short_label=row.short_label,
        split=row.split,
    )


def aggregate(rows: Sequence[Row]) -> dict[str, float | None]:
    """Every metric of METRICS over `rows` (see the module docstring for the denominators)."""
    answerable = [row for row in rows if row.answerable]
    answered = [row for row in answerable if not row.abstained]
    unanswerable = [row for row in rows if not row.answerable]
    latencies = [row.latency for row in rows]
    values: dict[str, float | None] = {
        "questions": len(rows),
        "pass_rate": metrics.mean(row.passed for row in rows),
        "recall_at_k": metrics.mean(row.recall or 0.0 for row in answerable),
        "mrr": metrics.mean(row.reciprocal_rank or 0.0 for row in answerable),
        "answer_accuracy": metrics.mean(bool(row.contained) for row in answerable),
        "token_f1": metrics.mean(row.f1 or 0.0 for row in answerable),
        "citation_validity": metrics.ratio(
            sum(row.valid_citations for row in rows), sum(len(row.citations) for row in rows)
        ),
        "citation_precision": metrics.ratio(
            sum(row.citations_on_evidence for row in answerable),
            sum(len(row.citations) for row in answerable),
        ),
        "citation_recall": metrics.mean(bool(row.evidence_cited) for row in answered),
        "refusal_accuracy": metrics.mean(row.abstained for row in unanswerable),
        "false_refusal_rate": metrics.mean(row.abstained for row in answerable),
        "latency_p50": metrics.percentile(latencies, 50),
        "latency_p95": metrics.percentile(latencies, 95),
    }
    if any(row.asked_reader == "llm" for row in rows):
        values.update(reader_metrics(rows))
    return values


def aggregates(rows: Sequence[Row], categories: Iterable[str]) -> dict[str, dict]:
    """{"overall": aggregate(rows), "tune": ..., "heldout": ..., category: ..., ...}: each
    split's rows when the run holds more than one, then each category's, in the given order."""
    result = {"overall": aggregate(rows)}
    splits = [split for split in SPLITS if any(row.split == split for row in rows)]
    if len(splits) > 1:
        for split in splits:
            result[split] = aggregate([row for row in rows if row.split == split])
    for category in categories:
        members = [row for row in rows if row.category == category]
        if members:
            result[category] = aggregate(members)
    return result
