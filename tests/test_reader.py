"""The reader, a pure function of hand-built candidates: which sentence answers, its short
answer and its quote, or why it abstains. No embedding model, no index.

The sentences are made up for these tests, on purpose not taken from the seed article."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rag.answer_types import find_phrases
from rag.features import sentence_features
from rag.lexicon import terms
from rag.ranker import load_model
from rag.reader import quote, read
from rag.types import Abstention, Candidate, Document, Retrieval, Span
from tests.conftest import hand_candidate, hand_query, logistic, tiny_model

TEXT = (
    "Harbour news\n"
    "The ferry left Brackley at dawn on Tuesday. Crews, who had voted to strike over pay, "
    "stayed home, so the council hired eleven temporary sailors from Norhaven Marine, a "
    "private firm that charged twice the usual rate, according to the harbour master "
    "Oskar Lind.\n"
    "The bridge stayed shut until Friday.\n"
)
DOC = Document("harbour.txt", TEXT)
FERRY = "The ferry left Brackley at dawn on Tuesday."
CREWS = TEXT[TEXT.index("Crews") : TEXT.index("Lind.") + len("Lind.")]
BRIDGE = "The bridge stayed shut until Friday."


def _retrieval(question: str, *candidates: Candidate) -> Retrieval:
    return Retrieval(hand_query(question), [], list(candidates))


def _three(question: str, coverages: tuple[float, float, float]) -> Retrieval:
    """The three sentences as candidates, with the given coverage each."""
    ferry, crews, bridge = (
        hand_candidate(
            DOC,
            sentence,
            phrases=phrases,
            split=sentence == CREWS,
            coverage=cover,
            best_clause=1 if sentence == CREWS else -1,
        )
        for sentence, phrases, cover in zip(
            (FERRY, CREWS, BRIDGE),
            (
                [("The ferry", "NP"), ("Brackley", "PERSON"), ("Tuesday", "DATE")],
                [("the council", "NP"), ("eleven", "CARDINAL"), ("Oskar Lind", "PERSON")],
                [("The bridge", "NP"), ("Friday", "DATE")],
            ),
            coverages,
            strict=True,
        )
    )
    return _retrieval(question, ferry, crews, bridge)


def _in_document(span: Span) -> bool:
    return span.doc_id == DOC.doc_id and TEXT[span.start : span.end] == span.text


# -- abstentions ------------------------------------------------------------------------


def test_no_candidates_is_an_abstention() -> None:
    reading = read(_retrieval("When did the ferry leave?"), tiny_model({}))
    assert reading.abstained and reading.abstention is Abstention.NO_CANDIDATES
    assert reading.spans == () and reading.short is None


def test_a_question_without_terms_is_an_abstention() -> None:
    question = "What is it?"
    assert terms(question) == []  # only function words
    found = _three(question, (1.0, 1.0, 1.0)).candidates
    reading = read(_retrieval(question, *found), tiny_model({}))
    assert reading.abstention is Abstention.NO_TERMS and reading.spans == ()


def test_abstains_when_the_best_probability_is_under_the_threshold() -> None:
    retrieval = _three("How many sailors did the council hire?", (0.2, 0.9, 0.1))
    answered = read(retrieval, tiny_model({"coverage": 4.0}, threshold=0.0))
    assert not answered.abstained and 0.0 < answered.confidence < 1.0
    confidence = answered.confidence

    at = read(retrieval, tiny_model({"coverage": 4.0}, threshold=confidence))
    assert not at.abstained and at.spans == answered.spans
    above = read(retrieval, tiny_model({"coverage": 4.0}, threshold=confidence + 1e-6))
    assert above.abstention is Abstention.LOW_CONFIDENCE
    assert above.spans == () and above.short is None
    assert above.confidence == pytest.approx(confidence)


# -- choosing the sentence ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("weight", "chosen"),
    [(4.0, CREWS), (-4.0, BRIDGE)],  # the model, not a fixed rule, decides
)
def test_picks_the_candidate_the_model_scores_highest(weight: float, chosen: str) -> None:
    retrieval = _three("How many sailors did the council hire?", (0.5, 0.9, 0.1))
    reading = read(retrieval, tiny_model({"coverage": weight}))
    assert not reading.abstained
    (span,) = reading.spans
    assert _in_document(span)
    assert DOC.text.index(chosen) <= span.start < span.end <= DOC.text.index(chosen) + len(chosen)


def test_the_shipped_model_answers_with_its_best_scored_candidate() -> None:
    model = load_model()
    retrieval = _three("How many sailors did the council hire?", (0.3, 1.0, 0.0))
    scores = model.sentence.predict(
        sentence_features(retrieval.query, retrieval.candidates, model.prior)
    )
    best = retrieval.candidates[int(np.argmax(scores))].sentence
    reading = read(retrieval, dataclasses.replace(model, no_answer_threshold=0.0))
    (span,) = reading.spans
    assert best.start <= span.start < span.end <= best.end and _in_document(span)


# -- the short answer -------------------------------------------------------------------


def test_the_short_answer_is_the_phrase_the_phrase_model_likes_best() -> None:
    retrieval = _three("What did the council do about the sailors?", (0.2, 0.9, 0.1))
    model = tiny_model({"coverage": 4.0}, {"capitalised": 3.0})
    reading = read(retrieval, model)
    assert reading.short is not None and reading.short.text == "Oskar Lind"
    assert _in_document(reading.short)
    reading = read(retrieval, tiny_model({"coverage": 4.0}, {"capitalised": -3.0}))
    # "the council" would tie with "eleven", but holds only the question's words.
    assert reading.short is not None and reading.short.text == "eleven"


def test_the_short_answer_is_of_the_kind_asked_for() -> None:
    """A "how many" question is never answered by a name, however much the phrase model
    likes it: the number is the short answer."""
    retrieval = _three("How many sailors did the council hire?", (0.2, 0.9, 0.1))
    reading = read(retrieval, tiny_model({"coverage": 4.0}, {"capitalised": 3.0}))
    assert reading.short is not None and reading.short.text == "eleven"


def test_the_short_answer_is_never_only_question_words() -> None:
    retrieval = _three("How many sailors did the council hire?", (0.2, 0.9, 0.1))
    # A phrase model that likes question words best still may not answer with "the council".
    reading = read(retrieval, tiny_model({"coverage": 4.0}, {"question_overlap": 5.0}))
    assert reading.short is not None
    assert reading.short.text != "the council"
    assert not set(terms(reading.short.text)) <= set(retrieval.query.terms)


def test_no_short_answer_below_its_threshold() -> None:
    retrieval = _three("How many sailors did the council hire?", (0.2, 0.9, 0.1))
    reading = read(retrieval, tiny_model({"coverage": 4.0}, short=1.01))
    assert not reading.abstained and reading.short is None


def test_the_shipped_model_on_real_phrases_gives_a_verified_short_answer() -> None:
    """With spaCy's phrases, the shipped models' short answer (when they give one) is a
    phrase of the chosen sentence, at the document's own offsets."""
    model = dataclasses.replace(load_model(), no_answer_threshold=0.0, short_threshold=0.0)
    question = "Who is the harbour master?"
    found = []
    for sentence, phrases in zip(
        (FERRY, CREWS, BRIDGE), find_phrases([FERRY, CREWS, BRIDGE]), strict=True
    ):
        base = hand_candidate(DOC, sentence, split=sentence == CREWS)
        found.append(
            dataclasses.replace(
                base,
                phrases=phrases,
                coverage=1.0 if sentence == CREWS else 0.0,
                dense=0.6 if sentence == CREWS else 0.1,
                clause_dense=0.7 if sentence == CREWS else 0.1,
                best_clause=3 if sentence == CREWS else -1,
            )
        )
    reading = read(_retrieval(question, *found), model)
    (span,) = reading.spans
    assert reading.short is not None  # a short threshold of 0 always gives one
    chosen = next(c.sentence for c in found if c.sentence.start <= span.start < c.sentence.end)
    assert chosen.start <= reading.short.start < reading.short.end <= chosen.end
    assert _in_document(reading.short) and _in_document(span)
    assert not set(terms(reading.short.text)) <= {"harbour", "master"}


# -- the quote --------------------------------------------------------------------------


def test_a_short_sentence_is_quoted_whole() -> None:
    ferry = hand_candidate(DOC, FERRY, [("Tuesday", "DATE")])
    start = TEXT.index("Tuesday")
    short = Span(DOC.doc_id, start, start + len("Tuesday"), "Tuesday")
    assert quote(ferry, short) == ferry.sentence
    assert quote(ferry, None) == ferry.sentence


def _crews(best_clause: int) -> Candidate:
    crews = hand_candidate(DOC, CREWS, split=True, best_clause=best_clause)
    assert len(crews.sentence.text.split()) > 25 and len(crews.clauses) == 4
    return crews


def _short(text: str) -> Span:
    start = TEXT.index(text)
    return Span(DOC.doc_id, start, start + len(text), text)


@pytest.mark.parametrize(
    ("best_clause", "short", "first", "last"),
    [
        (1, "eleven", 1, 1),  # the short answer inside the clause closest to the question
        (1, "Oskar Lind", 1, 3),  # from the closest clause through the one holding it
        (3, "eleven", 1, 3),  # and the other way round
        (0, "twice", 0, 2),
    ],
)
def test_a_long_sentence_is_quoted_by_clauses_holding_the_short_answer(
    best_clause: int, short: str, first: int, last: int
) -> None:
    crews = _crews(best_clause)
    answer = _short(short)
    quoted = quote(crews, answer)
    assert (quoted.start, quoted.end) == (crews.clauses[first].start, crews.clauses[last].end)
    assert quoted.start <= answer.start < answer.end <= quoted.end
    assert _in_document(quoted) and quoted.end - quoted.start < len(CREWS)


def test_a_long_sentence_without_a_short_answer_is_quoted_whole() -> None:
    crews = _crews(1)
    assert quote(crews, None) == crews.sentence


# -- the kind of answer asked for --------------------------------------------------------

TOWN = (
    "Lowmere is a small market town on the river. Its library was founded by Agnes Hale in "
    "1872. The town holds a fair every spring.\n"
)
TOWN_DOC = Document("lowmere.txt", TOWN)


def _town(question: str) -> Retrieval:
    """The town's first sentence, which names it, as the only candidate; the sentence after
    it, which holds the founder and the year, only beside it."""
    first = "Lowmere is a small market town on the river."
    second = "Its library was founded by Agnes Hale in 1872."
    start = TOWN.index(second)
    beside = (
        Span(TOWN_DOC.doc_id, start, start + len(second), second),
        next(iter(find_phrases([second]))),
    )
    chosen = hand_candidate(TOWN_DOC, first, phrases=[("a small market town", "NP")], coverage=1.0)
    return _retrieval(question, dataclasses.replace(chosen, beside=(beside,)))


@pytest.mark.parametrize(
    ("question", "short"),
    [
        ("Who founded the library in Lowmere?", "Agnes Hale"),
        ("When was the library in Lowmere founded?", "1872"),
    ],
)
def test_an_answer_in_the_sentence_beside_is_quoted_with_it(question: str, short: str) -> None:
    reading = read(_town(question), tiny_model({"coverage": 4.0}))
    assert not reading.abstained
    assert [span.text for span in reading.spans] == [
        "Lowmere is a small market town on the river.",
        "Its library was founded by Agnes Hale in 1872.",
    ]
    assert reading.short is not None and reading.short.text == short
    assert all(TOWN[span.start : span.end] == span.text for span in (*reading.spans, reading.short))


def test_a_sentence_with_no_phrase_of_the_kind_asked_for_is_not_a_sure_answer() -> None:
    """The sentence model sees whether a phrase of the asked-for kind is there."""
    from rag.features import SENTENCE_FEATURES

    retrieval = _town("Who founded the library in Lowmere?")
    rows = sentence_features(retrieval.query, retrieval.candidates, tiny_model({}).prior)
    column = SENTENCE_FEATURES.index
    assert rows[0, column("kind_fit")] == -1.0  # no person in the town's first sentence
    assert rows[0, column("beside_kind_fit")] == 1.0  # the founder, in the next one
    what = _town("What is Lowmere?")
    rows = sentence_features(what.query, what.candidates, tiny_model({}).prior)
    assert rows[0, column("kind_fit")] == 0.0  # "what" asks for no particular kind


# -- the cross-encoder route --------------------------------------------------------------


def _routed(top_k: int, weights: dict[str, float], threshold: float = 0.0):
    """The tiny model (coverage decides the fast order) with a cross-encoder route whose
    answer model follows `weights`, reading with the shipped cross-encoder."""
    from rag.cross_encoder import CrossEncoder
    from rag.ranker import CROSS_FEATURES, CrossRoute

    route = CrossRoute(top_k, logistic(CROSS_FEATURES, weights), "cross-encoder.onnx")
    route = dataclasses.replace(route, encoder=CrossEncoder())
    return dataclasses.replace(tiny_model({"coverage": 4.0}, threshold=threshold), cross=route)


def test_the_cross_encoder_chooses_among_the_fast_models_best() -> None:
    """The cross-encoder reads the fast model's best `top_k` candidates; the route's answer
    model turns its reading into each one's probability, which picks the sentence; the
    confidence stays the answerability model's. Read candidates rank above the rest."""
    from rag.cross_encoder import CrossEncoder, candidate_passage

    question = "How many sailors did the council hire?"
    retrieval = _three(question, (0.5, 0.9, 0.1))  # fast order: crews, ferry, bridge
    model = _routed(2, {"cross_logit": 1.0})
    logits = CrossEncoder().logits(
        question, [candidate_passage(retrieval.candidates[at]) for at in (1, 0)]
    )
    reading = read(retrieval, model)
    chosen = (1, 0)[int(np.argmax(logits))]
    (span,) = reading.spans
    sentence = retrieval.candidates[chosen].sentence
    assert sentence.start <= span.start < span.end <= sentence.end
    fast = read(retrieval, dataclasses.replace(model, cross=None))
    assert reading.confidence == pytest.approx(fast.confidence)
    scores = reading.scores
    assert min(scores[1], scores[0]) > scores[2]  # the bridge was not read: it ranks last


def test_the_cross_encoder_reads_only_the_top_k() -> None:
    """With top_k 1 only the fast model's best is read, whatever the cross-encoder would
    have said of the others."""
    retrieval = _three("How many sailors did the council hire?", (0.9, 0.2, 0.1))
    reading = read(retrieval, _routed(1, {"cross_logit": -1.0}))
    (span,) = reading.spans
    ferry = retrieval.candidates[0].sentence
    assert ferry.start <= span.start < span.end <= ferry.end
    assert reading.scores[0] > max(reading.scores[1:])


def test_the_cross_encoder_never_chooses_a_candidate_missing_a_rare_question_word() -> None:
    """However much the route likes a candidate, it is not chosen when its sentence and
    context lack a question word rarer than any the best-placed candidate read lacks by more
    than MISSING_SLACK."""
    from rag.reader import MISSING_SLACK

    question = "How many sailors did the council hire?"
    retrieval = _three(question, (0.5, 0.9, 0.1))
    ferry, crews, bridge = retrieval.candidates
    model = _routed(2, {"sentence_logit": 10.0})  # it likes what the fast model likes: crews
    assert _within(read(retrieval, model).spans[0], crews.sentence)
    lacking = dataclasses.replace(crews, context_missing_idf=MISSING_SLACK + 1.0)
    chosen = read(_retrieval(question, ferry, lacking, bridge), model)
    assert _within(chosen.spans[0], ferry.sentence)


def _within(span: Span, sentence: Span) -> bool:
    return sentence.start <= span.start < span.end <= sentence.end


def test_a_question_sharing_no_word_with_any_candidate_is_refused_unread() -> None:
    """When no candidate's sentence or neighbours hold a word of the question, the reader
    refuses before any model reads it, whatever the models would say."""
    question = "How many sailors did the council hire?"
    retrieval = _three(question, (0.5, 0.9, 0.1))
    unrelated = [dataclasses.replace(c, context_coverage=0.0) for c in retrieval.candidates]
    refused = read(_retrieval(question, *unrelated), tiny_model({}, threshold=0.0))
    assert refused.abstention is Abstention.NO_WORD_SHARED and refused.spans == ()
    assert not read(retrieval, tiny_model({}, threshold=0.0)).abstained


def test_the_cross_encoder_reads_the_best_few_the_fast_model_does_not_rule_out() -> None:
    """Of the fast model's top_k best, best first, those it scores under READ_SHARE of its
    best are not read; the best always is."""
    from rag.reader import READ_SHARE, to_read

    scores = np.array([0.01, 0.6, 0.2, 0.5])
    assert to_read(scores, 4).tolist() == [1, 3, 2]  # 0.01 < READ_SHARE * 0.6
    assert to_read(scores, 2).tolist() == [1, 3]
    assert to_read(np.array([0.9, READ_SHARE * 0.9 * 0.99]), 4).tolist() == [0]


def test_with_one_candidate_worth_reading_the_fast_choice_stands_unread() -> None:
    """When only the fast model's best is worth reading, the cross-encoder is not run (its
    encoder here is None, which reading would call) and the fast choice is the answer."""
    from rag.ranker import CROSS_FEATURES, CrossRoute

    question = "How many sailors did the council hire?"
    retrieval = _three(question, (-2.0, 2.0, -2.0))
    model = tiny_model({"coverage": 4.0}, threshold=0.0)  # log-odds -8, 8, -8
    fast = read(retrieval, model)
    unread = CrossRoute(4, logistic(CROSS_FEATURES, {"cross_logit": 1.0}), "none.onnx")
    lone = dataclasses.replace(model, cross=unread)
    assert fast.scores[1] * 0.05 > max(fast.scores[0], fast.scores[2])
    reading = read(retrieval, lone)
    assert reading.spans == fast.spans and reading.confidence == fast.confidence
