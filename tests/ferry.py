"""The ferry text the generative tests verify against: made up, not from the seeds."""

from __future__ import annotations

from rag.types import Document, Span

TEXT = (
    "The ferry left Oban at noon. It carried 40 passengers to Mull. "
    "The captain, Ann Reid, said the sea was “calm as a pond” that day.\n"
    "Storms closed the harbour in March. The council’s report blamed the old pier."
)
DOC = Document("ferry.txt", TEXT)
DOCUMENTS = {DOC.doc_id: DOC}


def sentence_span(text: str) -> Span:
    start = TEXT.index(text)
    return Span(DOC.doc_id, start, start + len(text), text)


def passage(*sentences: str) -> Span:
    first, last = sentence_span(sentences[0]), sentence_span(sentences[-1])
    return Span(DOC.doc_id, first.start, last.end, TEXT[first.start : last.end])


THREE = [
    passage("The ferry left Oban at noon.", "It carried 40 passengers to Mull."),
    passage("The captain, Ann Reid, said the sea was “calm as a pond” that day."),
    passage("Storms closed the harbour in March.", "The council’s report blamed the old pier."),
]
