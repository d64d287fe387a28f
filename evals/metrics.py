"""The metrics as pure functions: answer matching, span overlap, ranking, percentiles.

A span is `(doc_id, start, end)` in characters of the document, end exclusive.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag import Citation

Span = tuple[str, int, int]

_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """SQuAD-style: lower case, drop punctuation (curly quotes too), articles, extra spaces.

    normalize_answer("The “Golden” Opportunity!") -> "golden opportunity"
    """
    text = text.lower()
    # subtle: punctuation is deleted, not spaced, as in SQuAD: "41,000" -> "41000"
    text = "".join(
        ch for ch in text if ch not in string.punctuation and unicodedata.category(ch)[0] != "P"
    )
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def contains_answer(text: str, answers: Sequence[str], all_needed: bool = False) -> bool:
    """True when the normalised `text` holds a normalised answer as whole words.

    With `all_needed`, every answer must be there; otherwise any one of them will do.
    contains_answer("fired toward the east", ["east"]) -> True; ("to the west", ["east"]) -> False
    """
    padded = f" {normalize_answer(text)} "
    found = [
        bool(gold) and f" {gold} " in padded for gold in (normalize_answer(a) for a in answers)
    ]
    if not found:
        return False
    return all(found) if all_needed else any(found)


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD token F1 between two texts after normalisation (0.0 when either is empty)."""
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def best_f1(prediction: str, answers: Sequence[str], all_needed: bool = False) -> float:
    """Token F1 against the best alternative, or against all the parts joined if all are needed."""
    if not answers:
        return 0.0
    if all_needed:
        return token_f1(prediction, " ".join(answers))
    return max(token_f1(prediction, gold) for gold in answers)


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """The SQuAD script's exact match, best over the gold answers: 1.0 or 0.0."""
    said = normalize_answer(prediction)
    return float(any(said == normalize_answer(gold) for gold in answers))


def quote_matches(citation: Citation, text: str | None) -> bool:
    """True when a citation's quote is exactly `text` (its document as on disk, None when
    there is no such file) between its offsets."""
    return (
        text is not None
        and 0 <= citation.start < citation.end <= len(text)
        and text[citation.start : citation.end] == citation.quote
    )


def span_contains(outer: Span, inner: Span) -> bool:
    """True when `inner` lies wholly inside `outer` (same document)."""
    return outer[0] == inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2]


def spans_overlap(a: Span, b: Span) -> bool:
    """True when the two spans share at least one character (same document)."""
    return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]


def evidence_recall(chunks: Sequence[Span], evidence: Sequence[Span], k: int) -> float:
    """The share of evidence spans contained in one of the first `k` chunks."""
    if not evidence:
        return 0.0
    top = chunks[:k]
    return sum(any(span_contains(c, e) for c in top) for e in evidence) / len(evidence)


def reciprocal_rank(chunks: Sequence[Span], evidence: Sequence[Span]) -> float:
    """1/rank of the first chunk containing any evidence span; 0.0 when none does."""
    for rank, chunk in enumerate(chunks, 1):
        if any(span_contains(chunk, span) for span in evidence):
            return 1 / rank
    return 0.0


def mean(values: Iterable[float]) -> float | None:
    """The arithmetic mean, or None for no values (a metric that does not apply)."""
    values = list(values)
    return sum(values) / len(values) if values else None


def ratio(part: int, whole: int) -> float | None:
    """part / whole, or None when `whole` is 0."""
    return part / whole if whole else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation, as numpy's default; None if empty.

    percentile([1, 2, 3, 4], 50) -> 2.5
    """
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class CurvePoint:
    """One operating point of the refusal trade-off: answer when confidence >= threshold."""

    threshold: float
    precision: float  # share of answered questions that were answerable
    recall: float  # share of answerable questions that were answered


def refusal_curve(pairs: Iterable[tuple[float, bool]]) -> list[CurvePoint]:
    """Precision/recall of answering at every threshold, from (confidence, is_answerable) pairs.

    refusal_curve([(0.9, True), (0.2, False)]) -> points at 0.9 (1.0, 1.0) and 0.2 (0.5, 1.0)
    """
    pairs = sorted(pairs, key=lambda pair: pair[0], reverse=True)
    answerable = sum(is_answerable for _, is_answerable in pairs)
    points: list[CurvePoint] = []
    correct = 0
    for answered, (score, is_answerable) in enumerate(pairs, 1):
        correct += is_answerable
        last_of_tie = answered == len(pairs) or pairs[answered][0] != score
        if last_of_tie:
            points.append(CurvePoint(score, correct / answered, ratio(correct, answerable) or 0.0))
    return points
