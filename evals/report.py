"""The saved results of a run: a JSON report and a PNG chart of its metrics."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evals.metrics import CurvePoint
from rag.errors import DatasetError

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "evals" / "results"  # git-ignored
REPORT_VERSION = 1  # the layout of the JSON report


def git_state(root: Path = ROOT) -> tuple[str | None, bool | None]:
    """(HEAD's commit, whether the work tree has uncommitted changes); Nones when git fails."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    commit, status = git("rev-parse", "HEAD"), git("status", "--porcelain")
    return commit or None, None if status is None else bool(status)


def build(
    *,
    run: Mapping[str, Any],
    settings: Any,
    rows: Sequence[Mapping[str, Any]],
    aggregates: Mapping[str, Mapping[str, float | None]],
    curve: Sequence[CurvePoint] | None,
    started: datetime,
    seconds: float,
) -> dict[str, Any]:
    """The report as a JSON-ready dict: provenance, settings, aggregates and every row (as
    its benchmark's report holds it: evals.scoring.record)."""
    commit, dirty = git_state()
    return {
        "report_version": REPORT_VERSION,
        "timestamp": started.isoformat(timespec="seconds"),
        "seconds": round(seconds, 3),
        "commit": commit,
        "dirty": dirty,
        "run": dict(run),
        "settings": {
            name: str(value) if isinstance(value, Path) else value
            for name, value in dataclasses.asdict(settings).items()
            if name != "debug"  # how an error shows, not what was measured
        },
        "aggregates": {scope: dict(values) for scope, values in aggregates.items()},
        "refusal_curve": None if curve is None else [dataclasses.asdict(p) for p in curve],
        "rows": [dict(row) for row in rows],
    }


def stem(started: datetime, document: str) -> str:
    """The file name, without suffix, of a run's report and chart."""
    return f"eval-{started.strftime('%Y%m%d-%H%M%S')}-{Path(document).stem}"


def shown(path: Path | str) -> str:
    """`path` relative to the working folder when it is inside it, for messages and reports."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def now() -> datetime:
    """The current time in UTC, for the report's timestamp and file names."""
    return datetime.now(UTC)


def write_json(report: Mapping[str, Any], path: Path) -> Path:
    """Write the report as indented UTF-8 JSON; returns `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def load_json(path: Path) -> dict[str, Any]:
    """A report written by `write_json`; raises DatasetError when it is not one."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DatasetError(f"cannot read the report {path}: {error}") from None
    if not isinstance(report, dict) or not isinstance(report.get("aggregates"), dict):
        raise DatasetError(
            f"{path} is not an eval report (it has no `aggregates`): give a JSON report "
            "that an earlier run wrote (evals/results/)"
        )
    return report


# The chart's two bar panels: rates where higher is better, and error rates (lower is better;
# "unanswerables answered" is 1 - refusal accuracy). Each its own scale and legend.
CHART_RATES = (
    "pass_rate",
    "recall_at_k",
    "answer_accuracy",
    "token_f1",
    "citation_precision",
    "citation_recall",
)
CHART_ERRORS = {"false_refusal_rate": "answerables refused", "refusal_accuracy": None}
SQUAD_CHART_RATES = ("answer_found", "span_cited", "short_em", "short_f1")
SQUAD_CHART_ERRORS = {"answerable_refused": "answerables refused", "unanswerable_refused": None}
ANSWERED_UNANSWERABLE = "unanswerables answered"  # the error rate 1 - refusal accuracy
CHART_FONT = 9  # points: legends and tick labels readable at the PNG's own size


def write_chart(
    aggregates: Mapping[str, Mapping[str, float | None]],
    path: Path,
    k: int,
    curve: Sequence[CurvePoint] | None = None,
    threshold: float | None = None,
) -> Path:
    """The eval's chart: per scope (overall, splits, categories), the rates where higher is
    better in one panel and the error rates in another; with a `curve`, the refusal
    trade-off beside them, the operating point (`threshold`, by default the reader's) marked."""
    from evals.tables import label

    figure = chart_figure(
        {scope: _error_rates(values, CHART_ERRORS) for scope, values in aggregates.items()},
        {metric: label(metric, k) for metric in CHART_RATES},
        "docqa eval",
        {"docqa": curve} if curve else {},
        _operating_threshold(threshold),
    )
    return _save(figure, path)


def write_squad_chart(
    figures: Mapping[str, Mapping[str, Mapping[str, float | None]]],
    trade_offs: Mapping[str, Sequence[CurvePoint]],
    path: Path,
    k: int,
    threshold: float | None = None,
) -> Path:
    """The SQuAD benchmark's chart: per system, the overall rates where higher is better and
    the error rates, each in its own panel; beside them each system's refusal trade-off,
    docqa's operating point (`threshold`, by default the reader's) marked."""
    from evals.tables import SQUAD_QUALITY, SQUAD_REFUSAL

    names = {**SQUAD_QUALITY, **SQUAD_REFUSAL}
    overall = next(iter(figures.values()))["overall"]
    figure = chart_figure(
        {
            system: _error_rates(scopes["overall"], SQUAD_CHART_ERRORS)
            for system, scopes in figures.items()
        },
        {metric: names.get(metric, metric) for metric in SQUAD_CHART_RATES},
        f"SQuAD, overall: {overall.get('questions')} questions "
        f"({overall.get('unanswerable')} unanswerable), top_k={k}",
        trade_offs,
        _operating_threshold(threshold),
    )
    return _save(figure, path)


def chart_figure(
    groups: Mapping[str, Mapping[str, float | None]],
    rates: Mapping[str, str],
    title: str,
    curves: Mapping[str, Sequence[CurvePoint]],
    threshold: float | None,
) -> Any:
    """The matplotlib Figure: per group, the shares of `rates` (metric -> label) in green,
    the error rates (`_error_rates`' "error: ..." keys) in red, and the refusal curves with
    docqa's operating point at `threshold`."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    errors = sorted({key for values in groups.values() for key in values if key.startswith(_E)})
    columns = [len(rates), len(errors)] + ([4.5] if curves else [])
    height = max(3.6, 1.6 + 0.38 * len(groups))
    figure = plt.figure(figsize=(3.0 + 1.05 * sum(columns), height), dpi=110)
    grid = figure.add_gridspec(1, len(columns), width_ratios=columns)
    good = figure.add_subplot(grid[0])
    _grid(good, groups, rates, "Greens")
    good.set_title(f"{title}\nhigher is better", fontsize=CHART_FONT + 1)
    bad = figure.add_subplot(grid[1])
    _grid(bad, groups, {key: key.removeprefix(_E) for key in errors}, "Reds")
    bad.set_yticks([])
    bad.set_title("error rates\nlower is better", fontsize=CHART_FONT + 1)
    if curves:
        _trade_off(figure.add_subplot(grid[2]), curves, threshold)
    figure.tight_layout()
    return figure


_E = "error: "  # prefix of the error rates' keys in a chart group


def _error_rates(
    values: Mapping[str, float | None], errors: Mapping[str, str | None]
) -> dict[str, float | None]:
    """`values` plus its error rates as "error: <label>": a metric named with a label is an
    error rate as it is; one named with None is a share refused of unanswerables, whose
    complement (answered) is the error."""
    out: dict[str, float | None] = dict(values)
    for metric, name in errors.items():
        value = values.get(metric)
        if name is None:
            out[_E + ANSWERED_UNANSWERABLE] = None if value is None else 1.0 - value
        else:
            out[_E + name] = value
    return out


def _grid(
    axes: Any,
    groups: Mapping[str, Mapping[str, float | None]],
    metrics: Mapping[str, str],
    colours: str,
) -> None:
    """A table of shares drawn as coloured cells, one row per group and one column per metric,
    each holding its value ("–" where it does not apply): read at a glance, however many."""
    import numpy as np

    names = list(groups)
    values = np.array(
        [[_number(groups[group].get(metric)) for metric in metrics] for group in names]
    )
    axes.imshow(np.ma.masked_invalid(values), cmap=colours, vmin=0.0, vmax=1.0, aspect="auto")
    for row, column in np.ndindex(values.shape):
        value = values[row, column]
        axes.text(
            column,
            row,
            "–" if np.isnan(value) else f"{value:.2f}",
            ha="center",
            va="center",
            fontsize=CHART_FONT,
            color="white" if value > 0.6 else "black",
        )
    counts = [groups[group].get("questions") for group in names]
    rows = [f"{g} (n={n})" if n is not None else g for g, n in zip(names, counts, strict=True)]
    axes.set_yticks(range(len(names)), rows, fontsize=CHART_FONT)
    axes.set_xticks(range(len(metrics)), [_wrapped(name) for name in metrics.values()])
    axes.tick_params(
        axis="x", labelsize=CHART_FONT, top=True, labeltop=True, bottom=False, labelbottom=False
    )
    axes.set_facecolor("#eeeeee")  # behind the cells that do not apply


def _number(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _wrapped(name: str) -> str:
    """A column name on two lines at its middle space: "citation\nprecision"."""
    words = name.split(" ")
    half = (len(words) + 1) // 2
    return " ".join(words[:half]) + ("\n" + " ".join(words[half:]) if len(words) > 1 else "")


def _trade_off(
    axes: Any, curves: Mapping[str, Sequence[CurvePoint]], threshold: float | None
) -> None:
    """Each refusal curve (precision against recall as the threshold moves); docqa's
    operating point at `threshold` marked and labelled."""
    for name, points in curves.items():
        if points:
            axes.plot(
                [p.recall for p in points],
                [p.precision for p in points],
                marker=".",
                markersize=3,
                label=name,
            )
    docqa = curves.get("docqa") or next(iter(curves.values()), [])
    point = operating_point(docqa, threshold) if threshold is not None else None
    if point is not None:
        axes.plot(
            [point.recall],
            [point.precision],
            "o",
            markersize=10,
            fillstyle="none",
            color="black",
            label=f"operating threshold {threshold:.2f}",
        )
        right = point.recall > 0.5  # the note goes where the panel has room for it
        axes.annotate(
            f"answers {point.recall:.0%} of answerables;\n"
            f"{point.precision:.0%} of its answers answerable",
            (point.recall, point.precision),
            xytext=(-10 if right else 10, -34),
            textcoords="offset points",
            ha="right" if right else "left",
            fontsize=CHART_FONT - 1,
        )
    axes.set_xlabel("answerable questions answered (recall)", fontsize=CHART_FONT)
    axes.set_ylabel("answers that were answerable (precision)", fontsize=CHART_FONT)
    axes.set_title("refusal trade-off by confidence", fontsize=CHART_FONT + 1)
    axes.set_xlim(0, 1.02)
    axes.set_ylim(0, 1.02)
    axes.tick_params(labelsize=CHART_FONT)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=CHART_FONT - 1, loc="lower left")


def operating_point(curve: Sequence[CurvePoint], threshold: float) -> CurvePoint | None:
    """The point of `curve` where docqa answers at `threshold` (it answers when confidence
    >= threshold): the one of the lowest threshold not below it; None when none is."""
    above = [point for point in curve if point.threshold >= threshold]
    return min(above, key=lambda point: point.threshold) if above else None


def _operating_threshold(threshold: float | None) -> float | None:
    """`threshold`, else the no-answer threshold of the reader the settings name."""
    if threshold is not None:
        return threshold
    from rag.ranker import load_model
    from rag.settings import Settings

    return load_model(Settings.from_env().reader_location()).no_answer_threshold


def _save(figure: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, bbox_inches="tight")
    plt.close(figure)
    return path
