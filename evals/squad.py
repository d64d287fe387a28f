"""The public benchmark: `python -m evals --squad FILE` runs a SQuAD 2.0 file through docqa.

Each article becomes one `.txt` document (its paragraphs joined by a blank line) in a
temporary source folder; each gold answer's span is moved from its paragraph to the
document and checked to quote the document exactly (one that does not is skipped and
counted). One `rag.DocQA` indexes the folder once and answers every question, timed; two
one-sentence baselines (evals.baselines: BM25 and MiniLM cosine) answer the same questions.

The metrics, per system, per split and overall (denominators in brackets):
- answer_found: the answer text ("" when abstained, citation numbers "[1]" dropped) holds a
  gold answer, SQuAD-normalised, as whole words [answerable questions];
- span_cited: a citation, or the short answer, contains a gold answer's document span
  (an abstention cites nothing) [answerable questions];
- short_em, short_f1: the SQuAD script's exact match and token F1, best over the gold
  answers, of `Answer.short.quote`; 0 when there is no short answer or the answer
  abstained [answerable questions];
- unanswerable_refused: abstained [unanswerable questions];
- answerable_refused: abstained [answerable questions];
- median_words: words in the answer text [answered questions];
- latency_p50_ms: the median time of one answer, in milliseconds [all questions];
- citation_validity: quote == the file's text[start:end], the file read back from disk
  [every citation and short answer].
A metric with an empty denominator is None (shown as "-"). An article's split is the one
data/split.toml gives its title; an article it does not list is in split "unseen".
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from evals import metrics, report, tables
from evals.baselines import BM25Baseline, CosineBaseline, Sentences
from evals.dataset import DatasetError, read_text
from evals.metrics import CurvePoint
from rag import Answer, Citation, QuestionError, Settings

SPLIT_FILE = report.ROOT / "data" / "split.toml"
UNSEEN = "unseen"  # the split of an article that split.toml does not list
SYSTEMS = ("docqa", "bm25", "cosine")
WARM_UP_QUESTION = "What is this document about?"  # loads the lazy parts; not timed
METRICS = (
    "questions",
    "answerable",
    "unanswerable",
    "answer_found",
    "span_cited",
    "short_em",
    "short_f1",
    "unanswerable_refused",
    "answerable_refused",
    "median_words",
    "latency_p50_ms",
    "citation_validity",
)
RATES = (  # the shares drawn in the chart
    "answer_found",
    "span_cited",
    "short_em",
    "short_f1",
    "unanswerable_refused",
    "answerable_refused",
    "citation_validity",
)
_MARKER = re.compile(r"\s*\[\d+\]")  # the citation numbers rag.citations.render appends
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
MAX_STEM = 100  # characters of a file name before ".txt"


# -- the benchmark: articles, documents, questions and their gold spans ----------------------


@dataclass(frozen=True)
class Gold:
    """A gold answer and its span in the article's document (end exclusive)."""

    text: str
    start: int
    end: int


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


@dataclass(frozen=True)
class Benchmark:
    """The chosen articles of a SQuAD file as documents, and their questions in file order."""

    path: Path
    documents: dict[str, str]  # doc_id (file name) -> text
    articles: dict[str, tuple[str, str]]  # doc_id -> (title, split)
    items: tuple[Item, ...]
    skipped_golds: int  # gold answers whose span does not quote the document
    skipped_questions: int  # answerable questions left with no verified gold answer
    splits: tuple[str, ...]  # the splits present, in split.toml's order, "unseen" last


def load_split(path: Path = SPLIT_FILE) -> dict[str, list[str]]:
    """split.toml: split name -> article titles; raises DatasetError when malformed."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"no split file at {path}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise DatasetError(f"cannot read the split file {path}: {error}") from None
    seen: dict[str, str] = {}
    for name, titles in data.items():
        if name in ("overall", UNSEEN):
            raise DatasetError(f"{path}: the split name {name!r} is reserved")
        if not isinstance(titles, list) or not all(isinstance(t, str) for t in titles):
            raise DatasetError(f"{path}: `{name}` must be a list of article titles")
        for title in titles:
            if title in seen:
                raise DatasetError(f"{path}: {title!r} is in both {seen[title]} and {name}")
            seen[title] = name
    return data


def read_squad(path: Path) -> list[dict[str, Any]]:
    """The `data` list of a SQuAD file, every field the benchmark reads checked."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"no SQuAD file at {path}: check the --squad path") from None
    except OSError as error:
        raise DatasetError(f"cannot read the SQuAD file {path}: {error}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DatasetError(f"{path} is not a SQuAD JSON file (not UTF-8 JSON: {error})") from None
    articles = data.get("data") if isinstance(data, dict) else None
    if not isinstance(articles, list) or not articles:
        raise DatasetError(
            f"{path} is not a SQuAD JSON file: it needs a non-empty `data` list of articles "
            "with `title` and `paragraphs`"
        )
    for number, article in enumerate(articles, 1):
        _check_article(path, number, article)
    return articles


def _check_article(path: Path, number: int, article: object) -> None:
    where = f"{path}: article #{number}"

    def need(ok: bool, what: str) -> None:
        if not ok:
            raise DatasetError(f"{where} is not in SQuAD format: {what}")

    need(isinstance(article, dict), "not an object")
    assert isinstance(article, dict)
    need(isinstance(article.get("title"), str), "`title` must be text")
    where += f" ({article['title']})"
    paragraphs = article.get("paragraphs")
    need(isinstance(paragraphs, list), "`paragraphs` must be a list")
    for paragraph in paragraphs:
        need(isinstance(paragraph, dict), "a paragraph is not an object")
        need(isinstance(paragraph.get("context"), str), "a paragraph's `context` must be text")
        need(isinstance(paragraph.get("qas"), list), "a paragraph's `qas` must be a list")
        for qa in paragraph["qas"]:
            need(isinstance(qa, dict), "a question is not an object")
            need(
                isinstance(qa.get("id"), str) and isinstance(qa.get("question"), str),
                "a question needs text `id` and `question`",
            )
            answers = qa.get("answers", [])
            need(
                isinstance(answers, list)
                and all(
                    isinstance(a, dict)
                    and isinstance(a.get("text"), str)
                    and isinstance(a.get("answer_start"), int)
                    for a in answers
                ),
                f"question {qa['id']!r}: `answers` must be a list of {{text, answer_start}}",
            )
            need(
                isinstance(qa.get("is_impossible", False), bool),
                f"question {qa['id']!r}: `is_impossible` must be true or false",
            )


def file_name(title: str, taken: set[str]) -> str:
    """A safe, unique (case-insensitively, within `taken`) `.txt` name for an article.

    file_name("Frédéric_Chopin", set()) -> "Fr_d_ric_Chopin.txt"; `taken` gains the name.
    """
    stem = _UNSAFE.sub("_", title)[:MAX_STEM] or "article"
    if stem.startswith("."):  # rag skips hidden files
        stem = "_" + stem[1:]
    name, number = f"{stem}.txt", 1
    while name.lower() in taken:
        number += 1
        name = f"{stem}-{number}.txt"
    taken.add(name.lower())
    return name


def build(
    path: Path,
    splits: Iterable[str] = (),
    articles: Iterable[str] = (),
    limit: int | None = None,
    split_file: Path = SPLIT_FILE,
) -> Benchmark:
    """The articles of the SQuAD file at `path` that are in one of `splits` and among
    `articles` (empty: no filter), at most `limit` questions each, in file order.

    Raises DatasetError for a bad file, an unknown split or article, or an empty choice.
    """
    data = read_squad(path)
    split_of = {title: name for name, titles in load_split(split_file).items() for title in titles}
    known_splits = [*dict.fromkeys(split_of.values()), UNSEEN]
    wanted_splits, wanted_titles = set(splits), set(articles)
    if unknown := wanted_splits - set(known_splits):
        raise DatasetError(
            f"unknown split {', '.join(sorted(unknown))}: choose from {', '.join(known_splits)}"
        )
    titles = [article["title"] for article in data]
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
    taken: set[str] = set()
    for article in data:
        title = article["title"]
        split = split_of.get(title, UNSEEN)
        if (wanted_splits and split not in wanted_splits) or (
            wanted_titles and title not in wanted_titles
        ):
            continue
        doc_id = file_name(title, taken)
        offsets, contexts, at = [], [], 0
        for paragraph in article["paragraphs"]:
            offsets.append(at)
            contexts.append(paragraph["context"])
            at += len(paragraph["context"]) + 2  # the "\n\n" that joins paragraphs
        text = "\n\n".join(contexts)
        questions = [
            (offset, qa)
            for offset, paragraph in zip(offsets, article["paragraphs"], strict=True)
            for qa in paragraph["qas"]
        ][:limit]
        for offset, qa in questions:
            answerable = not qa.get("is_impossible", False) and bool(qa.get("answers"))
            golds = []
            for answer in qa.get("answers", []) if answerable else []:
                gold = Gold(
                    answer["text"],
                    offset + answer["answer_start"],
                    offset + answer["answer_start"] + len(answer["text"]),
                )
                if answer["text"] and text[gold.start : gold.end] == gold.text:
                    golds.append(gold)
                else:
                    skipped_golds += 1
            if answerable and not golds:
                skipped_questions += 1
                continue
            items.append(
                Item(qa["id"], title, split, doc_id, qa["question"], answerable, tuple(golds))
            )
        documents[doc_id] = text
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
        path=path,
        documents=documents,
        articles=chosen,
        items=tuple(items),
        skipped_golds=skipped_golds,
        skipped_questions=skipped_questions,
        splits=tuple(split for split in known_splits if split in present),
    )


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


# -- scoring ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One system's answer to one question and its scores; None where a score does not apply."""

    system: str
    id: str
    article: str
    split: str
    question: str
    answerable: bool
    answers: tuple[str, ...]  # the gold answers' texts
    text: str
    short: str | None  # Answer.short.quote
    abstained: bool
    confidence: float  # docqa: Answer.confidence; a baseline: its retrieval score
    found: bool | None
    cited: bool | None
    em: float | None
    f1: float | None
    words: int | None  # in the answer text, answered questions only
    citations: int  # citations plus the short answer
    valid_citations: int
    latency: float  # seconds
    first_quote: str = ""
    spans: tuple[tuple[str, int, int], ...] = field(default=())  # the cited spans


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """The SQuAD script's exact match, best over the gold answers: 1.0 or 0.0."""
    said = metrics.normalize_answer(prediction)
    return float(any(said == metrics.normalize_answer(gold) for gold in answers))


def score(
    system: str, item: Item, answer: Answer, latency: float, documents: Mapping[str, str]
) -> Row:
    """Score one answer; `documents` holds the texts read back from disk."""
    cited = list(answer.citations) + ([answer.short] if answer.short is not None else [])
    valid = sum(_valid(citation, documents.get(citation.doc_id)) for citation in cited)
    said = "" if answer.abstained else _MARKER.sub("", answer.text)
    answers = tuple(gold.text for gold in item.golds)
    short = answer.short.quote if answer.short is not None and not answer.abstained else None
    found = cited_gold = em = f1 = None
    if item.answerable:
        found = metrics.contains_answer(said, answers)
        cited_gold = not answer.abstained and any(
            metrics.span_contains(
                (citation.doc_id, citation.start, citation.end),
                (item.doc_id, gold.start, gold.end),
            )
            for citation in cited
            for gold in item.golds
        )
        em = exact_match(short, answers) if short is not None else 0.0
        f1 = metrics.best_f1(short, answers) if short is not None else 0.0
    return Row(
        system=system,
        id=item.id,
        article=item.article,
        split=item.split,
        question=item.question,
        answerable=item.answerable,
        answers=answers,
        text=answer.text,
        short=answer.short.quote if answer.short is not None else None,
        abstained=answer.abstained,
        confidence=float(answer.confidence),
        found=found,
        cited=cited_gold,
        em=em,
        f1=f1,
        words=None if answer.abstained else len(said.split()),
        citations=len(cited),
        valid_citations=valid,
        latency=latency,
        first_quote=answer.citations[0].quote if answer.citations else "",
        spans=tuple((c.doc_id, c.start, c.end) for c in answer.citations),
    )


def _valid(citation: Citation, text: str | None) -> bool:
    return (
        text is not None
        and 0 <= citation.start < citation.end <= len(text)
        and text[citation.start : citation.end] == citation.quote
    )


def aggregate(rows: Sequence[Row]) -> dict[str, float | None]:
    """Every metric of METRICS over one system's `rows` (see the module docstring)."""
    answerable = [row for row in rows if row.answerable]
    unanswerable = [row for row in rows if not row.answerable]
    words = [row.words for row in rows if row.words is not None]
    latency = metrics.percentile([row.latency for row in rows], 50)
    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "answer_found": metrics.mean(bool(row.found) for row in answerable),
        "span_cited": metrics.mean(bool(row.cited) for row in answerable),
        "short_em": metrics.mean(row.em or 0.0 for row in answerable),
        "short_f1": metrics.mean(row.f1 or 0.0 for row in answerable),
        "unanswerable_refused": metrics.mean(row.abstained for row in unanswerable),
        "answerable_refused": metrics.mean(row.abstained for row in answerable),
        "median_words": metrics.percentile(words, 50),
        "latency_p50_ms": None if latency is None else latency * 1000,
        "citation_validity": metrics.ratio(
            sum(row.valid_citations for row in rows), sum(row.citations for row in rows)
        ),
    }


def aggregates(rows: Sequence[Row], splits: Sequence[str]) -> dict[str, dict[str, dict]]:
    """{system: {split: aggregate, ..., "overall": aggregate}} for the systems in `rows`."""
    result: dict[str, dict[str, dict]] = {}
    for system in dict.fromkeys(row.system for row in rows):
        mine = [row for row in rows if row.system == system]
        result[system] = {
            split: aggregate([row for row in mine if row.split == split])
            for split in splits
            if any(row.split == split for row in mine)
        }
        result[system]["overall"] = aggregate(mine)
    return result


def curves(rows: Sequence[Row]) -> dict[str, list[CurvePoint]]:
    """Each system's refusal trade-off curve from its rows' confidence, over all questions."""
    systems = dict.fromkeys(row.system for row in rows)
    return {
        system: metrics.refusal_curve(
            (row.confidence, row.answerable) for row in rows if row.system == system
        )
        for system in systems
    }


# -- the run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """A finished benchmark run: its rows and figures, and where its report went."""

    benchmark: Benchmark
    settings: Settings
    rows: list[Row]
    aggregates: dict[str, dict[str, dict]]
    curves: dict[str, list[CurvePoint]]
    seconds: float  # the whole run
    index_seconds: float  # docqa's .index()
    setup_seconds: float  # the baselines' sentence indexes
    question_errors: int  # questions rag refused as invalid (scored as abstentions)
    report: dict[str, Any]
    json_path: Path
    chart_path: Path | None


Progress = Callable[[int, int, str], None]


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
) -> Run:
    """Answer every question with docqa and the baselines, score them, write the report (and
    the chart). The documents and (without `index_dir`) the index live in a temporary folder."""
    from rag import DocQA  # loads LangChain, Chroma and the model's libraries

    started = report.now()
    clock = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="docqa-squad-", ignore_cleanup_errors=True) as tmp:
        source_dir = Path(tmp) / "sources"
        documents = write_sources(benchmark, source_dir)
        settings = Settings.from_env(
            source_dir=source_dir,
            index_dir=index_dir or Path(tmp) / "index",
            top_k=top_k,
            chunk_sentences=chunk_sentences,
            chunk_overlap=chunk_overlap,
        )
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
            rows.append(score("docqa", item, result, time.perf_counter() - begun, documents))
            for baseline in baselines:
                begun = time.perf_counter()
                result = baseline.answer(item.question)
                latency = time.perf_counter() - begun
                rows.append(score(baseline.name, item, result, latency, documents))
            if progress is not None:
                progress(done, total, item.id)
    rows.sort(key=lambda row: SYSTEMS.index(row.system))  # system by system, each in file order
    figures = aggregates(rows, benchmark.splits)
    trade_offs = curves(rows)
    seconds = time.perf_counter() - clock
    saved = _report(benchmark, settings, rows, figures, trade_offs, started, seconds, index_seconds)
    saved["run"]["question_errors"] = question_errors
    saved["run"]["baseline_setup_seconds"] = round(setup_seconds, 3)
    name = report.stem(started, f"squad-{benchmark.path.stem}")
    json_path = report.write_json(saved, results_dir / f"{name}.json")
    chart_path = (
        write_chart(figures, trade_offs, results_dir / f"{name}.png", settings.top_k)
        if chart
        else None
    )
    return Run(
        benchmark=benchmark,
        settings=settings,
        rows=rows,
        aggregates=figures,
        curves=trade_offs,
        seconds=seconds,
        index_seconds=index_seconds,
        setup_seconds=setup_seconds,
        question_errors=question_errors,
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
            "squad_file": _show(benchmark.path),
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
            "systems": list(SYSTEMS),
            "index_seconds": round(index_seconds, 3),
        },
        settings=settings,
        rows=[],
        aggregates=figures,  # {system: {split or "overall": {metric: value}}}
        curve=trade_offs.get("docqa"),
        started=started,
        seconds=seconds,
    )
    saved["refusal_curves"] = {
        system: [asdict(point) for point in points] for system, points in trade_offs.items()
    }
    saved["rows"] = [asdict(row) for row in rows]
    return saved


# -- output ----------------------------------------------------------------------------------

_QUALITY = {
    "answerable": "answerable",
    "answer_found": "answer found",
    "span_cited": "span cited",
    "short_em": "short EM",
    "short_f1": "short F1",
    "citation_validity": "valid cites",
}
_REFUSAL = {
    "unanswerable": "unanswerable",
    "unanswerable_refused": "unans refused",
    "answerable_refused": "ans refused",
    "median_words": "median words",
    "latency_p50_ms": "p50 ms",
}


def summary_tables(figures: Mapping[str, Mapping[str, Mapping[str, float | None]]]) -> str:
    """Two tables, each within tables.WIDTH columns, rows system x split (then overall)."""
    return "\n\n".join(_table(figures, columns) for columns in (_QUALITY, _REFUSAL))


def _table(figures: Mapping, columns: Mapping[str, str]) -> str:
    body = [
        [system, scope, *(_cell(values.get(metric), metric) for metric in columns)]
        for system, scopes in figures.items()
        for scope, values in scopes.items()
    ]
    return tables.render(
        ["system", "split", *columns.values()],
        body,
        right=[False, False, *([True] * len(columns))],
    )


def _cell(value: float | None, metric: str) -> str:
    if value is None:
        return "-"
    if metric in ("answerable", "unanswerable"):
        return str(int(value))
    if metric == "median_words":
        return f"{value:.1f}"
    if metric == "latency_p50_ms":
        return f"{value:.1f}"
    return f"{value:.3f}"


def write_chart(
    figures: Mapping[str, Mapping[str, Mapping[str, float | None]]],
    trade_offs: Mapping[str, Sequence[CurvePoint]],
    path: Path,
    k: int,
) -> Path:
    """Grouped bars of the overall rates, one group per system; beside them each system's
    refusal trade-off (answering precision against recall as the threshold moves)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    systems = list(figures)
    figure = plt.figure(figsize=(13, 4.8), dpi=110)
    grid = figure.add_gridspec(1, 2, width_ratios=[2.2, 1])
    bars = figure.add_subplot(grid[0])
    width = 0.8 / len(RATES)
    for index, metric in enumerate(RATES):
        values = [figures[system]["overall"].get(metric) for system in systems]
        positions = [s + (index - (len(RATES) - 1) / 2) * width for s in range(len(systems))]
        heights = [float("nan") if v is None else v for v in values]  # nan: no bar
        label = {**_QUALITY, **_REFUSAL}.get(metric, metric)
        bars.bar(positions, heights, width, label=label)
    overall = figures[systems[0]]["overall"]
    bars.set_xticks(range(len(systems)), systems)
    bars.set_ylim(0, 1.05)
    bars.set_ylabel("share")
    bars.set_title(
        f"SQuAD benchmark, overall: {overall.get('questions')} questions "
        f"({overall.get('unanswerable')} unanswerable), top_k={k}",
        fontsize=10,
    )
    bars.grid(axis="y", alpha=0.3)
    bars.legend(fontsize=7, ncols=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    trade = figure.add_subplot(grid[1])
    for system, points in trade_offs.items():
        if points:
            recall = [p.recall for p in points]
            precision = [p.precision for p in points]
            trade.plot(recall, precision, marker=".", markersize=3, label=system)
    trade.set_xlabel("answerable questions answered (recall)")
    trade.set_ylabel("answered that were answerable (precision)")
    trade.set_title("refusal trade-off\n(docqa: by confidence; baselines: by score)", fontsize=9)
    trade.set_xlim(0, 1.02)
    trade.set_ylim(0, 1.02)
    trade.grid(alpha=0.3)
    trade.legend(fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path


def progress_line(done: int, total: int, question_id: str) -> None:
    """A one-line progress counter on stderr."""
    end = "\n" if done == total else ""
    print(f"\r[{done}/{total}] {question_id:<26}", end=end, file=sys.stderr, flush=True)


def _show(path: Path | str) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
