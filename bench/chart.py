"""The growth chart: one panel per figure, the measured points, the better fit and its
projections, on log-log axes from the smallest corpus measured to the largest projected."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.growth import fit_of

COLUMNS = 3


def draw(figures: dict, path: Path) -> Path | None:
    """Save the chart of `figures` (as bench.growth.growth returns them) to `path`; None when
    there is nothing to draw."""
    if not figures:
        return None
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    from matplotlib import pyplot

    rows = (len(figures) + COLUMNS - 1) // COLUMNS
    chart, axes = pyplot.subplots(rows, COLUMNS, figsize=(5 * COLUMNS, 4 * rows), squeeze=False)
    for axis, (_key, figure) in zip(axes.flat, figures.items(), strict=False):
        _panel(axis, figure)
    for axis in list(axes.flat)[len(figures) :]:
        axis.set_visible(False)
    chart.suptitle("docqa: how each figure grows with the number of documents")
    chart.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    chart.savefig(path, dpi=100)
    pyplot.close(chart)
    return path


def _panel(axis, figure: dict) -> None:
    ns, ys = figure["documents"], figure["values"]
    axis.plot(ns, ys, "o", color="tab:blue", label="measured")
    fit = fit_of(figure)
    shown = list(ys)
    if fit is not None:
        projected = {float(n): value for n, value in figure["projections"].items()}
        reach = np.geomspace(min(ns), max([*ns, *projected]), 100)
        line = [fit.value(n) for n in reach]
        shown += line
        axis.plot(reach, line, "-", color="tab:orange", label=f"fit: {fit.formula()}")
        axis.plot(
            list(projected), list(projected.values()), "s", color="tab:red", label="projected"
        )
        for n, value in projected.items():
            axis.annotate(
                f"{value:,.3g} {figure['unit']}",
                (n, value),
                textcoords="offset points",
                xytext=(-4, 6),
                ha="right",
                fontsize=8,
            )
    axis.set_xscale("log")
    if min(shown) > 0 and max(shown) > 10 * min(shown):  # a narrow range reads better plain
        axis.set_yscale("log")
    axis.margins(y=0.15)  # room for the projections' labels
    axis.set_title(f"{figure['label']} ({figure['unit']})", fontsize=10)
    axis.set_xlabel("documents")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=7)
