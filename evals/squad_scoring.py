"""What the SQuAD benchmark scores (SQUAD, for evals.scoring's `score` and `aggregates`), and
its rows summed up per system: figures, refusal trade-off curves and outcomes.

The metrics, per system, per split and overall (denominators in brackets):
- answer_found: the answer text ("" when abstained, citation numbers "[1]" dropped) holds a
  gold answer, SQuAD-normalised, as whole words [answerable questions];
- span_cited: a citation, or the short answer, contains a gold answer's document span
  (an abstention cites nothing) [answerable questions];
- short_em, short_f1: the SQuAD script's exact match and token F1, best over the gold
  answers, of `Answer.short.quote`; 0 when there is no short answer or the answer
  abstained [answerable questions];
- unanswerable_refused: abstained [unanswerable questions];
- answerable_refused: abstained [answerable questions];
- median_words: words in the answer text [answered questions];
- latency_p50_ms: the median time of one answer, in milliseconds [all questions];
- citation_validity: quote == the file's text[start:end], the file read back from disk
  [every citation and short answer].
A metric with an empty denominator is None (shown as "-").
The llm reader's system ("docqa-llm") adds evals.readers.READER_METRICS: the share the
model answered, the share of generated sentences dropped, the median time to the first token
(latency_p50_ms is then the time to the full, verified answer).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from evals import metrics
from evals.metrics import CurvePoint
from evals.reliability import Outcome
from evals.scoring import (
    READER_FIELDS,
    Case,
    Metric,
    Row,
    Scoring,
    aggregates,
    answerable,
    everything,
    mean_of,
    outcome,
    percentile_of,
    ratio_of,
    unanswerable,
)
from rag import Answer
from rag.question import question_kind

_MARKER = re.compile(r"\s*\[\d+\]")  # the citation numbers rag.citations.render appends


class _Item(Case, Protocol):
    """A SQuAD question (evals.squad.Item) as scored."""

    @property
    def article(self) -> str: ...


def _measure(
    item: _Item,
    answer: Answer,
    evidence: Sequence[metrics.Span],
    document_text: Callable[[str], str | None],
    k: int,
) -> dict[str, Any]:
    """A SQuAD question's scores of one answer; `item` is an evals.squad.Item, `evidence` its
    gold answers' spans."""
    cited = list(answer.citations) + ([answer.short] if answer.short is not None else [])
    valid = sum(
        metrics.quote_matches(citation, document_text(citation.doc_id)) for citation in cited
    )
    said = "" if answer.abstained else _MARKER.sub("", answer.text)
    short = answer.short.quote if answer.short is not None and not answer.abstained else None
    found = cited_gold = em = f1 = None
    if item.answerable:
        found = metrics.contains_answer(said, item.answers)
        cited_gold = not answer.abstained and any(
            metrics.span_contains((citation.doc_id, citation.start, citation.end), gold)
            for citation in cited
            for gold in evidence
        )
        em = metrics.exact_match(short, item.answers) if short is not None else 0.0
        f1 = metrics.best_f1(short, item.answers) if short is not None else 0.0
    return {
        "article": item.article,
        "short": answer.short.quote if answer.short is not None else None,
        "confidence": float(answer.confidence),
        "contained": found,
        "cited": cited_gold,
        "em": em,
        "f1": f1,
        "words": None if answer.abstained else len(said.split()),
        "checked": len(cited),
        "valid_citations": valid,
        "kind": question_kind(item.question),
    }


def _scopes(rows: Sequence[Row], splits: Iterable[str]) -> Iterator[tuple[str, list[Row]]]:
    """Each split's rows, in the given order, then "overall"."""
    for split in splits:
        if members := [row for row in rows if row.split == split]:
            yield split, members
    yield "overall", list(rows)


def _milliseconds(rows: Sequence[Row]) -> float | None:
    seconds = percentile_of("latency", 50)(rows)
    return None if seconds is None else seconds * 1000


SQUAD = Scoring(
    measure=_measure,
    fields=(
        "system",
        "id",
        "article",
        "split",
        "question",
        "answerable",
        "answers",
        "text",
        "short",
        "abstained",
        "confidence",
        ("found", "contained"),
        "cited",
        "em",
        "f1",
        "words",
        ("citations", "checked"),  # citations plus the short answer
        "valid_citations",
        "latency",
        "first_quote",
        "spans",
        "kind",
        "short_label",
        *READER_FIELDS,
    ),
    metrics=(
        Metric("questions", everything, len),
        Metric("answerable", answerable, len),
        Metric("unanswerable", unanswerable, len),
        Metric("answer_found", answerable, mean_of("contained")),
        Metric("span_cited", answerable, mean_of("cited")),
        Metric("short_em", answerable, mean_of("em")),
        Metric("short_f1", answerable, mean_of("f1")),
        Metric("unanswerable_refused", unanswerable, mean_of("abstained")),
        Metric("answerable_refused", answerable, mean_of("abstained")),
        Metric("median_words", everything, percentile_of("words", 50)),
        Metric("latency_p50_ms", everything, _milliseconds),
        Metric("citation_validity", everything, ratio_of("valid_citations", "checked")),
    ),
    scopes=_scopes,
)
METRICS = tuple(metric.name for metric in SQUAD.metrics)
RATES = (  # the shares drawn in the chart
    "answer_found",
    "span_cited",
    "short_em",
    "short_f1",
    "unanswerable_refused",
    "answerable_refused",
    "citation_validity",
)


def by_system(rows: Sequence[Row]) -> dict[str, list[Row]]:
    """Each system's rows, the systems in the order they first appear."""
    systems: dict[str, list[Row]] = {}
    for row in rows:
        systems.setdefault(row.system, []).append(row)
    return systems


def per_system(rows: Sequence[Row], splits: Sequence[str]) -> dict[str, dict[str, dict]]:
    """{system: {split: metrics, ..., "overall": metrics}} for the systems in `rows`."""
    return {system: aggregates(mine, splits, SQUAD) for system, mine in by_system(rows).items()}


def curves(rows: Sequence[Row]) -> dict[str, list[CurvePoint]]:
    """Each system's refusal trade-off curve from its rows' confidence, over all questions."""
    return {
        system: metrics.refusal_curve((row.confidence, row.answerable) for row in mine)
        for system, mine in by_system(rows).items()
    }


def outcomes(rows: Sequence[Row]) -> dict[str, list[Outcome]]:
    """Each system's rows as evals.reliability reads them (evals.scoring.outcome)."""
    return {system: [outcome(row) for row in mine] for system, mine in by_system(rows).items()}
