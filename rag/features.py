"""The features the reader's models read: pure functions of a query and its candidates.

Sentence features describe how well a candidate sentence matches the question (dense and
lexical scores, ranks among the candidates, neighbours and context, the kinds of phrase it
holds); phrase features describe how a phrase inside it relates to the question. Training
(training) and reading (rag.reader) call the same functions, so the models see at run time
exactly what they were fitted on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from rag.answer_types import DEPENDENCIES, LABELS
from rag.lexicon import WORD, stem, terms, words
from rag.question import KINDS
from rag.types import Candidate, Phrase, Query

# P(label | kind): how often a question of each kind was answered by a phrase of each label,
# learned from the training articles (training); rows are KINDS, columns LABELS.
LabelPrior = Mapping[str, Mapping[str, float]]

SENTENCE_FEATURES = (
    "kind",
    "dense",
    "clause_dense",
    "dense_gap",
    "bm25_share",
    "bm25_rank",
    "coverage",
    "chunk_rank",
    "corpus_dense_rank",
    "neighbour_dense",
    "neighbour_coverage",
    "context_coverage",
    "missing_idf",
    "context_missing_idf",
    "term_window",
    "negation_mismatch",
    "type_prior",
    "new_entities",
    "question_terms",
    "candidates",
    "top_dense",
    "top_coverage",
    "context_dense",
    "kind_fit",
    "beside_kind_fit",
)
PHRASE_FEATURES = (
    "kind",
    "label",
    "dependency",
    "governor_in_question",
    "signed_distance",
    "type_prior",
    "question_overlap",
    "words",
    "relative_start",
    "term_distance",
    "terms_near",
    "in_best_clause",
    "has_digit",
    "capitalised",
)
# Whether the sources answer the question at all: how well the best sentence scored, how close
# in meaning it and its context come to the question, how much of the question its context
# holds, and whether it holds a phrase of the kind asked for. None of these compares the
# sentence with the rest of the corpus, so a folder of look-alike documents does not lower the
# confidence. The answerability model reads these; its probability is the answer's confidence.
ANSWER_FEATURES = (
    "best_score",
    "dense",
    "clause_dense",
    "context_dense",
    "coverage",
    "context_coverage",
    "context_missing_idf",
    "kind_fit",
)
# The phrase labels that can answer each kind of question (a grammar fact: "who" asks for a
# person or a body of people, "where" for a place ...); a phrase with a digit also answers the
# kinds that want a number, a date or a time. Kinds not listed take any phrase.
FITTING_LABELS = {
    "person": frozenset({"PERSON", "ORG", "NORP"}),
    "place": frozenset({"GPE", "LOC", "FAC", "ORG"}),
    "date": frozenset({"DATE"}),
    "time": frozenset({"DATE", "TIME"}),
    "duration": frozenset({"DATE", "TIME", "QUANTITY", "CARDINAL"}),
    "number": frozenset({"CARDINAL", "QUANTITY", "PERCENT", "MONEY", "ORDINAL"}),
    "amount": frozenset({"MONEY", "QUANTITY", "CARDINAL", "PERCENT"}),
    "multiple": frozenset({"CARDINAL", "QUANTITY", "PERCENT", "MONEY"}),
}
_NUMERIC_KINDS = frozenset({"date", "time", "duration", "number", "amount", "multiple"})
# What a date must hold to name the unit a "what year / decade / century" question asks for
# (keyed by the unit's term): "Friday" is a date but names no year.
DATE_UNITS = {
    "year": re.compile(r"\d{3,4}|'\d\d\b"),
    "decad": re.compile(r"\d0s\b|'\d0s\b|\bdecade", re.IGNORECASE),
    "centuri": re.compile(r"\bcentur|\d(?:st|nd|rd|th)\b", re.IGNORECASE),
}
CATEGORICAL = (
    "kind",
    "label",
    "dependency",
)  # integer codes the tree models split on as categories
_NEAR = 5  # words either side of a phrase counted as its neighbourhood


def sentence_features(
    query: Query, candidates: Sequence[Candidate], prior: LabelPrior
) -> np.ndarray:
    """One row of SENTENCE_FEATURES per candidate (float32); no candidates, no rows."""
    if not candidates:
        return np.zeros((0, len(SENTENCE_FEATURES)), dtype=np.float32)
    dense = np.array([c.dense for c in candidates])
    lexical = np.array([c.bm25 for c in candidates])
    cover = np.array([c.coverage for c in candidates])
    bm25_rank = _ranks(lexical)
    question = set(query.terms)
    negated = _negated(query.part)
    rows = []
    for at, c in enumerate(candidates):
        fresh = [p for p in c.phrases if _is_new(c, p, question)]
        rows.append(
            (
                KINDS.index(query.kind),
                c.dense,
                c.clause_dense,
                dense.max() - c.dense,
                c.bm25 / lexical.max() if lexical.max() > 0 else 0.0,
                bm25_rank[at],
                c.coverage,
                c.chunk_rank,
                c.dense_rank,
                c.neighbour_dense,
                c.neighbour_coverage,
                c.context_coverage,
                c.missing_idf,
                c.context_missing_idf,
                _term_window(c, question),
                float(negated != _negated(c.sentence.text)),
                max((prior[query.kind].get(p.label, 0.0) for p in fresh), default=0.0),
                sum(p.label not in ("NP", "QUOTE") for p in fresh),
                len(question),
                len(candidates),
                dense.max(),
                cover.max(),
                c.context_dense,
                kind_fit(query.kind, c.sentence.text, c.phrases, question),
                max(
                    (kind_fit(query.kind, span.text, found, question) for span, found in c.beside),
                    default=kind_fit(query.kind, "", (), question),
                ),
            )
        )
    return np.asarray(rows, dtype=np.float32)


def kind_fit(kind: str, text: str, phrases: Sequence[Phrase], question: set[str]) -> float:
    """1.0 when a phrase of `text` that the question does not already hold is of a kind that
    can answer it (a person for "who", a date naming a year for "what year" ...), -1.0 when
    the question wants a kind of answer and none is there, 0.0 when it wants no particular
    kind."""
    fitting = FITTING_LABELS.get(kind)
    if fitting is None:
        return 0.0
    units = [DATE_UNITS[unit] for unit in DATE_UNITS if unit in question] if kind == "date" else []
    for phrase in phrases:
        span = text[phrase.start : phrase.end]
        found = set(terms(span))
        if not found or found <= question:
            continue
        if units and not any(unit.search(span) for unit in units):
            continue
        if phrase.label in fitting or (kind in _NUMERIC_KINDS and any(ch.isdigit() for ch in span)):
            return 1.0
    return -1.0


# The sentence features the cross-encoder route reads beside the cross-encoder's scores: how
# much of the question the candidate's sentence and context (the sentence before, the heading,
# the file name) hold. The cross-encoder weighs that context little, so among look-alike
# sentences ("Its library was founded by ...") it cannot tell which town's file is asked about.
CONTEXT_FEATURES = ("context_coverage", "context_missing_idf")


def cross_features(
    cross_logits: np.ndarray,
    sentence_scores: np.ndarray,
    answerable: float = 0.5,
    context: np.ndarray | None = None,
) -> np.ndarray:
    """Rows of rag.ranker.CROSS_FEATURES for the candidates the cross-encoder read: its raw
    score, the fast sentence model's probability as log-odds, the margin over the best other
    candidate read (0 when it read only one), the answerability model's probability for the
    question as log-odds, and each candidate's CONTEXT_FEATURES (`context`, one row per
    candidate; zeros when not given).

    cross_features([2.0, -1.0], [0.5, 0.5]) -> [[2, 0, 3, 0, 0, 0], [-1, 0, -3, 0, 0, 0]]
    """
    cross = np.asarray(cross_logits, dtype=np.float64)
    fast = np.clip(np.asarray(sentence_scores, dtype=np.float64), 1e-6, 1 - 1e-6)
    sure = float(np.clip(answerable, 1e-6, 1 - 1e-6))
    if len(cross) > 1:
        order = np.sort(cross)
        best_other = np.where(cross == order[-1], order[-2], order[-1])
        margin = cross - best_other
    else:
        margin = np.zeros_like(cross)
    if context is None:
        context = np.zeros((len(cross), len(CONTEXT_FEATURES)))
    return np.column_stack(
        [
            cross,
            np.log(fast / (1 - fast)),
            margin,
            np.full(len(cross), np.log(sure / (1 - sure))),
            np.asarray(context, dtype=np.float64).reshape(len(cross), len(CONTEXT_FEATURES)),
        ]
    )


def context_columns(rows: np.ndarray) -> np.ndarray:
    """The CONTEXT_FEATURES columns of sentence feature rows."""
    return rows[:, [SENTENCE_FEATURES.index(name) for name in CONTEXT_FEATURES]]


def answer_features(sentence_rows: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """One row of ANSWER_FEATURES for a question, from its candidates' sentence features and
    the sentence model's scores."""
    best = int(np.argmax(scores))
    column = {name: at for at, name in enumerate(SENTENCE_FEATURES)}
    row = [scores[best], *(sentence_rows[best, column[name]] for name in ANSWER_FEATURES[1:])]
    return np.asarray([row], dtype=np.float32)


def phrase_features(query: Query, candidate: Candidate, prior: LabelPrior) -> np.ndarray:
    """One row of PHRASE_FEATURES per phrase of `candidate` (float32)."""
    if not candidate.phrases:
        return np.zeros((0, len(PHRASE_FEATURES)), dtype=np.float32)
    text = candidate.sentence.text
    question = set(query.terms)
    tokens = [
        (m.start(), m.end(), stem(m.group().lower().replace("’", "'"))) for m in WORD.finditer(text)
    ]
    hits = [index for index, (_s, _e, term) in enumerate(tokens) if term in question]
    clause = (
        candidate.clauses[candidate.best_clause]
        if candidate.best_clause >= 0
        else candidate.sentence
    )
    clause_start = clause.start - candidate.sentence.start
    clause_end = clause.end - candidate.sentence.start
    rows = []
    for phrase in candidate.phrases:
        inside = [i for i, (s, e, _t) in enumerate(tokens) if s >= phrase.start and e <= phrase.end]
        first, last = (inside[0], inside[-1]) if inside else (0, 0)
        outside = [i for i in hits if not first <= i <= last]
        # subtle: positive when the nearest question word comes before the phrase
        signed = min(
            ((first - i) if i < first else (last - i) for i in outside), key=abs, default=50
        )
        distance = abs(signed)
        near = sum(1 for i in outside if first - _NEAR <= i <= last + _NEAR)
        phrase_terms = terms(text[phrase.start : phrase.end])
        overlap = (
            sum(t in question for t in phrase_terms) / len(phrase_terms) if phrase_terms else 1.0
        )
        span = text[phrase.start : phrase.end]
        rows.append(
            (
                KINDS.index(query.kind),
                LABELS.index(phrase.label),
                DEPENDENCIES.index(phrase.dependency),
                float(bool(phrase.governor) and stem(phrase.governor) in question),
                signed,
                prior[query.kind].get(phrase.label, 0.0),
                overlap,
                len(span.split()),
                phrase.start / max(len(text), 1),
                distance,
                near,
                float(clause_start <= phrase.start and phrase.end <= clause_end),
                float(any(ch.isdigit() for ch in span)),
                sum(word[:1].isupper() for word in span.split()) / max(len(span.split()), 1),
            )
        )
    return np.asarray(rows, dtype=np.float32)


def _is_new(candidate: Candidate, phrase: Phrase, question: set[str]) -> bool:
    """Whether the phrase says something the question does not already (a word not in it)."""
    found = terms(candidate.sentence.text[phrase.start : phrase.end])
    return bool(found) and not set(found) <= question


_NEGATION = frozenset({"not", "no", "never", "none", "nor", "without", "neither", "nobody"})


def _negated(text: str) -> bool:
    """Whether a text holds a negation word (n't included)."""
    return any(word in _NEGATION or word.endswith("n't") for word in words(text))


def _term_window(candidate: Candidate, question: set[str]) -> float:
    """How tightly the question's terms sit in the sentence: the words from the first to the
    last question term, per question term found (1.0 when they stand side by side; 0 when
    none is there)."""
    at = [i for i, word in enumerate(words(candidate.sentence.text)) if stem(word) in question]
    if not at:
        return 0.0
    return (at[-1] - at[0] + 1) / len(at)


def _ranks(values: np.ndarray) -> np.ndarray:
    """0 for the largest value, 1 for the next ...; ties share the better rank's order."""
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float32)
    ranks[order] = np.arange(len(values))
    return ranks
