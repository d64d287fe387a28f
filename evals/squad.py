"""The public benchmark: `python -m evals --squad FILE` runs SQuAD 2.0 files through docqa.

Each article becomes one `.txt` document, read by `evals.squad_data` (the reader's training
reads the same file the same way): its paragraphs joined by a blank line, each gold answer's
span moved from its paragraph to the document and checked to quote it (one that does not is
skipped and counted). The documents go to a temporary source folder; one `rag.DocQA` indexes
it once and answers every question, timed; two one-sentence baselines (evals.baselines: BM25
and MiniLM cosine) answer the same questions. evals.scoring scores them as
evals.squad_scoring declares, per system, per split and overall, and evals.reliability sums
docqa's answers up as a domain; evals.tables prints the tables and evals.report draws the
chart. Several files make one benchmark (their article titles must differ); `limit` keeps
that many questions of each article, spread evenly over it.

An article's split is the one data/split.toml gives its title; an article it does not list is
in split "unseen".
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from evals import reliability, report
from evals.baselines import BM25Baseline, CosineBaseline, Sentences
from evals.dataset import read_text
from evals.metrics import CurvePoint, Span
from evals.readers import DEFAULT_READER, ask, drop_reasons, reader_settings
from evals.scoring import Row, record, score
from evals.squad_data import Article, Gold, SquadQuestion, load_articles, load_split
from evals.squad_scoring import SQUAD, curves, outcomes, per_system
from rag import Answer, QuestionError, Settings
from rag.errors import DatasetError

if TYPE_CHECKING:
    from evals.dataset import Question

SPLIT_FILE = report.ROOT / "data" / "split.toml"
Q = TypeVar("Q", bound="SquadQuestion | Question")
UNSEEN = "unseen"  # the split of an article that split.toml does not list
RESERVED = ("overall", UNSEEN)  # scopes of the report that no split of split.toml may take
SYSTEMS = ("docqa", "bm25", "cosine")
LLM_SYSTEM = "docqa-llm"  # docqa with the language model of DOCQA_LLM (--reader llm)
WARM_UP_QUESTION = "What is this document about?"  # loads the lazy parts; not timed


# -- the benchmark: articles, documents, questions and their gold spans ----------------------


@dataclass(frozen=True)
class Item:
    """One SQuAD question, its article's document and its verified gold answers."""

    id: str
    article: str
    split: str
    doc_id: str
    question: str
    answerable: bool
    golds: tuple[Gold, ...]

    @property
    def answers(self) -> tuple[str, ...]:
        """The gold answers' texts."""
        return tuple(gold.text for gold in self.golds)

    @property
    def evidence(self) -> tuple[Span, ...]:
        """The gold answers' spans in the document, (doc_id, start, end) each."""
        return tuple((self.doc_id, gold.start, gold.end) for gold in self.golds)


@dataclass(frozen=True)
class Benchmark:
    """The chosen articles of SQuAD files as documents, and their questions in file order."""

    paths: tuple[Path, ...]
    documents: dict[str, str]  # doc_id (file name) -> text
    articles: dict[str, tuple[str, str]]  # doc_id -> (title, split)
    items: tuple[Item, ...]
    skipped_golds: int  # gold answers whose span does not quote the document
    skipped_questions: int  # answerable questions left with no verified gold answer
    splits: tuple[str, ...]  # the splits present, in split.toml's order, "unseen" last


def build(
    paths: Sequence[Path],
    splits: Iterable[str] = (),
    articles: Iterable[str] = (),
    limit: int | None = None,
    split_file: Path = SPLIT_FILE,
) -> Benchmark:
    """The articles of the SQuAD files at `paths` that are in one of `splits` and among
    `articles` (empty: no filter), with at most `limit` questions each, spread evenly over
    the article, in file order.

    Raises SourceError for a bad SQuAD or split file, DatasetError for an unknown split or
    article, an article in two files, or an empty choice.
    """
    loaded = _load(paths)
    path = ", ".join(str(path) for path in paths)  # for messages
    split_of = load_split(split_file)
    if reserved := [name for name in RESERVED if name in split_of.values()]:
        raise DatasetError(
            f"{split_file}: the split name {reserved[0]!r} is reserved; give the split another name"
        )
    known_splits = [*dict.fromkeys(split_of.values()), UNSEEN]
    wanted_splits, wanted_titles = set(splits), set(articles)
    if unknown := wanted_splits - set(known_splits):
        raise DatasetError(
            f"unknown split {', '.join(sorted(unknown))}: choose from {', '.join(known_splits)}"
        )
    titles = [article.title for article in loaded]
    if unknown := wanted_titles - set(titles):
        shown = ", ".join(titles[:12]) + (
            f" and {len(titles) - 12} more" if len(titles) > 12 else ""
        )
        raise DatasetError(
            f"no article titled {', '.join(sorted(unknown))} in {path}: its articles are {shown}"
        )
    documents: dict[str, str] = {}
    chosen: dict[str, tuple[str, str]] = {}
    items: list[Item] = []
    skipped_golds = skipped_questions = 0
    for article in loaded:
        title, doc_id = article.title, article.file_name
        split = split_of.get(title, UNSEEN)
        if (wanted_splits and split not in wanted_splits) or (
            wanted_titles and title not in wanted_titles
        ):
            continue
        items += [
            Item(q.id, title, split, doc_id, q.question, q.answerable, q.answers)
            for q in spread(article.questions, limit)
        ]
        skipped_golds += article.dropped_golds
        skipped_questions += article.dropped_questions
        documents[doc_id] = article.text
        chosen[doc_id] = (title, split)
    if not items:
        asked = []
        if wanted_splits:
            asked.append(f"split {', '.join(sorted(wanted_splits))}")
        if wanted_titles:
            asked.append(f"article {', '.join(sorted(wanted_titles))}")
        raise DatasetError(
            f"no question of {path} is in {' and '.join(asked) or 'any article'}"
            + (f": its articles are in {', '.join(_present(split_of, titles))}" if asked else "")
        )
    present = {split for _title, split in chosen.values()}
    return Benchmark(
        paths=tuple(paths),
        documents=documents,
        articles=chosen,
        items=tuple(items),
        skipped_golds=skipped_golds,
        skipped_questions=skipped_questions,
        splits=tuple(split for split in known_splits if split in present),
    )


def _load(paths: Sequence[Path]) -> list[Article]:
    """The articles of every file, in order; DatasetError for a title in two of them."""
    loaded: list[Article] = []
    where: dict[str, Path] = {}
    for path in paths:
        for article in load_articles(path):
            if article.title in where:
                raise DatasetError(
                    f"the article {article.title!r} is in both {where[article.title]} and "
                    f"{path}: give each article once"
                )
            where[article.title] = path
            loaded.append(article)
    return loaded


def spread(questions: Sequence[Q], limit: int | None) -> Sequence[Q]:
    """At most `limit` of `questions` (SQuAD's, or any with `answerable`), in order: the
    unanswerable ones in their share of the article (rounded), each kind evenly spaced over
    its questions from the first. (Spacing all alike would fall in step with SQuAD's
    paragraphs, which list their unanswerable questions last, and could miss every one.)"""
    if limit is None or limit >= len(questions):
        return questions
    unanswerable = [index for index, q in enumerate(questions) if not q.answerable]
    answerable = [index for index, q in enumerate(questions) if q.answerable]
    refused = round(limit * len(unanswerable) / len(questions))
    chosen = _evenly(unanswerable, refused) + _evenly(answerable, limit - refused)
    return [questions[index] for index in sorted(chosen)]


def _evenly(indices: Sequence[int], count: int) -> list[int]:
    """`count` of `indices`, evenly spaced from the first: _evenly([0, ..., 7], 4) -> 0, 2, 4, 6."""
    return [indices[number * len(indices) // count] for number in range(count)]


def _present(split_of: Mapping[str, str], titles: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(split_of.get(title, UNSEEN) for title in titles))


def write_sources(benchmark: Benchmark, folder: Path) -> dict[str, str]:
    """Write each document as UTF-8 (newline="", so offsets hold) and read it back; returns
    doc_id -> the text on disk. Every gold span is checked against that text again."""
    folder.mkdir(parents=True, exist_ok=True)
    on_disk = {}
    for doc_id, text in benchmark.documents.items():
        with (folder / doc_id).open("w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        on_disk[doc_id] = read_text(folder / doc_id)
    for item in benchmark.items:
        for gold in item.golds:
            if on_disk[item.doc_id][gold.start : gold.end] != gold.text:
                raise DatasetError(f"{item.id}: the gold span moved when {item.doc_id} was written")
    return on_disk


# -- the run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answered:
    """Every question answered by docqa and the baselines, and scored."""

    settings: Settings
    rows: list[Row]  # system by system, each in file order
    index_seconds: float  # docqa's .index()
    setup_seconds: float  # the baselines' sentence indexes
    question_errors: int  # questions rag refused as invalid (scored as abstentions)


@dataclass(frozen=True)
class Run:
    """A finished benchmark run: its rows and figures, and where its report went."""

    benchmark: Benchmark
    settings: Settings
    rows: list[Row]
    aggregates: dict[str, dict[str, dict]]
    reliability: dict[str, dict[str, float | None]]  # split or "overall" -> summary
    curves: dict[str, list[CurvePoint]]
    seconds: float  # the whole run
    index_seconds: float  # docqa's .index()
    setup_seconds: float  # the baselines' sentence indexes
    question_errors: int  # questions rag refused as invalid (scored as abstentions)
    report: dict[str, Any]
    json_path: Path
    chart_path: Path | None


Progress = Callable[[int, int, str], None]


def answer_all(
    benchmark: Benchmark,
    top_k: int | None = None,
    chunk_sentences: int | None = None,
    chunk_overlap: int | None = None,
    index_dir: Path | None = None,
    progress: Progress | None = None,
    show_bars: bool = False,
    reader: str = DEFAULT_READER,
    chat_model: Any = None,
) -> Answered:
    """Answer every question with docqa and the baselines and score the answers. The
    documents and (without `index_dir`) the index live in a temporary folder. With `reader`
    "llm", docqa with the language model of DOCQA_LLM (or `chat_model`, a LangChain chat
    model) answers too, as the system "docqa-llm"."""
    from rag import DocQA  # loads LangChain, Chroma and the model's libraries

    with tempfile.TemporaryDirectory(prefix="docqa-squad-", ignore_cleanup_errors=True) as tmp:
        source_dir = Path(tmp) / "sources"
        documents = write_sources(benchmark, source_dir)
        settings = Settings.from_env(
            source_dir=source_dir,
            upload_dir=Path(tmp) / "no-uploads",  # the articles alone, never the user's uploads
            index_dir=index_dir or Path(tmp) / "index",
            top_k=top_k,
            chunk_sentences=chunk_sentences,
            chunk_overlap=chunk_overlap,
        )
        generative = None
        if reader == "llm" and chat_model is not None:
            generative = DocQA(settings, chat_model=chat_model)
        elif reader == "llm":  # DatasetError without DOCQA_LLM
            generative = DocQA(reader_settings(settings, reader)[-1][1])
        settings = replace(settings, llm="")  # docqa: the extractive reader
        docqa = DocQA(settings)
        indexing = time.perf_counter()
        docqa.index(progress=show_bars)
        index_seconds = time.perf_counter() - indexing
        preparing = time.perf_counter()
        sentences = Sentences.of(documents)
        baselines = [
            BM25Baseline(sentences),
            CosineBaseline(sentences, docqa.embeddings, progress=show_bars),
        ]
        setup_seconds = time.perf_counter() - preparing
        docqa.answer(WARM_UP_QUESTION)
        if generative is not None:
            generative.answer(WARM_UP_QUESTION)  # loads the language model too
        rows: list[Row] = []
        question_errors = 0
        total = len(benchmark.items)
        for done, item in enumerate(benchmark.items, 1):
            begun = time.perf_counter()
            try:
                result = docqa.answer(item.question)
            except QuestionError:  # an empty or over-long question: rag refuses to read it
                result = Answer(text="", abstained=True)
                question_errors += 1
            rows.append(_scored(item, result, time.perf_counter() - begun, documents))
            if generative is not None:
                rows.append(_generated(generative, item, documents))
            for baseline in baselines:
                begun = time.perf_counter()
                result = baseline.answer(item.question)
                latency = time.perf_counter() - begun
                rows.append(_scored(item, result, latency, documents, baseline.name, label=False))
            if progress is not None:
                progress(done, total, item.id)
    order = systems(reader)
    rows.sort(key=lambda row: order.index(row.system))  # system by system, each in file order
    return Answered(settings, rows, index_seconds, setup_seconds, question_errors)


def systems(reader: str = DEFAULT_READER) -> tuple[str, ...]:
    """The systems a run compares: docqa (and with the llm reader, docqa-llm) and the
    baselines."""
    return (SYSTEMS[0], LLM_SYSTEM, *SYSTEMS[1:]) if reader == "llm" else SYSTEMS


def _scored(
    item: Item,
    answer: Answer,
    latency: float,
    documents: Mapping[str, str],
    system: str = "docqa",
    label: bool = True,
) -> Row:
    """evals.scoring.score by the SQuAD benchmark's scoring; `documents` holds the texts read
    back from disk."""
    return score(
        item,
        answer,
        item.evidence,
        documents.get,
        latency=latency,
        scoring=SQUAD,
        system=system,
        label=label,
    )


def _generated(docqa: Any, item: Item, documents: Mapping[str, str]) -> Row:
    """The llm reader's answer to `item` through its stream, timed and scored."""
    try:
        asked = ask(docqa, item.question)
    except QuestionError:  # as for docqa: rag refuses to read it, scored as an abstention
        return _scored(item, Answer(text="", abstained=True), 0.0, documents, LLM_SYSTEM)
    row = _scored(item, asked.answer, asked.seconds, documents, LLM_SYSTEM)
    return replace(
        row,
        asked_reader="llm",
        answered_by=asked.answer.reader,
        first_token=asked.first_token,
        sentences=asked.sentences,
        dropped=asked.dropped,
        drop_reasons=asked.reasons,
    )


def run(
    benchmark: Benchmark,
    results_dir: Path = report.RESULTS_DIR,
    top_k: int | None = None,
    chunk_sentences: int | None = None,
    chunk_overlap: int | None = None,
    index_dir: Path | None = None,
    chart: bool = True,
    progress: Progress | None = None,
    show_bars: bool = False,
    reader: str = DEFAULT_READER,
    chat_model: Any = None,
) -> Run:
    """Answer every question with docqa and the baselines (`answer_all`; with `reader` "llm"
    docqa-llm too), score them, write the report (and the chart)."""
    started = report.now()
    clock = time.perf_counter()
    answered = answer_all(
        benchmark,
        top_k,
        chunk_sentences,
        chunk_overlap,
        index_dir,
        progress,
        show_bars,
        reader,
        chat_model,
    )
    rows, settings = answered.rows, answered.settings
    figures = per_system(rows, benchmark.splits)
    trade_offs = curves(rows)
    by_system = outcomes(rows)
    docqa = by_system.pop("docqa")
    generated = by_system.pop(LLM_SYSTEM, None)
    # how the reader asked for holds up: the llm reader's answers with --reader llm
    holding_up = reliability.by_split(generated or docqa, by_system, benchmark.splits)
    seconds = time.perf_counter() - clock
    saved = _report(
        benchmark, settings, rows, figures, trade_offs, started, seconds, answered.index_seconds
    )
    saved["run"]["question_errors"] = answered.question_errors
    saved["run"]["baseline_setup_seconds"] = round(answered.setup_seconds, 3)
    saved["reliability"] = holding_up
    saved["reliability_curves"] = reliability.curves_by_split(generated or docqa, benchmark.splits)
    saved["run"]["reader"] = reader
    if generated is not None:
        saved["drop_reasons"] = drop_reasons(reason for row in rows for reason in row.drop_reasons)
    name = report.stem(started, f"squad-{benchmark.paths[0].stem}")
    json_path = report.write_json(saved, results_dir / f"{name}.json")
    chart_path = (
        report.write_squad_chart(figures, trade_offs, results_dir / f"{name}.png", settings.top_k)
        if chart
        else None
    )
    return Run(
        benchmark=benchmark,
        settings=settings,
        rows=rows,
        aggregates=figures,
        reliability=holding_up,
        curves=trade_offs,
        seconds=seconds,
        index_seconds=answered.index_seconds,
        setup_seconds=answered.setup_seconds,
        question_errors=answered.question_errors,
        report=saved,
        json_path=json_path,
        chart_path=chart_path,
    )


def _report(
    benchmark: Benchmark,
    settings: Settings,
    rows: Sequence[Row],
    figures: Mapping[str, Mapping[str, Mapping[str, float | None]]],
    trade_offs: Mapping[str, Sequence[CurvePoint]],
    started: datetime,
    seconds: float,
    index_seconds: float,
) -> dict[str, Any]:
    items = benchmark.items
    saved = report.build(
        run={
            "mode": "squad",
            "squad_file": ", ".join(report.shown(path) for path in benchmark.paths),
            "squad_files": [report.shown(path) for path in benchmark.paths],
            "splits": list(benchmark.splits),
            "articles": [
                {"title": title, "split": split, "doc_id": doc_id}
                for doc_id, (title, split) in benchmark.articles.items()
            ],
            "questions": len(items),
            "answerable": sum(item.answerable for item in items),
            "skipped_gold_answers": benchmark.skipped_golds,
            "skipped_questions": benchmark.skipped_questions,
            "top_k": settings.top_k,
            "k": settings.top_k,
            "systems": list(dict.fromkeys(row.system for row in rows)),
            "index_seconds": round(index_seconds, 3),
        },
        settings=settings,
        rows=[record(row, SQUAD) for row in rows],
        aggregates=figures,  # {system: {split or "overall": {metric: value}}}
        curve=trade_offs.get("docqa"),
        started=started,
        seconds=seconds,
    )
    saved["refusal_curves"] = {
        system: [asdict(point) for point in points] for system, points in trade_offs.items()
    }
    return saved


def progress_line(done: int, total: int, question_id: str) -> None:
    """A one-line progress counter on stderr."""
    end = "\n" if done == total else ""
    print(f"\r[{done}/{total}] {question_id:<26}", end=end, file=sys.stderr, flush=True)
