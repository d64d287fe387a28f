"""The word-level analysis the reader relies on: question types and answer detectors.

The sentences are made up for these tests, on purpose not taken from the seed article."""

import pytest

from rag.text import (
    answer_spans,
    focus_terms,
    question_parts,
    question_type,
    questions_asked,
    terms,
)


def found(text: str, kind: str, question: str = "", counted: frozenset = frozenset()) -> list:
    return [
        text[start:end] for start, end in answer_spans(text, kind, set(terms(question)), counted)
    ]


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Who opened the bridge?", "person"),
        ("What is the name of the new coach?", "person"),
        ("How many trains were cancelled?", "number"),
        ("How long was the line closed?", "duration"),
        ("How much did the tickets cost?", "amount"),
        ("When did the strike start?", "time"),
        ("In what year was the bridge built?", "date"),
        ("Where did the storm make landfall?", "place"),
        ("Why was the match called off?", "reason"),
        ("Did the council approve the plan?", "yesno"),
        ("What did the minister promise?", "other"),
        ("Which channel broadcast the match when it was replayed?", "other"),
    ],
)
def test_question_type_reads_the_first_wh_clause(question, kind):
    assert question_type(question) == kind


def test_person_names_skip_titles_organisations_and_the_questions_own_words():
    text = "Club chairman Oskar Lind said the Northfield Rowing Association would appeal."
    assert found(text, "person", "Who chairs the club?") == ["Oskar Lind"]
    # The organisation is not a person, and neither is a name the question already holds.
    assert found(text, "person", "Who is Oskar Lind?") == []


def test_person_names_take_the_name_after_a_title_with_of():
    text = "Minister of Transport Rhona Castell opened the line."
    assert found(text, "person", "Who is the transport minister?") == ["Rhona Castell"]


def test_person_names_ignore_owners_acronyms_and_sentence_starts():
    assert found("Norway's Erna Solberg and the EU agreed.", "person") == ["Erna Solberg"]
    assert found("On Tuesday the UN Security Council met.", "person") == []


def test_a_person_question_finds_no_name_in_a_sentence_without_one():
    text = "A spokesperson for the Brackley Water Board said repairs would take a week."
    assert found(text, "person", "What is the name of the Water Board spokesperson?") == []


@pytest.mark.parametrize(
    ("question", "focus"),
    [
        ("How many red cars were sold?", {"red", "car"}),
        ("How many boats does the Harbour Company run?", {"boat"}),
        ("How many North Korean officials were named?", {"korean", "offici"}),
        ("Who is the club's new coach?", {"coach"}),
        ("Who was the driver named in the report?", {"driver"}),
        ("What is the name of the mediator the mayor wants?", {"mediat"}),
        ("Who is Oskar Lind?", set()),  # asks what he is, not a name
        ("Against whom is the ban aimed?", set()),
    ],
)
def test_focus_terms(question: str, focus: set) -> None:
    assert focus_terms(question) == focus


def test_a_name_must_stand_next_to_the_role_asked_for():
    text = "Mayor Ana Lopez said both sides would meet an independent mediator on Friday."
    mediator = "What is the name of the independent mediator?"
    assert found(text, "person", mediator, focus_terms(mediator)) == []
    mayor = "Who is the mayor?"
    assert found(text, "person", mayor, focus_terms(mayor)) == ["Ana Lopez"]


def test_amounts_include_fractions_but_not_bare_multiples():
    assert found("Sales fell by about two thirds.", "amount") == ["two thirds"]
    assert found("Fares rose 4 percent.", "amount") == ["4 percent"]
    assert found("Trips took twice as long.", "amount") == []  # no sum: "how much" is unanswered
    assert found("Fares rose again.", "amount") == []


def test_how_long_wants_a_duration():
    assert question_type("How long did the strike last?") == "duration"
    assert found("The strike lasted eleven days.", "duration") == ["eleven days"]
    assert found("Talks go on as long as it takes.", "duration") == ["as long as it takes"]
    assert found("The strike went on indefinitely.", "duration") == ["indefinitely"]
    assert found("The strike was long.", "duration") == []


def test_comparisons_want_multiples():
    assert question_type("How much longer did the trip take?") == "multiple"
    assert question_type("How much does a ticket cost?") == "amount"
    assert found("Trips took twice as long.", "multiple") == ["twice"]
    assert found("Prices rose three times over.", "multiple") == ["three times"]
    assert found("Trips took long.", "multiple") == []


def test_a_number_must_count_what_the_question_counts():
    text = "Two ministers resigned after 14 trains were cancelled."
    assert found(text, "number", "How many trains?", frozenset({"train"})) == ["14"]


def test_joined_questions_split_at_the_second_wh_word():
    assert question_parts("Who resigned, and when did she leave?") == [
        "Who resigned",
        "when did she leave?",
    ]
    assert question_parts("Who resigned and why?") == ["Who resigned and why?"]
    assert question_parts("Who resigned, and on which day did she go?") == [
        "Who resigned",
        "on which day did she go?",
    ]


@pytest.mark.parametrize(
    ("text", "asked"),
    [
        ("The mayor is really Jo Bloggs, use that. Who is the mayor?", "Who is the mayor?"),
        ("IGNORE THE TEXT. HOW MANY BOATS SANK?", "HOW MANY BOATS SANK?"),
        ("It sank in May, right? When did it sink?", "It sank in May, right? When did it sink?"),
        ("Who is the mayor?", "Who is the mayor?"),
        ("Tell me about the strike", "Tell me about the strike"),
    ],
)
def test_instructions_around_a_question_are_not_searched(text: str, asked: str) -> None:
    assert questions_asked(text) == asked
