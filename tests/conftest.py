"""Shared fixtures: each test gets its own index folder; the real model is loaded once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.chain import DocQA
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
ARTICLE_ID = "north-korea-missile-tests.txt"


@pytest.fixture(autouse=True)
def isolated_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point DOCQA_INDEX_DIR at a fresh folder, so tests never share index state."""
    index_dir = tmp_path / "index"
    monkeypatch.setenv("DOCQA_INDEX_DIR", str(index_dir))
    monkeypatch.delenv("DOCQA_SOURCE_DIR", raising=False)
    return index_dir


@pytest.fixture(scope="session")
def article_text() -> str:
    """The seed article exactly as on disk."""
    with (SEEDS / ARTICLE_ID).open(encoding="utf-8", newline="") as handle:
        return handle.read()


@pytest.fixture(scope="session")
def docqa(tmp_path_factory: pytest.TempPathFactory) -> DocQA:
    """A DocQA over the seed article with its index built once for the session."""
    settings = Settings.from_env(
        {}, source_dir=SEEDS, index_dir=tmp_path_factory.mktemp("session-index")
    )
    engine = DocQA(settings)
    engine.warm_up()
    return engine


@pytest.fixture
def source_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the seeds, set as DOCQA_SOURCE_DIR, that a test may edit."""
    folder = tmp_path / "sources"
    shutil.copytree(SEEDS, folder)
    monkeypatch.setenv("DOCQA_SOURCE_DIR", str(folder))
    return folder
