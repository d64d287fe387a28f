"""The eval suite's parts, fast: the question files, the metrics, scoring, tables and the gate."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evals import gate, metrics, reliability, setup, tables
from evals.dataset import SPLITS, Question, evidence_spans, load_questions, problems, read_text
from evals.scoring import METRICS, aggregate, aggregates, score
from rag.errors import DatasetError
from rag.types import Answer, Chunk, Citation
from tests.conftest import ARTICLE_ID, ROOT, SEEDS

QUESTIONS = ROOT / "evals" / "questions.toml"
SECOND = ROOT / "evals" / "second" / "questions.toml"
CALIBRATION = ROOT / "data" / "calibration" / "questions.toml"
MIN_PER_CATEGORY = 6

# -- the question files ---------------------------------------------------------------------


def test_main_file_is_about_the_seed_article() -> None:
    assert load_questions(QUESTIONS).documents == (ARTICLE_ID,)


@pytest.mark.parametrize(
    ("path", "folder"),
    [
        (QUESTIONS, SEEDS),
        (SECOND, SECOND.parent / "docs"),
        (CALIBRATION, CALIBRATION.parent / "docs"),
    ],
    ids=["main", "second", "calibration"],
)
def test_every_quote_and_answer_is_in_its_document(path: Path, folder: Path) -> None:
    question_set = load_questions(path)
    texts = {name: read_text(folder / name) for name in question_set.documents}
    assert problems(question_set, texts) == []


def test_the_calibration_set_asks_four_documents_of_its_own_folder() -> None:
    question_set = load_questions(CALIBRATION)
    assert len(question_set.questions) == 100
    assert question_set.source == CALIBRATION.parent / "docs"
    assert sorted(question_set.documents) == sorted(p.name for p in question_set.source.iterdir())
    corpus = setup.locate(question_set, SEEDS)
    assert corpus.source_dir == question_set.source and corpus.moved
    assert corpus.doc_ids == question_set.documents
    # each question's evidence is found in its own document, and only there
    for question in question_set.questions:
        own = read_text(corpus.source_dir / question.document)
        assert len(evidence_spans(question, own)) == len(question.evidence), question.id
        for other in set(question_set.documents) - {question.document}:
            text = read_text(corpus.source_dir / other)
            assert not any(quote in text for quote in question.evidence), (question.id, other)
    by_split = Counter(question.split for question in question_set.questions)
    assert by_split == {"tune": 50, "heldout": 50}


def test_main_file_quotes_are_substrings_of_the_article(article_text: str) -> None:
    for question in load_questions(QUESTIONS).questions:
        for quote in question.evidence:
            assert quote in article_text, (question.id, quote)
        for gold in question.answers:
            assert any(gold.lower() in quote.lower() for quote in question.evidence), question.id


@pytest.mark.parametrize("path", [QUESTIONS, SECOND, CALIBRATION], ids=["main", "second", "cal"])
def test_ids_are_unique_and_answerability_is_consistent(path: Path) -> None:
    questions = load_questions(path).questions
    assert len({q.id for q in questions}) == len(questions)
    for question in questions:
        assert bool(question.answers) == bool(question.evidence), question.id
        assert question.split in SPLITS
        if question.all_answers_needed:
            assert len(question.answers) >= 2, question.id


def test_every_category_has_enough_questions_in_both_splits() -> None:
    questions = load_questions(QUESTIONS).questions
    counts = Counter(q.category for q in questions)
    assert min(counts.values()) >= MIN_PER_CATEGORY, counts
    for category in counts:
        assert {q.split for q in questions if q.category == category} == set(SPLITS), category
    assert {"unanswerable", "multi_sentence", "followup"} <= counts.keys()


def test_select_filters_and_rejects_unknown_names() -> None:
    question_set = load_questions(QUESTIONS)
    factual = question_set.select(categories=["factual"], split="tune")
    assert factual and all(q.category == "factual" and q.split == "tune" for q in factual)
    assert [q.id for q in question_set.select(ids=["fact-02"])] == ["fact-02"]
    with pytest.raises(DatasetError, match="unknown category"):
        question_set.select(categories=["nope"])
    with pytest.raises(DatasetError, match="no question matches"):
        question_set.select(ids=["fact-02"], split="tune")  # fact-02 is heldout


GOOD = """version = 1
document = "a.txt"

[[question]]
id = "q1"
category = "factual"
split = "tune"
question = "Who?"
history = []
answers = ["Tom"]
evidence = ["Tom came."]
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("", ""), None),
        (('split = "tune"', 'split = "dev"'), "split"),
        (('category = "factual"', 'category = "heldout"'), "taken by the report's own columns"),
        (('answers = ["Tom"]', "answers = []"), "both be empty"),
        (('id = "q1"', 'id = ""'), "`id` must be non-empty"),
        (("history = []", "history = [1]"), "`history` must be a list"),
        (("history = []\n", ""), "lacks history"),
        (("history = []", "history = []\nanswer = []"), "unknown keys answer"),
        (('document = "a.txt"', ""), "names no `document`"),
        (('document = "a.txt"', 'document = "a.txt"\nsource = 3'), "`source` must name"),
        (("version = 1", "version = 1\n[[question]"), "cannot read"),
    ],
    ids=[
        "valid",
        "split",
        "category-named-like-a-split",
        "answers-only",
        "empty-id",
        "history-type",
        "missing",
        "typo",
        "doc",
        "source",
        "toml",
    ],
)
def test_loader_rejects_malformed_files(tmp_path: Path, change: tuple, message: str | None) -> None:
    path = tmp_path / "questions.toml"
    path.write_text(GOOD.replace(*change, 1) if change[0] else GOOD, encoding="utf-8")
    if message is None:
        assert load_questions(path).questions[0].answers == ("Tom",)
    else:
        with pytest.raises(DatasetError, match=message):
            load_questions(path)


def test_a_question_may_name_its_own_document_and_the_set_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "questions.toml"
    own = GOOD.replace('document = "a.txt"', 'source = "docs"').replace(
        'id = "q1"', 'id = "q1"\ndocument = "b.md"'
    )
    path.write_text(own + GOOD.split("\n\n", 1)[1].replace("q1", "q2"), encoding="utf-8")
    with pytest.raises(DatasetError, match="question 'q2': names no `document`"):
        load_questions(path)
    path.write_text(own, encoding="utf-8")
    question_set = load_questions(path)
    assert question_set.documents == ("b.md",) and question_set.source == tmp_path / "docs"
    with pytest.raises(DatasetError, match=r"b\.md"):  # the set's folder, and no other
        setup.locate(question_set, SEEDS)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "b.md").write_text("Tom came.", encoding="utf-8")
    assert setup.locate(question_set, SEEDS).doc_ids == ("b.md",)


def test_loader_rejects_a_duplicate_id(tmp_path: Path) -> None:
    path = tmp_path / "questions.toml"
    path.write_text(GOOD + GOOD.split("\n\n", 1)[1], encoding="utf-8")
    with pytest.raises(DatasetError, match="used twice"):
        load_questions(path)


# -- metrics ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("", ""),
        ("?", ""),
        ("   \t\n ", ""),
        ("The “Golden” Opportunity!", "golden opportunity"),
        ("North Korea’s leader", "north koreas leader"),
        ("an apple and a pear", "apple and pear"),
        ("41,000 daily commuters", "41000 daily commuters"),
        ("‘gangster-like’", "gangsterlike"),
        ("🚀 Theatre", "🚀 theatre"),
    ],
)
def test_normalize_answer(text: str, normal: str) -> None:
    assert metrics.normalize_answer(text) == normal


@pytest.mark.parametrize(
    ("text", "answers", "all_needed", "expected"),
    [
        ("It was fired toward the east.", ["east"], False, True),
        ("It was fired toward the west.", ["east"], False, False),
        ("In the northeast.", ["east"], False, False),  # whole words only
        ("Blinken told MSNBC.", ["Antony Blinken", "Blinken"], False, True),
        ("“profoundly destabilizing”", ["profoundly destabilizing", "MSNBC"], True, False),
        ("“profoundly destabilizing”, MSNBC", ["profoundly destabilizing", "MSNBC"], True, True),
        ("anything", [], False, False),
        ("the", ["the"], False, False),  # a gold answer that normalises to nothing never matches
    ],
)
def test_contains_answer(text: str, answers: list, all_needed: bool, expected: bool) -> None:
    assert metrics.contains_answer(text, answers, all_needed) is expected


def test_token_f1_matches_squad() -> None:
    assert metrics.token_f1("the cat sat", "a cat sat") == 1.0
    assert metrics.token_f1("cat sat on mat", "cat") == pytest.approx(0.4)  # p 1/4, r 1
    assert metrics.token_f1("dog", "cat") == 0.0
    assert metrics.token_f1("", "cat") == 0.0
    assert metrics.best_f1("cat", ["dog", "cat"]) == 1.0
    assert metrics.best_f1("cat", ["dog", "cat"], all_needed=True) == pytest.approx(2 / 3)


def test_spans_ranking_and_recall() -> None:
    chunks = [("d", 0, 10), ("d", 10, 30), ("e", 0, 50)]
    assert metrics.span_contains(("d", 10, 30), ("d", 12, 30))
    assert not metrics.span_contains(("d", 10, 30), ("d", 5, 12))  # straddles a boundary
    assert not metrics.span_contains(("e", 0, 50), ("d", 12, 13))  # another document
    assert metrics.spans_overlap(("d", 0, 10), ("d", 9, 20))
    assert not metrics.spans_overlap(("d", 0, 10), ("d", 10, 20))  # end is exclusive
    evidence = [("d", 12, 20), ("d", 40, 45)]
    assert metrics.evidence_recall(chunks, evidence, k=3) == 0.5
    assert metrics.evidence_recall(chunks, evidence, k=1) == 0.0
    assert metrics.reciprocal_rank(chunks, evidence) == 0.5
    assert metrics.reciprocal_rank(chunks, [("d", 100, 101)]) == 0.0


def test_percentile_and_mean() -> None:
    assert metrics.percentile([4, 1, 3, 2], 50) == 2.5
    assert metrics.percentile([1.0], 95) == 1.0
    assert metrics.percentile(list(range(101)), 95) == 95
    assert metrics.percentile([], 50) is None
    assert metrics.mean([]) is None and metrics.ratio(1, 0) is None


def test_refusal_curve_hook() -> None:
    points = metrics.refusal_curve([(0.9, True), (0.2, False), (0.5, True), (0.5, False)])
    assert [(p.threshold, p.precision, p.recall) for p in points] == [
        (0.9, 1.0, 0.5),
        (0.5, 2 / 3, 1.0),  # tied scores are one threshold
        (0.2, 0.5, 1.0),
    ]
    assert metrics.refusal_curve([]) == []


@given(st.text(max_size=60))
def test_normalising_is_idempotent_and_an_answer_contains_itself(text: str) -> None:
    normal = metrics.normalize_answer(text)
    assert metrics.normalize_answer(normal) == normal
    assert metrics.contains_answer(text, [text]) is bool(normal)


# -- scoring one answer -----------------------------------------------------------------------

DOC = "Tom came on Monday. He saw Ann. They left early."
Q_ANSWERABLE = Question("q1", "factual", "tune", "When?", (), ("Monday",), ("Tom came on Monday.",))
Q_MULTI = Question(
    "q2", "multi_sentence", "tune", "?", (), ("Monday", "Ann"), ("Tom came on Monday.", "Ann")
)
Q_NONE = Question("q3", "unanswerable", "heldout", "Why?", (), (), ())


def _cite(start: int, end: int, quote: str | None = None) -> Citation:
    return Citation("d.txt", start, end, DOC[start:end] if quote is None else quote)


def _chunk(start: int, end: int) -> Chunk:
    return Chunk("d.txt", start, end, DOC[start:end])


def _score(question: Question, answer: Answer):
    evidence = [("d.txt", DOC.find(q), DOC.find(q) + len(q)) for q in question.evidence]
    return score(question, answer, evidence, {"d.txt": DOC}.get, k=2, latency=0.1)


def test_a_right_answer_passes_with_valid_citations() -> None:
    answer = Answer(
        "Tom came on Monday. [1]",
        [_cite(0, 19)],
        False,
        None,
        "When?",
        [_chunk(20, 48), _chunk(0, 31)],
    )
    row = _score(Q_ANSWERABLE, answer)
    assert row.passed and row.contained and row.evidence_cited
    assert (row.recall, row.reciprocal_rank) == (1.0, 0.5)
    assert (row.valid_citations, row.citations_on_evidence) == (1, 1)
    assert row.first_quote == "Tom came on Monday."


def test_an_abstention_on_an_answerable_question_fails_whatever_its_text() -> None:
    answer = Answer("Nothing answers “Monday”.", [], True, None, "When?", [_chunk(0, 19)])
    row = _score(Q_ANSWERABLE, answer)
    assert not row.passed and row.contained is False and row.f1 == 0.0
    assert row.evidence_cited is None and row.recall == 1.0


def test_multi_sentence_needs_every_part() -> None:
    half = Answer("Tom came on Monday. [1]", [_cite(0, 19)], False, None, "?", [])
    both = Answer(
        "Tom came on Monday. He saw Ann.", [_cite(0, 19), _cite(20, 31)], False, None, "?", []
    )
    assert not _score(Q_MULTI, half).passed and not _score(Q_MULTI, half).evidence_cited
    assert _score(Q_MULTI, both).passed and _score(Q_MULTI, both).evidence_cited


def test_unanswerable_passes_only_by_abstaining_and_bad_quotes_are_invalid() -> None:
    refused = _score(Q_NONE, Answer("The article does not say.", [], True, None, "Why?", []))
    assert refused.passed and refused.recall is None and refused.f1 is None
    wrong = _score(Q_NONE, Answer("x", [_cite(0, 19), _cite(0, 3, "Ann")], False, None, "Why?", []))
    assert not wrong.passed and wrong.valid_citations == 1


def test_aggregate_denominators() -> None:
    rows = [
        _score(Q_ANSWERABLE, Answer("Monday", [_cite(0, 19)], False, None, "", [_chunk(0, 19)])),
        _score(Q_ANSWERABLE, Answer("no", [], True, None, "", [])),
        _score(Q_NONE, Answer("no", [], True, None, "", [])),
        _score(Q_NONE, Answer("Ann", [_cite(20, 31)], False, None, "", [])),
    ]
    values = aggregate(rows)
    assert list(values) == list(METRICS)
    assert values["questions"] == 4 and values["pass_rate"] == 0.5
    assert values["recall_at_k"] == 0.5 and values["answer_accuracy"] == 0.5
    assert values["citation_validity"] == 1.0
    assert values["citation_precision"] == 1.0  # answerable questions' citations only
    assert values["citation_recall"] == 1.0  # answered answerable questions only
    assert values["refusal_accuracy"] == 0.5 and values["false_refusal_rate"] == 0.5
    scoped = aggregates(rows, ["unanswerable", "factual", "absent"])
    # Both splits are present (the answerable rows are tune, the others held out).
    assert list(scoped) == ["overall", "tune", "heldout", "unanswerable", "factual"]
    assert scoped["tune"]["questions"] == 2 and scoped["tune"]["answer_accuracy"] == 0.5
    assert scoped["heldout"]["refusal_accuracy"] == 0.5
    assert scoped["unanswerable"]["recall_at_k"] is None
    assert "tune" not in aggregates(rows[:2], ["factual"])  # one split: no split columns


# -- tables, the gate, where a run looks for its document -------------------------------------


def test_tables_fit_a_hundred_columns() -> None:
    rows = [
        _score(
            Q_ANSWERABLE, Answer("Tom came on Monday. " * 20, [_cite(0, 19)], False, None, "", [])
        )
    ]
    for text in (
        tables.question_table(rows),
        tables.aggregate_table(aggregates(rows, ["factual"]), k=4),
        tables.compare_table(aggregates(rows, ["factual"]), aggregates(rows, ["factual"]), k=4),
    ):
        assert max(len(line) for line in text.splitlines()) <= tables.WIDTH
    assert tables.truncate("a  b\nc", 10) == "a b c" and tables.truncate("abcdef", 4) == "abc…"


def test_gate_lists_every_metric_outside_its_bound(tmp_path: Path) -> None:
    bounds = gate.Thresholds(minimum={"mrr": 0.6, "pass_rate": 0.5}, maximum={"latency_p95": 1})
    found = gate.failures({"mrr": 0.5, "pass_rate": 0.9, "latency_p95": 2.0}, bounds)
    assert found == ["mrr 0.500 < minimum 0.600", "latency_p95 2.000 > maximum 1.000"]
    assert gate.failures({}, gate.Thresholds(minimum={"mrr": 0.1})) == [
        "mrr missing < minimum 0.100"
    ]
    bad = tmp_path / "t.toml"
    bad.write_text("[minimum]\nmrrr = 0.5\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="unknown metric 'mrrr'"):
        gate.load_thresholds(bad)


def test_the_real_thresholds_gate_quality_not_latency() -> None:
    bounds = gate.load_thresholds()
    assert bounds.minimum["citation_validity"] == 1.0
    assert not {"latency_p50", "latency_p95"} & {*bounds.minimum, *bounds.maximum}


def test_a_document_outside_the_source_folder_moves_the_run() -> None:
    here = setup.locate(load_questions(QUESTIONS), SEEDS)
    assert (here.source_dir, here.doc_ids, here.moved) == (SEEDS, (ARTICLE_ID,), False)
    there = setup.locate(load_questions(SECOND), SEEDS)
    assert there.source_dir == SECOND.parent / "docs" and there.moved
    assert (there.source_dir / there.doc_ids[0]).is_file()


def test_the_second_file_gets_a_temporary_index_and_the_environment_is_never_changed(
    isolated_index: Path,
) -> None:
    before = dict(os.environ)
    with setup.run_settings(load_questions(SECOND), top_k=2) as (corpus, settings):
        assert settings.source_dir == corpus.source_dir == SECOND.parent / "docs"
        assert settings.index_dir != isolated_index and settings.top_k == 2
        assert dict(os.environ) == before  # the run's DocQA gets these settings, not the env
    with setup.run_settings(load_questions(QUESTIONS)) as (corpus, settings):
        assert settings.index_dir == isolated_index  # the usual index for the usual corpus
    assert dict(os.environ) == before


def test_a_missing_document_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "questions.toml"
    path.write_text(GOOD.replace("a.txt", "absent.txt"), encoding="utf-8")
    with pytest.raises(DatasetError, match=r"absent\.txt"):
        setup.locate(load_questions(path), SEEDS)


# -- reliability: hand-built outcomes --------------------------------------------------------


def _outcome(answerable: bool, abstained: bool, right: bool, confidence: float, **more):
    return reliability.Outcome(answerable, abstained, right, confidence, **more)


def test_expected_calibration_error_by_hand() -> None:
    ece = reliability.expected_calibration_error
    assert ece([]) is None
    assert ece([(0.9, True), (0.9, False)]) == pytest.approx(0.4)  # one bin: |0.9 - 0.5|
    # bins [0.1, 0.2) and [0.9, 1.0]; 1.0 falls in the top bin, not an eleventh
    pairs = [(0.15, False), (0.15, True), (1.0, True), (0.9, True)]
    assert ece(pairs) == pytest.approx((2 * abs(0.15 - 0.5) + 2 * abs(0.95 - 1.0)) / 4)
    assert ece([(0.05, False), (0.95, True)]) == pytest.approx(0.05)
    assert ece([(0.35, True)] * 3, bins=2) == pytest.approx(0.65)


def test_confidently_wrong_counts_answered_wrong_at_high_confidence() -> None:
    outcomes = [
        _outcome(True, False, True, 0.95),  # right
        _outcome(True, False, False, 0.95),  # wrong, confident
        _outcome(False, False, False, 0.9),  # an unanswerable one answered, at the bound
        _outcome(True, False, False, 0.89),  # wrong, not confident
        _outcome(True, True, False, 0.99),  # refused: not an answer at all
    ]
    assert reliability.confidently_wrong(outcomes) == pytest.approx(2 / 4)
    assert reliability.confidently_wrong(outcomes, at=0.95) == pytest.approx(1 / 4)
    assert reliability.confidently_wrong(outcomes[4:]) is None  # nothing answered


def test_summary_denominators_and_the_worst_row() -> None:
    outcomes = [
        _outcome(True, False, True, 0.95, kind="person", short_label="PERSON", split="tune"),
        _outcome(True, False, False, 0.92, kind="number", short_label="PERSON", split="tune"),
        _outcome(True, True, False, 0.3, kind="date", split="heldout"),
        _outcome(False, True, False, 0.2, split="heldout"),
        _outcome(False, False, False, 0.97, kind="other", short_label="DATE", split="heldout"),
    ]
    bm25 = [_outcome(o.answerable, False, o.answerable, 1.0, split=o.split) for o in outcomes]
    values = reliability.summary(outcomes, {"bm25": bm25})
    assert list(values) == list(reliability.METRICS)
    assert values["questions"] == 5
    assert values["answer_rate"] == pytest.approx(1 / 3)
    assert values["false_refusals"] == pytest.approx(1 / 3)
    assert values["refusals"] == 0.5
    assert values["confidently_wrong"] == pytest.approx(2 / 3)
    assert values["wrong_kind_shorts"] == 0.5  # "other" asks for no label: not counted
    assert values["bm25_answer_rate"] == 1.0 and values["cosine_answer_rate"] is None
    split = reliability.by_split(outcomes, {"bm25": bm25}, SPLITS)
    assert list(split) == ["tune", "heldout", "overall"] and split["overall"] == values
    assert split["tune"]["answer_rate"] == 0.5 and split["heldout"]["refusals"] == 0.5
    assert list(reliability.by_split(outcomes[:2], None, SPLITS)) == ["overall"]
    worst = reliability.worst({"a": values, "b": {**values, "ece": 0.0, "answer_rate": 0.9}})
    assert worst["answer_rate"] == pytest.approx(1 / 3) and worst["ece"] == values["ece"]
    assert worst["questions"] == 10 and worst["cosine_answer_rate"] is None


@pytest.mark.parametrize(
    ("kind", "label", "wrong"),
    [
        ("person", "PERSON", False),
        ("person", "DATE", True),
        ("place", "NP", False),
        ("number", "NP", True),
        ("number", "DATE", False),  # "25 days" is DATE to spaCy
        ("date", "CARDINAL", True),
        ("amount", "MONEY", False),
        ("reason", "DATE", None),
        ("time", None, None),
    ],
)
def test_wrong_kind(kind: str, label: str | None, wrong: bool | None) -> None:
    assert _outcome(True, False, True, 1.0, kind=kind, short_label=label).wrong_kind is wrong


def test_short_label_is_spacys_in_the_sentence() -> None:
    text = "Notes.\n\nTom Baker came on Monday 3 May 2021. He paid £40 for 12 tickets."
    labels = {
        quote: reliability.short_label(
            Citation("d", text.index(quote), text.index(quote) + len(quote), quote), text
        )
        for quote in ("Tom Baker", "Monday 3 May 2021", "£40", "12", "Baker")
    }
    assert labels == {
        "Tom Baker": "PERSON",
        "Monday 3 May 2021": "DATE",
        "£40": "MONEY",
        "12": "CARDINAL",
        "Baker": "PERSON",  # no whole phrase: the one overlapping it most
    }
    assert reliability.short_label(None, text) is None
    assert reliability.short_label(Citation("d", 0, 3, "Tom"), text) is None  # not the text


def test_the_reliability_table_fits_and_shows_every_scope() -> None:
    values = dict.fromkeys(reliability.METRICS, 0.123456)
    table = tables.reliability_table({"calibration": values, "WORST": values}, "domain")
    lines = table.splitlines()
    assert max(len(line) for line in lines) <= tables.WIDTH
    assert [line.split()[0] for line in lines[2:]] == ["calibration", "WORST"]
    assert lines[2].count("0.123") == len(reliability.METRICS) - 1  # "questions" is whole


def test_spread_keeps_the_share_of_unanswerables_and_spaces_each_kind_evenly() -> None:
    from evals.squad import spread
    from evals.squad_data import Gold, SquadQuestion

    gold = (Gold(0, 1, "x"),)
    # four paragraphs of three answerable questions, then two unanswerable ones
    questions = [
        SquadQuestion(f"{paragraph}{kind}{number}", "?", gold if kind == "a" else ())
        for paragraph in range(4)
        for kind, count in (("a", 3), ("u", 2))
        for number in range(count)
    ]
    # 2 of 5 unanswerable, as 8 of 20; one stride for all (every 4th: 0a0, 1a0, 2a0, 3a0)
    # would miss them all
    assert [q.id for q in spread(questions, 5)] == ["0a0", "0u0", "1a1", "2a2", "2u0"]
    assert [q.id for q in spread(questions, 4)] == ["0a0", "0u0", "2a0", "2u0"]
    assert spread(questions, 20) == spread(questions, None) == questions
