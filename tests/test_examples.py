"""webui.examples: the example questions offered for the documents that are loaded."""

from __future__ import annotations

from rag.types import Document
from tests.conftest import ARTICLE_ID
from tests.ui_helpers import FIRST_QUESTION
from webui.examples import EXAMPLE_CATEGORIES, EXAMPLES_PER_CATEGORY, load_examples


def test_load_examples_only_for_loaded_documents(article_text: str) -> None:
    loaded = {ARTICLE_ID: Document(ARTICLE_ID, article_text)}
    examples = load_examples(loaded)
    assert FIRST_QUESTION in examples
    assert len(examples) == len(EXAMPLE_CATEGORIES) * EXAMPLES_PER_CATEGORY
    assert load_examples({"other.txt": Document("other.txt", "x")}) == []
