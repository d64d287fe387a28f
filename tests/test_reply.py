"""rag.reply: a model's reply read into sentences (whole, or chunk by chunk), the passages each
cites, its quotations and whether it declines. Pure, no model."""

from __future__ import annotations

import pytest

from rag import reply as reply_module
from rag.generation import split_reply
from rag.reply import REFUSAL, Sentences, cited_numbers, complete_sentences, is_refusal, quotations

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


SPLIT_CASES = [
    "It left at noon [1].",
    "It left at noon. [1] It carried 40. [1]",
    "It left at noon.[1][2] Then it sailed.",
    "A [1].\nB [2]",
    "The U.S. Navy came [1]. It left.",
    'She said "calm." Then [2].',
    "Two were fired. [1] He spoke [2]. [3] And then [1, 2] more came.",
    "",
]


@pytest.mark.parametrize("reply", SPLIT_CASES)
@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_sentences_fed_in_chunks_are_the_replys_sentences(reply: str, size: int) -> None:
    sentences, got = Sentences(), []
    for at in range(0, len(reply), size):
        got += sentences.feed(reply[at : at + size])
    assert got + sentences.close() == split_reply(reply)


def test_each_chunk_is_looked_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reply of 2,000 sentences, a character at a time: only the unfinished tail is split
    again, never the whole reply (which made a long reply's cost grow with its square)."""
    split: list[int] = []
    real = reply_module.split_reply
    monkeypatch.setattr(
        reply_module, "split_reply", lambda text: split.append(len(text)) or real(text)
    )
    reply = "North Korea fired missiles [1]. " * 2000
    sentences, got = Sentences(), []
    for char in reply:
        got += sentences.feed(char)
    got += sentences.close()
    assert len(got) == 2000 and got[0] == "North Korea fired missiles [1]."
    assert max(split) < 80 and sum(split) < 30 * len(reply)


def test_markers_quotations_and_refusals_are_read() -> None:
    assert cited_numbers("A [2][1, 2] [passage 3] [4 and 5].") == (2, 1, 3, 4, 5)
    assert cited_numbers("No markers (1).") == ()
    places, unclosed = quotations('He said "no" and “yes”.')
    assert [('He said "no" and “yes”.')[a:b] for a, b in places] == ["no", "yes"]
    assert not unclosed
    assert quotations('He said "no and left.')[1]
    assert is_refusal(REFUSAL) and is_refusal("The passages don’t mention the captain. [2]")
    assert not is_refusal("The ferry left at noon [1].")


@pytest.mark.parametrize(
    ("sentence", "numbers"),
    [
        ("It left [1].", (1,)),
        ("It left [1, 2].", (1, 2)),
        ("It left [1-3].", (1, 2, 3)),
        ("It left [1][2].", (1, 2)),
        ("It left [Passage 2].", (2,)),
        ("It left (Passage 2).", (2,)),
        ("It left (Source 1, 3).", (1, 3)),
        ('It left "Source 1".', (1,)),
        ("According to Passage 2, it left.", (2,)),
        ("It left (1).", ()),
        ("It left in 1990.", ()),
    ],
)
def test_markers_as_models_write_them(sentence: str, numbers: tuple[int, ...]) -> None:
    assert cited_numbers(sentence) == numbers
    assert not reply_module.MARKER.search(reply_module.MARKERS.sub("", sentence))


def test_a_marker_after_the_full_stop_belongs_to_the_sentence_before() -> None:
    assert split_reply("It left. (Passage 1) It sank. [2]") == [
        "It left. (Passage 1)",
        "It sank. [2]",
    ]
