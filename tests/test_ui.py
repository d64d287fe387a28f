"""ui.py: a real `python ui.py` driven through gradio_client, and the settings that stop it
before it serves, with a friendly exit."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from tests.conftest import ARTICLE_ID, ROOT
from tests.servers import free_port
from tests.ui_helpers import (
    EARLIER_QUESTION,
    FIRST_QUESTION,
    FOLLOW_UP,
    FOLLOW_UP_ANSWER,
    MARKUP,
    STARTUP_TIMEOUT,
    RunningApp,
    app_environment,
    launch_app,
    view_text,
)
from webui import render
from webui.server import check_can_serve


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
    assert view_text(source) == article_text
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


def test_ask_refuses_history_as_a_plain_string(client: Client) -> None:
    with pytest.raises(AppError, match="history must be a list"):
        client.predict(FIRST_QUESTION, "earlier", api_name="/ask")


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
