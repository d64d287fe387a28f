"""The quality gate: the overall aggregates against the bounds in evals/thresholds.toml."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from evals.scoring import METRICS
from rag.errors import DatasetError

THRESHOLDS = Path(__file__).resolve().parent / "thresholds.toml"


@dataclass(frozen=True)
class Thresholds:
    """Lowest allowed values (`minimum`) and highest allowed values (`maximum`) per metric."""

    minimum: Mapping[str, float] = field(default_factory=dict)
    maximum: Mapping[str, float] = field(default_factory=dict)


def load_thresholds(path: Path = THRESHOLDS) -> Thresholds:
    """Read `[minimum]` and `[maximum]` tables of metric = number; raises DatasetError."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise DatasetError(f"cannot read the thresholds {path}: {error}") from None
    tables = {}
    for bound in ("minimum", "maximum"):
        table = data.get(bound, {})
        for metric, value in table.items():
            if metric not in METRICS:
                raise DatasetError(
                    f"{path}: [{bound}] names unknown metric {metric!r}: use one of the "
                    "report's aggregate metrics"
                )
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise DatasetError(f"{path}: [{bound}] {metric} must be a number, not {value!r}")
        tables[bound] = {metric: float(value) for metric, value in table.items()}
    return Thresholds(**tables)


def failures(overall: Mapping[str, float | None], thresholds: Thresholds) -> list[str]:
    """One message per metric outside its bound (a missing value fails too); [] when all pass.

    failures({"mrr": 0.5}, Thresholds(minimum={"mrr": 0.6})) -> ["mrr 0.500 < minimum 0.600"]
    """
    found = []
    for metric, bound in thresholds.minimum.items():
        value = overall.get(metric)
        if value is None or value < bound:
            found.append(f"{metric} {_show(value)} < minimum {bound:.3f}")
    for metric, bound in thresholds.maximum.items():
        value = overall.get(metric)
        if value is None or value > bound:
            found.append(f"{metric} {_show(value)} > maximum {bound:.3f}")
    return found


def _show(value: float | None) -> str:
    return "missing" if value is None else f"{value:.3f}"
