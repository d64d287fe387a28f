"""Scoring one answer against its question (`score`), and summing rows up (`aggregate`,
`aggregates`), for every benchmark: each declares what it scores in a `Scoring` (its own
scores of one answer, the fields its report holds, its metrics and its scopes). The question
files' scoring, QUESTIONS, is declared here; the SQuAD benchmark's in evals.squad_scoring.

The question files' metrics (denominators, so the numbers can be read without the code):
- recall_at_k, mrr, answer_accuracy, token_f1, false_refusal_rate: answerable questions
  (an abstention scores 0 on recall of the answer, F1 and containment, never its text).
- citation_validity: every citation of every question.
- citation_precision: the citations given to answerable questions (unanswerable ones have
  no gold evidence; answering them shows up in refusal_accuracy).
- citation_recall: answerable questions that were answered (not abstained).
- refusal_accuracy: unanswerable questions.
A metric with an empty denominator is None (shown as "-").
A run of the llm reader adds READER_METRICS (evals.readers.reader_metrics), in every
benchmark: llm_answered [questions], sentences_dropped [generated sentences],
first_token_p50 [questions whose reply had a token]; latency_p50 is then the time to the
full, verified answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from evals import metrics
from evals.dataset import SPLITS, Question
from evals.readers import reader_metrics
from evals.reliability import Outcome, short_label
from rag import Answer, Citation
from rag.question import question_kind


class Case(Protocol):
    """A question as scored: evals.dataset.Question, or evals.squad.Item."""

    @property
    def id(self) -> str: ...
    @property
    def split(self) -> str: ...
    @property
    def question(self) -> str: ...
    @property
    def answers(self) -> tuple[str, ...]: ...  # the gold answers' texts
    @property
    def answerable(self) -> bool: ...


@dataclass(frozen=True)
class Row:
    """One answer to one question and its scores, in any benchmark; None marks a score that
    does not apply to the question. A score its benchmark does not take keeps its default,
    and the benchmark's report holds its own fields alone (`record`)."""

    # what was asked and what came back
    id: str
    split: str
    question: str
    answers: tuple[str, ...]  # the gold answers' texts
    answerable: bool
    text: str
    abstained: bool
    citations: tuple[Citation, ...]
    latency: float  # seconds to the answer
    short_label: str | None  # the shown short answer's entity label (evals.reliability)
    system: str = "docqa"  # who answered: docqa, docqa-llm or a one-sentence baseline
    # the scores every benchmark takes, each in its own way (see its `measure`)
    confidence: float | None = None  # Answer.confidence; a baseline: its retrieval score
    short: str | None = None  # the short answer's quote
    kind: str = "other"  # the kind of answer the question asks for (rag.question)
    contained: bool | None = None  # the answer text holds a gold answer (answerable only)
    f1: float | None = None  # token F1 against the gold answers (answerable only)
    checked: int = 0  # quotes checked against the file read back from disk
    valid_citations: int = 0  # of those, quoting it exactly
    # the question files' own
    category: str = ""
    history: tuple[str, ...] = ()
    searched: str = ""  # the standalone question rag searched for
    retrieved: tuple[metrics.Span, ...] = ()
    recall: float | None = None
    reciprocal_rank: float | None = None
    citations_on_evidence: int = 0
    evidence_cited: bool | None = None  # every gold quote overlapped by a citation (answered)
    passed: bool = False
    # the SQuAD benchmark's own
    article: str = ""
    cited: bool | None = None  # a citation, or the short answer, holds a gold answer's span
    em: float | None = None  # the short answer's exact match
    words: int | None = None  # in the answer text, answered questions only
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

    @property
    def spans(self) -> tuple[metrics.Span, ...]:
        """The cited spans, (doc_id, start, end) each."""
        return tuple((c.doc_id, c.start, c.end) for c in self.citations)


# -- what a benchmark scores -----------------------------------------------------------------

Scopes = Callable[[Sequence[Row], Iterable[str]], Iterator[tuple[str, Sequence[Row]]]]


@dataclass(frozen=True)
class Metric:
    """One figure of a benchmark: `value` of the rows `over` keeps (its denominator)."""

    name: str
    over: Callable[[Row], bool]
    value: Callable[[Sequence[Row]], float | None]


@dataclass(frozen=True)
class Scoring:
    """What one benchmark scores: `measure(case, answer, evidence, document_text, k)` gives its
    own fields of a row; `fields` names the row's fields in its report, in order (a pair
    (name in the report, field) where they differ); `metrics` sum rows up; `scopes(rows,
    names)` gives the scopes `aggregates` reports, in order, each with its rows."""

    measure: Callable[..., dict[str, Any]]
    fields: tuple[str | tuple[str, str], ...]
    metrics: tuple[Metric, ...]
    scopes: Scopes


def everything(row: Row) -> bool:
    return True


def answerable(row: Row) -> bool:
    return row.answerable


def unanswerable(row: Row) -> bool:
    return not row.answerable


def answered(row: Row) -> bool:
    """Answerable and answered, not abstained."""
    return row.answerable and not row.abstained


def mean_of(field: str) -> Callable[[Sequence[Row]], float | None]:
    """The mean of a score, None (does not apply) counted as 0."""
    return lambda rows: metrics.mean(getattr(row, field) or 0.0 for row in rows)


def ratio_of(part: str, whole: str) -> Callable[[Sequence[Row]], float | None]:
    """One count's sum over another's."""
    return lambda rows: metrics.ratio(
        sum(getattr(row, part) for row in rows), sum(getattr(row, whole) for row in rows)
    )


def percentile_of(field: str, q: float) -> Callable[[Sequence[Row]], float | None]:
    """The q-th percentile of a score over the rows that have it (not None)."""
    return lambda rows: metrics.percentile(
        [value for row in rows if (value := getattr(row, field)) is not None], q
    )


# the reader's fields, last in every benchmark's report
READER_FIELDS = (
    "asked_reader",
    "answered_by",
    "first_token",
    "sentences",
    "dropped",
    "drop_reasons",
)


# -- scoring and summing up, for every benchmark ---------------------------------------------


def score(
    case: Case,
    answer: Answer,
    evidence: Sequence[metrics.Span],
    document_text: Callable[[str], str | None],
    k: int = 0,
    latency: float = 0.0,
    *,
    scoring: Scoring | None = None,
    system: str = "docqa",
    label: bool = True,
) -> Row:
    """Score `answer` to `case` by `scoring` (the question files' by default); `evidence` are
    the gold spans in the documents, `k` the chunks retrieval handed on.

    `document_text(doc_id)` gives a cited document's text (None when there is no such file),
    so each citation is checked against the source on disk, not against rag's own copy. With
    `label`, the shown short answer's entity label is found (the baselines' whole sentences
    need none).
    """
    scoring = scoring or QUESTIONS
    shown = None if answer.abstained else answer.short
    return Row(
        id=case.id,
        split=case.split,
        question=case.question,
        answers=case.answers,
        answerable=case.answerable,
        text=answer.text,
        abstained=answer.abstained,
        citations=tuple(answer.citations),
        latency=latency,
        short_label=(
            short_label(shown, document_text(shown.doc_id)) if label and shown is not None else None
        ),
        system=system,
        **scoring.measure(case, answer, evidence, document_text, k),
    )


def aggregate(rows: Sequence[Row], scoring: Scoring | None = None) -> dict[str, float | None]:
    """Every metric of `scoring` (the question files' by default) over `rows`, then the llm
    reader's READER_METRICS when it was asked."""
    values = {
        metric.name: metric.value([row for row in rows if metric.over(row)])
        for metric in (scoring or QUESTIONS).metrics
    }
    if any(row.asked_reader == "llm" for row in rows):
        values.update(reader_metrics(rows))
    return values


def aggregates(
    rows: Sequence[Row], names: Iterable[str] = (), scoring: Scoring | None = None
) -> dict[str, dict[str, float | None]]:
    """{scope: aggregate(its rows)} for the scopes of `scoring` (the question files' by
    default: "overall", each split when the rows hold more than one, then each of the
    categories `names` that has rows, in the given order)."""
    scoring = scoring or QUESTIONS
    return {scope: aggregate(members, scoring) for scope, members in scoring.scopes(rows, names)}


def record(row: Row, scoring: Scoring | None = None) -> dict[str, Any]:
    """The row as its benchmark's report holds it: the fields of `scoring` (the question
    files' by default), in order, as JSON-ready values."""
    fields = (scoring or QUESTIONS).fields
    pairs = (entry if isinstance(entry, tuple) else (entry, entry) for entry in fields)
    return {name: _plain(getattr(row, field)) for name, field in pairs}


def _plain(value: Any) -> Any:
    """As dataclasses.asdict makes a field's value: a record as a dict, inside tuples too."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, tuple):
        return tuple(_plain(item) for item in value)
    return value


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


# -- the question files ----------------------------------------------------------------------


def _measure(
    question: Question,
    answer: Answer,
    evidence: Sequence[metrics.Span],
    document_text: Callable[[str], str | None],
    k: int,
) -> dict[str, Any]:
    """A question file's scores of one answer (see the module docstring)."""
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
    return {
        "category": question.category,
        "history": question.history,
        "searched": answer.question,
        "retrieved": tuple(chunks),
        "confidence": getattr(answer, "confidence", None),
        "recall": metrics.evidence_recall(chunks, evidence, k) if answerable else None,
        "reciprocal_rank": metrics.reciprocal_rank(chunks, evidence) if answerable else None,
        "contained": contained if answerable else None,
        "f1": (
            metrics.best_f1(said, question.answers, question.all_answers_needed)
            if answerable
            else None
        ),
        "checked": len(answer.citations),
        "valid_citations": valid,
        "citations_on_evidence": on_evidence if answerable else 0,
        "evidence_cited": evidence_cited,
        "passed": (not answer.abstained and contained) if answerable else answer.abstained,
        "kind": question_kind(answer.question or question.question),
        "short": shown.quote if shown is not None else None,
    }


def _scopes(rows: Sequence[Row], categories: Iterable[str]) -> Iterator[tuple[str, list[Row]]]:
    """ "overall", each split when the rows hold more than one, then each category's rows."""
    yield "overall", list(rows)
    splits = [split for split in SPLITS if any(row.split == split for row in rows)]
    if len(splits) > 1:
        for split in splits:
            yield split, [row for row in rows if row.split == split]
    for category in categories:
        if members := [row for row in rows if row.category == category]:
            yield category, members


QUESTIONS = Scoring(
    measure=_measure,
    fields=(
        "id",
        "category",
        "split",
        "question",
        "history",
        "answers",
        "answerable",
        "searched",
        "text",
        "abstained",
        "citations",
        "retrieved",
        "latency",
        "confidence",
        "recall",
        "reciprocal_rank",
        "contained",
        "f1",
        "valid_citations",
        "citations_on_evidence",
        "evidence_cited",
        "passed",
        "kind",
        "short",
        "short_label",
        *READER_FIELDS,
    ),
    metrics=(
        Metric("questions", everything, len),
        Metric("pass_rate", everything, mean_of("passed")),
        Metric("recall_at_k", answerable, mean_of("recall")),
        Metric("mrr", answerable, mean_of("reciprocal_rank")),
        Metric("answer_accuracy", answerable, mean_of("contained")),
        Metric("token_f1", answerable, mean_of("f1")),
        Metric("citation_validity", everything, ratio_of("valid_citations", "checked")),
        Metric("citation_precision", answerable, ratio_of("citations_on_evidence", "checked")),
        Metric("citation_recall", answered, mean_of("evidence_cited")),
        Metric("refusal_accuracy", unanswerable, mean_of("abstained")),
        Metric("false_refusal_rate", answerable, mean_of("abstained")),
        Metric("latency_p50", everything, percentile_of("latency", 50)),
        Metric("latency_p95", everything, percentile_of("latency", 95)),
    ),
    scopes=_scopes,
)
METRICS = tuple(metric.name for metric in QUESTIONS.metrics)
LOWER_IS_BETTER = frozenset(
    {"false_refusal_rate", "latency_p50", "latency_p95", "sentences_dropped", "first_token_p50"}
)
RATES = tuple(m for m in METRICS if m not in {"questions", "latency_p50", "latency_p95"})
