"""training.prune: backward elimination of the sentence model's features, as pure decisions
over scores (no model is fitted here)."""

from __future__ import annotations

from training.prune import SQUAD, Step, allowed, eliminate, score_of, to_delete

FEATURES = ("kind", "useful", "noise", "harmful", "needed")


def fake_fit(columns: list[int]) -> dict[str, tuple[float, float]]:
    """Scores of a model on these columns: 'useful' and 'needed' each add top-1 and recall,
    'harmful' costs some, 'noise' nothing."""
    names = {FEATURES[c] for c in columns}
    top1 = 0.5 + 0.1 * ("useful" in names) + 0.1 * ("needed" in names) - 0.05 * ("harmful" in names)
    recall = 0.8 + 0.05 * ("useful" in names) + 0.05 * ("needed" in names)
    return {SQUAD: (top1, recall), "calibration tune": (top1 - 0.1, recall - 0.05)}


def test_elimination_drops_what_costs_first_and_stops_before_what_adds() -> None:
    full, path = eliminate(FEATURES, fake_fit, keep={"kind", "needed"})
    assert [step.dropped for step in path] == ["harmful", "noise"]  # 'useful' would cost recall
    assert to_delete(full, path) == ["harmful"]  # dropping 'noise' left the score as it was
    assert path[0].score > score_of(full)


def test_a_drop_is_refused_when_any_domain_loses_recall_below_the_full_worst() -> None:
    full = {SQUAD: (0.70, 0.90), "ordinary choose": (0.80, 0.92)}
    assert allowed({SQUAD: (0.70, 0.90), "ordinary choose": (0.90, 0.95)}, full)
    assert not allowed({SQUAD: (0.75, 0.95), "ordinary choose": (0.80, 0.89)}, full)
    assert not allowed({SQUAD: (0.68, 0.90), "ordinary choose": (0.80, 0.92)}, full)  # top-1


def test_nothing_is_deleted_when_no_step_beats_the_full_model() -> None:
    full = {SQUAD: (0.7, 0.9)}
    path = [Step("a", score_of({SQUAD: (0.7, 0.9)}), {SQUAD: (0.7, 0.9)})]
    assert to_delete(full, path) == []
