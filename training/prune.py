"""`python -m training prune`: which of the fast sentence model's features still add something.

Backward elimination on the choose domains (the SQuAD validation articles, the question sets'
tune halves, the ordinary choose documents). Each step refits the sentence model (LightGBM,
as `python -m training` fits it) without each remaining feature in turn and drops the one
whose loss leaves the best score: the mean over domains of top-1 plus the mean of the answer's
being among the best READ candidates (what the cross-encoder reads). A drop is allowed only
while no domain's recall falls below the full model's worst and SQuAD's top-1 and recall stay
within SQUAD_SLACK of the full model's. The path is printed with its scores; the features to
delete are those dropped up to where the score peaked. Features the answerability model or
the route read (ANSWER_FEATURES, CONTEXT_FEATURES) and the question's kind are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

READ = 4  # the answer among the fast model's best this many counts as found
SQUAD = "squad validation"
SQUAD_SLACK = (0.01, 0.005)  # SQuAD's top-1 and recall may fall this much below the full model's

# per domain: (top-1, recall at READ) of a model fitted on the given feature columns
Scores = dict[str, tuple[float, float]]


@dataclass(frozen=True)
class Step:
    """One feature dropped, and the scores without it (and every feature dropped before)."""

    dropped: str
    score: float
    scores: Scores


def score_of(scores: Scores) -> float:
    """Mean top-1 plus mean recall over the domains."""
    return float(
        np.mean([s[0] for s in scores.values()]) + np.mean([s[1] for s in scores.values()])
    )


def allowed(scores: Scores, full: Scores) -> bool:
    """Whether a model with these scores may stand in for the full one."""
    worst = min(recall for _top1, recall in full.values())
    if min(recall for _top1, recall in scores.values()) < worst:
        return False
    if SQUAD in full:
        return all(scores[SQUAD][at] >= full[SQUAD][at] - SQUAD_SLACK[at] for at in range(2))
    return True


def eliminate(
    features: Sequence[str], fit: Callable[[list[int]], Scores], keep: set[str]
) -> tuple[Scores, list[Step]]:
    """The full model's scores and the elimination path: `fit(columns)` scores a model fitted
    on those feature columns; features in `keep` are never dropped."""
    kept = list(range(len(features)))
    full = fit(kept)
    path: list[Step] = []
    while True:
        best: Step | None = None
        for column in kept:
            if features[column] in keep:
                continue
            scores = fit([c for c in kept if c != column])
            step = Step(features[column], score_of(scores), scores)
            if allowed(scores, full) and (best is None or step.score > best.score):
                best = step
        if best is None:
            return full, path
        path.append(best)
        kept.remove(features.index(best.dropped))


def to_delete(full: Scores, path: Sequence[Step]) -> list[str]:
    """The features dropped up to the path's best score (none when no step beats the full
    model)."""
    best, cut = score_of(full), 0
    for at, step in enumerate(path, 1):
        if step.score > best:
            best, cut = step.score, at
    return [step.dropped for step in path[:cut]]


def main(argv: list[str] | None = None) -> int:
    """Fit along the elimination path on cached retrievals and print it."""
    from rag.features import (
        ANSWER_FEATURES,
        CONTEXT_FEATURES,
        SENTENCE_FEATURES,
        sentence_features,
    )
    from training.route import _parser as route_parser
    from training.route import load_domains
    from training.train import (
        _parser,
        fit_scorer,
        label_prior,
        retrieve,
        sentence_labels,
        sentence_table,
    )

    args = _parser().parse_args(argv)
    train = retrieve("train", args)
    route_args = ["--reuse-cache"] if args.reuse_cache else []
    choose, _heldout = load_domains(route_parser().parse_args(route_args))
    prior = label_prior(train)
    rows, labels = sentence_table(train, prior)
    asked = {
        name: [
            (
                sentence_features(e.retrieval.query, e.retrieval.candidates, prior),
                sentence_labels(e),
            )
            for e in examples
            if e.retrieval.candidates and e.question.answerable
        ]
        for name, examples in choose.items()
    }

    def fit(columns: list[int]) -> Scores:
        names = tuple(SENTENCE_FEATURES[c] for c in columns)
        model = fit_scorer("lightgbm", rows[:, columns], labels, names)
        scores = {}
        for name, items in asked.items():
            found = []
            for features, answers in items:
                order = np.argsort(-model.predict(features[:, columns]), kind="stable")
                found.append((bool(answers[order[0]]), bool(answers[order[:READ]].any())))
            scores[name] = (
                float(np.mean([f[0] for f in found])),
                float(np.mean([f[1] for f in found])),
            )
        return scores

    keep = {"kind", *ANSWER_FEATURES[1:], *CONTEXT_FEATURES}
    full, path = eliminate(SENTENCE_FEATURES, fit, keep)
    print(f"all {len(SENTENCE_FEATURES)}: score {score_of(full):.4f}  {show(full)}")
    for step in path:
        print(f"- {step.dropped:20s} score {step.score:.4f}  {show(step.scores)}")
    print("delete:", ", ".join(to_delete(full, path)) or "nothing")
    return 0


def show(scores: Scores) -> str:
    """Per domain: top-1 / recall."""
    return " ".join(f"{name} {top1:.3f}/{recall:.3f}" for name, (top1, recall) in scores.items())
