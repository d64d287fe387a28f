"""The web UI: its helpers directly, then a real `python ui.py` driven through gradio_client."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from hypothesis import given
from hypothesis import strategies as st

from rag import Citation, Settings, SettingsError
from rag.chain import DocQA
from rag.documents import Skipped, read_excluded
from rag.presentation import quote_marks, title
from rag.types import Answer, Document
from tests.servers import free_port, stop, wait_until_up
from webui import render
from webui.collection import (
    EXCLUDED_STATUS,
    MAX_NAME_CHARS,
    UploadError,
    document_rows,
    removable,
    remove_document,
    restorable,
    restore_document,
    safe_name,
    store_upload,
)
from webui.examples import EXAMPLE_CATEGORIES, EXAMPLES_PER_CATEGORY, load_examples
from webui.feedback import FeedbackLog, feedback_record
from webui.handlers import Handlers
from webui.server import check_can_serve, server_address
from webui.state import AppState

ROOT = Path(__file__).resolve().parent.parent
ARTICLE_ID = "north-korea-missile-tests.txt"
STARTUP_TIMEOUT = 240  # seconds for `python ui.py` to load the model, index and serve
FIRST_QUESTION = "How many ballistic missiles did North Korea reportedly fire?"
# A follow-up that only the conversation makes answerable: alone, "he" is nobody.
EARLIER_QUESTION = "What steps did Donald Trump take towards North Korea?"
FOLLOW_UP = "Who did he walk into the country alongside?"
FOLLOW_UP_ANSWER = "leader"
MARKUP = "<img src=x onerror=alert(1)>"


# -- a running app, shared with test_ui_browser.py ---------------------------------------


@dataclass
class RunningApp:
    """A `python ui.py` subprocess serving `url`."""

    url: str
    feedback_path: Path
    log_path: Path
    started: float  # time.perf_counter() just before the process was started
    up_after: float  # seconds from start until the URL answered
    process: subprocess.Popen


def app_environment(folder: Path, port: int) -> dict[str, str]:
    """The environment for `python ui.py`: a private copy of the seed folder, private upload
    folder, index and feedback file, offline."""
    sources = folder / "sources"
    if not sources.exists():
        shutil.copytree(ROOT / "seeds", sources)
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("DOCQA_", "GRADIO_"))
    }
    env.update(
        GRADIO_SERVER_NAME="127.0.0.1",
        GRADIO_SERVER_PORT=str(port),
        GRADIO_ANALYTICS_ENABLED="False",
        DOCQA_SOURCE_DIR=str(sources),
        DOCQA_UPLOAD_DIR=str(folder / "uploads"),
        DOCQA_INDEX_DIR=str(folder / "index"),
        DOCQA_FEEDBACK_PATH=str(folder / "feedback" / "feedback.jsonl"),
        HF_HUB_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
        PYTHONUNBUFFERED="1",
    )
    return env


@contextmanager
def launch_app(folder: Path) -> Iterator[RunningApp]:
    """Start `python ui.py` on a free port, wait until its URL answers, stop it afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = app_environment(folder, port)
    log_path = folder / "ui.log"
    with log_path.open("w", encoding="utf-8") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "ui.py")],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_up(url, process, log_path, started + STARTUP_TIMEOUT, "ui.py")
            up_after = time.perf_counter() - started
            print(f"\n`python ui.py` answered at {url} after {up_after:.2f} s")
            yield RunningApp(
                url=url,
                feedback_path=Path(env["DOCQA_FEEDBACK_PATH"]),
                log_path=log_path,
                started=started,
                up_after=up_after,
                process=process,
            )
        finally:
            stop(process)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """One `python ui.py` for this module's tests."""
    with launch_app(tmp_path_factory.mktemp("ui")) as running:
        yield running
        log = running.log_path.read_text(encoding="utf-8")
        assert "Traceback" not in log, log


@pytest.fixture
def client(app: RunningApp) -> Client:
    """A fresh client: a new session, so a new (empty) conversation."""
    return Client(app.url, verbose=False)


def _last_text(chat: list[dict]) -> str:
    """The text of the last chat message, whatever shape gradio_client gives its content."""
    content = chat[-1]["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


# -- the helpers, directly -------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [MARKUP, "<script>alert(1)</script>", "*bold* _it_ [link](http://x) `code` # h", "a & b"],
)
def test_escape_leaves_no_markup(text: str) -> None:
    shown = render.escape(text)
    assert "<" not in shown and ">" not in shown
    assert "[link](" not in shown and "`" not in shown.replace("\\`", "")


def _view_text(view: str) -> str:
    """The characters a source view shows of its document: tags, labels and page marks out."""
    view = view[view.index("<div class='source-view'") :]
    view = re.sub(
        r"<span class='label'>.*?</span>|<span class='page-mark'[^>]*>.*?</span>", "", view
    )
    return html.unescape(re.sub(r"<[^>]+>", "", view))


@given(st.text(max_size=200), st.lists(st.integers(0, 200), max_size=8))
def test_source_view_shows_the_text_and_marks_each_citation(text: str, cuts: list[int]) -> None:
    """The view shows the document exactly; each numbered mark holds its citation's text."""
    bounds = sorted(min(cut, len(text)) for cut in cuts)
    citations = [
        Citation("d", start, end, text[start:end])
        for start, end in zip(bounds[::2], bounds[1::2], strict=False)
        if start < end
    ]
    view = render.source_html(Document("d", text), citations, turn=0)
    assert _view_text(view) == text
    marked = re.findall(
        r"<mark [^>]*data-n='(\d+)'[^>]*><span class='text'>(.*?)</span>", view, re.S
    )
    assert [html.unescape(quote) for _, quote in marked] == [c.quote for c in citations]
    assert [int(n) for n, _ in marked] == list(range(1, len(citations) + 1))


def test_source_view_numbers_citations_across_documents() -> None:
    citations = [Citation("a", 0, 2, "ab"), Citation("b", 3, 5, "cd")]
    view = render.source_html(Document("b", "ab cd"), citations, turn=3, focus=2)
    assert "data-n='2'" in view and "data-n='1'" not in view
    assert "data-turn='3'" in view and "data-focus='2'" in view


def test_source_view_escapes_markup_in_a_document() -> None:
    view = render.source_html(Document("evil.html", f"Text {MARKUP} more <script>x</script>"))
    assert "<img" not in view and "<script" not in view
    assert _view_text(view) == f"Text {MARKUP} more <script>x</script>"


def test_markdown_headings_are_headings_without_their_marks() -> None:
    text = "## Launches\n\nTwo missiles flew.\n"
    document = Document("notes.md", text, headings=((0, 11),))
    view = render.source_html(document)
    assert "<span class='heading'><span class='md-mark'>## </span>Launches</span>" in view
    assert _view_text(view) == text  # the marks stay in the text (offsets), hidden by CSS
    assert title(document) == "Launches"


def test_pdf_pages_are_marked_and_cited_pages_named() -> None:
    document = Document("r.pdf", "Page one.\n\nPage two.", pages=(0, 11))
    view = render.source_html(document)
    assert "<span class='page-mark' data-page='2'>page 2</span>Page two." in view
    assert render.place(Citation("r.pdf", 11, 20, "Page two.", page=2)) == (
        "r\\.pdf, page 2, characters 11–20"
    )


def test_a_hedged_answer_says_so_before_the_answer_and_in_the_copied_text() -> None:
    text = "Early Friday North Korea fired two missiles into the sea, officials said."
    quote = Citation("n.txt", 13, 56, text[13:56])
    short = Citation("n.txt", 31, 34, "two")
    documents = {"n.txt": Document("n.txt", text)}
    hedged = Answer("Possibly: Two. …", [quote], short=short, question="How many?", hedged=True)
    shown = render.format_answer(hedged, 1, documents)
    assert shown.index("<em class='hedge'>Possibly:</em>") < shown.index("class='short'")
    assert hedged.as_text(documents).startswith("Possibly:\nTwo.")
    plain = Answer("Two. …", [quote], short=short, question="How many?")
    assert "hedge" not in render.format_answer(plain, 1, documents)


def test_an_answer_shows_the_short_answer_in_bold_before_its_quotes() -> None:
    text = "Early Friday North Korea fired two missiles into the sea, officials said."
    quote = Citation("n.txt", 13, 56, text[13:56])
    result = Answer("Two. …", [quote], short=Citation("n.txt", 31, 34, "two"), question="How many?")
    shown = render.format_answer(result, 4, {"n.txt": Document("n.txt", text)})
    assert shown.startswith("<strong class='short'>Two</strong>")
    assert shown.index("Two") < shown.index("<q class='quote'>")
    assert "<span class='cite turn-4 n-1'" in shown
    assert "<span class='context'>Early Friday </span>" in shown  # words around the quote
    assert "characters 13–56" in shown


def test_an_answer_copies_as_plain_text_with_each_quote_and_its_place() -> None:
    """The copy button copied the chat's markup; it now copies Answer.as_text(), which the
    answer message carries in a hidden element (the page's script reads it)."""
    text = "Harbour report\n\nEarly Friday North Korea fired two missiles, officials said."
    document = Document("n & m.pdf", text, pages=(0, 16))
    quote = Citation("n & m.pdf", 16, 59, text[16:59], page=2)
    result = Answer("Two. …", [quote], short=Citation("n & m.pdf", 45, 48, "two"))
    copied = result.as_text({"n & m.pdf": document})
    assert copied == (
        "Two.\n\n[1] “Early Friday North Korea fired two missiles”\n"
        "    Harbour report (n & m.pdf), page 2, characters 16–59"
    )
    assert result.as_text().endswith("\n    n & m.pdf, page 2, characters 16–59")
    shown = render.format_answer(result, 0, {"n & m.pdf": document})
    kept = re.search(r"<pre class='copy-text'>(.*)</pre>$", shown, re.S)
    assert kept and html.unescape(kept.group(1)) == copied and "<" not in kept.group(1)
    refused = Answer("“Harbour report” does not say.", abstained=True)
    assert refused.as_text() == refused.text


def test_an_answer_as_text_quotes_the_document_exactly(docqa: DocQA, article_text: str) -> None:
    result = docqa.answer(FIRST_QUESTION)
    copied = result.as_text(docqa.corpus.documents)
    places = re.findall(r"^\[\d+\] (.*)\n    (.+), characters (\d+)–(\d+)$", copied, re.M)
    assert len(places) == len(result.citations) > 0
    for shown, name, start, end in places:
        assert name == ARTICLE_ID
        assert shown == quote_marks(article_text[int(start) : int(end)], ellipses=False)
    opening = "Possibly:\n" if result.hedged else ""  # a middling confidence says so
    assert copied.startswith(f"{opening}{result.short.quote.capitalize()}.\n\n[1] “")


@pytest.mark.parametrize(
    ("documents", "expected"),
    [
        ({"a.txt": Document("a.txt", "Short title\n\nBody.")}, "“Short title” does not say."),
        ({"a.md": Document("a.md", "# Notes\n", headings=((0, 7),))}, "“Notes” does not say."),
        (
            {"a.txt": Document("a.txt", "A long first sentence that is not a title at all.")},
            "“a.txt” does not say.",
        ),
        (
            {"a.txt": Document("a.txt", "x"), "b.txt": Document("b.txt", "y")},
            "The documents do not say.",
        ),
    ],
)
def test_refusals_name_the_collection_never_an_article(documents: dict, expected: str) -> None:
    shown = render.format_answer(
        Answer("The article…", abstained=True, question="Q?"), 0, documents
    )
    assert shown.startswith("<span class='abstained'>" + render.ABSTAIN_MARK)
    assert render.escape(expected) in shown
    assert "article" not in shown and "Quotes" not in shown


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("notes.md", "notes.md"),
        ("../../etc/Évian notes.MD", "Evian notes.md"),
        ("C:\\Users\\x\\report.pdf", "report.pdf"),
        (".hidden.txt", "hidden.txt"),
        ("<img src=x onerror=alert(1)>.txt", "img src_x onerror_alert_1.txt"),
        ("a" * 300 + ".docx", "a" * (MAX_NAME_CHARS - 5) + ".docx"),
    ],
)
def test_safe_name_keeps_only_a_plain_name(sent: str, stored: str) -> None:
    assert safe_name(sent) == stored


@pytest.mark.parametrize("sent", ["run.exe", "noext", "archive.tar.gz", "..", ""])
def test_safe_name_refuses_what_docqa_does_not_read(sent: str) -> None:
    with pytest.raises(UploadError, match="upload one of"):
        safe_name(sent)


def _settings(tmp_path: Path, sources: Path, **values: object) -> Settings:
    """Settings over `sources`, with the upload folder and the index under `tmp_path`."""
    return Settings.from_env(
        {},
        source_dir=sources,
        upload_dir=tmp_path / "uploads",
        index_dir=tmp_path / "index",
        **values,
    )


def test_an_upload_is_stored_only_under_the_upload_folder(tmp_path: Path) -> None:
    sources, sent_from = tmp_path / "sources", tmp_path / "sent"
    sources.mkdir()
    sent_from.mkdir()
    settings = _settings(tmp_path, sources, max_file_mb=1)
    sent = sent_from / "x.txt"
    sent.write_text("Some text.", encoding="utf-8")
    assert store_upload(settings, sent, "../../outside.txt") == "uploads/outside.txt"
    uploads = settings.upload_dir
    assert (uploads / "outside.txt").read_text(encoding="utf-8") == "Some text."
    assert not (tmp_path / "outside.txt").exists() and list(sources.iterdir()) == []
    assert sorted(path.name for path in uploads.iterdir()) == ["outside.txt"]  # no temporary
    big = sent_from / "big.txt"
    big.write_bytes(b"x" * (1024 * 1024 + 1))
    with pytest.raises(UploadError, match="over the 1 MB limit"):
        store_upload(settings, big, "big.txt")
    assert not (uploads / "big.txt").exists()


def test_removing_deletes_an_upload_and_only_hides_a_source_file(tmp_path: Path) -> None:
    """An upload is docqa's copy: removing it deletes it. A file of the user's source folder
    is never deleted: it is left out of the index, listed, and can be restored."""
    sources = tmp_path / "sources"
    (sources / "sub").mkdir(parents=True)
    (sources / "sub" / "a.txt").write_text("A.", encoding="utf-8")
    (tmp_path / "keep.txt").write_text("Keep.", encoding="utf-8")
    settings = _settings(tmp_path, sources)
    settings.upload_dir.mkdir()
    (settings.upload_dir / "b.txt").write_text("B.", encoding="utf-8")
    for doc_id in ("../keep.txt", "sub", "nothing.txt", "uploads/../../keep.txt"):
        with pytest.raises(UploadError):
            remove_document(settings, doc_id)
    assert (tmp_path / "keep.txt").exists()

    assert "deleted" in remove_document(settings, "uploads/b.txt")
    assert not (settings.upload_dir / "b.txt").exists()
    assert "stays in the source folder" in remove_document(settings, "sub/a.txt")
    assert (sources / "sub" / "a.txt").read_text(encoding="utf-8") == "A."
    assert read_excluded(settings) == {"sub/a.txt"}
    assert restorable(settings) == ["sub/a.txt"]
    rows = document_rows(settings, {"sub/a.txt": Document("sub/a.txt", "A.")})
    assert rows == [["sub/a.txt", "2 B", EXCLUDED_STATUS]]
    assert removable(settings, rows) == []  # restored, not removed again
    assert restore_document(settings, "sub/a.txt") == "Restored sub/a.txt"
    assert read_excluded(settings) == set() and restorable(settings) == []
    with pytest.raises(UploadError, match="was not removed"):
        restore_document(settings, "sub/a.txt")


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
    settings = _settings(tmp_path, sources)
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


def test_document_rows_list_indexed_skipped_and_waiting_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Indexed.", encoding="utf-8")
    (tmp_path / "new.md").write_text("# New", encoding="utf-8")
    (tmp_path / "scan.pdf").write_bytes(b"%PDF")
    (tmp_path / "notes.bin").write_bytes(b"?")
    settings = _settings(tmp_path, tmp_path)
    settings.upload_dir.mkdir()
    (settings.upload_dir / "up.txt").write_text("Up.", encoding="utf-8")
    documents = {"a.txt": Document("a.txt", "Indexed."), "gone.txt": Document("gone.txt", "x")}
    rows = document_rows(settings, documents, [Skipped("scan.pdf", "a PDF with no text")])
    assert rows == [
        ["a.txt", "8 B", "indexed"],
        ["gone.txt", "gone", "removed: leaves at the next index"],
        ["new.md", "5 B", "waiting for the index"],
        ["scan.pdf", "4 B", "skipped: a PDF with no text"],
        ["uploads/up.txt", "3 B", "waiting for the index"],  # once, though inside tmp_path
    ]


@pytest.mark.parametrize("text", ["", "one", "one two three", "word " * 200])
def test_stream_prefixes_grow_to_the_whole_text(text: str) -> None:
    prefixes = list(render.stream_prefixes(text))
    assert all(text.startswith(prefix) for prefix in prefixes)
    assert [len(p) for p in prefixes] == sorted({len(p) for p in prefixes})
    assert (prefixes[-1] if prefixes else "") == text
    assert len(prefixes) <= render.STREAM_STEPS


def test_load_examples_only_for_loaded_documents(article_text: str) -> None:
    loaded = {ARTICLE_ID: Document(ARTICLE_ID, article_text)}
    examples = load_examples(loaded)
    assert FIRST_QUESTION in examples
    assert len(examples) == len(EXAMPLE_CATEGORIES) * EXAMPLES_PER_CATEGORY
    assert load_examples({"other.txt": Document("other.txt", "x")}) == []


def test_feedback_is_one_json_line_per_vote(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "new" / "folder" / "feedback.jsonl")
    turn = {"question": "q?", "answer": "a [1]", "citations": [{"doc_id": "d"}], "message": 1}
    log.append(feedback_record(turn, True))
    log.append(feedback_record(turn, False))
    records = [json.loads(line) for line in log.path.read_text(encoding="utf-8").splitlines()]
    assert [record["vote"] for record in records] == ["up", "down"]
    assert set(records[0]) == {"time", "question", "answer", "citations", "vote"}
    assert records[0]["question"] == "q?" and records[0]["citations"] == [{"doc_id": "d"}]


def test_status_says_loading_ready_or_what_went_wrong() -> None:
    documents = {"a.txt": Document("a.txt", "Some text.")}
    loading = render.status_text(False, None, documents)
    assert "Loading" in loading and "⏳" not in loading
    assert "Skipped" not in render.status_text(True, None, documents)
    status = render.status_text(True, None, documents, [Skipped("scan.pdf", "an encrypted PDF")])
    assert status.startswith("✓ **Ready**: 1 document ")
    assert render.escape("Skipped 1 file: scan.pdf (an encrypted PDF)") in status
    assert render.status_text(True, "no index", documents).startswith(render.ERROR_MARK)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, ("127.0.0.1", 7860)),
        ({"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "8080"}, ("0.0.0.0", 8080)),
        ({"GRADIO_SERVER_NAME": "::1", "GRADIO_SERVER_PORT": " 65535 "}, ("::1", 65535)),
        ({"GRADIO_SERVER_NAME": "my-host.example"}, ("my-host.example", 7860)),
    ],
)
def test_server_address_reads_the_environment(environ: dict, expected: tuple) -> None:
    assert server_address(environ) == expected


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"GRADIO_SERVER_PORT": "abc"}, "GRADIO_SERVER_PORT"),
        ({"GRADIO_SERVER_PORT": "0"}, "GRADIO_SERVER_PORT"),
        ({"GRADIO_SERVER_PORT": "70000"}, "GRADIO_SERVER_PORT"),
        ({"GRADIO_SERVER_NAME": "not a host"}, "GRADIO_SERVER_NAME"),
        ({"GRADIO_SERVER_NAME": "http://x"}, "GRADIO_SERVER_NAME"),
    ],
)
def test_a_bad_server_address_is_a_settings_error(environ: dict, named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        server_address(environ)


def test_an_address_the_ui_cannot_serve_on_is_a_settings_error() -> None:

    with pytest.raises(SettingsError, match="not a name this machine can resolve"):
        check_can_serve("nowhere.invalid", 7999)
    with pytest.raises(SettingsError, match="not an address of this machine"):
        check_can_serve("192.0.2.1", 7999)  # TEST-NET-1, for documentation: never local
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SettingsError, match=f"port {port} on 127.0.0.1 is already in use"):
            check_can_serve("127.0.0.1", port)
    check_can_serve("127.0.0.1", 0)  # any free port: no error


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


# -- the running app, through its API ----------------------------------------------------


def test_ask_cites_the_article_exactly(client: Client, article_text: str) -> None:
    result = client.predict(FIRST_QUESTION, [], api_name="/ask")
    assert not result["abstained"]
    assert "two ballistic missiles" in result["text"]
    assert result["citations"]
    for citation in result["citations"]:
        assert citation["doc_id"] == ARTICLE_ID
        assert article_text[citation["start"] : citation["end"]] == citation["quote"]


def test_ask_uses_history_for_follow_ups(client: Client) -> None:
    alone = client.predict(FOLLOW_UP, [], api_name="/ask")
    followed = client.predict(FOLLOW_UP, [EARLIER_QUESTION], api_name="/ask")
    assert followed["question"] == "Who did Donald Trump walk into the country alongside?"
    assert alone["question"] == FOLLOW_UP
    assert FOLLOW_UP_ANSWER in followed["text"]
    assert not followed["abstained"]


@pytest.mark.parametrize("question", ["", "   "])
def test_ask_rejects_an_empty_question_politely(client: Client, question: str) -> None:
    with pytest.raises(AppError, match="empty"):
        client.predict(question, [], api_name="/ask")


def test_chat_streams_the_answer_and_highlights_its_quotes(
    client: Client, article_text: str
) -> None:
    job = client.submit(FIRST_QUESTION, [], api_name="/chat")
    chat, box, hint, doc_id, source = job.result(timeout=60)
    partials = [_last_text(out[0]) for out in job.outputs() if len(out[0]) == 2]
    assert len({partial for partial in partials if partial}) > 2, "the answer did not stream"
    assert box == "" and hint == "" and doc_id == ARTICLE_ID
    assert [message["role"] for message in chat] == ["user", "assistant"]
    reply = _last_text(chat)
    cited = client.predict(FIRST_QUESTION, [], api_name="/ask")["citations"]
    assert "two ballistic missiles" in reply and cited
    for citation in cited:  # each quote's place in the source, as the API reports it
        assert f"characters {citation['start']}–{citation['end']}" in reply
        assert article_text[citation["start"] : citation["end"]] == citation["quote"]
    assert _view_text(source) == article_text
    marked = re.findall(
        r"<mark [^>]*data-n='(\d+)'[^>]*><span class='text'>(.*?)</span>", source, re.S
    )
    assert [html.unescape(quote) for _, quote in marked] == [c["quote"] for c in cited]
    assert [int(n) for n, _ in marked] == list(range(1, len(cited) + 1))


def test_chat_follow_up_uses_the_conversation(client: Client) -> None:
    first = client.predict(EARLIER_QUESTION, [], api_name="/chat")
    second = client.predict(FOLLOW_UP, first[0], api_name="/chat")
    assert len(second[0]) == 4
    assert FOLLOW_UP_ANSWER in _last_text(second[0])
    fresh = Client(client.src, verbose=False).predict(FOLLOW_UP, [], api_name="/chat")
    assert len(fresh[0]) == 2, "a new conversation starts with none of another's turns"


@pytest.mark.parametrize("message", ["", "   ", "\n\t"])
def test_chat_ignores_an_empty_message_with_a_hint(client: Client, message: str) -> None:
    chat, box, hint, *_ = client.predict(message, [], api_name="/chat")
    assert chat == [] and box == ""
    assert "Type a question" in hint
    assert client.predict(FIRST_QUESTION, [], api_name="/ask")["citations"], "still serving"


def test_chat_answers_an_over_long_message_kindly(client: Client) -> None:
    message = "why " * 3000
    chat, *_ = client.predict(message, [], api_name="/chat")
    user, reply = _last_text(chat[:1]), _last_text(chat)
    assert len(user) <= render.SHOWN_QUESTION_CHARS + 1
    assert render.ERROR_MARK in reply and "limit is 2,000" in reply
    assert "Traceback" not in reply


def test_chat_shows_markup_as_text(client: Client) -> None:
    chat, *_ = client.predict(MARKUP, [], api_name="/chat")
    user, reply = _last_text(chat[:1]), _last_text(chat)
    assert "<img" not in user and "&lt;img" in user
    assert "<img" not in reply and render.ABSTAIN_MARK in reply


def _run_ui(env: dict[str, str]) -> subprocess.CompletedProcess:
    """`python ui.py` run to its end (for settings that stop it before it serves)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "ui.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=STARTUP_TIMEOUT,
    )


def test_missing_source_folder_is_a_friendly_exit(tmp_path: Path) -> None:
    env = app_environment(tmp_path, free_port())
    env["DOCQA_SOURCE_DIR"] = str(tmp_path / "nowhere")
    done = _run_ui(env)
    assert done.returncode == 2
    assert "does not exist" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [("GRADIO_SERVER_PORT", "abc"), ("GRADIO_SERVER_PORT", "99999"), ("GRADIO_SERVER_NAME", "a b")],
)
def test_a_bad_server_setting_is_a_friendly_exit(tmp_path: Path, name: str, value: str) -> None:
    env = app_environment(tmp_path, free_port())
    env[name] = value
    done = _run_ui(env)
    assert done.returncode == 2
    assert done.stderr.startswith(f"docqa: error: {name} must be")
    assert "Traceback" not in done.stderr


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


def test_a_kept_conversation_highlights_only_spans_still_in_the_text(tmp_path: Path) -> None:
    """After a reload, an answer kept in the browser may cite text that has changed since."""
    text = "Alpha beta. Gamma delta."
    documents = {"d.txt": Document("d.txt", text)}
    settings = _settings(tmp_path, tmp_path)
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
    handlers = Handlers(AppState(_settings(tmp_path, tmp_path), documents, FeedbackLog(tmp_path)))
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
    settings = _settings(tmp_path, sources)
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


def test_the_ui_serves_what_another_process_indexed(tmp_path: Path) -> None:
    """`docqa index` run elsewhere after the files change: the running UI's next answer and
    its source view come from the new text, never from what it loaded at start."""
    from tests.conftest import SEEDS

    sources = tmp_path / "sources"
    sources.mkdir()
    shutil.copy(SEEDS / ARTICLE_ID, sources / ARTICLE_ID)
    settings = _settings(tmp_path, sources)
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


# -- hostile input and failing parts (issue 22) -----------------------------------------


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


def test_ask_refuses_history_as_a_plain_string(client: Client) -> None:
    with pytest.raises(AppError, match="history must be a list"):
        client.predict(FIRST_QUESTION, "earlier", api_name="/ask")


def test_a_port_left_in_time_wait_is_free_to_serve() -> None:
    """A UI restarted within a minute: its old connections wait in TIME-WAIT on the port,
    which the server (uvicorn binds with SO_REUSEADDR) may use; docqa's check agrees."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn's does
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            connection, _ = server.accept()
            connection.close()  # the server closes first: its end of it waits in TIME-WAIT
            assert client.recv(1) == b""
    time.sleep(0.2)  # for the last FIN to arrive
    states = Path("/proc/net/tcp").read_text(encoding="ascii")
    assert re.search(rf"^\s*\d+: 0100007F:{port:04X} \S+ 06 ", states, re.M), "no TIME-WAIT"
    check_can_serve("127.0.0.1", port)


def test_a_stored_or_refused_upload_leaves_no_copy_for_gradio_to_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import SEEDS

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    sources = tmp_path / "sources"
    sources.mkdir()
    shutil.copy(SEEDS / ARTICLE_ID, sources / ARTICLE_ID)
    settings = _settings(tmp_path, sources)
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


@pytest.mark.parametrize(
    "sent", ["ferry.txt", "ｆｅｒｒｙ.txt", "férry.txt", "FERRY.TXT", "Ferry.txt", "ferry.txt "]
)
def test_an_upload_never_replaces_a_document(tmp_path: Path, sent: str) -> None:
    sources, upload = tmp_path / "sources", tmp_path / "upload.txt"
    (sources / "uploads").mkdir(parents=True)
    settings = _settings(tmp_path, sources)
    uploads = settings.upload_dir
    uploads.mkdir()
    (uploads / "ferry.txt").write_text("Old.", encoding="utf-8")
    (uploads / "Ferry (2).txt").write_text("Also old.", encoding="utf-8")
    # The source folder's own uploads/ferry (3).txt would have the id of a third upload.
    (sources / "uploads" / "FERRY (3).txt").write_text("Mine.", encoding="utf-8")
    upload.write_text("New.", encoding="utf-8")
    stored = store_upload(settings, upload, sent)
    assert stored.casefold() == "uploads/ferry (4).txt"
    assert (uploads / stored.removeprefix("uploads/")).read_text(encoding="utf-8") == "New."
    assert (uploads / "ferry.txt").read_text(encoding="utf-8") == "Old."
    assert (uploads / "Ferry (2).txt").read_text(encoding="utf-8") == "Also old."
    assert len(list(uploads.iterdir())) == 3  # and no temporary left behind


def test_a_long_name_keeps_its_number_within_the_limit(tmp_path: Path) -> None:
    settings, upload = _settings(tmp_path, tmp_path / "sources"), tmp_path / "upload.txt"
    upload.write_text("x", encoding="utf-8")
    first = store_upload(settings, upload, "a" * 300 + ".md").removeprefix("uploads/")
    second = store_upload(settings, upload, "a" * 300 + ".md").removeprefix("uploads/")
    assert len(first) == len(second) == MAX_NAME_CHARS and second.endswith(" (2).md")


def test_removing_a_link_removes_the_link_never_its_target(tmp_path: Path) -> None:
    settings = _settings(tmp_path, tmp_path / "sources")
    uploads = settings.upload_dir
    uploads.mkdir()
    (uploads / "real.txt").write_text("Real.", encoding="utf-8")
    (uploads / "alias.txt").symlink_to("real.txt")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("Secret.", encoding="utf-8")
    (uploads / "away.txt").symlink_to(outside / "secret.txt")
    (uploads / "linked").symlink_to(outside, target_is_directory=True)
    remove_document(settings, "uploads/alias.txt")
    assert not (uploads / "alias.txt").is_symlink()
    assert (uploads / "real.txt").read_text(encoding="utf-8") == "Real."
    remove_document(settings, "uploads/away.txt")  # a link out of the folder: the link goes
    assert (outside / "secret.txt").exists()
    for doc_id in (
        "uploads/linked/secret.txt",
        str(outside / "secret.txt"),
        "uploads/x/../../outside/secret.txt",
    ):
        with pytest.raises(UploadError, match="refresh the list"):
            remove_document(settings, doc_id)
    assert (outside / "secret.txt").read_text(encoding="utf-8") == "Secret."


def test_skipped_and_waiting_files_can_be_chosen_for_removal(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Indexed.", encoding="utf-8")
    (tmp_path / "new.md").write_text("# New", encoding="utf-8")
    (tmp_path / "scan.pdf").write_bytes(b"%PDF")
    settings = _settings(tmp_path, tmp_path)
    documents = {"a.txt": Document("a.txt", "Indexed."), "gone.txt": Document("gone.txt", "x")}
    rows = document_rows(settings, documents, [Skipped("scan.pdf", "a damaged PDF")])
    assert removable(settings, rows) == ["a.txt", "new.md", "scan.pdf"]  # not the gone one


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
    settings = _settings(tmp_path, sources, batch_size=4)
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


def test_the_ui_can_be_restarted_on_the_same_port_at_once(tmp_path: Path) -> None:
    """Stopping `python ui.py` leaves its connections in TIME-WAIT for a minute; starting it
    again on the same port was refused as "already in use" by docqa's own check."""
    with launch_app(tmp_path) as running:
        port = int(running.url.rstrip("/").rsplit(":", 1)[1])
        Client(running.url, verbose=False).predict(FIRST_QUESTION, [], api_name="/ask")
    check_can_serve("127.0.0.1", port)


@pytest.mark.parametrize(
    ("name", "value"), [("DOCQA_INDEX_DIR", "/etc/passwd"), ("DOCQA_BATCH_SIZE", "0")]
)
def test_a_bad_docqa_setting_is_a_friendly_exit(tmp_path: Path, name: str, value: str) -> None:
    env = app_environment(tmp_path, free_port())
    env[name] = value
    done = _run_ui(env)
    assert done.returncode == 2
    assert done.stderr.startswith(f"docqa: error: {name}") and done.stderr.count("\n") == 1


def test_status_counts_the_index_s_characters_without_fetching_its_documents(
    docqa: DocQA, article_text: str
) -> None:
    documents = docqa.corpus.documents  # the served index's: fetched by id when asked for
    status = render.status_text(True, None, documents)
    assert f"1 document ({len(article_text):,} characters)" in status


def test_a_quote_that_opens_with_a_quotation_mark_gets_no_second_one() -> None:
    text = "“We are ready,” Blinken said. The ferry left."
    quote = "“We are ready,” Blinken said."
    shown = render.format_answer(
        Answer(text=quote, citations=[Citation("a.txt", 0, len(quote), quote)]),
        0,
        {"a.txt": Document("a.txt", text)},
    )
    assert "<q class='quote opens-quoted'>" in shown  # the browser adds no “ before it
    plain = "<q class='quote'>" in render.format_answer(
        Answer(text="x", citations=[Citation("a.txt", 30, 46, "The ferry left.")]),
        0,
        {"a.txt": Document("a.txt", text)},
    )
    assert plain
