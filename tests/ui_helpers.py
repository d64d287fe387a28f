"""What the UI's tests share: a real `python ui.py` on a free port (test_ui.py drives it through
gradio_client, test_ui_browser.py in Chromium), the questions they ask of the seed article,
settings over a test's own folders, and the text a source view shows."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rag.settings import Settings
from tests.conftest import ROOT
from tests.servers import free_port, stop, wait_until_up

STARTUP_TIMEOUT = 240  # seconds for `python ui.py` to load the model, index and serve
FIRST_QUESTION = "How many ballistic missiles did North Korea reportedly fire?"
# A follow-up that only the conversation makes answerable: alone, "he" is nobody.
EARLIER_QUESTION = "What steps did Donald Trump take towards North Korea?"
FOLLOW_UP = "Who did he walk into the country alongside?"
FOLLOW_UP_ANSWER = "leader"
MARKUP = "<img src=x onerror=alert(1)>"


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


def view_text(view: str) -> str:
    """The characters a source view shows of its document: tags, labels and page marks out."""
    view = view[view.index("<div class='source-view'") :]
    view = re.sub(
        r"<span class='label'>.*?</span>|<span class='page-mark'[^>]*>.*?</span>", "", view
    )
    return html.unescape(re.sub(r"<[^>]+>", "", view))


def settings_over(tmp_path: Path, sources: Path, **values: object) -> Settings:
    """Settings over `sources`, with the upload folder and the index under `tmp_path`."""
    return Settings.from_env(
        {},
        source_dir=sources,
        upload_dir=tmp_path / "uploads",
        index_dir=tmp_path / "index",
        **values,
    )
