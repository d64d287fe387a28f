"""Generative answers: the passages, the prompt, composing the kept sentences and bounding
the model's time (pure, no model), then the whole stream over the real index of the seeds with
langchain-core's fake chat models standing in for a language model (the real one is in
test_llm.py). Parsing the reply is tested in test_reply.py, verifying it in
test_verification.py."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator

import pytest
from langchain_core.language_models import BaseChatModel, FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

from rag.chain import DocQA
from rag.errors import ModelTimeout
from rag.generation import passages, prompt, split_reply, timed
from rag.reply import REFUSAL
from rag.types import Answer, Citation, Document, Done, Span, Token, Turn, Verdict
from tests.ferry import DOCUMENTS, TEXT, THREE, sentence_span

# -- passages and the prompt -------------------------------------------------------------


def test_passages_are_spans_of_the_source_with_their_context_best_first() -> None:
    s = [sentence_span(text) for text in re.findall(r"[^.]+\.\S?", TEXT)]
    s = [sentence_span(span.text.strip()) for span in s]
    ranked = [(s[3], (s[2], s[4])), (s[0], (s[1],)), (s[1], (s[0], s[2])), (s[4], (s[3],))]
    found = passages(ranked, DOCUMENTS)
    for span in found:
        assert span.text == TEXT[span.start : span.end]
    assert found[0].start == s[2].start and found[0].end == s[4].end
    # s[1] lies in both the second passage and the first: the two merge (under the limit)
    assert len(found) == 1 or all(a.end <= b.start or b.end <= a.start for a, b in _pairs(found))
    assert any(span.start <= s[0].start and s[0].end <= span.end for span in found)


def _pairs(spans: list[Span]) -> Iterator[tuple[Span, Span]]:
    for at, first in enumerate(spans):
        for second in spans[at + 1 :]:
            yield first, second


def test_passages_stop_at_the_limit_and_a_long_context_is_left_out() -> None:
    long_text = " ".join(f"Sentence {n} says something about item {n}." for n in range(60))
    document = Document("long.txt", long_text)
    spans = [
        Span("long.txt", m.start(), m.end(), m.group())
        for m in re.finditer(r"Sentence \d+ [^.]+\.", long_text)
    ]
    wide = (spans[0], spans[-1])  # context reaching across the whole text: too long
    ranked = [(spans[n], wide) for n in range(10, 60, 5)]
    found = passages(ranked, {"long.txt": document}, limit=3)
    assert [span.text for span in found] == [spans[n].text for n in (10, 15, 20)]


def test_the_prompt_numbers_the_passages_and_holds_the_conversation() -> None:
    turns = [Turn("Who was the captain?", "Ann Reid [1]")]
    (role, system), (human_role, human) = prompt("When did it leave?", turns, THREE)
    assert (role, human_role) == ("system", "human")
    assert REFUSAL in system and "[1]" in system and "double quotes" in system
    for number, span in enumerate(THREE, 1):
        assert f"[{number}] {' '.join(span.text.split())}" in human
    assert "Q: Who was the captain?\nA: Ann Reid" in human and "Ann Reid [1]" not in human
    assert human.endswith("Question: When did it leave?")


def test_timed_passes_items_and_errors_and_stops_a_slow_stream() -> None:
    assert list(timed(lambda: iter("abc"), 5.0)) == ["a", "b", "c"]

    def failing() -> Iterator[str]:
        yield "a"
        raise ConnectionError("server went away")

    with pytest.raises(ConnectionError, match="went away"):
        list(timed(failing, 5.0))

    def slow() -> Iterator[str]:
        yield "a"
        time.sleep(5)
        yield "b"

    got = []
    with pytest.raises(ModelTimeout):
        for item in timed(slow, 0.3):
            got.append(item)
    assert got == ["a"]


def test_timed_stops_a_stream_that_never_pauses_at_its_deadline() -> None:
    """Items every millisecond, for ever: the budget covers the whole run, not only silence."""

    def endless() -> Iterator[str]:
        while True:
            time.sleep(0.0005)
            yield "North Korea fired missiles [1]. "

    started, got = time.monotonic(), 0
    with pytest.raises(ModelTimeout):
        for _ in timed(endless, 0.5, daemon=True):
            got += 1
            time.sleep(0.002)  # the consumer is slower: items always wait in the queue
            if time.monotonic() - started > 5:
                break  # today's code: never times out
    assert time.monotonic() - started < 1.5 and got > 10


# -- the stream over the real index, with fake chat models ---------------------------------

QUESTION = "Who is Ned Price?"


@pytest.fixture(scope="module")
def found(docqa: DocQA) -> list[Span]:
    """The passages the model is shown for QUESTION over the seed article."""
    return docqa.passages(QUESTION)


def ask(docqa: DocQA, model: object, question: str = QUESTION, **overrides: object) -> list:
    engine = DocQA(dataclasses.replace(docqa.settings, **overrides), model)
    return list(engine.stream(question))


def final(events: list) -> Answer:
    assert isinstance(events[-1], Done)
    assert not any(isinstance(event, Done) for event in events[:-1])
    return events[-1].answer


def sentence_with(found: list[Span], word: str) -> tuple[int, str]:
    """The number of the passage holding `word` and the sentence of it that does."""
    for number, span in enumerate(found, 1):
        for sentence in split_reply(span.text):
            if word in sentence and '"' not in sentence and "“" not in sentence:
                return number, sentence
    raise AssertionError(f"no passage holds {word!r}")


def test_without_a_language_model_the_stream_is_the_answer(docqa: DocQA) -> None:
    events = list(docqa.stream(QUESTION))
    assert len(events) == 1
    assert final(events) == docqa.answer(QUESTION)
    assert final(events).reader == "extractive" and final(events).note == ""


def test_a_streamed_reply_is_verified_sentence_by_sentence(docqa: DocQA, found: list[Span]) -> None:
    number, sentence = sentence_with(found, "Ned Price")
    other = number % len(found) + 1
    reply = (
        f"{sentence.rstrip('.')} [{number}]. "
        f"Ned Price is a North Korean foreign minister [{number}]. "
        f"He is a weapons inspector [{len(found) + 2}]. "
        f'Ned Price said "{sentence.split()[0]} {sentence.split()[1]} xyz" [{other}].'
    )
    events = ask(docqa, GenericFakeChatModel(messages=iter([reply])))
    tokens = [event.text for event in events if isinstance(event, Token)]
    assert len(tokens) > 10 and "".join(tokens) == reply
    verdicts = [event for event in events if isinstance(event, Verdict)]
    assert [verdict.kept for verdict in verdicts] == [True, False, False, False]
    first_verdict = events.index(verdicts[0])
    assert any(isinstance(event, Token) for event in events[first_verdict:]), "verified early"
    assert "minister" in verdicts[1].reason
    assert verdicts[2].reason == f"cites passage {len(found) + 2} of {len(found)}"
    assert verdicts[3].reason.startswith("quotation not in the passages it cites")
    answer = final(events)
    assert answer.reader == "llm" and answer.dropped == 3 and not answer.abstained
    assert "minister" not in answer.text and "xyz" not in answer.text
    assert answer.text.endswith("[1]") and answer.citations == list(verdicts[0].citations)
    source = docqa.source_text(answer.citations[0].doc_id)
    for citation in answer.citations:
        assert source[citation.start : citation.end] == citation.quote
    assert "Ned Price" in answer.citations[0].quote


def test_a_sentence_without_a_citation_is_attributed_or_dropped(
    docqa: DocQA, found: list[Span]
) -> None:
    """No marker: docqa finds the passage that states it (kept, attributed), or drops it."""
    number, sentence = sentence_with(found, "Ned Price")
    reply = (
        f"Ned Price is a weapons inspector. Ned Price is a spokesman. "
        f"{sentence.rstrip('.')} [{number}]."
    )
    events = ask(docqa, FakeListChatModel(responses=[reply]))
    verdicts = [event for event in events if isinstance(event, Verdict)]
    kept = [(v.kept, v.attributed) for v in verdicts]
    assert kept == [(False, False), (True, True), (True, False)]
    assert verdicts[0].reason.startswith("no valid citation")
    assert "Ned Price" in verdicts[1].citations[0].quote
    answer = final(events)
    assert answer.reader == "llm" and answer.dropped == 1
    assert answer.text.startswith("Ned Price is a spokesman.")
    assert answer.note.startswith("1 sentence is cited by docqa")


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (REFUSAL, "it said the passages do not answer"),
        (
            "Ned Price is a North Korean foreign minister [1].",
            "its one sentence could not be verified",
        ),
        ("He is a weapons inspector [7]. He works in Glasgow.", "none of its 2 sentences"),
        ("  \n ", "its reply was empty"),
    ],
)
def test_when_nothing_is_kept_the_extractive_reader_answers(
    docqa: DocQA, reply: str, why: str
) -> None:
    answer = final(ask(docqa, FakeListChatModel(responses=[reply])))
    extractive = docqa.answer(QUESTION)
    assert answer.reader == "extractive" and answer.text == extractive.text
    assert answer.citations == extractive.citations
    assert why in answer.note and "the extractive reader answered" in answer.note
    assert answer.dropped == (0 if reply in (REFUSAL, "  \n ") else len(split_reply(reply)))


def test_a_model_that_raises_gives_the_extractive_answer_with_a_note(docqa: DocQA) -> None:
    model = FakeListChatModel(responses=["Ned Price is a spokesman [1]."], error_on_chunk_number=3)
    events = ask(docqa, model)
    answer = final(events)
    assert answer.reader == "extractive" and answer.text == docqa.answer(QUESTION).text
    assert "it failed (FakeListChatModelError" in answer.note
    assert sum(isinstance(event, Token) for event in events) == 3


def test_a_model_that_times_out_gives_the_extractive_answer_with_a_note(docqa: DocQA) -> None:
    model = FakeListChatModel(responses=["Ned Price is a spokesman [1]."], sleep=0.2)
    started = time.monotonic()
    answer = final(ask(docqa, model, llm_timeout_s=0.5))
    assert time.monotonic() - started < 10
    assert answer.reader == "extractive" and answer.text == docqa.answer(QUESTION).text
    assert "it timed out after 0.5 s" in answer.note


def test_answer_with_a_model_is_the_streams_last_event(docqa: DocQA, found: list[Span]) -> None:
    number, sentence = sentence_with(found, "Ned Price")
    reply = f"{sentence.rstrip('.')} [{number}]."
    engine = DocQA(docqa.settings, FakeListChatModel(responses=[reply, reply]))
    streamed = final(list(engine.stream(QUESTION)))
    assert engine.answer(QUESTION) == streamed and streamed.reader == "llm"


def test_a_generated_answer_as_text_leads_with_its_sentences() -> None:
    quote = "US State Department spokesman Ned Price"
    answer = Answer(
        text="Ned Price is a State Department spokesman [1].",
        citations=[Citation("a.txt", 10, 10 + len(quote), quote)],
        reader="llm",
    )
    assert answer.as_text().split("\n") == [
        "Ned Price is a State Department spokesman [1].",
        "",
        f"[1] “{quote}”",
        f"    a.txt, characters 10–{10 + len(quote)}",
    ]


class EndlessChatModel(BaseChatModel):
    """A chat model that writes `text` every `pause_s` seconds, for ever (no real model can
    be made to): what the probe's fake server streamed."""

    text: str
    pause_s: float = 0.01

    @property
    def _llm_type(self) -> str:
        return "endless"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        raise NotImplementedError("stream only")

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        while True:
            time.sleep(self.pause_s)
            yield ChatGenerationChunk(message=AIMessageChunk(content=self.text))


def test_an_endless_stream_ends_at_the_time_budget_keeping_what_was_verified(
    docqa: DocQA, found: list[Span]
) -> None:
    number, sentence = sentence_with(found, "Ned Price")
    model = EndlessChatModel(text=f"{sentence.rstrip('.')} [{number}]. ")
    engine = DocQA(
        dataclasses.replace(
            docqa.settings,
            llm_timeout_s=2.0,
            llm_max_sentences=1_000_000,
            llm_max_reply_chars=100_000_000,
        ),
        model,
    )
    events, started = [], None
    for event in engine.stream(QUESTION):
        if started is None and isinstance(event, Token):
            started = time.monotonic()
        events.append(event)
        assert started is None or time.monotonic() - started < 10, "today's code: for ever"
    assert started is not None and time.monotonic() - started < 2.0 + 2.0
    answer = final(events)
    assert answer.reader == "llm" and answer.citations
    assert "cut short: it timed out after 2 s" in answer.note
    assert "the sentences verified by then are kept" in answer.note
    assert sum(isinstance(event, Verdict) for event in events) > 5


def test_a_reply_past_the_sentence_limit_is_cut_there(docqa: DocQA, found: list[Span]) -> None:
    number, sentence = sentence_with(found, "Ned Price")
    model = EndlessChatModel(text=f"{sentence.rstrip('.')} [{number}]. ", pause_s=0.0)
    events = ask(docqa, model, llm_max_sentences=4)
    answer = final(events)
    assert sum(isinstance(event, Verdict) for event in events) == 4
    assert answer.reader == "llm" and "ran past 4 sentences" in answer.note


def test_a_ten_megabyte_reply_is_read_only_up_to_its_limit(docqa: DocQA, found: list[Span]) -> None:
    number, sentence = sentence_with(found, "Ned Price")
    huge = f"{sentence.rstrip('.')} [{number}]. " + "More " * 2_000_000  # 10 MB
    started = time.monotonic()
    events = ask(docqa, EndlessChatModel(text=huge, pause_s=0.0), llm_max_reply_chars=5000)
    assert time.monotonic() - started < 30
    tokens = "".join(event.text for event in events if isinstance(event, Token))
    assert len(tokens) == 5000
    answer = final(events)
    assert answer.reader == "llm" and "ran past 5,000 characters" in answer.note


def test_the_probes_reorderings_of_the_source_are_not_the_answer(
    docqa: DocQA, found: list[Span]
) -> None:
    """Every word of each is in the passage that says North Korea fired two missiles."""
    question = "How many missiles did North Korea fire?"
    shown = docqa.passages(question)
    number = next(n for n, span in enumerate(shown, 1) if "fired two ballistic" in span.text)
    for reply in (
        f"North Korea did not fire ballistic missiles [{number}].",
        f"South Korea fired two ballistic missiles at North Korea [{number}].",
    ):
        answer = final(ask(docqa, FakeListChatModel(responses=[reply]), question))
        assert answer.reader == "extractive" and answer.dropped == 1, reply
        assert "could not be verified" in answer.note


def test_an_arabic_question_is_refused(docqa: DocQA) -> None:
    """A question in another script with none of its words in the sources: a refusal, not a
    hedged quote of something unrelated; the language model is not asked."""
    question = "ما هي عاصمة كوريا الشمالية؟"
    answer = docqa.answer(question)
    assert answer.abstained and answer.citations == [] and "do" in answer.text
    assert "not in the Latin script" in answer.note
    model = FakeListChatModel(responses=["North Korea fired missiles [1]."])
    answer = final(ask(docqa, model, question=question))
    assert answer.abstained and answer.reader == "extractive"


def test_a_model_streaming_faster_than_verification_waits_for_it() -> None:
    """The model's thread runs at most AHEAD items ahead of a slow consumer, so a server
    streaming faster than sentences are verified cannot fill memory."""
    from rag.generation import AHEAD

    produced = 0

    def endless() -> Iterator[int]:
        nonlocal produced
        while True:
            produced += 1
            yield produced

    stream = timed(endless, timeout_s=30.0)
    assert next(stream) == 1
    time.sleep(0.5)  # verifying: the thread has had time to run far ahead, if it could
    assert produced <= AHEAD + 2
    stream.close()
