"""The reader's model artifact: the shipped one loads, its version is its content, and a
missing or broken one is a SettingsError that says how to rebuild it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from rag.chain import DocQA
from rag.errors import SettingsError
from rag.features import ANSWER_FEATURES, PHRASE_FEATURES, SENTENCE_FEATURES
from rag.ranker import artifact_version, load_model, save_model
from rag.settings import DEFAULT_READER_PATH, Settings
from tests.conftest import logistic, tiny_model


def _edited_copy(folder: Path, threshold: float) -> Path:
    """The shipped artifact with another no-answer threshold."""
    data = json.loads(DEFAULT_READER_PATH.read_text(encoding="utf-8"))
    assert data["no_answer_threshold"] != threshold
    data["no_answer_threshold"] = threshold
    edited = folder / "edited.json"
    edited.write_text(json.dumps(data), encoding="utf-8")
    return edited


def test_the_shipped_artifact_loads() -> None:
    model = load_model()
    assert model.sentence.features == SENTENCE_FEATURES
    assert model.phrase.features == PHRASE_FEATURES
    assert model.answerable.features == ANSWER_FEATURES
    assert 0.0 <= model.no_answer_threshold <= 1.0 and 0.0 <= model.short_threshold <= 1.0
    assert re.fullmatch(r"[0-9a-f]{16}", model.version)
    assert model.version == artifact_version(DEFAULT_READER_PATH)
    assert load_model() is model  # once per process
    rows = np.zeros((3, len(SENTENCE_FEATURES)), dtype=np.float32)
    scores = model.sentence.predict(rows)
    assert scores.shape == (3,) and ((scores >= 0) & (scores <= 1)).all()


def test_the_version_is_the_content(tmp_path: Path) -> None:
    same = tmp_path / "same.json"
    same.write_bytes(DEFAULT_READER_PATH.read_bytes())
    assert load_model(same).version == load_model().version

    edited = _edited_copy(tmp_path, 0.123)
    model = load_model(edited)
    assert model.no_answer_threshold == 0.123
    assert model.version != load_model().version == artifact_version(DEFAULT_READER_PATH)
    assert model.version == artifact_version(edited)
    assert artifact_version(tmp_path / "none.json") == "missing"


def test_a_saved_model_loads_as_it_was(tmp_path: Path) -> None:
    model = tiny_model({"coverage": 2.0}, {"has_digit": 1.0}, threshold=0.3, short=0.4)
    path = tmp_path / "tiny" / "reader.json"
    save_model(model, path)
    loaded = load_model(path)
    assert loaded.to_json() == model.to_json()
    assert loaded.version == artifact_version(path) != model.version
    rows = np.random.default_rng(0).random((5, len(SENTENCE_FEATURES)), dtype=np.float32)
    rows[:, SENTENCE_FEATURES.index("kind")] = 1
    np.testing.assert_allclose(loaded.sentence.predict(rows), model.sentence.predict(rows))


def test_logistic_scores_are_probabilities_of_the_weighted_features() -> None:
    scorer = logistic(PHRASE_FEATURES, {"has_digit": 2.0}, intercept=-1.0)
    rows = np.zeros((2, len(PHRASE_FEATURES)), dtype=np.float32)
    rows[1, PHRASE_FEATURES.index("has_digit")] = 1.0
    expected = 1 / (1 + np.exp(-np.array([-1.0, 1.0])))
    np.testing.assert_allclose(scorer.predict(rows), expected, rtol=1e-6)
    assert scorer.predict(rows[:0]).shape == (0,)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("truncated.json", lambda shipped: shipped[: len(shipped) // 2]),
        ("not-json.json", lambda _shipped: b"\x00\xff not json"),
        ("empty.json", lambda _shipped: b""),
        ("wrong-format.json", lambda _shipped: json.dumps({"format": 99}).encode()),
        ("a-list.json", lambda _shipped: b"[1, 2, 3]"),
        (
            "other-features.json",
            lambda shipped: shipped.replace(b'"coverage"', b'"kovverage"'),
        ),
    ],
)
def test_a_broken_artifact_is_a_settings_error(tmp_path: Path, name: str, content) -> None:
    path = tmp_path / name
    path.write_bytes(content(DEFAULT_READER_PATH.read_bytes()))
    with pytest.raises(SettingsError, match=r"python -m training") as raised:
        load_model(path)
    assert str(path) in str(raised.value)


def test_a_missing_artifact_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"cannot load.*python -m training.*DOCQA_READER_PATH"):
        load_model(tmp_path / "nowhere" / "reader.json")


def test_docqa_reader_path_selects_another_artifact(tmp_path: Path) -> None:
    assert Settings.from_env({}).reader_location() == DEFAULT_READER_PATH
    edited = _edited_copy(tmp_path, 0.321)
    settings = Settings.from_env({"DOCQA_READER_PATH": str(edited)}, index_dir=tmp_path / "index")
    assert settings.reader_location() == edited
    assert DocQA(settings).model.no_answer_threshold == 0.321
    default = DocQA(Settings.from_env({}, index_dir=tmp_path / "index"))
    assert default.model.version == load_model().version


def test_a_missing_docqa_reader_path_fails_on_first_use(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"DOCQA_READER_PATH": str(tmp_path / "gone.json")}, index_dir=tmp_path / "index"
    )
    engine = DocQA(settings)
    with pytest.raises(SettingsError, match=r"gone\.json"):
        engine.model  # noqa: B018
