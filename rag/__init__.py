"""docqa: answers questions about a folder of documents, citing verified character spans.

from rag import answer
a = answer("How many ballistic missiles did North Korea fire?")
a.text, a.citations, a.abstained
"""

from rag.chain import DocQA, answer
from rag.errors import DocQAError, QuestionError, SettingsError, SourceError, StoreError
from rag.settings import Settings
from rag.types import Answer, Citation

__all__ = [
    "Answer",
    "Citation",
    "DocQA",
    "DocQAError",
    "QuestionError",
    "Settings",
    "SettingsError",
    "SourceError",
    "StoreError",
    "answer",
]
