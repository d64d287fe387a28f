"""The shipped cross-encoder (rag/models/cross-encoder.onnx) on hand-written look-alikes that
are in none of its training or choosing data, and its serving code."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from rag import cross_encoder
from rag.cross_encoder import MODEL_PATH, passage_text

# (question, the sentence that answers it, a look-alike that does not), each with its context.
LOOK_ALIKES = [
    (
        "How much does a year's membership cost?",
        passage_text(
            "An annual membership costs £85 and includes unlimited classes.",
            "Prices were last reviewed in January.",
            "Membership",
            "leisure-centre.md",
        ),
        passage_text(
            "A day pass costs £12 and is valid until closing time.",
            "Visitors are welcome at any session.",
            "Visitors",
            "leisure-centre.md",
        ),
    ),
    (
        "What time does the library shut on Saturdays?",
        passage_text(
            "On Saturdays the library closes at 4 pm.",
            "The library opens at 9 am every day.",
            "Opening hours",
            "library-guide.txt",
        ),
        passage_text(
            "The library is closed on public holidays.",
            "The library opens at 9 am every day.",
            "Opening hours",
            "library-guide.txt",
        ),
    ),
    (
        "How long is the warranty on the kettle?",
        passage_text(
            "The kettle is guaranteed for two years from the date of purchase.",
            "Keep your receipt.",
            "Guarantee",
            "kettle-manual.txt",
        ),
        passage_text(
            "Descale the kettle every two months in hard-water areas.",
            "Limescale builds up over time.",
            "Care",
            "kettle-manual.txt",
        ),
    ),
]

# A paraphrase the shipped model gets wrong ("runs" for "is head of": 0.003 against the
# look-alike's 0.006); it was written with the cases above, before any model was trained.
KNOWN_MISS = (
    "Who runs the science department?",
    passage_text(
        "Dr Amira Solberg is head of the science department.",
        "",
        "Staff",
        "school-handbook.md",
    ),
    passage_text(
        "Mr Tomas Reed is head of the history department.",
        "",
        "Staff",
        "school-handbook.md",
    ),
)


def test_the_model_ships_small() -> None:
    assert MODEL_PATH.is_file() and MODEL_PATH.stat().st_size <= 25_000_000


def test_passage_text_puts_the_sentence_first_then_its_context() -> None:
    text = passage_text("Take  10 ml.", "For adults:", "Dose", "docs/pharmacy_leaflet.txt")
    assert text == "Take 10 ml. [SEP] pharmacy leaflet | Dose | For adults:"
    assert passage_text("Alone.") == "Alone."


def test_the_answering_sentence_outscores_its_look_alike() -> None:
    for question, answer, look_alike in LOOK_ALIKES:
        right, wrong = cross_encoder.score(question, [answer, look_alike])
        assert right > wrong, (question, right, wrong)


@pytest.mark.xfail(strict=True, reason="a known miss of the shipped model: update when it passes")
def test_a_paraphrased_role_is_still_missed() -> None:
    question, answer, look_alike = KNOWN_MISS
    right, wrong = cross_encoder.score(question, [answer, look_alike])
    assert right > wrong


def test_scores_are_probabilities_in_the_order_given() -> None:
    question, answer, look_alike = LOOK_ALIKES[0]
    passages = [look_alike, answer, look_alike]
    scores = cross_encoder.score(question, passages)
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    # Batched with padding or alone, a passage scores the same.
    alone = cross_encoder.score(question, [answer])
    assert abs(float(scores[1]) - float(alone[0])) < 1e-4
    assert abs(float(scores[0]) - float(scores[2])) < 1e-4
    assert cross_encoder.score(question, []).shape == (0,)


def test_scoring_imports_no_torch() -> None:
    code = (
        "import sys\n"
        "from rag.cross_encoder import score\n"
        "print(score('Who runs it?', ['Ann runs it.', 'Bob left.']).round(3))\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
