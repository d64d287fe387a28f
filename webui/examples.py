"""Example questions to click on: answerable eval questions about a loaded document."""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Mapping
from pathlib import Path

from rag.types import Document

log = logging.getLogger("docqa.ui")

EVALS_DIR = Path(__file__).resolve().parent.parent / "evals"
EXAMPLE_CATEGORIES = ("factual", "paraphrase")  # answerable questions make good examples
EXAMPLES_PER_CATEGORY = 2


def load_examples(documents: Mapping[str, Document], evals_dir: Path = EVALS_DIR) -> list[str]:
    """A few answerable eval questions about the loaded documents; [] when the eval set's
    document (the seed article) is not among them."""
    examples: list[str] = []
    for path in sorted(evals_dir.rglob("questions.toml")):
        try:
            suite = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            log.warning("cannot read example questions from %s", path, exc_info=True)
            continue
        if suite.get("document") not in documents:
            continue
        for category in EXAMPLE_CATEGORIES:
            picked = [
                item["question"]
                for item in suite.get("question", [])
                if item.get("category") == category
                and item.get("answers")
                and not item.get("history")
            ]
            examples.extend(picked[:EXAMPLES_PER_CATEGORY])
    return examples
