"""rag.trees: LightGBM's models evaluated with NumPy give what LightGBM gives, on the shipped
models and on a model with every kind of split (numerical with zero or NaN as missing,
categorical), for rows with missing values, zeros and unseen categories."""

from __future__ import annotations

import json

import lightgbm
import numpy as np
import pytest

from rag.settings import DEFAULT_READER_PATH
from rag.trees import parse


def _rows(rng: np.random.Generator, count: int, width: int, categorical: list[int]) -> np.ndarray:
    """Rows over a wide range, with NaNs, exact zeros, and for categorical columns codes
    that are negative, seen, or past every code seen."""
    rows = rng.normal(size=(count, width)) * 3
    for column in categorical:
        rows[:, column] = rng.integers(-2, 40, size=count)
    rows[rng.random(rows.shape) < 0.05] = np.nan
    rows[rng.random(rows.shape) < 0.05] = 0.0
    return rows


@pytest.mark.parametrize("name", ["sentence", "phrase"])
def test_the_shipped_models_predict_as_lightgbm_does(name: str) -> None:
    model = json.loads(DEFAULT_READER_PATH.read_text())[name]["params"]["model"]
    booster = lightgbm.Booster(model_str=model)
    categorical = [0, 1, 2] if name == "phrase" else [0]
    rows = _rows(np.random.default_rng(1), 3000, booster.num_feature(), categorical)
    want = booster.predict(rows, num_threads=1)
    assert parse(model).predict(rows) == pytest.approx(want, abs=1e-12)


def test_every_kind_of_split_predicts_as_lightgbm_does() -> None:
    rng = np.random.default_rng(2)
    rows = _rows(rng, 4000, 5, categorical=[4])
    rows[:, 4] = np.clip(rows[:, 4], 0, None)  # training codes are not negative
    target = (np.nan_to_num(rows[:, 0]) + (rows[:, 1] == 0) + (rows[:, 4] % 3 == 0)) > 0.5
    data = lightgbm.Dataset(rows, target.astype(float), categorical_feature=[4])
    params = {"objective": "binary", "num_leaves": 15, "verbose": -1, "seed": 3}
    booster = lightgbm.train({**params, "zero_as_missing": False}, data, num_boost_round=40)
    zeros = lightgbm.train(
        {**params, "zero_as_missing": True},
        lightgbm.Dataset(rows, target.astype(float), categorical_feature=[4]),
        num_boost_round=40,
    )
    test = _rows(np.random.default_rng(4), 3000, 5, categorical=[4])
    for model in (booster, zeros):
        text = model.model_to_string()
        kinds = {
            int(v)
            for line in text.splitlines()
            if line.startswith("decision_type=")
            for v in line.split("=")[1].split()
        }
        assert any(kind & 1 for kind in kinds)  # the model has categorical splits
        got = parse(text).predict(test)
        assert got == pytest.approx(model.predict(test, num_threads=1), abs=1e-12)
    regression = lightgbm.train(
        {"objective": "regression", "verbose": -1}, lightgbm.Dataset(rows, rows[:, 2]), 10
    )
    text = regression.model_to_string()
    assert parse(text).predict(test) == pytest.approx(regression.predict(test), abs=1e-9)


def test_answering_never_imports_lightgbm() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from rag.ranker import load_model; import numpy as np\n"
        "model = load_model()\n"
        "model.sentence.predict(np.zeros((2, len(model.sentence.features))))\n"
        "print(sorted(m for m in ('lightgbm', 'sklearn') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
