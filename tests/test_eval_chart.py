"""The eval chart (evals.report): rates where higher is better and error rates in separate
panels, and the refusal curve with docqa's operating threshold marked."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals import report
from evals.metrics import refusal_curve

AGGREGATES = {
    "overall": {
        "questions": 20,
        "pass_rate": 0.6,
        "recall_at_k": 0.95,
        "mrr": 0.9,
        "answer_accuracy": 0.55,
        "token_f1": 0.4,
        "citation_validity": 1.0,
        "citation_precision": 0.85,
        "citation_recall": 0.8,
        "refusal_accuracy": 0.75,
        "false_refusal_rate": 0.1,
    },
    "unanswerable": {"questions": 4, "pass_rate": 0.75, "refusal_accuracy": 0.75},
}
# (confidence, answerable): at 0.5 docqa answers the first four, three of them answerable.
CURVE = refusal_curve([(0.9, True), (0.8, True), (0.7, False), (0.6, True), (0.3, True)])


def _texts(axes) -> list[str]:
    return [text.get_text() for text in axes.texts]


def test_the_chart_keeps_higher_is_better_apart_from_error_rates(tmp_path: Path) -> None:
    groups = {
        scope: report._error_rates(values, report.CHART_ERRORS)
        for scope, values in AGGREGATES.items()
    }
    rates = {metric: metric for metric in report.CHART_RATES}
    figure = report.chart_figure(groups, rates, "eval", {"docqa": CURVE}, 0.5)
    good, bad, _trade = figure.axes
    assert [t.get_text() for t in good.get_xticklabels()] == [
        report._wrapped(metric) for metric in report.CHART_RATES
    ]
    assert [t.get_text() for t in bad.get_xticklabels()] == [
        "answerables\nrefused",
        "unanswerables\nanswered",
    ]
    assert "false_refusal_rate" not in rates and "refusal_accuracy" not in rates
    # One row per scope: overall's values, and "–" where a rate does not apply.
    assert _texts(good)[:6] == ["0.60", "0.95", "0.55", "0.40", "0.85", "0.80"]
    assert _texts(good)[6:] == ["0.75", "–", "–", "–", "–", "–"]
    assert _texts(bad) == ["0.10", "0.25", "–", "0.25"]  # 1 - refusal accuracy answered
    assert [t.get_text() for t in good.get_yticklabels()] == [
        "overall (n=20)",
        "unanswerable (n=4)",
    ]
    assert "higher is better" in good.get_title() and "lower is better" in bad.get_title()


@pytest.mark.parametrize(
    ("threshold", "recall", "precision"),
    [(0.5, 0.75, 0.75), (0.85, 0.25, 1.0), (0.2, 1.0, 0.8)],
)
def test_the_refusal_curve_marks_the_operating_threshold(
    threshold: float, recall: float, precision: float
) -> None:
    point = report.operating_point(CURVE, threshold)
    assert point is not None and (point.recall, point.precision) == (recall, precision)
    groups = {"overall": report._error_rates(AGGREGATES["overall"], report.CHART_ERRORS)}
    figure = report.chart_figure(
        groups, {"pass_rate": "pass rate"}, "eval", {"docqa": CURVE}, threshold
    )
    trade = figure.axes[2]
    (marked,) = [line for line in trade.get_lines() if line.get_label().startswith("operating")]
    assert marked.get_label() == f"operating threshold {threshold:.2f}"
    assert (marked.get_xdata()[0], marked.get_ydata()[0]) == (recall, precision)
    assert f"answers {recall:.0%} of answerables" in _texts(trade)[0]


def test_no_point_is_marked_when_every_answer_is_refused() -> None:
    assert report.operating_point(CURVE, 0.95) is None
    assert report.operating_point([], 0.5) is None


def test_write_chart_saves_a_png_with_the_readers_threshold(tmp_path: Path) -> None:
    path = report.write_chart(AGGREGATES, tmp_path / "c" / "chart.png", 4, CURVE)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    squad = {"docqa": {"overall": {**AGGREGATES["overall"], "answer_found": 0.6}}}
    other = report.write_squad_chart(squad, {"docqa": CURVE}, tmp_path / "s.png", 4)
    assert other.read_bytes()[:4] == b"\x89PNG"
