"""The chat with a language model: its reply streams into the bubble, the verified text
replaces the draft, a dropped sentence leaves only a short note, citations are clickable and
highlighted. A fake chat model (langchain-core's) stands in for the language model; the
engine, its index and the model from its wheel are real."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

from rag import Citation
from rag.chain import DocQA
from rag.types import Answer, Document
from webui import handlers as handlers_module
from webui import render
from webui.feedback import FeedbackLog
from webui.handlers import Handlers
from webui.state import AppState

QUESTION = "How many ballistic missiles did North Korea reportedly fire?"
# One sentence citing passage 1 (kept: [n] becomes passage n's verified span) and one citing
# nothing (dropped), streamed word by word.
REPLY = "North Korea reportedly fired two ballistic missiles [1]. The launch was a great success."
TEXT = "Early Friday North Korea fired two missiles into the sea, officials said."


class _Verdict:
    """What rag.generation.Verdict carries, for the pure presentation tests."""

    def __init__(self, sentence: str, kept: bool, reason: str = "") -> None:
        self.sentence, self.kept, self.reason, self.citations = sentence, kept, reason, ()


def test_a_draft_shows_tokens_then_only_the_kept_sentences_and_a_note() -> None:
    draft = render.Draft()
    for word in ("Two ", "missiles [1]. ", "Made up. ", "More"):
        draft.add_token(word)
    shown = draft.shown()
    assert "Writing" in shown and "Made up" in shown  # not yet checked: said so
    draft.add_verdict(_Verdict("Two missiles [1].", True))
    draft.add_verdict(_Verdict("Made up.", False, "no valid citation"))
    shown = draft.shown()
    assert "Made up" not in shown  # a dropped sentence disappears ...
    assert "1 sentence dropped: no valid citation" in shown  # ... with a short note
    assert "Two missiles" in shown and "More" in shown  # what is still being written stays
    assert "\\[1\\]" not in shown  # the model's passage numbers wait for the final numbering
    assert draft.dropped_reasons == ["no valid citation"] and draft.streamed


def test_a_generated_answer_shows_its_sentences_with_clickable_numbers_and_notes() -> None:
    quote = Citation("n.txt", 13, 43, TEXT[13:43])
    result = Answer(
        "North Korea fired two missiles [1]. <b>Sea</b> [7].",
        [quote],
        question="How many?",
        reader="llm",
        dropped=2,
    )
    shown = render.format_answer(
        result, 3, {"n.txt": Document("n.txt", TEXT)}, ["no valid citation"]
    )
    generated = re.search(r"<span class='generated'>(.*?)</span>\n", shown, re.S)
    assert generated, shown
    assert "<span class='cite turn-3 n-1' title='Show in the source'>" in generated.group(1)
    assert "<b>" not in shown.split("<pre")[0] and "\\[7\\]" in generated.group(1)  # not a citation
    assert shown.index("generated") < shown.index("<q class='quote'>")  # the quotes follow
    assert "2 sentences dropped: no valid citation" in shown
    fallback = Answer(
        "Two. …", [quote], short=Citation("n.txt", 31, 34, "two"), note="the model timed out"
    )
    shown = render.format_answer(fallback, 0, {"n.txt": Document("n.txt", TEXT)})
    assert "<small class='answer-note'>The model timed out</small>" in shown
    assert "generated" not in shown and "dropped" not in shown


def _handlers(docqa: DocQA, tmp_path: Path, engine: DocQA) -> Handlers:
    state = AppState(
        docqa.settings, docqa.corpus.documents, FeedbackLog(tmp_path / "f.jsonl"), engine=engine
    )
    state.warm_up()
    return Handlers(state)


@pytest.mark.slow
def test_the_chat_streams_a_models_reply_and_shows_it_verified(
    docqa: DocQA, tmp_path: Path, article_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fake model streams faster than the page is redrawn: every token is shown here.
    monkeypatch.setattr(handlers_module, "STREAM_DELAY", 0.0)
    model = GenericFakeChatModel(messages=itertools.cycle([REPLY]))
    engine = DocQA(docqa.settings, chat_model=model)
    handlers = _handlers(docqa, tmp_path, engine)
    outputs = [
        (output[0][-1]["content"], *output[3:])
        for output in handlers.respond(QUESTION, [], [], None)
    ]
    bubbles = [content for content, *_ in outputs[1:]]
    drafts = [bubble for bubble in bubbles if "Writing" in bubble]
    assert len(drafts) >= 2 and len(drafts[0]) < len(drafts[-1])  # tokens came one by one
    assert any("great success" in bubble for bubble in bubbles[:-1])  # the unchecked draft ...
    final, doc, source, turns = outputs[-1]
    assert "great success" not in final  # ... is gone once verified, with a note
    assert "1 sentence dropped: no valid citation" in final
    assert "<span class='generated'>" in final and "<span class='cite turn-0 n-1'" in final
    (turn,) = turns
    assert not turn["failed"] and turn["citations"]
    for citation in turn["citations"]:
        assert article_text[citation["start"] : citation["end"]] == citation["quote"]
    assert doc == turn["citations"][0]["doc_id"]
    assert "<mark class='highlighted' data-n='1'" in source  # highlighted in the source view


@pytest.mark.slow
def test_without_a_language_model_the_chat_is_as_before(docqa: DocQA, tmp_path: Path) -> None:
    handlers = _handlers(docqa, tmp_path, docqa)
    outputs = list(handlers.respond(QUESTION, [], [], None))
    bubbles = [output[0][-1]["content"] for output in outputs[1:]]
    assert not any("Writing" in bubble or "dropped" in bubble for bubble in bubbles)
    assert "<strong class='short'>Two</strong>" in bubbles[-1]
    assert len(bubbles) > 2  # the answer is shown growing, as before
