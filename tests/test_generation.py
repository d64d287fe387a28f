"""Generative answers: the passages, the prompt, parsing and verifying the reply (pure, no
model), then the whole stream over the real index of the seeds with langchain-core's fake
chat models standing in for a language model (the real one is in test_llm.py)."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.language_models import FakeListChatModel, GenericFakeChatModel

from rag import generation
from rag.chain import DocQA
from rag.generation import (
    REFUSAL,
    Done,
    ModelTimeout,
    Token,
    Verdict,
    cited_numbers,
    complete_sentences,
    compose,
    is_refusal,
    passages,
    prompt,
    quotations,
    split_reply,
    timed,
    verify,
)
from rag.types import Answer, Citation, Document, Span, Turn

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


# -- parsing the reply -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "sentences"),
    [
        ("It left at noon [1].", ["It left at noon [1]."]),
        ("It left at noon. [1] It carried 40. [1]", ["It left at noon. [1]", "It carried 40. [1]"]),
        ("It left at noon.[1][2] Then it sailed.", ["It left at noon.[1][2]", "Then it sailed."]),
        ("A [1].\nB [2]", ["A [1].", "B [2]"]),
        ("The U.S. Navy came [1]. It left.", ["The U.S. Navy came [1].", "It left."]),
        ('She said "calm." Then [2].', ['She said "calm."', "Then [2]."]),
        ("", []),
        ("   ", []),
    ],
)
def test_split_reply(reply: str, sentences: list[str]) -> None:
    assert split_reply(reply) == sentences


def test_a_sentence_is_complete_only_once_the_next_has_words() -> None:
    assert complete_sentences("It left at noon.") == []
    assert complete_sentences("It left at noon. [") == []
    assert complete_sentences("It left at noon. [1") == []
    assert complete_sentences("It left at noon. [1] It") == ["It left at noon. [1]"]
    assert complete_sentences("It left. It carried") == ["It left."]


def test_markers_quotations_and_refusals_are_read() -> None:
    assert cited_numbers("A [2][1, 2] [passage 3] [4 and 5].") == (2, 1, 3, 4, 5)
    assert cited_numbers("No markers (1).") == ()
    places, unclosed = quotations('He said "no" and “yes”.')
    assert [('He said "no" and “yes”.')[a:b] for a, b in places] == ["no", "yes"]
    assert not unclosed
    assert quotations('He said "no and left.')[1]
    assert is_refusal(REFUSAL) and is_refusal("The passages don’t mention the captain. [2]")
    assert not is_refusal("The ferry left at noon [1].")


# -- verification ------------------------------------------------------------------------


def assert_verified(verdict: Verdict) -> None:
    for citation in verdict.citations:
        assert DOCUMENTS[citation.doc_id].text[citation.start : citation.end] == citation.quote


def test_a_supported_sentence_is_kept_with_the_sentence_it_rests_on() -> None:
    verdict = verify("It carried 40 passengers to Mull [1].", THREE, DOCUMENTS)
    assert verdict.kept and verdict.reason == ""
    assert [c.quote for c in verdict.citations] == ["It carried 40 passengers to Mull."]
    assert_verified(verdict)


def test_a_quotation_becomes_its_own_verified_span() -> None:
    verdict = verify("Ann Reid said the sea was “calm as a pond” [2].", THREE, DOCUMENTS)
    assert verdict.kept, verdict.reason
    assert verdict.citations[-1].quote == "calm as a pond"
    assert_verified(verdict)
    # straight apostrophes and quotation marks match the source's curly ones
    verdict = verify('The "council\'s report" blamed the pier [3].', THREE, DOCUMENTS)
    assert verdict.kept, verdict.reason
    assert verdict.citations[-1].quote == "council’s report"
    assert_verified(verdict)


@pytest.mark.parametrize(
    ("sentence", "reason"),
    [
        ("The ferry left Oban at noon [7].", "cites passage 7 of 3"),
        ("The ferry left Oban at noon [1][4].", "cites passage 4 of 3"),
        ("The ferry left Oban at noon.", "no valid citation"),
        ("The captain said it was “calm as a pond” [1].", "quotation not in passage 1"),
        ('The captain said "rough seas" [2].', "quotation not in passage 2"),
        ('The captain said "calm [2].', "unclosed quotation"),
        ("The ferry sank at noon [1].", "words not in the passages it cites: sank"),
        ("Ann Reid is a North Korean minister [2].", "north, korean, minister"),
        ("The passages do not say.", "says the passages do not answer"),
        ("[1]", "no words"),
    ],
)
def test_an_unsupported_sentence_is_dropped_with_its_reason(sentence: str, reason: str) -> None:
    verdict = verify(sentence, THREE, DOCUMENTS)
    assert not verdict.kept and verdict.citations == ()
    assert reason in verdict.reason


def test_compose_numbers_the_citations_as_the_text_reads() -> None:
    verdicts = [
        verify("It carried 40 passengers [1].", THREE, DOCUMENTS),
        verify("The ferry sank [1].", THREE, DOCUMENTS),
        verify("Ann Reid said the sea was “calm as a pond” [2].", THREE, DOCUMENTS),
        verify("It carried 40 passengers to Mull [1].", THREE, DOCUMENTS),
    ]
    text, citations = compose(verdicts)
    assert text == (
        "It carried 40 passengers. [1] "
        "Ann Reid said the sea was “calm as a pond” [2]. [3] "
        "It carried 40 passengers to Mull. [1]"
    )
    assert [c.quote for c in citations] == [
        "It carried 40 passengers to Mull.",
        "calm as a pond",
        "The captain, Ann Reid, said the sea was “calm as a pond” that day.",
    ]


WORDS = TEXT.replace("“", " ").replace("”", " ").replace(".", " ").replace(",", " ").split()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from([*WORDS, "sank", "minister", "Glasgow"]), max_size=8),
            st.lists(st.integers(0, 5), max_size=3),
            st.one_of(st.none(), st.tuples(st.integers(0, len(TEXT)), st.integers(1, 30))),
        ),
        max_size=4,
    )
)
def test_nothing_unsupported_reaches_the_text(
    sentences: list[tuple[list[str], list[int], tuple[int, int] | None]],
) -> None:
    """For any reply: every kept citation verifies, every quotation in the text lies in one
    of the answer's citations, and every word of the text is in a cited span."""
    reply = []
    for words, numbers, quoted in sentences:
        quote = f' "{TEXT[quoted[0] : quoted[0] + quoted[1]]}"' if quoted else ""
        reply.append(" ".join(words) + quote + "".join(f"[{n}]" for n in numbers) + ".")
    verdicts = [verify(s, THREE, DOCUMENTS) for s in split_reply(" ".join(reply))]
    text, citations = compose(verdicts)
    for verdict in verdicts:
        assert_verified(verdict)
    cited = " ".join(c.quote for c in citations)
    for match in generation.QUOTATION.finditer(text):
        quote = match.group(1) if match.group(1) is not None else match.group(2)
        assert any(
            " ".join(quote.split()).replace("'", "’") in " ".join(c.quote.split()).replace("'", "’")
            for c in citations
        )
    from rag.lexicon import terms

    assert set(terms(generation.MARKERS.sub("", text))) <= set(terms(cited))


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
        f"He is a spokesman [{len(found) + 2}]. "
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
    assert verdicts[3].reason.startswith("quotation not in passage")
    answer = final(events)
    assert answer.reader == "llm" and answer.dropped == 3 and not answer.abstained
    assert "minister" not in answer.text and "xyz" not in answer.text
    assert answer.text.endswith("[1]") and answer.citations == list(verdicts[0].citations)
    source = docqa.source_text(answer.citations[0].doc_id)
    for citation in answer.citations:
        assert source[citation.start : citation.end] == citation.quote
    assert "Ned Price" in answer.citations[0].quote


def test_a_sentence_without_a_citation_is_dropped(docqa: DocQA, found: list[Span]) -> None:
    number, sentence = sentence_with(found, "Ned Price")
    reply = f"Ned Price is the spokesman. {sentence.rstrip('.')} [{number}]."
    answer = final(ask(docqa, FakeListChatModel(responses=[reply])))
    assert answer.reader == "llm" and answer.dropped == 1
    assert not answer.text.startswith("Ned Price is the spokesman.")


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (REFUSAL, "it said the passages do not answer"),
        (
            "Ned Price is a North Korean foreign minister [1].",
            "its one sentence could not be verified",
        ),
        ("He is a spokesman [7]. He works in Seoul.", "none of its 2 sentences"),
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
