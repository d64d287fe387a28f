"""The saved results of a run: a JSON report and a PNG chart of its metrics."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evals.dataset import DatasetError
from evals.metrics import CurvePoint
from evals.scoring import RATES, Row

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
    rows: Sequence[Row],
    aggregates: Mapping[str, Mapping[str, float | None]],
    curve: Sequence[CurvePoint] | None,
    started: datetime,
    seconds: float,
) -> dict[str, Any]:
    """The report as a JSON-ready dict: provenance, settings, aggregates and every row."""
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
        },
        "aggregates": {scope: dict(values) for scope, values in aggregates.items()},
        "refusal_curve": None if curve is None else [dataclasses.asdict(p) for p in curve],
        "rows": [dataclasses.asdict(row) for row in rows],
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
        raise DatasetError(f"{path} is not an eval report (it has no `aggregates`)")
    return report


def write_chart(
    aggregates: Mapping[str, Mapping[str, float | None]],
    path: Path,
    k: int,
    curve: Sequence[CurvePoint] | None = None,
) -> Path:
    """A grouped bar chart: one group per scope (overall, categories), one bar per rate;
    beside it, with a `curve`, the refusal trade-off (answered precision against recall)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    from evals.tables import label

    scopes = list(aggregates)
    width_inches = max(8.0, 1.9 * len(scopes)) + (4.5 if curve else 0.0)
    figure = plt.figure(figsize=(width_inches, 4.8), dpi=110)
    grid = figure.add_gridspec(1, 2, width_ratios=[3, 1]) if curve else figure.add_gridspec(1, 1)
    axes = figure.add_subplot(grid[0])
    width = 0.8 / len(RATES)
    for index, metric in enumerate(RATES):
        values = [aggregates[scope].get(metric) for scope in scopes]
        positions = [s + (index - (len(RATES) - 1) / 2) * width for s in range(len(scopes))]
        heights = [float("nan") if v is None else v for v in values]  # nan: no bar
        axes.bar(positions, heights, width, label=label(metric, k))
    ticks = [f"{scope}\n(n={aggregates[scope].get('questions')})" for scope in scopes]
    axes.set_xticks(range(len(scopes)), ticks)
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("share")
    axes.set_title("docqa eval: metrics per split and category")
    axes.grid(axis="y", alpha=0.3)
    axes.legend(fontsize=7, ncols=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if curve:
        trade = figure.add_subplot(grid[1])
        trade.plot([p.recall for p in curve], [p.precision for p in curve], marker=".")
        trade.set_xlabel("answerable questions answered (recall)")
        trade.set_ylabel("answers to answerable questions (precision)")
        trade.set_title("refusal trade-off by confidence", fontsize=9)
        trade.set_xlim(0, 1.02)
        trade.set_ylim(0, 1.02)
        trade.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path


def write_squad_chart(
    figures: Mapping[str, Mapping[str, Mapping[str, float | None]]],
    trade_offs: Mapping[str, Sequence[CurvePoint]],
    path: Path,
    k: int,
) -> Path:
    """The SQuAD benchmark's chart: grouped bars of the overall rates, one group per system;
    beside them each system's refusal trade-off (answering precision against recall as the
    threshold moves)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    from evals.squad_scoring import RATES as SQUAD_RATES
    from evals.tables import SQUAD_QUALITY, SQUAD_REFUSAL

    systems = list(figures)
    figure = plt.figure(figsize=(13, 4.8), dpi=110)
    grid = figure.add_gridspec(1, 2, width_ratios=[2.2, 1])
    bars = figure.add_subplot(grid[0])
    width = 0.8 / len(SQUAD_RATES)
    for index, metric in enumerate(SQUAD_RATES):
        values = [figures[system]["overall"].get(metric) for system in systems]
        positions = [s + (index - (len(SQUAD_RATES) - 1) / 2) * width for s in range(len(systems))]
        heights = [float("nan") if v is None else v for v in values]  # nan: no bar
        label = {**SQUAD_QUALITY, **SQUAD_REFUSAL}.get(metric, metric)
        bars.bar(positions, heights, width, label=label)
    overall = figures[systems[0]]["overall"]
    bars.set_xticks(range(len(systems)), systems)
    bars.set_ylim(0, 1.05)
    bars.set_ylabel("share")
    bars.set_title(
        f"SQuAD benchmark, overall: {overall.get('questions')} questions "
        f"({overall.get('unanswerable')} unanswerable), top_k={k}",
        fontsize=10,
    )
    bars.grid(axis="y", alpha=0.3)
    bars.legend(fontsize=7, ncols=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    trade = figure.add_subplot(grid[1])
    for system, points in trade_offs.items():
        if points:
            recall = [p.recall for p in points]
            precision = [p.precision for p in points]
            trade.plot(recall, precision, marker=".", markersize=3, label=system)
    trade.set_xlabel("answerable questions answered (recall)")
    trade.set_ylabel("answered that were answerable (precision)")
    trade.set_title("refusal trade-off\n(docqa: by confidence; baselines: by score)", fontsize=9)
    trade.set_xlim(0, 1.02)
    trade.set_ylim(0, 1.02)
    trade.grid(alpha=0.3)
    trade.legend(fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
