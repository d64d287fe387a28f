"""`python -m training` end to end on a small cut of the training data: it writes an
artifact that loads, that a DocQA answers with, and that a second run reproduces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.chain import DocQA
from rag.ranker import load_model
from rag.settings import Settings
from tests.conftest import ROOT, SEEDS
from training.train import DATA, main

pytestmark = pytest.mark.slow

TRAIN = ("Beyoncé", "The_Legend_of_Zelda:_Twilight_Princess")
VALIDATION = "Spectre_(2015_film)"  # it has unanswerable questions
PARAGRAPHS = 5  # per article


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A SQuAD 2.0 file of the first paragraphs of three articles, and their split."""
    folder = tmp_path_factory.mktemp("squad")
    articles = {entry["title"]: entry for entry in json.loads(DATA[0].read_text("utf-8"))["data"]}
    cut = [
        {**articles[title], "paragraphs": articles[title]["paragraphs"][:PARAGRAPHS]}
        for title in (*TRAIN, VALIDATION)
    ]
    unanswerable = [
        qa
        for paragraph in cut[-1]["paragraphs"]
        for qa in paragraph["qas"]
        if qa.get("is_impossible")
    ]
    assert len(unanswerable) >= 3
    data = folder / "squad.json"
    data.write_text(json.dumps({"version": "v2.0", "data": cut}), encoding="utf-8")
    split = folder / "split.toml"
    split.write_text(
        f"train = {json.dumps(list(TRAIN), ensure_ascii=False)}\n"
        f"validation = {json.dumps([VALIDATION])}\n",
        encoding="utf-8",
    )
    return data, split


def test_a_small_training_run_writes_a_model_docqa_answers_with(
    small_data: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, split = small_data
    out = tmp_path / "model" / "reader.json"
    options = ["--data", str(data), "--split", str(split), "--cache", str(tmp_path / "cache")]
    # One small question set stands for the domains thresholds are chosen on.
    options += ["--domains", f"second={ROOT / 'evals' / 'second' / 'questions.toml'}"]
    assert main([*options, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "no-answer threshold" in printed
    assert "lightgbm on second: top-1" in printed and "  second: " in printed

    model = load_model(out)
    assert 0.0 <= model.no_answer_threshold <= 1.0

    # Refitting from the cached retrievals, with the fixed seed, writes the same artifact.
    again = tmp_path / "again.json"
    assert main([*options, "--out", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()

    engine = DocQA(
        Settings.from_env(
            {"DOCQA_READER_PATH": str(out)}, source_dir=SEEDS, index_dir=tmp_path / "index"
        )
    )
    assert engine.model.version == model.version
    result = engine.answer("How many ballistic missiles did North Korea fire?")
    assert not result.abstained, result.text
    text = engine.corpus.documents[result.citations[0].doc_id].text
    for citation in result.citations:
        assert text[citation.start : citation.end] == citation.quote
    assert "two ballistic missiles" in " ".join(c.quote for c in result.citations)
