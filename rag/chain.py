"""The retrieval chain: analyse → retrieve → read → cite, composed as LangChain runnables.

`answer()` is the public entry point. The heavy state (model, Chroma client, in-memory
corpus) is built on the first question and kept for the process; the index is built or
refreshed then if the sources changed.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from langchain_core.runnables import Runnable, RunnableLambda

from rag.citations import cite
from rag.corpus import Corpus
from rag.documents import Skipped, Sources, describe_skipped, load_collection, source_path
from rag.embeddings import SentenceEmbeddings
from rag.errors import ModelLoadError, QuestionError, ReadEveryFile, SourceError, StoreError
from rag.followups import standalone
from rag.indexing import model_identity
from rag.lexicon import terms
from rag.onnx_model import export_folder
from rag.presentation import refusal, render
from rag.question import (
    clean_question,
    foreign_question,
    message_context,
    question_kind,
    question_parts,
    questions_asked,
)
from rag.ranker import ReaderModel, load_model
from rag.reader import read
from rag.retrieval import Retriever
from rag.settings import Settings
from rag.store import IndexReport, Store
from rag.types import Answer, Done, Event, Query, Reading, Retrieval, Span, Turn
from rag.typos import correct_typos

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


log = logging.getLogger(__name__)

# What `history` may hold: earlier questions, or (question, Answer or its text) pairs.
History = Sequence[str | tuple[str, "Answer | str | None"] | Turn]


@dataclass(frozen=True)
class _Serving:
    """The generation a DocQA answers from: its corpus and retriever."""

    corpus: Corpus
    retriever: Retriever
    generation: int


@dataclass(frozen=True)
class _Read:
    """One part of the question, retrieved and read."""

    retrieval: Retrieval
    reading: Reading


@dataclass(frozen=True)
class Extracted:
    """What the chain makes of a question: each part retrieved and read, and the extractive
    answer citing them."""

    parts: list[_Read]
    answer: Answer


class DocQA:
    """One source folder and its index, answering questions about it."""

    def __init__(
        self, settings: Settings | None = None, chat_model: BaseChatModel | None = None
    ) -> None:
        """`chat_model` answers in sentences (any LangChain chat model); without it, the one
        DOCQA_LLM names does, when set (loaded on first use), else the extractive reader."""
        self.settings = settings or Settings.from_env()
        self._chat_model = chat_model
        self._model_failure = ""  # why DOCQA_LLM's model could not be loaded, once it failed
        self.embeddings = SentenceEmbeddings(
            self.settings.model_location(),
            self.settings.batch_size,
            export_folder(self.settings.index_dir, model_identity(self.settings)),
        )
        self.store = Store(self.settings, self.embeddings)
        # The generation served; an answer reads the one it started with (`_reading`), which
        # the store keeps until the answer ends, while a re-index switches this one.
        self._serving: _Serving | None = None
        self._pinned = threading.local()  # .serving: the generation this thread's answer reads
        self._lock = threading.Lock()
        self._warned: set[Skipped] = set()  # files skipped, already logged
        # The one place the stages are composed: question → parts → retrieval → reading →
        # citing. Every path runs it: answer(), stream() (whose language model then writes
        # from its readings), passages() and retrieve().
        self.chain: Runnable[dict, Extracted] = (
            RunnableLambda(self._prepare, name="analyse")
            | RunnableLambda(self._retrieve, name="retrieve")
            | RunnableLambda(self._read, name="read")
            | RunnableLambda(self._cite, name="cite")
        )

    def index(
        self,
        progress: bool = False,
        on_progress: Callable[[int, int], None] | None = None,
        verify: bool = True,
        answering: bool = False,
    ) -> IndexReport:
        """Build or refresh the index from the source folder, then load it for answering;
        `progress` draws a bar on the terminal, `on_progress(done, total)` reports the
        sentences embedded so far (for a UI's own bar). `verify` counts every kind of row of
        an unchanged index against its record (a serving process's first question skips it:
        a damaged index then shows when an answer needs a missing row). `answering` (a
        question's first use) serves the index built before when a build would find the
        disk full again (see `Store.sync`)."""
        with self._lock:
            settings = self.settings
            # Files whose size and mtime are as indexed are not read again.
            sources = load_collection(settings, known=self.store.stamps(verify))
            try:
                report = self._sync(sources, progress, on_progress, verify, answering)
            except ReadEveryFile as why:
                log.info("reading every source file again: %s", why)
                sources = load_collection(settings)
                report = self._sync(sources, progress, on_progress, verify, answering)
            new = [item for item in sources.skipped if item not in self._warned]
            if new:
                log.warning("%s", describe_skipped(new))
            self._warned = set(sources.skipped)
            self._open()
            if report.recovered:
                log.warning("rebuilt a damaged index: %s", report.recovered)
            # the files that could not be read, and those that failed to be indexed
            skipped = sorted((*sources.skipped, *report.skipped), key=lambda item: item.name)
            return replace(report, skipped=tuple(skipped))

    def _sync(
        self,
        sources: Sources,
        progress: bool,
        on_progress: Callable[[int, int], None] | None,
        verify: bool,
        answering: bool = False,
    ) -> IndexReport:
        there = {
            item.name for item in sources.skipped if source_path(self.settings, item.name).exists()
        }
        return self.store.sync(
            sources.documents,
            progress,
            unreadable=there,
            on_progress=on_progress,
            unchanged=sources.unchanged,
            stamps=sources.stamps,
            verify=verify,
            answering=answering,
        )

    def _open(self) -> None:
        """Serve the live generation: hold it in the store (no re-index of this process
        drops it while it is served), and let go of the one served before."""
        corpus = self.store.open_corpus()
        generation = corpus.rows.generation  # type: ignore[attr-defined]
        held = self.store.hold(generation)
        before, self._serving = self._serving, _Serving(corpus, Retriever(corpus), generation)
        if not held:  # dropped already by another process: the next answer reloads
            log.debug("generation %d was gone as it was opened", generation)
        if before is not None:
            self.store.release(before.generation)

    def refresh(self) -> bool:
        """Load the index's newest generation if another process wrote one since this one
        loaded (True when it did), so no quote is served from text that has changed."""
        if self._serving is None or self.store.live_generation() == self.store.served_generation:
            return False
        with self._lock:
            self._open()
        return True

    def _current(self) -> _Serving:
        """What this thread's answer reads, else the generation served now (the first use
        builds or refreshes the index, trusting an unchanged one's row counts: see `index`)."""
        pinned = getattr(self._pinned, "serving", None)
        if pinned is not None:
            return pinned
        if self._serving is None:
            self.index(verify=False, answering=True)
        assert self._serving is not None
        return self._serving

    def _hold(self) -> _Serving:
        """The generation this thread reads (see `_current`), held in the store until
        `store.release`: a re-index of this process then leaves it until released."""
        for _try in range(100):
            serving = self._current()
            if self.store.hold(serving.generation):
                return serving
            # Let go of between reading it and holding it: a re-index has switched; again.
        raise StoreError(f"the index at {self.store.location} keeps changing: ask again")

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Read one generation throughout, held until the block ends."""
        before = getattr(self._pinned, "serving", None)
        serving = self._hold()
        self._pinned.serving = serving
        try:
            yield
        finally:
            self._pinned.serving = before
            self.store.release(serving.generation)

    def _pinned_events(self, events: Iterator[Event]) -> Iterator[Event]:
        """`events`, each made reading the generation served when the first was asked for,
        held until the last (or until the stream is closed); the thread that asks for the
        next event may be another."""
        self.refresh()
        serving = self._hold()
        try:
            while True:
                before = getattr(self._pinned, "serving", None)
                self._pinned.serving = serving
                try:
                    event = next(events)
                except StopIteration:
                    return
                finally:
                    self._pinned.serving = before
                yield event
        finally:
            events.close()
            self.store.release(serving.generation)

    @property
    def corpus(self) -> Corpus:
        """The loaded corpus: the one this thread's answer reads, else the one served now
        (the first use builds or refreshes the index; see `index`)."""
        return self._current().corpus

    @property
    def model(self) -> ReaderModel:
        """The reader's learned models (loaded on first use, once per process)."""
        return load_model(self.settings.reader_location())

    @property
    def retriever(self) -> Retriever:
        """The retriever over the loaded corpus (see `corpus`)."""
        return self._current().retriever

    def source_text(self, doc_id: str) -> str:
        """The indexed text of `doc_id`, which every citation's offsets point into: for .txt
        and .md the file's text as read; for HTML, PDF and Word the text extracted from it.
        A SourceError when no indexed document has that id."""
        self.refresh()
        with self._reading():
            document = self.corpus.documents.get(doc_id)
        if document is None:
            raise SourceError(
                f"no indexed document is called {doc_id!r}: use a citation's doc_id, or run "
                "`docqa index` if the file is new"
            )
        return document.text

    def retrieve(self, question: str, history: History | None = None) -> list[Retrieval]:
        """What the reader is handed for `question`: one retrieval per part of it."""
        return [part.retrieval for part in self._extract(question, history).parts]

    def warm_up(self) -> None:
        """Load the model, the index and the corpus (and the language model, when one is set)
        now rather than on the first question."""
        self.corpus  # noqa: B018
        self.embeddings.embed_query("warm up")
        self.chat_model  # noqa: B018

    @property
    def chat_model(self) -> BaseChatModel | None:
        """The language model that answers in sentences, or None for the extractive reader:
        also when DOCQA_LLM's model is there but cannot be loaded (tried once; each answer's
        note then says why)."""
        if self._chat_model is None and self.settings.llm and not self._model_failure:
            from rag.llm import chat_model

            try:
                self._chat_model = chat_model(self.settings)
            except ModelLoadError as error:
                log.warning("%s", error)
                self._model_failure = str(error)
        return self._chat_model

    def answer(self, question: str, history: History | None = None) -> Answer:
        """Answer `question` from the sources; `history` holds the earlier turns, oldest
        first: questions, or (question, answer) pairs so a follow-up can use the answer."""
        *_, done = self.stream(question, history)  # without a language model, only Done
        return done.answer  # type: ignore[union-attr]

    def stream(self, question: str, history: History | None = None) -> Iterator[Event]:
        """Answer `question` as events: the language model's reply in `Token`s as it arrives,
        a `Verdict` on each sentence once verified, then `Done` with the answer (always last).
        Without a language model only `Done`, with what `answer()` returns. The whole answer
        reads the generation served as it starts, even while a re-index switches it."""
        return self._pinned_events(self._stream(question, history))

    def _stream(self, question: str, history: History | None) -> Iterator[Event]:
        from rag import generation

        self.refresh()
        extracted = self._extract(question, history)
        extractive = extracted.answer
        model = self.chat_model
        if model is None:
            if self._model_failure and not extractive.note:  # DOCQA_LLM set, not loadable
                extractive = generation.fallback(extractive, self._model_failure, 0)
            yield Done(extractive)
            return
        # The extractive answer stands if the model's does not; the model writes from the
        # reader's best candidates, and each of its sentences is verified.
        found = generation.passages(self._ranked(extracted.parts), self.corpus.documents)
        if not found:
            yield Done(generation.fallback(extractive, "nothing was found to show it", 0))
            return
        if extractive.note == FOREIGN_NOTE:
            yield Done(extractive)  # nothing in the sources to hand the model
            return
        turns = self.check_history(history or [])
        asked = extracted.parts[0].retrieval.query.asked
        messages = generation.prompt(asked, turns, found)
        yield from generation.answer_events(
            model, messages, found, self.corpus.documents, extractive, self.settings, asked
        )

    def _extract(self, question: str, history: History | None) -> Extracted:
        """The stages run over `question` (`self.chain`)."""
        return self.chain.invoke(_request(question, history))

    def passages(self, question: str, history: History | None = None) -> list[Span]:
        """The numbered passages a language model is shown for `question`, best first."""
        from rag import generation

        self.refresh()
        with self._reading():
            parts = self._extract(question, history).parts
            return generation.passages(self._ranked(parts), self.corpus.documents)

    def _ranked(self, parts: list[_Read]) -> list[tuple[Span, tuple[Span, ...]]]:
        """Every part's candidates, best first by the reader's sentence model, taken in turn
        from each part, each with the sentences beside it."""
        from rag.reader import judge

        orders = []
        for part in parts:
            found = part.retrieval.candidates
            if not found:
                continue
            # The reader scored them already, unless the question had no words to look for.
            scores = part.reading.scores or tuple(judge(part.retrieval, self.model).scores)
            ranked = sorted(range(len(found)), key=lambda at: -float(scores[at]))
            orders.append([found[at] for at in ranked])
        merged = [
            order[at]
            for at in range(max(map(len, orders), default=0))
            for order in orders
            if at < len(order)
        ]
        return [(c.sentence, tuple(sentence for sentence, _ in c.beside)) for c in merged]

    # -- the stages -----------------------------------------------------------------------

    def _prepare(self, request: dict) -> list[Query]:
        """One query per part of the question ("Who X, and when Y?" has two)."""
        message = self.check_question(request["question"])
        history = self.check_history(request["history"])
        corpus = self.corpus
        asked = correct_typos(questions_asked(message), corpus.vocabulary, corpus.knows)
        # What the message says of the asker's situation is searched and read with it.
        context = correct_typos(message_context(message), corpus.vocabulary, corpus.knows)
        question = standalone(asked, history, context)
        first, *rest = question_parts(question)
        # "Who spoke, and where was he?": a later part's pronoun points into the first part.
        parts = [first, *(standalone(part, [first]) for part in rest)]
        typed = set(terms(asked)) | set(terms(context))
        vectors = self.embeddings.encode(parts)
        queries = []
        for part, vector in zip(parts, vectors, strict=True):
            part_terms = tuple(terms(part))
            queries.append(
                Query(
                    asked=asked,
                    standalone=question,
                    part=part,
                    kind=question_kind(part),
                    terms=part_terms,
                    vector=vector,
                    lent_terms=frozenset(part_terms) - typed,
                )
            )
        return queries

    def check_question(self, question: str) -> str:
        """The cleaned question, or a QuestionError saying what is wrong with it."""
        if not isinstance(question, str):
            raise QuestionError(f"a question must be text, not {type(question).__name__}")
        cleaned = clean_question(question)
        if not cleaned:
            raise QuestionError("the question is empty: type a question about the source")
        limit = self.settings.max_question_chars
        if len(cleaned) > limit:
            raise QuestionError(
                f"the question is {len(cleaned):,} characters long; the limit is {limit:,}: "
                "ask something shorter"
            )
        return cleaned

    def check_history(self, history: object) -> list[Turn]:
        """The earlier turns, oldest first, cleaned; empty ones (and None) dropped. Each item
        is an earlier question, or a pair of it and its answer (an `Answer`, or the answer's
        text); a QuestionError when `history` is anything else."""
        if isinstance(history, str) or not isinstance(history, list | tuple):
            raise QuestionError(
                "history must be a list of the earlier questions (or of (question, answer) "
                f"pairs), oldest first, not {type(history).__name__}"
            )
        items = self.settings.max_history_items
        if len(history) > items:
            raise QuestionError(
                f"history holds {len(history):,} earlier turns; the limit is {items:,}: "
                "pass only the most recent ones (follow-ups read the last)"
            )
        turns = [self._turn(number, item) for number, item in enumerate(history, 1)]
        return [turn for turn in turns if turn is not None]

    def _turn(self, number: int, item: object) -> Turn | None:
        """One history item as a Turn (None for an empty one)."""
        if item is None:
            return None
        said: object = ""
        if isinstance(item, Turn):
            item, said = item.question, Turn(item.question, item.answer, item.short)
        elif isinstance(item, list | tuple):
            if len(item) != 2:
                raise QuestionError(
                    f"history item {number} must be a question or a (question, answer) pair, "
                    f"not a sequence of {len(item)}"
                )
            item, said = item
        if not isinstance(item, str):
            raise QuestionError(
                f"every earlier question in history must be text, not {type(item).__name__}"
            )
        limit = self.settings.max_question_chars
        if len(item) > limit:
            raise QuestionError(
                f"earlier question {number} in history is {len(item):,} characters long; "
                f"the limit is {limit:,}: shorten it or leave it out"
            )
        question = clean_question(item)
        if not question:
            return None
        if isinstance(said, Turn):
            return said if said.question == question else Turn(question, said.answer, said.short)
        if isinstance(said, Answer):
            short = said.short.quote if said.short is not None and not said.abstained else ""
            return Turn(question, "" if said.abstained else said.text, short)
        if said is None or isinstance(said, str):
            return Turn(question, clean_question(said or "")[:limit])
        raise QuestionError(
            f"the answer in history item {number} must be an Answer or its text, not "
            f"{type(said).__name__}"
        )

    def _retrieve(self, queries: list[Query]) -> list[Retrieval]:
        retriever = self.retriever
        return [retriever.retrieve(query, self.settings.top_k) for query in queries]

    def _read(self, retrievals: list[Retrieval]) -> list[_Read]:
        return [_Read(retrieval, read(retrieval, self.model)) for retrieval in retrievals]

    def _cite(self, parts: list[_Read]) -> Extracted:
        """Cite what every part found, in document order; abstain when no part found any, or
        when the question is in another script with none of its words in the sources."""
        return Extracted(parts, self._answer(parts))

    def _answer(self, parts: list[_Read]) -> Answer:
        query = parts[0].retrieval.query
        if foreign_question(query.asked, self.corpus.knows):
            return Answer(
                text=self._refusal(query.asked),
                abstained=True,
                question=query.standalone,
                note=FOREIGN_NOTE,
            )
        spans = {span.id: span for part in parts for span in part.reading.spans}
        ordered = sorted(spans.values(), key=lambda span: (span.doc_id, span.start))
        documents = self.corpus.documents
        citations = cite(ordered, documents)
        shorts: list[Span] = [part.reading.short for part in parts if part.reading.short]
        short = cite(shorts[:1], documents)
        chunks = {chunk.id: chunk for part in parts for chunk in part.retrieval.chunks}
        confidence = max(part.reading.confidence for part in parts)
        hedged = bool(citations) and confidence < self.model.sure_threshold
        return Answer(
            text=render(citations, short[0] if short else None, hedged)
            if citations
            else self._refusal(query.asked),
            citations=citations,
            abstained=not citations,
            short=short[0] if short and citations else None,
            question=query.standalone,
            retrieved=list(chunks.values()),
            confidence=confidence,
            hedged=hedged,
        )

    def _refusal(self, question: str) -> str:
        return refusal(question, self.corpus.documents)


def _request(question: str, history: History | None) -> dict:
    """What the chain is invoked with."""
    return {"question": question, "history": [] if history is None else history}


# Why a question in another script is refused outright (Answer.note).
FOREIGN_NOTE = (
    "None of the question's words are in the documents, and it is not in the Latin script "
    "they are searched in: ask it in the documents' language."
)


_INSTANCES: dict[Settings, DocQA] = {}
_INSTANCES_LOCK = threading.Lock()


def default_docqa() -> DocQA:
    """The process's DocQA for the current DOCQA_* settings (one per distinct settings)."""
    settings = Settings.from_env()
    with _INSTANCES_LOCK:
        if settings not in _INSTANCES:
            _INSTANCES[settings] = DocQA(settings)
        return _INSTANCES[settings]


def answer(question: str, history: History | None = None) -> Answer:
    """Answer `question` from the source folder, citing verified character spans.

    `history` holds the conversation's earlier turns, oldest first: each an earlier question,
    or a `(question, answer)` pair (the `Answer` it got, or its text), so "What was he booked
    for?" can use who the previous answer named.
    Raises QuestionError for an empty or over-long question, SourceError for an unreadable
    source, StoreError for an index that cannot be written.
    """
    return default_docqa().answer(question, history)


def stream(question: str, history: History | None = None) -> Iterator[Event]:
    """`answer()` as events (`Token`, `Verdict`, then `Done` with the answer; see
    `DocQA.stream`): with DOCQA_LLM unset, only `Done`."""
    return default_docqa().stream(question, history)


def source_text(doc_id: str) -> str:
    """The text a citation of `doc_id` points into (`quote == source_text(doc_id)[start:end]`).

    Raises SourceError when no indexed document has that id.
    """
    return default_docqa().source_text(doc_id)
