"""What the running app holds: its own `DocQA`, whether it has warmed up, the documents it
was started with, and the feedback file. Handlers and the layout read this object; nothing
is process-wide, so each test can build its own."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rag.documents import Skipped
from rag.errors import DocQAError
from rag.settings import Settings
from rag.types import Answer, Document
from webui.feedback import FeedbackLog

if TYPE_CHECKING:  # rag.chain (LangChain, the model, Chroma) loads on first use, not here,
    from rag.chain import DocQA, History  # so the page is served without waiting for it

log = logging.getLogger("docqa.ui")

WARM_UP_TIMEOUT = 600.0  # seconds a question waits for the model and index to load
FAILURE_MESSAGE = (
    "Something went wrong while answering that question. It has been logged; "
    "please try again, or ask something else."
)


class _Cancelled(BaseException):
    """Raised from the embedding loop's progress callback to stop a re-index. A BaseException,
    like asyncio.CancelledError, so the store's `except Exception` (which turns failures into
    StoreErrors) lets it through: the build stops before it writes anything, and the previous
    generation keeps serving."""


@dataclass
class Indexing:
    """Re-indexing after an upload or a removal: running or not, since when, how it ended."""

    running: bool = False
    again: bool = False  # the folder changed while it ran: run once more when it is done
    cancelled: bool = False  # the last build was cancelled
    started: float = 0.0
    finished: float = 0.0
    error: str | None = None
    documents: int = 0
    embedded: int = 0  # sentences embedded so far by the running build
    to_embed: int = 0  # sentences it has to embed (0 until it knows)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    idle: threading.Event = field(default_factory=threading.Event, repr=False)  # not running
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)  # asked to stop
    indexer: DocQA | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.idle.set()


@dataclass
class AppState:
    """One app's engine and what it knows about it. `documents` is what the folder held at
    start, shown until the engine's own (the indexed text) is loaded. `engine` is made from
    `settings` on first use unless one is given."""

    settings: Settings
    documents: Mapping[str, Document]
    feedback: FeedbackLog
    skipped: Sequence[Skipped] = ()
    examples: Sequence[str] = ()
    warm: threading.Event = field(default_factory=threading.Event)
    failure: str | None = None
    engine: DocQA | None = None
    indexing: Indexing = field(default_factory=Indexing)
    _engine_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def docqa(self) -> DocQA:
        """The app's DocQA (built on first use, once)."""
        with self._engine_lock:
            if self.engine is None:
                from rag.chain import DocQA

                self.engine = DocQA(self.settings)
            return self.engine

    def warm_up(self) -> None:
        """Load the model and the index (run in a background thread); record any failure."""
        try:
            self.docqa.warm_up()
        except DocQAError as error:
            self.failure = str(error)
        except Exception:
            log.exception("warming up failed")
            self.failure = FAILURE_MESSAGE
        finally:
            self.warm.set()

    def start_warm_up(self) -> threading.Thread:
        """Warm up in a daemon thread, so the page is served at once."""
        thread = threading.Thread(target=self.warm_up, name="docqa-warm-up", daemon=True)
        thread.start()
        return thread

    @property
    def ready(self) -> bool:
        """True once warm-up has finished without a failure."""
        return self.warm.is_set() and self.failure is None

    def wait_until_warm(self, timeout: float = WARM_UP_TIMEOUT) -> None:
        """Block until warm-up has finished; a DocQAError when it failed or takes too long."""
        if not self.warm.wait(timeout):
            raise DocQAError("the model and the index are still loading: ask again in a minute")
        if self.failure:
            raise DocQAError(self.failure)

    def answer(self, question: str, history: History) -> Answer:
        """The engine's answer; answers run side by side (DocQA is safe across threads)."""
        self.docqa.check_question(question)
        self.wait_until_warm()
        return self.docqa.answer(question, history)

    def stream(self, question: str, history: History) -> Iterator[Any]:
        """The engine's answer as it comes: with a language model, its reply's tokens, then a
        verdict on each sentence, then the final answer (rag.generation's Token, Verdict,
        Done); without one, the final answer alone. The question is checked, and warm-up
        waited for, before this returns."""
        self.docqa.check_question(question)
        self.wait_until_warm()
        return self.docqa.stream(question, history)

    def reindex(self) -> None:
        """Re-index the source folder in a background thread while answers keep coming from
        the previous index (the build runs on a second DocQA, so it holds no lock the
        answering one needs); a request while one runs makes it run once more."""
        with self.indexing.lock:
            if self.indexing.running:
                self.indexing.again = True
                return
            self.indexing.running, self.indexing.again = True, False
            self.indexing.cancelled = False
            self.indexing.cancel.clear()
            self.indexing.idle.clear()
            self.indexing.started, self.indexing.error = time.monotonic(), None
        threading.Thread(target=self._reindex, name="docqa-reindex", daemon=True).start()

    def _reindex(self) -> None:
        while True:
            try:
                if self.indexing.indexer is None:
                    from rag.chain import DocQA

                    self.indexing.indexer = DocQA(self.settings)
                self.indexing.embedded = self.indexing.to_embed = 0
                report = self.indexing.indexer.index(on_progress=self._embedding)
                self.skipped = report.skipped
                self.indexing.documents = report.documents
                self.docqa.refresh()  # serve the new generation from the next answer on
            except _Cancelled:
                self.indexing.cancelled = True
            except DocQAError as error:
                self.indexing.error = str(error)
            except Exception:
                log.exception("re-indexing failed")
                self.indexing.error = "re-indexing failed; the server log says why"
            with self.indexing.lock:
                if not self.indexing.again or self.indexing.cancel.is_set():
                    self.indexing.running = False
                    self.indexing.finished = time.monotonic()
                    self.indexing.idle.set()
                    return
                self.indexing.again = False

    def cancel_reindex(self) -> None:
        """Stop the running re-index once the block of sentences it is embedding is done (the
        progress callback's next call), and any run queued after it; what it had embedded is
        dropped and answers keep coming from the previous index. A build already past
        embedding finishes."""
        self.indexing.cancel.set()

    def _embedding(self, done: int, total: int) -> None:
        if self.indexing.cancel.is_set():
            raise _Cancelled
        self.indexing.embedded, self.indexing.to_embed = done, total

    def current_documents(self) -> Mapping[str, Document]:
        """The engine's documents once warm (the text its newest index generation holds, so a
        highlight never lands on changed text), else those read at start."""
        if self.ready:
            self.docqa.refresh()
            return self.docqa.corpus.documents
        return self.documents
