"""The web UI: its helpers directly, then a real `python ui.py` driven through gradio_client."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from hypothesis import given
from hypothesis import strategies as st

import ui
from rag import Citation
from rag.documents import Skipped
from rag.types import Document

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


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def app_environment(folder: Path, port: int) -> dict[str, str]:
    """The environment for `python ui.py`: private index and feedback file, offline."""
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("DOCQA_", "GRADIO_"))
    }
    env.update(
        GRADIO_SERVER_NAME="127.0.0.1",
        GRADIO_SERVER_PORT=str(port),
        GRADIO_ANALYTICS_ENABLED="False",
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
            _wait_until_up(url, process, log_path, started + STARTUP_TIMEOUT)
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
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(url: str, process: subprocess.Popen, log_path: Path, deadline: float) -> None:
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            pytest.fail(f"ui.py exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"ui.py did not answer at {url} in {STARTUP_TIMEOUT} s:\n{log_path.read_text()}")


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
    shown = ui.escape(text)
    assert "<" not in shown and ">" not in shown
    assert "[link](" not in shown and "`" not in shown.replace("\\`", "")


@given(st.text(max_size=200), st.lists(st.integers(0, 200), max_size=8))
def test_highlight_segments_rebuild_the_text(text: str, cuts: list[int]) -> None:
    """Pieces join to the document; each labelled piece is its citation's text."""
    bounds = sorted(min(cut, len(text)) for cut in cuts)
    citations = [
        Citation("d", start, end, text[start:end])
        for start, end in zip(bounds[::2], bounds[1::2], strict=False)
        if start < end
    ]
    pieces = ui.highlight_segments(text, citations, "d")
    assert "".join(piece for piece, _ in pieces) == text
    labelled = [piece for piece, label in pieces if label]
    assert labelled == [citation.quote for citation in citations]


def test_highlight_segments_number_citations_across_documents() -> None:
    citations = [Citation("a", 0, 2, "ab"), Citation("b", 3, 5, "cd")]
    assert ui.highlight_segments("ab cd", citations, "b") == [("ab ", None), ("cd", "[2]")]


@pytest.mark.parametrize("text", ["", "one", "one two three", "word " * 200])
def test_stream_prefixes_grow_to_the_whole_text(text: str) -> None:
    prefixes = list(ui.stream_prefixes(text))
    assert all(text.startswith(prefix) for prefix in prefixes)
    assert [len(p) for p in prefixes] == sorted({len(p) for p in prefixes})
    assert (prefixes[-1] if prefixes else "") == text
    assert len(prefixes) <= ui.STREAM_STEPS


def test_load_examples_only_for_loaded_documents(article_text: str) -> None:
    loaded = {ARTICLE_ID: Document(ARTICLE_ID, article_text)}
    examples = ui.load_examples(loaded)
    assert FIRST_QUESTION in examples
    assert len(examples) == len(ui.EXAMPLE_CATEGORIES) * ui.EXAMPLES_PER_CATEGORY
    assert ui.load_examples({"other.txt": Document("other.txt", "x")}) == []


def test_feedback_is_one_json_line_per_vote(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "feedback.jsonl"
    turn = {"question": "q?", "answer": "a [1]", "citations": [{"doc_id": "d"}], "message": 1}
    ui.append_feedback(path, ui.feedback_record(turn, True))
    ui.append_feedback(path, ui.feedback_record(turn, False))
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [record["vote"] for record in records] == ["up", "down"]
    assert set(records[0]) == {"time", "question", "answer", "citations", "vote"}
    assert records[0]["question"] == "q?" and records[0]["citations"] == [{"doc_id": "d"}]


def test_abstention_looks_different_from_an_answer() -> None:
    shown = ui.format_abstention("The article does not say.")
    assert shown.startswith("<span class='abstained'>" + ui.ABSTAIN_MARK)
    assert "Quotes" not in shown


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
    assert not followed["abstained"] and alone["text"] != followed["text"]


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
    assert "".join(piece["token"] for piece in source) == article_text
    highlighted = [piece for piece in source if piece["class_or_confidence"]]
    assert [piece["token"] for piece in highlighted] == [c["quote"] for c in cited]
    assert [piece["class_or_confidence"] for piece in highlighted] == [
        f"[{n}]" for n in range(1, len(cited) + 1)
    ]


def test_chat_follow_up_uses_the_conversation(client: Client) -> None:
    first = client.predict(EARLIER_QUESTION, [], api_name="/chat")
    second = client.predict(FOLLOW_UP, first[0], api_name="/chat")
    assert len(second[0]) == 4
    assert FOLLOW_UP_ANSWER in _last_text(second[0])
    fresh = Client(client.src, verbose=False).predict(FOLLOW_UP, [], api_name="/chat")
    assert ui.ABSTAIN_MARK in _last_text(fresh[0]), "a new conversation has no history"


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
    assert len(user) <= ui.SHOWN_QUESTION_CHARS + 1
    assert ui.ERROR_MARK in reply and "limit is 2,000" in reply
    assert "Traceback" not in reply


def test_chat_shows_markup_as_text(client: Client) -> None:
    chat, *_ = client.predict(MARKUP, [], api_name="/chat")
    user, reply = _last_text(chat[:1]), _last_text(chat)
    assert "<img" not in user and "&lt;img" in user
    assert "<img" not in reply and ui.ABSTAIN_MARK in reply


def test_status_names_the_files_that_were_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    warm = threading.Event()
    warm.set()
    monkeypatch.setattr(ui, "_WARM", warm)
    monkeypatch.setattr(ui, "_WARM_FAILURE", [])
    documents = {"a.txt": Document("a.txt", "Some text.")}
    assert "Skipped" not in ui.status_text(documents)
    status = ui.status_text(documents, [Skipped("scan.pdf", "an encrypted PDF")])
    assert status.startswith("✓ **Ready**")
    assert ui.escape("Skipped 1 file: scan.pdf (an encrypted PDF)") in status


def test_missing_source_folder_is_a_friendly_exit(tmp_path: Path) -> None:
    env = app_environment(tmp_path, free_port())
    env["DOCQA_SOURCE_DIR"] = str(tmp_path / "nowhere")
    done = subprocess.run(
        [sys.executable, str(ROOT / "ui.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=STARTUP_TIMEOUT,
    )
    assert done.returncode == 2
    assert "does not exist" in done.stderr and "Traceback" not in done.stderr
