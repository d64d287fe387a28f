"""Scoring the SQuAD benchmark: one answer against its question (`score`), and the rows summed
up per system and split (`aggregates`) and as refusal trade-off curves (`curves`).

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from evals import metrics
from evals.metrics import CurvePoint
from evals.readers import reader_metrics
from evals.reliability import Outcome, short_label
from rag import Answer
from rag.question import question_kind

if TYPE_CHECKING:
    from evals.squad import Item

METRICS = (
    "questions",
    "answerable",
    "unanswerable",
    "answer_found",
    "span_cited",
    "short_em",
    "short_f1",
    "unanswerable_refused",
    "answerable_refused",
    "median_words",
    "latency_p50_ms",
    "citation_validity",
)
RATES = (  # the shares drawn in the chart
    "answer_found",
    "span_cited",
    "short_em",
    "short_f1",
    "unanswerable_refused",
    "answerable_refused",
    "citation_validity",
)
_MARKER = re.compile(r"\s*\[\d+\]")  # the citation numbers rag.citations.render appends


@dataclass(frozen=True)
class Row:
    """One system's answer to one question and its scores; None where a score does not apply."""

    system: str
    id: str
    article: str
    split: str
    question: str
    answerable: bool
    answers: tuple[str, ...]  # the gold answers' texts
    text: str
    short: str | None  # Answer.short.quote
    abstained: bool
    confidence: float  # docqa: Answer.confidence; a baseline: its retrieval score
    found: bool | None
    cited: bool | None
    em: float | None
    f1: float | None
    words: int | None  # in the answer text, answered questions only
    citations: int  # citations plus the short answer
    valid_citations: int
    latency: float  # seconds
    first_quote: str = ""
    spans: tuple[tuple[str, int, int], ...] = field(default=())  # the cited spans
    kind: str = "other"  # the kind of answer the question asks for (rag.question)
    short_label: str | None = None  # the shown short answer's label (evals.reliability)
    # The reader asked and what its stream showed (see evals.scoring.Row)
    asked_reader: str = "extractive"
    answered_by: str = "extractive"
    first_token: float | None = None  # seconds to the model's first token
    sentences: int = 0
    dropped: int = 0
    drop_reasons: tuple[str, ...] = ()


def score(
    system: str,
    item: Item,
    answer: Answer,
    latency: float,
    documents: Mapping[str, str],
    label: bool = True,
) -> Row:
    """Score one answer; `documents` holds the texts read back from disk. With `label`, the
    shown short answer's entity label is found (the baselines' whole sentences need none)."""
    cited = list(answer.citations) + ([answer.short] if answer.short is not None else [])
    valid = sum(
        metrics.quote_matches(citation, documents.get(citation.doc_id)) for citation in cited
    )
    said = "" if answer.abstained else _MARKER.sub("", answer.text)
    answers = tuple(gold.text for gold in item.golds)
    short = answer.short.quote if answer.short is not None and not answer.abstained else None
    found = cited_gold = em = f1 = None
    if item.answerable:
        found = metrics.contains_answer(said, answers)
        cited_gold = not answer.abstained and any(
            metrics.span_contains(
                (citation.doc_id, citation.start, citation.end),
                (item.doc_id, gold.start, gold.end),
            )
            for citation in cited
            for gold in item.golds
        )
        em = metrics.exact_match(short, answers) if short is not None else 0.0
        f1 = metrics.best_f1(short, answers) if short is not None else 0.0
    return Row(
        system=system,
        id=item.id,
        article=item.article,
        split=item.split,
        question=item.question,
        answerable=item.answerable,
        answers=answers,
        text=answer.text,
        short=answer.short.quote if answer.short is not None else None,
        abstained=answer.abstained,
        confidence=float(answer.confidence),
        found=found,
        cited=cited_gold,
        em=em,
        f1=f1,
        words=None if answer.abstained else len(said.split()),
        citations=len(cited),
        valid_citations=valid,
        latency=latency,
        first_quote=answer.citations[0].quote if answer.citations else "",
        spans=tuple((c.doc_id, c.start, c.end) for c in answer.citations),
        kind=question_kind(item.question),
        short_label=(
            short_label(answer.short, documents.get(answer.short.doc_id))
            if label and short is not None and answer.short is not None
            else None
        ),
    )


def aggregate(rows: Sequence[Row]) -> dict[str, float | None]:
    """Every metric of METRICS over one system's `rows` (see the module docstring)."""
    answerable = [row for row in rows if row.answerable]
    unanswerable = [row for row in rows if not row.answerable]
    words = [row.words for row in rows if row.words is not None]
    latency = metrics.percentile([row.latency for row in rows], 50)
    values = {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "answer_found": metrics.mean(bool(row.found) for row in answerable),
        "span_cited": metrics.mean(bool(row.cited) for row in answerable),
        "short_em": metrics.mean(row.em or 0.0 for row in answerable),
        "short_f1": metrics.mean(row.f1 or 0.0 for row in answerable),
        "unanswerable_refused": metrics.mean(row.abstained for row in unanswerable),
        "answerable_refused": metrics.mean(row.abstained for row in answerable),
        "median_words": metrics.percentile(words, 50),
        "latency_p50_ms": None if latency is None else latency * 1000,
        "citation_validity": metrics.ratio(
            sum(row.valid_citations for row in rows), sum(row.citations for row in rows)
        ),
    }
    if any(row.asked_reader == "llm" for row in rows):
        values.update(reader_metrics(rows))
    return values


def aggregates(rows: Sequence[Row], splits: Sequence[str]) -> dict[str, dict[str, dict]]:
    """{system: {split: aggregate, ..., "overall": aggregate}} for the systems in `rows`."""
    result: dict[str, dict[str, dict]] = {}
    for system in dict.fromkeys(row.system for row in rows):
        mine = [row for row in rows if row.system == system]
        result[system] = {
            split: aggregate([row for row in mine if row.split == split])
            for split in splits
            if any(row.split == split for row in mine)
        }
        result[system]["overall"] = aggregate(mine)
    return result


def curves(rows: Sequence[Row]) -> dict[str, list[CurvePoint]]:
    """Each system's refusal trade-off curve from its rows' confidence, over all questions."""
    systems = dict.fromkeys(row.system for row in rows)
    return {
        system: metrics.refusal_curve(
            (row.confidence, row.answerable) for row in rows if row.system == system
        )
        for system in systems
    }


def outcomes(rows: Sequence[Row]) -> dict[str, list[Outcome]]:
    """Each system's rows as evals.reliability reads them: right when answered and holding a
    gold answer."""
    result: dict[str, list[Outcome]] = {}
    for row in rows:
        result.setdefault(row.system, []).append(
            Outcome(
                answerable=row.answerable,
                abstained=row.abstained,
                right=bool(row.found) and not row.abstained,
                confidence=row.confidence,
                kind=row.kind,
                short_label=row.short_label,
                split=row.split,
            )
        )
    return result
