"""docqa: answers questions about a folder of documents, citing verified character spans.

from rag import answer
a = answer("How many ballistic missiles did North Korea fire?")
a.text, a.citations, a.abstained
source_text(a.citations[0].doc_id)  # the text the citation's offsets point into
for event in stream("Why did it fire them?"): ...  # Token, Verdict, then Done(answer)
"""

from typing import TYPE_CHECKING, Any

from rag.errors import DocQAError, QuestionError, SettingsError, SourceError, StoreError
from rag.settings import Settings
from rag.types import Answer, Citation, Done, Token, Verdict

if TYPE_CHECKING:
    from rag.chain import DocQA, answer, source_text, stream

__all__ = [
    "Answer",
    "Citation",
    "DocQA",
    "DocQAError",
    "Done",
    "QuestionError",
    "Settings",
    "SettingsError",
    "SourceError",
    "StoreError",
    "Token",
    "Verdict",
    "answer",
    "source_text",
    "stream",
]


def __getattr__(name: str) -> Any:
    # The chain pulls in LangChain; import it on first use, so that the light parts
    # (settings, types, loading) start fast for the UI.
    if name in ("answer", "DocQA", "source_text", "stream"):
        from rag import chain

        return getattr(chain, name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
