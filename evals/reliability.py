"""Whether answers hold up: how often docqa answers right, refuses, is confidently wrong,
how well its confidence is calibrated and whether its short answers are of the kind asked.

Every function reads `Outcome`s (evals.scoring.outcome), so the question files and the SQuAD
benchmark are summed up alike, per split and per domain. The
metrics of `summary`, with their denominators in brackets:
- answer_rate: answered, and the answer text holds a gold answer [answerable questions];
- false_refusals: refused [answerable questions];
- refusals: refused [unanswerable questions];
- confidently_wrong: wrong (an unanswerable question answered, or no gold answer in the
  text) with confidence >= CONFIDENT [answered questions];
- ece: expected calibration error of "answered right" against the confidence, in ECE_BINS
  equal-width bins [all questions];
- wrong_kind_shorts: the short answer's entity label does not fit the kind of answer the
  question asks for (KIND_LABELS) [shown short answers to questions of those kinds];
- bm25_answer_rate, cosine_answer_rate: the same-run one-sentence baselines'
  (evals.baselines) answer rate, never refusing [answerable questions].
A metric with an empty denominator is None (shown as "-").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from evals import metrics
from rag import Citation

CONFIDENT = 0.9  # an answer this confident that is wrong is the one users believe
ECE_BINS = 10
# The short answers' labels (rag.answer_types.LABELS) that fit each kind of question
# (rag.question.KINDS); other kinds ask for no particular label. spaCy labels a count of days
# or hours DATE or TIME ("25 days"), so those fit "how many" questions too; a description
# ("the harbour master", a noun phrase: NP) can answer "who" and "where", not "how many".
KIND_LABELS: Mapping[str, frozenset[str]] = {
    "person": frozenset({"PERSON", "ORG", "NORP", "NP"}),
    "place": frozenset({"GPE", "LOC", "FAC", "ORG", "NP"}),
    "date": frozenset({"DATE"}),
    "time": frozenset({"DATE", "TIME"}),
    "number": frozenset({"CARDINAL", "QUANTITY", "PERCENT", "MONEY", "ORDINAL", "DATE", "TIME"}),
    "amount": frozenset({"MONEY", "QUANTITY", "CARDINAL", "PERCENT"}),
    "duration": frozenset({"DATE", "TIME", "QUANTITY", "CARDINAL"}),
}
BASELINES = ("bm25", "cosine")
METRICS = (
    "questions",
    "answer_rate",
    "false_refusals",
    "refusals",
    "confidently_wrong",
    "ece",
    "wrong_kind_shorts",
    *(f"{name}_answer_rate" for name in BASELINES),
)
LOWER_IS_BETTER = frozenset({"false_refusals", "confidently_wrong", "ece", "wrong_kind_shorts"})


@dataclass(frozen=True)
class Outcome:
    """One answer as reliability sees it."""

    answerable: bool
    abstained: bool
    right: bool  # answered, and the answer text holds a gold answer
    confidence: float
    kind: str = "other"  # rag.question.question_kind of the question searched for
    short_label: str | None = None  # the shown short answer's label; None without one
    split: str = ""  # the question's split (tune, heldout; train, validation for SQuAD)

    @property
    def wrong_kind(self) -> bool | None:
        """True when the short answer's label does not fit the question's kind; None when
        there is no short answer or the kind asks for no particular label."""
        if self.short_label is None or self.kind not in KIND_LABELS:
            return None
        return self.short_label not in KIND_LABELS[self.kind]


def expected_calibration_error(
    pairs: Iterable[tuple[float, bool]], bins: int = ECE_BINS
) -> float | None:
    """Σ over equal-width confidence bins of (bin size / n) · |mean confidence − share right|;
    a confidence of exactly 1.0 falls in the top bin. None for no pairs.

    expected_calibration_error([(0.9, True), (0.9, False)]) -> 0.4
    """
    pairs = list(pairs)
    if not pairs:
        return None
    groups: dict[int, list[tuple[float, bool]]] = {}
    for confidence, right in pairs:
        groups.setdefault(min(int(confidence * bins), bins - 1), []).append((confidence, right))
    gaps = (
        abs(sum(c for c, _ in group) - sum(r for _, r in group)) for group in groups.values()
    )  # a bin's size times |mean confidence - share right|
    return sum(gaps) / len(pairs)


def confidently_wrong(outcomes: Iterable[Outcome], at: float = CONFIDENT) -> float | None:
    """The share of answered questions answered wrong with confidence >= `at`."""
    answered = [outcome for outcome in outcomes if not outcome.abstained]
    return metrics.mean(not o.right and o.confidence >= at for o in answered)


def summary(
    outcomes: Sequence[Outcome], baselines: Mapping[str, Sequence[Outcome]] | None = None
) -> dict[str, float | None]:
    """Every metric of METRICS over `outcomes` (docqa's), with each baseline's answer rate
    from its outcomes on the same questions (None for a baseline not given)."""
    answerable = [outcome for outcome in outcomes if outcome.answerable]
    unanswerable = [outcome for outcome in outcomes if not outcome.answerable]
    kinds = [o.wrong_kind for o in outcomes if not o.abstained and o.wrong_kind is not None]
    values: dict[str, float | None] = {
        "questions": len(outcomes),
        "answer_rate": metrics.mean(outcome.right for outcome in answerable),
        "false_refusals": metrics.mean(outcome.abstained for outcome in answerable),
        "refusals": metrics.mean(outcome.abstained for outcome in unanswerable),
        "confidently_wrong": confidently_wrong(outcomes),
        "ece": expected_calibration_error((o.confidence, o.right) for o in outcomes),
        "wrong_kind_shorts": metrics.mean(kinds),
    }
    for name in BASELINES:
        theirs = (baselines or {}).get(name)
        values[f"{name}_answer_rate"] = (
            None if theirs is None else metrics.mean(o.right for o in theirs if o.answerable)
        )
    return values


def curve(outcomes: Sequence[Outcome]) -> list[dict[str, float]]:
    """The refusal trade-off (evals.metrics.refusal_curve) of `outcomes`, JSON-ready."""
    points = metrics.refusal_curve((o.confidence, o.answerable) for o in outcomes)
    return [
        {"threshold": p.threshold, "precision": p.precision, "recall": p.recall} for p in points
    ]


def worst(summaries: Mapping[str, Mapping[str, float | None]]) -> dict[str, float | None]:
    """Each metric's worst value over the domains: the highest for LOWER_IS_BETTER, else the
    lowest; None where no domain has it. "questions" is the total."""
    values: dict[str, float | None] = {
        "questions": sum(s.get("questions") or 0 for s in summaries.values())
    }
    for metric in METRICS[1:]:
        present = [s[metric] for s in summaries.values() if s.get(metric) is not None]
        pick = max if metric in LOWER_IS_BETTER else min
        values[metric] = pick(present) if present else None  # type: ignore[type-var]
    return values


def short_label(short: Citation | None, text: str | None) -> str | None:
    """The label (rag.answer_types.LABELS) spaCy gives the short answer in its sentence of
    `text` (its document's text), found as at indexing: the sentence by
    rag.chunking.split_sentences, the phrases by rag.answer_types.find_phrases. A short
    answer that is no whole phrase takes the label of the phrase overlapping it most;
    None without a short answer, its document, or a phrase overlapping it."""
    if short is None or text is None or text[short.start : short.end] != short.quote:
        return None
    from rag.answer_types import find_phrases
    from rag.chunking import split_sentences

    start, end = next(
        ((s, e) for s, e in split_sentences(text) if s <= short.start and short.end <= e),
        (short.start, short.end),
    )
    (phrases,) = find_phrases([text[start:end]])
    low, high = short.start - start, short.end - start
    overlapping = [p for p in phrases if max(low, p.start) < min(high, p.end)]
    if not overlapping:
        return None
    exact = [p for p in overlapping if (p.start, p.end) == (low, high)]
    if exact:
        return exact[0].label
    return max(overlapping, key=lambda p: min(high, p.end) - max(low, p.start)).label


def by_split(
    outcomes: Sequence[Outcome],
    baselines: Mapping[str, Sequence[Outcome]] | None = None,
    splits: Sequence[str] = (),
) -> dict[str, dict[str, float | None]]:
    """`summary` of each split of `splits` in `outcomes`, in that order, when they hold more
    than one, then of all ("overall"); the baselines' outcomes are split alike."""
    theirs = baselines or {}
    result = {
        split: summary(
            [o for o in outcomes if o.split == split],
            {name: [o for o in others if o.split == split] for name, others in theirs.items()},
        )
        for split in _present(outcomes, splits)
    }
    result["overall"] = summary(outcomes, theirs)
    return result


def curves_by_split(
    outcomes: Sequence[Outcome], splits: Sequence[str] = ()
) -> dict[str, list[dict[str, float]]]:
    """The refusal trade-off (`curve`) of each split, as `by_split`, then of all ("overall")."""
    result = {
        split: curve([o for o in outcomes if o.split == split])
        for split in _present(outcomes, splits)
    }
    result["overall"] = curve(outcomes)
    return result


def _present(outcomes: Sequence[Outcome], splits: Sequence[str]) -> list[str]:
    """The splits of `splits` that `outcomes` hold, when they hold more than one."""
    present = [split for split in splits if any(o.split == split for o in outcomes)]
    return present if len(present) > 1 else []
