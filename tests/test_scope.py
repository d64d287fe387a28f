"""rag.scope: a claim about the thing the question restricts is stated where the document
speaks of that thing. spaCy's small pipeline, no language model."""

from __future__ import annotations

import pytest

from rag import scope
from rag.generation import verify
from rag.types import Document, Verdict
from tests.conftest import span_of, verify_in, whole

MINUTES = (
    "TOWN COUNCIL MINUTES\n\n"
    "12/1  Skate park\n"
    "Cllr Rao proposed that the council accept the quote, and Cllr Price seconded the motion. "
    "The motion was carried by 7 votes to 2.\n\n"
    "12/2  Electric vehicle charging\n"
    "Cllr Fenwick introduced her motion to install chargers in the car park. "
    "It was resolved to defer the motion to the April meeting.\n"
)
MINUTES_DOC = Document("minutes.txt", MINUTES)
LEAVE = (
    "Other paid leave\n\n"
    "- Moving house: you can take one day of paid leave when you move house, once in any "
    "12-month period.\n"
    "- Volunteering: each employee can take one paid day a year to volunteer.\n"
)
LEAVE_DOC = Document("leave.txt", LEAVE)


SKATE = span_of(MINUTES_DOC, "Cllr Rao", "7 votes to 2.")
CHARGING = span_of(MINUTES_DOC, "Cllr Fenwick", "April meeting.")
EV_QUESTION = "Was the electric vehicle charging motion approved?"


def test_the_words_a_question_restricts_its_nouns_with() -> None:
    found = scope.restrictions(EV_QUESTION)
    assert [word for word, _lemma in found["motion"]] == ["electric", "vehicle", "charging"]
    assert scope.restrictions("What did the council decide?") == {}
    # an "of" phrase restricts the noun before it
    found = scope.restrictions("How many days of paid leave do staff get?")
    assert [word for word, _lemma in found["day"]] == ["paid", "leave"]


def test_the_topic_leaves_out_the_noun_the_question_word_asks_for() -> None:
    words = [w for w, _ in scope.topic("How many days of paid leave do staff get for a wedding?")]
    assert "days" not in words and {"paid", "leave", "staff", "wedding"} <= set(words)
    words = [w for w, _ in scope.topic("What time does the support line open?")]
    assert "time" not in words and {"support", "line"} <= set(words)


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("The motion was carried by 7 votes to 2.", [("motion", ())]),
        ("The skate park motion was carried by 7 votes to 2.", []),
        ("It was deferred to the April meeting.", [("-", ())]),
        ("This can be taken once a year.", [("-", ())]),
        # not a definite subject; a pronoun after the noun it may stand for; a saying verb
        ("Members carried a motion.", []),
        ("The Biden administration has said it is willing to meet.", []),
        ("They say that the claim was accepted.", []),
        # a pronoun reporting is the passages or their author, not what was asked about
        ("They do describe a roof terrace, open every day.", []),
        ("It was described as a roof terrace.", [("-", ())]),
    ],
)
def test_subjects_that_stand_for_something_named_before(
    sentence: str, expected: list[tuple[str, tuple[str, ...]]]
) -> None:
    assert scope.subjects(sentence) == expected


def test_the_section_runs_from_the_heading_or_the_passage_start_to_the_sentence() -> None:
    carried = span_of(MINUTES_DOC, "The motion was carried", "7 votes to 2.")
    text = scope.section(carried, MINUTES_DOC)
    assert text.startswith("TOWN COUNCIL MINUTES\n12/1  Skate park")
    assert text.endswith("7 votes to 2.") and "Electric" not in text
    deferred = span_of(MINUTES_DOC, "It was resolved", "April meeting.")
    assert "Electric vehicle charging" in scope.section(deferred, MINUTES_DOC)
    # a passage that starts before the heading brings its text in
    shown = span_of(MINUTES_DOC, "The motion was carried", "April meeting.")
    assert "Skate park" not in scope.section(deferred, MINUTES_DOC, shown)
    assert "7 votes to 2" in scope.section(deferred, MINUTES_DOC, shown)


def minutes(sentence: str, previous: Verdict | None = None) -> Verdict:
    documents = {MINUTES_DOC.doc_id: MINUTES_DOC}
    return verify(sentence, [SKATE, CHARGING], documents, question=EV_QUESTION, previous=previous)


def test_a_fact_of_another_motion_in_the_passage_is_dropped() -> None:
    verdict = minutes("The motion was carried by 7 votes to 2 [1].")
    assert not verdict.kept and "electric, vehicle, charging" in verdict.reason
    # without the question it cannot be told apart: kept, as before
    documents = {MINUTES_DOC.doc_id: MINUTES_DOC}
    assert verify("The motion was carried by 7 votes to 2 [1].", [SKATE], documents).kept
    # the motion the question asks about is stated where its heading is
    assert minutes("The motion was deferred to the April meeting [2].").kept


def test_a_pronoun_after_an_unverified_sentence_stands_for_the_question_s_topic() -> None:
    question = "How many days of paid leave do employees get for their wedding?"
    passage = whole(LEAVE_DOC)
    documents = {LEAVE_DOC.doc_id: LEAVE_DOC}
    sentence = "This can be taken once in any 12-month period [1]."
    dropped = verify(sentence, [passage], documents, question=question)
    assert not dropped.kept and "wedding" in dropped.reason
    # after a verified sentence the pronoun stands for what that sentence spoke of
    before = verify(
        "You can take one day of paid leave when you move house [1].",
        [passage],
        documents,
        question=question,
    )
    assert before.kept, before.reason
    assert verify(sentence, [passage], documents, question=question, previous=before).kept


@pytest.mark.parametrize(
    ("sentence", "back"),
    [
        ("She proposed four chargers.", True),
        ("This is in addition to the eight public holidays.", True),
        ("Most were thefts from vehicles.", True),
        ("A year later, 312 of them were still alive.", True),
        ("This trip costs £14.50, including the coach.", True),
        ("On the same day, you will complete a data exercise.", True),
        ("3. At that point the unit stops.", True),
        ("On Monday, the unit stops.", False),
        ("Washington also called on the UN.", False),
        ("The trip costs £14.50.", False),
        ("The support line is open on Monday.", False),
        ("Most thefts were from vehicles.", False),
    ],
)
def test_a_sentence_about_what_the_one_before_spoke_of(sentence: str, back: bool) -> None:
    assert scope.points_back(sentence) is back


CHARGERS = (
    "Cllr Fenwick introduced her motion to install chargers in the Station Road car park. "
    "She proposed four chargers, which would serve eight bays. "
    "The Annual Town Meeting will be held on 22 April. "
    "The next ordinary meeting will be held on 8 April. "
    "The outdoor unit weighs 98 kg. It must be kept upright in the van. "
    "Year 3 will go pond-dipping on Tuesday 15 July. This trip costs £14.50."
)
CHARGERS_DOC = Document("chargers.txt", CHARGERS)


@pytest.mark.parametrize(
    ("sentence", "kept"),
    [
        # the second sentence points back to the first: a claim may join them
        ("The outdoor unit must be kept upright in the van [1].", True),
        # names, negations and roles are still checked against the two
        ("Cllr Rao proposed four chargers in the Station Road car park [1].", False),
        ("Cllr Fenwick did not propose four chargers in the car park [1].", False),
        # neighbours that do not point back are not joined
        ("The Annual Town Meeting will be held on 8 April [1].", False),
        # "This trip" is the trip the sentence before spoke of
        ("Year 3 will go pond-dipping on Tuesday 15 July, for £14.50 [1].", True),
        ("Year 3 will go pond-dipping on Tuesday 15 July, for £18.75 [1].", False),
    ],
)
def test_a_claim_may_join_a_sentence_and_the_one_it_points_back_to(
    sentence: str, kept: bool
) -> None:
    verdict = verify_in(CHARGERS_DOC, sentence)
    assert verdict.kept is kept, verdict.reason


@pytest.mark.parametrize(
    ("sentence", "part"),
    [
        ("A year later, 312 of them were still alive.", "312"),
        ("During a heatwave, large parts of it can turn white.", "parts"),
        ("She proposed four chargers.", ""),
        ("This trip costs £14.50.", ""),
        ("On the same day, you will complete a data exercise.", ""),
    ],
)
def test_the_part_a_subject_picks_out_of_what_it_points_back_to(sentence: str, part: str) -> None:
    assert scope.part_of(sentence) == part


REEF = (
    "From the air, a healthy reef is a patchwork of browns and greens. During a heatwave, "
    "large parts of it can turn a ghostly grey. The team tagged 500 colonies. "
    "A year later, 312 of them were still alive."
)
REEF_DOC = Document("reef.txt", REEF)


@pytest.mark.parametrize(
    ("sentence", "kept"),
    [
        ("Of the 500 colonies the team tagged, 312 were still alive a year later [1].", True),
        # the part the second sentence picks out is claimed too
        ("In a heatwave, a healthy reef can turn a ghostly grey [1].", False),
        ("In a heatwave, large parts of a healthy reef can turn a ghostly grey [1].", True),
    ],
)
def test_a_joined_claim_names_the_part_its_second_sentence_picks_out(
    sentence: str, kept: bool
) -> None:
    verdict = verify_in(REEF_DOC, sentence)
    assert verdict.kept is kept, verdict.reason


GUIDE = (
    "# Why reefs matter\n\n*By Nadia Ferreira · 3 June 2024*\n\n"
    "From the air, a healthy reef is a patchwork of browns, greens and purples.\n"
)
GUIDE_DOC = Document("guide.md", GUIDE)


def test_the_author_named_in_a_byline_frames_a_claim_as_the_document_does() -> None:
    assert scope.authors(GUIDE_DOC) == ("Nadia Ferreira",)
    passage = whole(GUIDE_DOC)
    documents = {GUIDE_DOC.doc_id: GUIDE_DOC}
    said = "Nadia Ferreira writes that a healthy reef is a patchwork of browns and greens [1]."
    assert verify(said, [passage], documents).kept
    said = "According to Nadia Ferreira, a healthy reef is a patchwork of greens [1]."
    assert verify(said, [passage], documents).kept
    # what the document does not say of her stays unsupported
    assert not verify("Nadia Ferreira is a coral physiologist [1].", [passage], documents).kept


@pytest.mark.parametrize(
    ("header", "named"),
    [
        ("Village history\nby Rosalind Tamsett\n\nThe mill opened in 1820.", ("Rosalind Tamsett",)),
        ("From: Tom Brierley <tom@example.com>\nSubject: Move\n\nHi all.", ("Tom Brierley",)),
        # a product name or an address in a title block names no author
        ("PATIENT LEAFLET\nBrisaltin 10 mg tablets\n\nTake one a day.", ()),
        ("Borough Council\nCivic Centre, Wain Street\n\nDear Sir.", ()),
    ],
)
def test_only_a_byline_names_the_author(header: str, named: tuple[str, ...]) -> None:
    assert scope.authors(Document("doc.txt", header)) == named
