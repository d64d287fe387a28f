"""webui.state: what the running app holds: answers keep coming while the folder is re-indexed,
a re-index can be cancelled, and the index another process wrote is served."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

from rag.chain import DocQA
from tests.conftest import ARTICLE_ID
from tests.ui_helpers import FIRST_QUESTION, settings_over
from webui.feedback import FeedbackLog
from webui.handlers import Handlers
from webui.state import AppState


class _HeldIndexer:
    """An indexer whose build waits until the test lets it finish: a re-index that takes as
    long as the test needs, which a real build of a small folder cannot be made to."""

    def __init__(self, engine: DocQA) -> None:
        self.engine, self.release, self.entered = engine, threading.Event(), threading.Event()

    def index(self, progress: bool = False, on_progress=None) -> object:
        self.entered.set()
        assert self.release.wait(60)
        return self.engine.index(on_progress=on_progress)


def test_answers_keep_coming_while_the_folder_is_re_indexed(docqa: DocQA, tmp_path: Path) -> None:
    documents = docqa.corpus.documents
    state = AppState(docqa.settings, documents, FeedbackLog(tmp_path / "f.jsonl"), engine=docqa)
    state.warm_up()
    held = _HeldIndexer(docqa)
    state.indexing.indexer = held  # type: ignore[assignment]
    handlers = Handlers(state)
    state.reindex()
    assert held.entered.wait(30)
    first = handlers.collection()
    assert "Re-indexing" in first[3] and "<progress" in first[3]
    result = handlers.ask(FIRST_QUESTION)  # answered from the index being served
    assert "two ballistic missiles" in result["citations"][0]["quote"]
    assert state.indexing.running
    held.release.set()
    assert state.indexing.idle.wait(60)
    assert not state.indexing.running and state.indexing.error is None
    assert "Indexed 1 document." in handlers.collection()[3]


def test_the_ui_serves_what_another_process_indexed(tmp_path: Path) -> None:
    """`docqa index` run elsewhere after the files change: the running UI's next answer and
    its source view come from the new text, never from what it loaded at start."""
    from tests.conftest import SEEDS

    sources = tmp_path / "sources"
    sources.mkdir()
    shutil.copy(SEEDS / ARTICLE_ID, sources / ARTICLE_ID)
    settings = settings_over(tmp_path, sources)
    state = AppState(settings, {}, FeedbackLog(tmp_path / "f.jsonl"))
    state.warm_up()
    handlers = Handlers(state)
    assert "two ballistic missiles" in handlers.ask(FIRST_QUESTION)["citations"][0]["quote"]

    (sources / "ferry.txt").write_text("The island ferry left the harbour at noon on Friday.")
    DocQA(settings).index()  # another process
    result = handlers.ask("When did the island ferry leave the harbour?")
    (citation,) = result["citations"]
    assert citation["doc_id"] == "ferry.txt" and "noon" in citation["quote"]
    assert "ferry.txt" in state.current_documents()


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_re_index_can_be_cancelled_and_a_waiting_file_removed(tmp_path: Path) -> None:
    """Cancel stops the build at its next batch: nothing of it is written, the previous index
    keeps serving, and the file that was waiting for it can be removed."""
    from tests.conftest import SEEDS

    sources = tmp_path / "sources"
    sources.mkdir()
    shutil.copy(SEEDS / ARTICLE_ID, sources / ARTICLE_ID)
    settings = settings_over(tmp_path, sources, batch_size=4)
    state = AppState(settings, {}, FeedbackLog(tmp_path / "f.jsonl"))
    state.warm_up()
    handlers = Handlers(state)
    store = state.docqa.store
    before = (
        store.live_generation(),
        sorted(c.name for c in store.connection.client().list_collections()),
    )
    sentences = (f"Ferry {n} left the harbour at {n % 12 + 1} o'clock." for n in range(4000))
    settings.upload_dir.mkdir()
    timetable = settings.upload_dir / "timetable.txt"  # as if uploaded
    timetable.write_text(" ".join(sentences), encoding="utf-8")
    state.reindex()
    _wait(lambda: state.indexing.embedded > 0, 120, "the build to embed its first batch")
    view = handlers.collection()
    assert view[-1].visible is True, "the cancel button shows while it runs"
    view = handlers.cancel_reindex()
    assert state.indexing.idle.wait(60)
    assert state.indexing.cancelled and state.indexing.error is None
    assert state.indexing.embedded < 4000
    view = handlers.collection()
    assert "cancelled" in view[3] and view[-1].visible is False
    after = (
        store.live_generation(),
        sorted(c.name for c in store.connection.client().list_collections()),
    )
    assert after == before, "the cancelled build wrote nothing"
    assert "two ballistic missiles" in handlers.ask(FIRST_QUESTION)["citations"][0]["quote"]
    rows = {name: status for name, _, status in view[0]}
    assert rows["uploads/timetable.txt"] == "waiting for the index"
    assert ("uploads/timetable.txt", "uploads/timetable.txt") in view[2].choices
    *_, note = handlers.remove("uploads/timetable.txt")
    assert "Removed uploads/timetable\\.txt \\(docqa's copy" in note and not timetable.exists()
    assert state.indexing.idle.wait(120) and state.indexing.error is None
