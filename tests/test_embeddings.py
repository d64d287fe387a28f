"""The model from its wheel, run on ONNX Runtime: sentence vectors equal to the torch model's,
clause vectors pooled from its tokens, and answering without torch."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.chain import DocQA
from rag.embeddings import SentenceEmbeddings
from rag.indexing import model_identity
from rag.onnx_model import EXPORT_NAME, export_folder
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "How many ballistic missiles did North Korea fire?"
# Past the model's 256-token limit, so both runtimes must cut it at the same place.
LONG = " ".join(f"The harbour wall number {n} was repaired by the council." for n in range(60))


@pytest.fixture(scope="module")
def embeddings(tmp_path_factory: pytest.TempPathFactory) -> SentenceEmbeddings:
    settings = Settings.from_env({})
    folder = export_folder(tmp_path_factory.mktemp("index"), model_identity(settings))
    return SentenceEmbeddings(settings.model_location(), settings.batch_size, folder)


@pytest.mark.parametrize("batch_size", [1, 64])
def test_onnx_vectors_equal_the_torch_models(
    embeddings: SentenceEmbeddings, batch_size: int
) -> None:
    from sentence_transformers import SentenceTransformer

    texts = [
        "The ferry left at dawn.",
        "",
        "Zürich’s café «naïve» — 東京の港、ferry 🚢 Ünïcödé",
        LONG,
        "Talks collapsed late on Sunday, the union said.",
        "?",
    ]
    torch_model = SentenceTransformer(embeddings.model_path, device="cpu", local_files_only=True)
    expected = torch_model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    onnx = SentenceEmbeddings(embeddings.model_path, batch_size, embeddings.export_folder)
    with_parts, _parts = onnx.encode_with_parts(texts, [[] for _text in texts])
    for got in (onnx.encode(texts), with_parts):
        assert got.shape == expected.shape
        assert np.all(1 - np.sum(got * expected, axis=1) <= 1e-5)


def test_part_vectors_are_unit_and_follow_their_words(embeddings: SentenceEmbeddings) -> None:
    text = "The bakery raised bread prices, while the council repaired the harbour wall."
    bread, wall = (0, 30), (38, len(text) - 1)
    _vectors, (parts,) = embeddings.encode_with_parts([text], [[bread, wall]])
    assert np.allclose(np.linalg.norm(parts, axis=1), 1.0, atol=1e-5)
    prices, repairs = embeddings.encode(["the cost of a loaf", "fixing the sea wall"])
    assert parts[0] @ prices > parts[1] @ prices
    assert parts[1] @ repairs > parts[0] @ repairs


def test_another_index_shares_the_export_without_a_copy(
    embeddings: SentenceEmbeddings, tmp_path: Path
) -> None:
    embeddings.encode(["warm up"])
    made = embeddings.export_folder / EXPORT_NAME
    other = tmp_path / "onnx" / embeddings.export_folder.name
    again = SentenceEmbeddings(embeddings.model_path, embeddings.batch_size, other)
    assert np.allclose(again.encode(["The ferry left."]), embeddings.encode(["The ferry left."]))
    assert (other / EXPORT_NAME).stat().st_ino == made.stat().st_ino
    assert [path.name for path in other.iterdir()] == [EXPORT_NAME]


def test_no_texts_give_empty_results(embeddings: SentenceEmbeddings) -> None:
    vectors, parts = embeddings.encode_with_parts([], [])
    assert vectors.shape[0] == 0 and parts == []


def test_answering_imports_neither_torch_nor_sentence_transformers(isolated_index: Path) -> None:
    settings = Settings.from_env()
    DocQA(settings).index()
    folder = export_folder(isolated_index, model_identity(settings))
    # The export is whole and alone: no temporary file left beside it.
    assert [path.name for path in folder.iterdir()] == [EXPORT_NAME]
    # The three ways in: the API, `docqa ask`, and the UI's state (warm-up, then an answer).
    script = (
        "import sys, rag, rag.cli\n"
        "from webui.state import AppState, FeedbackLog\n"
        f"answer = rag.answer({QUESTION!r})\n"
        "assert not answer.abstained and answer.citations, answer\n"
        f"assert rag.cli.main(['ask', {QUESTION!r}]) == 0\n"
        "settings = rag.Settings.from_env()\n"
        "ui = AppState(settings, {}, FeedbackLog(settings.feedback_path))\n"
        "ui.warm_up()\n"
        f"assert ui.answer({QUESTION!r}, []).citations\n"
        "print('loaded:', sorted({'torch', 'sentence_transformers'} & set(sys.modules)))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=os.environ | {"HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "loaded: []"
