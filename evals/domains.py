"""`python -m evals --domains`: docqa on several kinds of text at once, a row each and the worst.

Models and thresholds are chosen on the WORST domain, so that no kind of text pays for
another's gain. The domains:
- squad: the articles of one split of data/split.toml (validation unless told otherwise)
  of the SQuAD files (every data/squad2-*.json unless told otherwise), at most `limit`
  questions per article, spread over it (evals.squad);
- article, second, calibration: one half (tune unless told otherwise) of each question
  file: the seed article (evals/questions.toml), the ferry-strike text
  (evals/second/questions.toml) and the four calibration documents
  (data/calibration/questions.toml), each through its own DocQA (evals.setup, evals.runner);
- ordinary: the questions about the choose documents of data/split.toml's [ordinary] table
  (data/ordinary/questions.toml, a training set: its other documents train the reader), in
  either half, since none of it is a tune or heldout question.
Each domain is summed up by evals.reliability, beside the same-run one-sentence baselines.
Each keeps its index in a folder of its own under INDEX_CACHE, kept between runs: the store
rebuilds it when its documents or what derives it (settings, model, code) change, so a
second run skips indexing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evals import reliability, report, runner, setup, squad
from evals.dataset import TRAINING_SPLIT, Question, QuestionSet, load_questions
from evals.reliability import Outcome
from evals.scoring import outcome
from evals.squad_data import load_document_split
from evals.squad_scoring import outcomes

QUESTION_SETS = {
    "article": report.ROOT / "evals" / "questions.toml",
    "second": report.ROOT / "evals" / "second" / "questions.toml",
    "calibration": report.ROOT / "data" / "calibration" / "questions.toml",
    "ordinary": report.ROOT / "data" / "ordinary" / "questions.toml",
}
CHOOSE = "choose"  # the split of a training set's documents that models are chosen on
SQUAD_FILES = tuple(sorted((report.ROOT / "data").glob("squad2-*.json")))
SQUAD_SPLIT = "validation"  # the SQuAD articles models and thresholds are chosen on
INDEX_CACHE = report.ROOT / ".cache" / "evals"  # git-ignored
WORST = "WORST"


@dataclass(frozen=True)
class Domain:
    """One domain's run: its summary, refusal curve and every question's outcome."""

    name: str
    source: str  # what was asked: a question file's half, or SQuAD files' split
    summary: dict[str, float | None]
    curve: list[dict[str, float]]
    rows: list[dict[str, Any]]  # per question: id, the Outcome's fields, the baselines' right
    seconds: float


def run(
    split: str = "tune",
    squad_files: Sequence[Path] = SQUAD_FILES,
    squad_split: str = SQUAD_SPLIT,
    limit: int | None = None,
    tuning: Mapping[str, Any] | None = None,
    say: Callable[[str], None] | None = None,
    question_sets: Mapping[str, Path] | None = None,
    index_root: Path = INDEX_CACHE,
) -> list[Domain]:
    """Run every domain: the `squad_split` articles of `squad_files`, at most `limit`
    questions per article, then `split` ("tune", "heldout" or "all") of each of
    `question_sets` (domain name -> question file; None: QUESTION_SETS). `tuning` holds
    top_k, chunk_sentences, chunk_overlap (None: the DOCQA_* ones); `say` hears one line
    as each domain starts. Each domain's index is the folder of its name in `index_root`."""
    tuning = dict(tuning or {})
    index = {"index_dir": index_root / f"squad-{squad_split}"}
    domains = [_squad(squad_files, squad_split, limit, {**tuning, **index}, say)]
    for name, path in (QUESTION_SETS if question_sets is None else question_sets).items():
        index = {"index_dir": index_root / name}
        domains.append(_question_set(name, path, split, {**tuning, **index}, say))
    return domains


def _squad(
    files: Sequence[Path],
    split: str,
    limit: int | None,
    tuning: Mapping[str, Any],
    say: Callable[[str], None] | None,
) -> Domain:
    clock = time.perf_counter()
    benchmark = squad.build(files, [split], (), limit)
    if say is not None:
        say(f"squad: {len(benchmark.items)} questions of {len(benchmark.articles)} articles")
    answered = squad.answer_all(benchmark, **tuning)
    by_system = outcomes(answered.rows)
    ids = [row.id for row in answered.rows if row.system == "docqa"]
    return _domain(
        "squad",
        f"{split} articles of {', '.join(report.shown(path) for path in files)}",
        ids,
        by_system.pop("docqa"),
        by_system,
        time.perf_counter() - clock,
    )


def _question_set(
    name: str,
    path: Path,
    split: str,
    tuning: Mapping[str, Any],
    say: Callable[[str], None] | None,
) -> Domain:
    from rag.chain import DocQA

    clock = time.perf_counter()
    question_set = load_questions(path)
    split, chosen = domain_questions(name, question_set, split)
    if say is not None:
        say(f"{name}: {len(chosen)} questions of {report.shown(path)}")
    with setup.run_settings(question_set, **tuning) as (corpus, settings):
        docqa = DocQA(settings)
        rows = runner.run(docqa, chosen, corpus.source_dir)
        others = runner.baselines(docqa, chosen)
    return _domain(
        name,
        f"{split} of {report.shown(path)}",
        [row.id for row in rows],
        [outcome(row) for row in rows],
        others,
        time.perf_counter() - clock,
    )


def domain_questions(
    name: str, question_set: QuestionSet, split: str, split_file: Path = squad.SPLIT_FILE
) -> tuple[str, tuple[Question, ...]]:
    """The half of a question set a domain asks, and its name; of a training set (every
    question "train"), the questions about the documents `split_file`'s `[name]` table lists
    to choose on, whatever the half asked for."""
    if all(question.split == TRAINING_SPLIT for question in question_set.questions):
        documents = load_document_split(split_file, name)
        return CHOOSE, tuple(
            question
            for question in question_set.questions
            if documents.get(question.document) == CHOOSE
        )
    return split, question_set.select(split=split)


def _domain(
    name: str,
    source: str,
    ids: Sequence[str],
    mine: Sequence[Outcome],
    others: Mapping[str, Sequence[Outcome]],
    seconds: float,
) -> Domain:
    rows = [
        {
            "id": question_id,
            **asdict(result),
            **{f"{system}_right": theirs[index].right for system, theirs in others.items()},
        }
        for index, (question_id, result) in enumerate(zip(ids, mine, strict=True))
    ]
    return Domain(
        name=name,
        source=source,
        summary=reliability.summary(mine, others),
        curve=reliability.curve(mine),
        rows=rows,
        seconds=seconds,
    )


def summaries(domains: Sequence[Domain]) -> dict[str, dict[str, float | None]]:
    """Each domain's summary by name, then the worst of them (WORST)."""
    named = {domain.name: domain.summary for domain in domains}
    return {**named, WORST: reliability.worst(named)}


def write(domains: Sequence[Domain], run_info: Mapping[str, Any], folder: Path) -> Path:
    """The domain report as JSON in `folder`: provenance, the table's rows (the domains and
    WORST), each domain's refusal curve and every question's outcome; returns its path."""
    started = report.now()
    commit, dirty = report.git_state()
    saved = {
        "report_version": report.REPORT_VERSION,
        "timestamp": started.isoformat(timespec="seconds"),
        "commit": commit,
        "dirty": dirty,
        "run": {"mode": "domains", **run_info},
        "reliability": summaries(domains),
        "domains": {domain.name: asdict(domain) for domain in domains},
    }
    name = f"domains-{started.strftime('%Y%m%d-%H%M%S')}-{run_info.get('split', '')}"
    return report.write_json(saved, folder / f"{name}.json")


def say_on_stderr(line: str) -> None:
    """Progress, one line per domain, on stderr."""
    print(line, file=sys.stderr, flush=True)
