"""How each many-documents figure grows with the corpus: least-squares fits of a + b·n and of
a·n^k, the better kept, and projections to corpora larger than the bench can build."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PROJECT_TO = (100_000, 1_000_000)  # documents
# The figures of each size's run that are fitted: result key -> (label, unit).
FIGURES: dict[str, tuple[str, str]] = {
    "ready_s": ("serving process ready to answer", "s"),
    "serve_peak_rss_mb": ("serving process peak RSS", "MiB"),
    "docqa_p50_ms": ("answer p50", "ms"),
    "reindex_s": ("unchanged re-index", "s"),
    "build_s": ("index build", "s"),
    "build_peak_rss_mb": ("build process peak RSS", "MiB"),
}


@dataclass(frozen=True)
class Fit:
    """y = a + b·n ("linear") or y = a·n^b ("power"), and the root-mean-square of its
    residuals over the measured points, in the figure's own unit."""

    kind: str
    a: float
    b: float
    residual: float

    def value(self, n: float) -> float:
        """The fitted figure at `n` documents."""
        return self.a + self.b * n if self.kind == "linear" else self.a * n**self.b

    def formula(self) -> str:
        """The fit as text, e.g. "2.1 + 0.0031·n" or "0.52·n^0.31"."""
        if self.kind == "linear":
            sign = "-" if self.b < 0 else "+"
            return f"{self.a:.4g} {sign} {abs(self.b):.4g}·n"
        return f"{self.a:.4g}·n^{self.b:.3f}"


def fit_linear(ns: Sequence[float], ys: Sequence[float]) -> Fit:
    """The least-squares line through (n, y); at least two distinct n."""
    b, a = np.polyfit(np.asarray(ns, dtype=float), np.asarray(ys, dtype=float), 1)
    return _with_residual(Fit("linear", float(a), float(b), 0.0), ns, ys)


def fit_power(ns: Sequence[float], ys: Sequence[float]) -> Fit | None:
    """The least-squares line through (log n, log y) as a·n^k; None when a value is not
    positive (no logarithm)."""
    if min(ns) <= 0 or min(ys) <= 0:
        return None
    k, log_a = np.polyfit(np.log(ns), np.log(ys), 1)
    return _with_residual(Fit("power", math.exp(float(log_a)), float(k), 0.0), ns, ys)


def best_fit(ns: Sequence[float], ys: Sequence[float]) -> Fit | None:
    """The fit of smaller residual, the line where they tie (two points fit either exactly),
    the power law where the line falls (it would project below zero); None with fewer than
    two distinct sizes."""
    if len(set(ns)) < 2:
        return None
    line = fit_linear(ns, ys)
    power = fit_power(ns, ys)
    if power is None:
        return line
    if line.b < 0:  # a falling line crosses zero further out; times and sizes cannot
        return power
    # A tie within rounding keeps the simpler, more cautious line.
    if power.residual >= line.residual - 1e-9 * max(map(abs, ys)):
        return line
    return power


def growth(runs: Sequence[dict], project_to: Sequence[int] = PROJECT_TO) -> dict:
    """For each figure in FIGURES that every run has: the measured points, both fits, the
    better one and its projections to `project_to` documents."""
    ns = [float(run["documents"]) for run in runs]
    figures = {}
    for key, (label, unit) in FIGURES.items():
        if not runs or any(not isinstance(run.get(key), int | float) for run in runs):
            continue
        ys = [float(run[key]) for run in runs]
        best = best_fit(ns, ys)
        figure: dict = {"label": label, "unit": unit, "documents": ns, "values": ys}
        if best is not None:
            power = fit_power(ns, ys)
            figure["fits"] = {
                fit.kind: _as_dict(fit) for fit in (fit_linear(ns, ys), power) if fit is not None
            }
            figure["best"] = best.kind
            figure["projections"] = {str(n): best.value(n) for n in project_to}
        figures[key] = figure
    return figures


def fit_of(figure: dict) -> Fit | None:
    """The better fit of a figure as `growth` wrote it (read back from its JSON)."""
    if "best" not in figure:
        return None
    fit = figure["fits"][figure["best"]]
    return Fit(figure["best"], fit["a"], fit["b"], fit["residual"])


def _with_residual(fit: Fit, ns: Sequence[float], ys: Sequence[float]) -> Fit:
    errors = [fit.value(n) - y for n, y in zip(ns, ys, strict=True)]
    rms = math.sqrt(sum(error * error for error in errors) / len(errors))
    return Fit(fit.kind, fit.a, fit.b, rms)


def _as_dict(fit: Fit) -> dict:
    return {"a": fit.a, "b": fit.b, "residual": fit.residual, "formula": fit.formula()}
