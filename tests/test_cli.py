"""The `docqa` command, run as a real process: answers, JSON, and errors without tracebacks."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rag.presentation import quote_marks

ROOT = Path(__file__).resolve().parent.parent


def _docqa(*args: str, env_index: Path, source: Path | None = None) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "DOCQA_INDEX_DIR": str(env_index)}
    if source is not None:
        env["DOCQA_SOURCE_DIR"] = str(source)
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )


@pytest.fixture(scope="module")
def built_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index = tmp_path_factory.mktemp("cli-index")
    done = _docqa("index", env_index=index)
    assert done.returncode == 0, done.stderr
    assert re.search(
        r"^1 document, \d+ chunks, \d+ sentences, .*embedded \d+ sentences", done.stdout
    )
    return index


def test_index_twice_embeds_nothing_the_second_time(built_index: Path) -> None:
    again = _docqa("index", env_index=built_index)
    assert again.returncode == 0
    assert "embedded 0 sentences; nothing changed" in again.stdout


def test_ask_prints_numbered_quotes_with_offsets(built_index: Path, article_text: str) -> None:
    question = "How many ballistic missiles did North Korea fire?"
    done = _docqa("ask", question, env_index=built_index)
    assert done.returncode == 0, done.stderr
    # Answer.as_text(), as the UI copies it; a middling confidence says so first
    assert re.match(r"(?:Possibly:\n)?Two\.\n\n\[1\] “", done.stdout), done.stdout
    quoted = re.findall(
        r"^\[\d+\] (.*)\n    .*north-korea-missile-tests\.txt\)?, characters (\d+)–(\d+)$",
        done.stdout,
        re.M,
    )
    assert quoted
    for shown, start, end in quoted:  # the source's own words, between quotation marks
        assert shown == quote_marks(article_text[int(start) : int(end)], ellipses=False)
    assert "Traceback" not in done.stderr


def test_ask_json(built_index: Path, article_text: str) -> None:
    question = "How many ballistic missiles did North Korea fire?"
    done = _docqa("ask", "--json", question, env_index=built_index)
    payload = json.loads(done.stdout)
    assert payload["abstained"] is False and "two" in payload["text"]
    short = payload["short"]
    assert short["quote"] == "two" == article_text[short["start"] : short["end"]]
    for citation in payload["citations"]:
        assert article_text[citation["start"] : citation["end"]] == citation["quote"]


def test_ask_with_history(built_index: Path) -> None:
    done = _docqa(
        "ask",
        "--json",
        "Who did he walk into the country alongside?",
        "--history",
        "What steps did Donald Trump take towards North Korea?",
        env_index=built_index,
    )
    payload = json.loads(done.stdout)
    assert payload["abstained"] is False and "leader" in payload["text"]


def test_ask_with_history_json_reads_the_earlier_answer(built_index: Path) -> None:
    """The JSON `docqa ask --json` prints is a history item as it is: its short answer is
    who "he" is."""
    first = json.loads(
        _docqa(
            "ask", "--json", "Who is the spokesman of the State Department?", env_index=built_index
        ).stdout
    )
    assert first["short"], first["text"]
    done = _docqa(
        "ask",
        "--json",
        "What did he say about diplomacy?",
        "--history-json",
        json.dumps([first]),
        env_index=built_index,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["question"] == "What did he say about diplomacy?"  # as asked
    assert payload["searched"] == f"What did {first['short']['quote']} say about diplomacy?"


def test_history_json_takes_one_turn_as_ask_json_prints_it(built_index: Path) -> None:
    """What `docqa ask --json` prints goes to --history-json unchanged, not only in a list."""
    first = _docqa(
        "ask", "--json", "Who is the spokesman of the State Department?", env_index=built_index
    )
    (built_index.parent / "turn.json").write_text(first.stdout, encoding="utf-8")
    for given in (first.stdout, f"@{built_index.parent / 'turn.json'}"):
        done = _docqa(
            "ask", "--json", "What did he say?", "--history-json", given, env_index=built_index
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["searched"] == "What did Ned Price say?"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not json", "not JSON"),
        ('"Who?"', "must be a JSON list"),
        ('{"text": "x"}', "turn 1 must be a question, a [question, answer] pair"),
        ("[7]", "turn 1 must be a question, a [question, answer] pair"),
        ("@/nonexistent/history.json", "cannot read"),
    ],
)
def test_bad_history_json_is_one_line(built_index: Path, value: str, message: str) -> None:
    done = _docqa("ask", "Who?", "--history-json", value, env_index=built_index)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


DEEP = "[" * 1000 + "]" * 1000


@pytest.mark.parametrize(
    "value",
    [
        DEEP,
        '[{"question": "Who?", "text": "Reilly.", "short": ' + DEEP + "}]",
        "[" * 17 + "]" * 17,  # one past the limit
        "[" * 100_000,  # deep and not even JSON: said as too deep, never parsed
    ],
)
def test_history_json_nested_too_deep_is_one_line(tmp_path: Path, value: str) -> None:
    """1,000 nested lists gave a RecursionError traceback and exit 1; from a file too."""
    (tmp_path / "deep.json").write_text(value, encoding="utf-8")
    for given in (value, f"@{tmp_path / 'deep.json'}"):
        done = _docqa("ask", "Who?", "--history-json", given, env_index=tmp_path / "index")
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        (line,) = [line for line in done.stderr.splitlines() if "error" in line]
        assert "nested more than 16 lists or objects deep" in line


def test_history_json_as_deep_as_a_turn_or_with_brackets_in_its_text_is_read() -> None:
    from rag.cli import MAX_HISTORY_DEPTH, history_json
    from rag.types import Turn

    turn = {"question": "Who [[[[?", "text": "Reilly ]]]]].", "short": {"quote": "Reilly"}}
    assert history_json(json.dumps([turn])) == [Turn("Who [[[[?", "Reilly ]]]]].", "Reilly")]
    deepest = '[{"question": "Who?", "x": ' + "[" * (MAX_HISTORY_DEPTH - 2)
    deepest += "]" * (MAX_HISTORY_DEPTH - 2) + "}]"
    assert history_json(deepest) == [Turn("Who?", "", "")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "   "], "the question is empty"),
        (["ask", "x" * 2500], "the limit is 2,000"),
    ],
)
def test_bad_questions_exit_nonzero_without_traceback(
    built_index: Path, args: list[str], message: str
) -> None:
    done = _docqa(*args, env_index=built_index)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_index_names_the_files_it_cannot_read(tmp_path: Path) -> None:
    source = tmp_path / "sources"
    shutil.copytree(ROOT / "seeds", source)
    (source / "page.html").write_text("<p>Read: the ferry runs at noon.</p>")
    (source / "scan.pdf").write_bytes(b"%PDF-1.4 this is no PDF")
    (source / "image.png").write_bytes(b"\x89PNG")
    done = _docqa("index", env_index=tmp_path / "idx", source=source)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("2 documents"), done.stdout
    assert "skipped 2 files: image.png (not a format docqa reads" in done.stdout
    assert "scan.pdf (a damaged PDF" in done.stdout and "Traceback" not in done.stderr
    assert "image.png" not in done.stderr  # said once, in the report


def test_terminal_control_characters_never_reach_the_terminal(tmp_path: Path) -> None:
    source = tmp_path / "sources"
    source.mkdir()
    (source / "evil\x1b[2J.txt").write_text(
        "Harbour news. The island ferry \x1b[31mleft the harbour\x1b[0m at noon on Friday.\x9b6n "
        "The harbour master said the ferry would run again on Monday.",
        encoding="utf-8",
    )
    done = _docqa("index", env_index=tmp_path / "idx", source=source)
    assert done.returncode == 0 and "\x1b" not in done.stdout, done.stdout
    done = _docqa(
        "ask",
        "When did the island ferry leave the harbour?",
        env_index=tmp_path / "idx",
        source=source,
    )
    assert done.returncode == 0, done.stderr
    assert "noon" in done.stdout and "[31m" in done.stdout  # the rest of the text is kept
    assert "\x1b" not in done.stdout and "\x9b" not in done.stdout
    done = _docqa(
        "ask",
        "--json",
        "When did the island ferry leave the harbour?",
        env_index=tmp_path / "idx",
        source=source,
    )
    quote = json.loads(done.stdout)["citations"][0]["quote"]
    assert "\x1b[31m" in quote  # JSON keeps the exact quote, escaped
    assert "\x1b" not in done.stdout and "\x9b" not in done.stdout


def test_a_missing_model_folder_is_a_setting_error(tmp_path: Path) -> None:
    import os

    env = {
        **os.environ,
        "DOCQA_MODEL_PATH": str(tmp_path / "nope"),
        "DOCQA_INDEX_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", "hi"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 2 and "is not a sentence-transformers model folder" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_source_folder(tmp_path: Path) -> None:
    done = _docqa("index", env_index=tmp_path / "idx", source=tmp_path / "nope")
    assert done.returncode == 2
    assert "does not exist" in done.stderr and "Traceback" not in done.stderr


def test_bad_setting(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "DOCQA_TOP_K": "many", "DOCQA_INDEX_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", "hi"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 2 and "DOCQA_TOP_K must be a whole number" in done.stderr


@pytest.mark.parametrize(
    ("command", "name", "value", "message"),
    [
        ("index", "DOCQA_BATCH_SIZE", "-1", "DOCQA_BATCH_SIZE must be at least 1, not -1"),
        ("ask", "DOCQA_BATCH_SIZE", "0", "DOCQA_BATCH_SIZE must be at least 1, not 0"),
        ("index", "DOCQA_CHROMA_PORT", "-1", "DOCQA_CHROMA_PORT must be a port number"),
        ("ask", "DOCQA_CHROMA_PORT", "0", "DOCQA_CHROMA_PORT must be a port number"),
        ("index", "DOCQA_CHROMA_PORT", "70000", "from 1 to 65535, not 70000"),
        ("ask", "DOCQA_CHROMA_PORT", "9" * 20, "from 1 to 65535, not 9999"),
        ("index", "DOCQA_INDEX_DIR", "/tmp/" + "i" * 5000, "DOCQA_INDEX_DIR is 5,005 bytes long"),
        ("ask", "DOCQA_SOURCE_DIR", "/tmp/" + "s" * 5000, "DOCQA_SOURCE_DIR is 5,005 bytes"),
        ("index", "DOCQA_INDEX_DIR", "/etc/passwd", "DOCQA_INDEX_DIR /etc/passwd is a file"),
        ("ask", "DOCQA_INDEX_DIR", "/etc/passwd", "DOCQA_INDEX_DIR /etc/passwd is a file"),
        ("index", "DOCQA_SOURCE_DIR", "/etc/passwd", "DOCQA_SOURCE_DIR /etc/passwd is a file"),
    ],
)
def test_a_bad_setting_is_one_line_before_any_data_is_touched(
    tmp_path: Path, command: str, name: str, value: str, message: str
) -> None:
    import os

    index = tmp_path / "idx"
    env = {**os.environ, "DOCQA_INDEX_DIR": str(index), name: value}
    args = ["index"] if command == "index" else ["ask", "Who fired the missiles?"]
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, env=env
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"docqa: error: {name}") and message in done.stderr
    assert done.stderr.count("\n") == 1 and done.stdout == ""
    assert not index.exists(), "nothing was written"


def test_ask_json_is_valid_utf8_whatever_the_question_bytes(built_index: Path) -> None:
    """A question with bytes that are not UTF-8 (a mistyped terminal, a pasted file name):
    the JSON written is valid UTF-8 and shows each such byte as U+FFFD."""
    import os

    env = {**os.environ, "DOCQA_INDEX_DIR": str(built_index)}
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", "--json", b"How many \xff\xfe missiles?"],
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout.decode("utf-8"))  # strict: raises on a bad byte
    assert payload["question"] == "How many \ufffd\ufffd missiles?"


def test_json_output_escapes_what_has_no_place_on_a_terminal() -> None:
    from rag.cli import as_json

    payload = {"doc_id": "ferry\udcff.txt", "quote": "a \x9b6n b \x1b[2J"}
    dumped = as_json(payload)
    dumped.encode("utf-8")  # raises on a lone surrogate
    assert "\x9b" not in dumped and "\x1b" not in dumped
    assert json.loads(dumped) == payload  # the exact text, read back


# -- with a language model (issue 21) ----------------------------------------------------------

LLM_QUESTION = "How many ballistic missiles did North Korea reportedly fire?"
# One sentence passage 1 supports, one citing nothing (dropped), streamed word by word.
LLM_REPLY = (
    "North Korea reportedly fired two ballistic missiles [1]. The launch was a great success."
)


@pytest.fixture
def fake_llm(docqa, monkeypatch: pytest.MonkeyPatch):
    """`docqa ask` in this process answers through a DocQA over the seed article whose chat
    model is langchain-core's fake, streaming LLM_REPLY."""
    import itertools

    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

    import rag.chain
    from rag.chain import DocQA

    model = GenericFakeChatModel(messages=itertools.cycle([LLM_REPLY]))
    engine = DocQA(docqa.settings, chat_model=model)
    monkeypatch.setattr(rag.chain, "default_docqa", lambda: engine)
    return engine


def test_ask_streams_the_draft_then_prints_the_verified_answer(
    fake_llm, capsys: pytest.CaptureFixture, article_text: str
) -> None:
    from rag.cli import VERIFIED_RULE, main

    assert main(["ask", LLM_QUESTION]) == 0
    out, err = capsys.readouterr()
    # Standard output is no terminal here: the draft went to standard error, so what is piped
    # holds only what was verified.
    assert "great success" in err and VERIFIED_RULE in err
    assert "1 sentence dropped: no valid citation" in err
    assert "great success" not in out and "dropped" not in out
    text, _, quotes = out.partition("\n\n")
    assert re.search(r"two ballistic missiles\.? ?\[1\]", text), text
    quoted = re.findall(r"^\[\d+\] (.*)\n    .*, characters (\d+)–(\d+)$", quotes, re.M)
    assert quoted
    for shown, start, end in quoted:
        assert shown == quote_marks(article_text[int(start) : int(end)], ellipses=False)


def test_ask_on_a_terminal_streams_the_draft_there(
    fake_llm, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.cli import VERIFIED_RULE, main

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert main(["ask", LLM_QUESTION]) == 0
    out, err = capsys.readouterr()
    draft, rule, verified = out.partition(VERIFIED_RULE)
    assert rule and "great success" in draft and "great success" not in verified
    assert "1 sentence dropped: no valid citation" in verified and not err


def test_ask_json_says_which_reader_answered(fake_llm, capsys: pytest.CaptureFixture) -> None:
    from rag.cli import main

    assert main(["ask", "--json", LLM_QUESTION]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert (payload["reader"], payload["dropped"], payload["note"]) == ("llm", 1, "")
    assert "great success" not in payload["text"] and payload["citations"]


def test_an_unreachable_llm_server_gives_the_extractive_answer_and_a_note(
    built_index: Path,
) -> None:
    import os

    from tests.servers import free_port

    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {**os.environ, "DOCQA_LLM": "ollama:smollm2", "DOCQA_LLM_BASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", LLM_QUESTION],
        capture_output=True,
        text=True,
        env={**env, "DOCQA_INDEX_DIR": str(built_index)},
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert re.match(r"(?:Possibly:\n)?Two\.\n\n\[1\] “", done.stdout), done.stdout
    assert "the extractive reader answered" in done.stdout
