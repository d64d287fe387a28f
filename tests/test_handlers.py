"""webui.handlers: what each event of the page does, over a real engine: questions asked at once
and followed up, kept conversations (tampered ones too), the documents panel and uploads, and
a Chroma server that goes away. Hostile input and failing parts are from issue 22."""

from __future__ import annotations

import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
import pytest

from rag import Settings
from rag.chain import DocQA
from rag.types import Document
from tests.conftest import ARTICLE_ID
from tests.servers import stop
from tests.ui_helpers import (
    EARLIER_QUESTION,
    FIRST_QUESTION,
    FOLLOW_UP,
    FOLLOW_UP_ANSWER,
    settings_over,
)
from webui import render
from webui.feedback import FeedbackLog
from webui.handlers import Handlers
from webui.state import AppState


def test_a_broken_exclusion_list_is_one_line_in_the_documents_panel(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The panel's poll, Remove and Restore raised on a damaged list: a bare "Error" toast
    every few seconds and a traceback in the log. Each now shows the line `docqa index`
    prints (delete the list), the files stay listed, and nothing is logged as an error."""
    from rag.documents import excluded_path

    sources = tmp_path / "sources"
    sources.mkdir()
    for name in ("a.txt", "b.txt"):
        (sources / name).write_text(f"{name}.", encoding="utf-8")
    settings = settings_over(tmp_path, sources)
    documents = {"a.txt": Document("a.txt", "a.txt.")}
    handlers = Handlers(AppState(settings, documents, FeedbackLog(tmp_path / "f.jsonl")))
    seen = handlers.watch("")[0]
    excluded_path(settings).parent.mkdir(parents=True, exist_ok=True)
    excluded_path(settings).write_text('{"excluded": "b.txt"', encoding="utf-8")
    said = "delete it to index every document again"

    now, rows, _selector, to_remove, line, *_rest, to_restore, restore, _cancel = handlers.watch(
        seen
    )
    assert now != seen and line.startswith(render.ERROR_MARK) and said in line
    assert [row[0] for row in rows] == ["a.txt", "b.txt"] and to_restore.choices == []
    assert restore.visible is False and ("b.txt", "b.txt") in to_remove.choices
    for changed in (handlers.remove("b.txt"), handlers.restore_document("b.txt")):
        *view, note = changed
        assert said in note and said in view[3] and note.count("\n") == 0
    assert not handlers.state.indexing.running  # nothing changed: no re-index
    assert not [record for record in caplog.records if record.levelname == "ERROR"]


def test_concurrent_questions_get_their_own_answers(docqa: DocQA, tmp_path: Path) -> None:
    """Handlers share one DocQA and no lock: each of several questions asked at once gets
    its own answer."""
    documents = docqa.corpus.documents
    state = AppState(docqa.settings, documents, FeedbackLog(tmp_path / "f.jsonl"), engine=docqa)
    state.warm_up()
    handlers = Handlers(state)
    questions = [FIRST_QUESTION, EARLIER_QUESTION] * 2
    with ThreadPoolExecutor(len(questions)) as pool:
        results = list(pool.map(handlers.ask, questions))
    expected = {FIRST_QUESTION: "two ballistic missiles", EARLIER_QUESTION: "Donald Trump"}
    for question, result in zip(questions, results, strict=True):
        assert result["question"] == question and not result["abstained"]
        assert expected[question] in result["citations"][0]["quote"]


def test_a_chat_follow_up_is_sent_with_the_earlier_answer(docqa: DocQA, tmp_path: Path) -> None:
    """The chat sends each earlier turn with its answer and short answer, so "he" can be the
    person the answer named; a refusal is sent without its text."""
    documents = docqa.corpus.documents
    state = AppState(docqa.settings, documents, FeedbackLog(tmp_path / "f.jsonl"), engine=docqa)
    state.warm_up()
    sent: list = []
    stream = state.stream

    def spying(question, history):  # the real engine answers; the spy notes what it was sent
        sent.append(list(history))
        return stream(question, history)

    state.stream = spying  # type: ignore[method-assign]
    handlers = Handlers(state)
    *_, (chat, *_rest, turns) = handlers.respond(FIRST_QUESTION, [], [], None)
    first = docqa.answer(FIRST_QUESTION)
    *_, (chat, *_rest, turns) = handlers.respond("Where were they fired from?", chat, turns, None)
    (earlier,) = sent[-1]
    assert earlier.question == FIRST_QUESTION
    assert earlier.answer == first.text and earlier.short == (
        first.short.quote if first.short else ""
    )


def test_a_kept_conversation_highlights_only_spans_still_in_the_text(tmp_path: Path) -> None:
    """After a reload, an answer kept in the browser may cite text that has changed since."""
    text = "Alpha beta. Gamma delta."
    documents = {"d.txt": Document("d.txt", text)}
    settings = settings_over(tmp_path, tmp_path)
    handlers = Handlers(AppState(settings, documents, FeedbackLog(tmp_path / "f.jsonl")))
    stale = {"doc_id": "d.txt", "start": 0, "end": 5, "quote": "Omega", "page": None}
    valid = {"doc_id": "d.txt", "start": 12, "end": 24, "quote": "Gamma delta.", "page": None}
    turns = [{"question": "q", "citations": [stale, valid], "message": 1}]
    doc_id, view = handlers.show_citation("0:2:123", turns)
    assert doc_id == "d.txt"
    assert "data-n='1'" not in view
    assert "<mark class='highlighted' data-n='2'" in view and "data-focus='2'" in view
    assert handlers.show_citation("5:1:0", turns) == (gr.skip(), gr.skip())  # chat cleared


def test_a_citation_of_a_removed_document_says_so_and_shows_no_other(tmp_path: Path) -> None:
    """A click on [1] of an answer whose document was removed showed another document, with
    nothing highlighted; the source view now says the document is gone."""
    documents = {"kept.txt": Document("kept.txt", "Kept text.")}
    handlers = Handlers(
        AppState(settings_over(tmp_path, tmp_path), documents, FeedbackLog(tmp_path))
    )
    gone = {"doc_id": "gone.txt", "start": 0, "end": 4, "quote": "Gone", "page": None}
    doc_id, view = handlers.show_citation("0:1:0", [{"question": "q", "citations": [gone]}])
    assert doc_id == "gone.txt"
    assert "This document was removed after the answer was given" in view
    assert "Kept text" not in view and "kept.txt" not in view
    # Choosing a document that is not cited still falls back to one that is there.
    assert "Kept text." in handlers.show_document("gone.txt", [])


def test_the_page_is_sent_the_collection_only_when_it_changed(tmp_path: Path) -> None:
    """On load and every few seconds the page asks for the collection: the first time (a
    reload) it gets the current one, then nothing until another process changes it."""
    from tests.conftest import SEEDS

    sources = tmp_path / "sources"
    sources.mkdir()
    shutil.copy(SEEDS / ARTICLE_ID, sources / ARTICLE_ID)
    settings = settings_over(tmp_path, sources)
    startup = {ARTICLE_ID: Document(ARTICLE_ID, "As read at start.")}
    state = AppState(settings, startup, FeedbackLog(tmp_path / "f.jsonl"))
    state.warm_up()
    handlers = Handlers(state)
    seen, rows, selector, *_ = handlers.watch("")
    assert [row[0] for row in rows] == [ARTICLE_ID] and selector.visible is False
    assert all(part == gr.skip() for part in handlers.watch(seen))

    (sources / "ferry.txt").write_text("The island ferry left the harbour at noon on Friday.")
    DocQA(settings).index()  # another process
    now, rows, selector, _remove, _line, _timer, intro, box, status, *_ = handlers.watch(seen)
    assert now != seen
    assert [row[:3:2] for row in rows] == [["ferry.txt", "indexed"], [ARTICLE_ID, "indexed"]]
    assert selector.visible is True and ("ferry.txt", "ferry.txt") in selector.choices
    assert "the documents" in intro and "the documents" in box.placeholder
    assert "2 documents" in status


def test_the_re_index_line_shows_how_far_the_build_has_come(docqa: DocQA, tmp_path: Path) -> None:
    documents = docqa.corpus.documents
    state = AppState(docqa.settings, documents, FeedbackLog(tmp_path / "f.jsonl"), engine=docqa)
    state.indexing.running, state.indexing.started = True, time.monotonic()
    lines = [part for part in Handlers(state).collection() if isinstance(part, str)]
    assert any("<progress aria-label='Re-indexing' >" in line for line in lines)  # busy bar
    state.indexing.embedded, state.indexing.to_embed = 256, 1024
    (line,) = [p for p in Handlers(state).collection() if isinstance(p, str) and "progress" in p]
    assert "value='256' max='1024'" in line and "256 of 1,024 sentences embedded" in line


def _handlers_over(docqa: DocQA, tmp_path: Path) -> Handlers:
    """Handlers over the session's engine (warm), answering from the seed article."""
    state = AppState(
        docqa.settings, docqa.corpus.documents, FeedbackLog(tmp_path / "f.jsonl"), engine=docqa
    )
    state.warm_up()
    return Handlers(state)


def test_a_lone_surrogate_in_a_chat_message_is_answered(docqa: DocQA, tmp_path: Path) -> None:
    """Gradio serialises every output with orjson, which refuses a lone surrogate: the stream
    would be cut by a TypeError. What the handler yields can be sent, and is answered."""
    import orjson

    handlers = _handlers_over(docqa, tmp_path)
    outputs = list(handlers.respond(f"\ud800{FIRST_QUESTION}\udcff", [], [], None))
    for chat, *_, turns in outputs:
        orjson.dumps(chat)  # raises TypeError on a lone surrogate
        orjson.dumps(turns)
    chat, *_, turns = outputs[-1]
    assert (
        chat[0]["content"].startswith("\ufffd") and "two ballistic missiles" in chat[-1]["content"]
    )
    assert turns[0]["question"] == f"\ufffd{FIRST_QUESTION}\ufffd" and not turns[0]["failed"]


@pytest.mark.parametrize(
    "saved",
    [
        {"chat": [1, 2, 3], "turns": [1, 2, 3]},
        {"chat": "earlier", "turns": "earlier"},
        {"turns": [{"question": 5, "message": 1}, {"question": "q", "message": "1"}]},
        {"turns": [{"question": "q", "message": True, "citations": []}]},
        {"turns": [{"question": "q", "message": 1, "citations": "c"}]},
        {"turns": [{"question": "q", "message": 1, "citations": [{"doc_id": "d", "start": "0"}]}]},
        {"turns": [{"question": "q", "message": 1, "citations": [[1, 2]]}]},
        {"chat": [{"role": "system", "content": "x"}, {"role": "user", "content": 5}]},
        {
            "chat": [
                {"role": "user", "content": [{"type": "file", "file": {"path": "/etc/passwd"}}]}
            ]
        },
        {"chat": [{"role": "user", "content": {"path": "/etc/passwd"}}]},
        ["chat", "turns"],
        None,
    ],
)
def test_a_tampered_conversation_is_left_out_and_questions_go_on(
    docqa: DocQA, tmp_path: Path, saved: object
) -> None:
    handlers = _handlers_over(docqa, tmp_path)
    chat, turns, _doc, _source = handlers.restore(saved)
    assert chat == [] and turns == []
    *_, (chat, _box, _hint, _doc, _source, turns) = handlers.respond(
        FIRST_QUESTION, chat, turns, None
    )
    assert "two ballistic missiles" in chat[-1]["content"] and not turns[-1]["failed"]


def test_a_readable_kept_conversation_is_restored_and_followed_up(
    docqa: DocQA, tmp_path: Path
) -> None:
    handlers = _handlers_over(docqa, tmp_path)
    *_, (chat, _box, _hint, _doc, _source, turns) = handlers.respond(EARLIER_QUESTION, [], [], None)
    # As Gradio hands the chat to _save: each content a list of text parts.
    kept = [{**m, "content": [{"type": "text", "text": m["content"]}]} for m in chat]
    tampered = {"chat": [*kept, 7], "turns": [*turns, [1, 2, 3]]}
    restored_chat, restored_turns, doc, source = handlers.restore(tampered)
    assert restored_chat == chat and restored_turns == turns
    # The source view shows the kept answer's spans, its first in focus.
    assert doc == ARTICLE_ID and "data-turn='0' data-focus='1'" in source
    assert "<mark class='highlighted' data-n='1'" in source
    *_, (chat, *_rest, turns) = handlers.respond(FOLLOW_UP, restored_chat, restored_turns, None)
    assert FOLLOW_UP_ANSWER in chat[-1]["content"] and len(turns) == 2


def test_history_as_a_plain_string_is_refused_not_spelled_out(docqa: DocQA, tmp_path: Path) -> None:
    """history="earlier" was taken as seven one-letter questions; like the Python API, it is
    a QuestionError saying what history must be."""
    handlers = _handlers_over(docqa, tmp_path)
    with pytest.raises(gr.Error, match="history must be a list of the earlier questions"):
        handlers.ask(FIRST_QUESTION, "earlier")  # type: ignore[arg-type]
    assert handlers.ask(FIRST_QUESTION, None)["citations"]


def test_a_stored_or_refused_upload_leaves_no_copy_for_gradio_to_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import SEEDS

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    sources = tmp_path / "sources"
    sources.mkdir()
    shutil.copy(SEEDS / ARTICLE_ID, sources / ARTICLE_ID)
    settings = settings_over(tmp_path, sources)
    uploads = settings.upload_dir
    uploads.mkdir()
    (uploads / "ferry.txt").write_text("The ferry left at noon.", encoding="utf-8")
    state = AppState(settings, {}, FeedbackLog(tmp_path / "f.jsonl"))
    sent = []
    for number, (name, text) in enumerate(
        [("ｆｅｒｒｙ.txt", "The ferry left at one."), ("run.exe", "MZ")]
    ):
        upload = tmp_path / "gradio" / f"{number:040x}" / name
        upload.parent.mkdir(parents=True)
        upload.write_text(text, encoding="utf-8")
        sent.append(str(upload))
    mine = tmp_path / "mine.txt"  # a file outside Gradio's folder is never deleted
    mine.write_text("Mine.", encoding="utf-8")
    result = Handlers(state).upload([*sent, str(mine)])
    message = result[-1]
    assert "ｆｅｒｒｙ\\.txt as uploads/ferry \\(2\\)\\.txt \\(that name was taken\\)" in message
    assert "mine\\.txt" in message and "run\\.exe" in message  # refused, with why
    assert (uploads / "ferry.txt").read_text(encoding="utf-8") == "The ferry left at noon."
    assert (uploads / "ferry (2).txt").read_text(encoding="utf-8") == "The ferry left at one."
    assert sorted(path.name for path in sources.iterdir()) == [ARTICLE_ID]
    assert list((tmp_path / "gradio").iterdir()) == [], "Gradio's copies are gone"
    assert mine.exists()
    assert state.indexing.idle.wait(180) and state.indexing.error is None


@pytest.mark.slow
def test_every_handler_says_when_the_chroma_server_has_gone(tmp_path: Path) -> None:
    """A StoreError (the index's server stopped) escaped the chat, upload and poll handlers:
    each now says what went wrong, in its reply, its line or a warning, and raises nothing."""
    from tests.conftest import SEEDS
    from tests.test_chroma_server import chroma_server

    sources = tmp_path / "sources"
    sources.mkdir()
    shutil.copy(SEEDS / ARTICLE_ID, sources / ARTICLE_ID)
    (tmp_path / "chroma").mkdir()
    # subtle: with the server gone, Chroma's client may fail inside its own cache (a KeyError,
    # "could not read the index") before it tries the network; either way a message, no raise.
    gone = "reach the Chroma server|could not (?:read|write) the index"
    with chroma_server(tmp_path / "chroma") as (host, port, process):
        settings = Settings.from_env(
            {},
            source_dir=sources,
            upload_dir=tmp_path / "uploads",
            index_dir=tmp_path / "index",
            chroma_host=host,
            chroma_port=port,
        )
        state = AppState(settings, {}, FeedbackLog(tmp_path / "f.jsonl"))
        state.warm_up()
        assert state.ready, state.failure
        handlers = Handlers(state)
        *_, (chat, _box, _hint, _doc, _source, turns) = handlers.respond(
            FIRST_QUESTION, [], [], None
        )
        assert "two ballistic missiles" in chat[-1]["content"]
        stop(process)

    with pytest.warns(UserWarning, match=gone):  # the source view stays as it was
        *_, (chat, _box, _hint, doc, source, turns) = handlers.respond(
            FIRST_QUESTION, chat, turns, ARTICLE_ID
        )
    assert doc == source == gr.skip()
    assert render.ERROR_MARK in chat[-1]["content"] and re.search(gone, chat[-1]["content"])
    assert turns[-1]["failed"]
    line, _timer = handlers.status()
    assert line.startswith(render.ERROR_MARK) and re.search(gone, line)
    view = handlers.collection()
    assert re.search(gone, view[3]) and re.search(gone, view[7])
    assert [row[0] for row in view[0]] == [ARTICLE_ID]  # the files are still listed
    upload = tmp_path / "ferry.txt"
    upload.write_text("The ferry left at noon.", encoding="utf-8")
    *view, note = handlers.upload([str(upload)])
    assert "Added uploads/ferry\\.txt" in note and (settings.upload_dir / "ferry.txt").exists()
    assert state.indexing.idle.wait(120) and state.indexing.error  # a StoreError's message
    *view, note = handlers.remove("uploads/ferry.txt")
    assert "Removed uploads/ferry\\.txt" in note
    with pytest.warns(UserWarning, match=gone):
        assert handlers.show_document(ARTICLE_ID, turns) == gr.skip()
    with pytest.warns(UserWarning, match=gone):
        assert handlers.show_citation("0:1:0", turns) == (gr.skip(), gr.skip())
    with pytest.warns(UserWarning, match=gone):
        assert handlers.clear_chat(ARTICLE_ID)[3] == gr.skip()


def test_names_and_error_lines_show_as_stored_never_reordered_or_escaped(tmp_path: Path) -> None:
    """A right-to-left override in a file name reordered what the documents panel showed
    ("invoice\u202etxt.exe" read as "invoiceexe.txt"), and the panel's error line, plain HTML,
    showed Markdown escapes ("my\\-docs"). The override is shown as its escape while the
    choice still names the real file, and an error line holds the path as it is."""
    from rag.documents import excluded_path

    sources = tmp_path / "my-docs"
    sources.mkdir()
    tricky = "invoice\u202etxt.exe.txt"
    for name in ("a.txt", tricky):
        (sources / name).write_text("Some words.", encoding="utf-8")
    settings = settings_over(tmp_path / "my_index", sources)
    handlers = Handlers(AppState(settings, {}, FeedbackLog(tmp_path / "f.jsonl")))
    _now, rows, _selector, to_remove, *_rest = handlers.watch("")
    shown = [row[0] for row in rows]
    assert "invoice\\u202etxt.exe.txt" in shown and not any("\u202e" in name for name in shown)
    assert ("invoice\\u202etxt.exe.txt", tricky) in to_remove.choices

    excluded_path(settings).parent.mkdir(parents=True, exist_ok=True)
    excluded_path(settings).write_text("[", encoding="utf-8")
    line = handlers.watch("")[4]
    assert str(excluded_path(settings)) in line and "\\" not in line
