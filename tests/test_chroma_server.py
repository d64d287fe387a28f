"""A real Chroma server (`chroma run` from the chromadb wheel) as the index: indexing,
answering and re-opening go through HTTP, and a server that goes away gives a StoreError."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from rag.chain import DocQA
from rag.errors import DocQAError, StoreError
from rag.settings import Settings
from tests.conftest import ARTICLE_ID, SEEDS
from tests.servers import HOST, free_port, stop, wait_until_up

pytestmark = pytest.mark.timeout(180)

STARTUP_TIMEOUT = 60  # seconds for `chroma run` to answer its heartbeat
QUESTION = "How many ballistic missiles did North Korea reportedly fire?"
CHROMA = Path(sys.executable).with_name("chroma")  # the CLI the chromadb wheel installs


# -- a running server ---------------------------------------------------------------------


@contextmanager
def chroma_server(folder: Path) -> Iterator[tuple[str, int, subprocess.Popen]]:
    """`chroma run` on a free port, storing under `folder`; yields (host, port, process) once
    its heartbeat answers, and stops it afterwards."""
    port = free_port()
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "CHROMA_ANONYMIZED_TELEMETRY": "False"}
    log_path = folder / "chroma.log"
    command = [str(CHROMA), "run", "--path", str(folder / "data"), "--port", str(port)]
    with log_path.open("w", encoding="utf-8") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            [*command, "--host", HOST], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            url = f"http://{HOST}:{port}/api/v2/heartbeat"
            wait_until_up(url, process, log_path, started + STARTUP_TIMEOUT, "`chroma run`")
            up_after = time.perf_counter() - started
            print(f"\n`chroma run` answered on port {port} after {up_after:.2f} s")
            yield HOST, port, process
        finally:
            stop(process)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, subprocess.Popen]]:
    """One Chroma server for this module's tests."""
    with chroma_server(tmp_path_factory.mktemp("chroma-server")) as running:
        yield running


@pytest.fixture
def short_lived_server(tmp_path: Path) -> Iterator[tuple[str, int, subprocess.Popen]]:
    """A Chroma server of this test's own, which the test may stop."""
    folder = tmp_path / "chroma-server"
    folder.mkdir()
    with chroma_server(folder) as running:
        yield running


def _settings(tmp_path: Path, host: str, port: int) -> Settings:
    """Settings over a private copy of the seed article, indexed on the server at host:port
    in collections of their own."""
    sources = tmp_path / "sources"
    sources.mkdir()
    shutil.copy(SEEDS / ARTICLE_ID, sources / ARTICLE_ID)
    return Settings.from_env(
        {},
        source_dir=sources,
        index_dir=tmp_path / "idx",
        chroma_host=host,
        chroma_port=port,
        collection=f"docqa-{uuid.uuid4().hex[:12]}",
    )


# -- the tests ----------------------------------------------------------------------------


def test_index_and_answer_through_the_server(server, tmp_path: Path, article_text: str) -> None:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    host, port, _process = server
    settings = _settings(tmp_path, host, port)
    engine = DocQA(settings)
    report = engine.index()
    assert report.documents == 1 and report.chunks > 0 and report.embedded > 0

    result = engine.answer(QUESTION)
    assert not result.abstained, result.text
    first = result.citations[0]
    assert "two ballistic missiles" in first.quote
    assert first.doc_id == ARTICLE_ID and first.quote == article_text[first.start : first.end]

    # The rows live on the server, not in index_dir: another client sees them.
    client = chromadb.HttpClient(
        host=host, port=port, settings=ChromaSettings(anonymized_telemetry=False)
    )
    ours = {
        collection.name: collection
        for collection in client.list_collections()
        if collection.name.startswith(settings.collection)
    }
    chunks = f"{settings.collection}-g1-chunks"
    assert chunks in ours and len(ours) == 5, sorted(ours)  # four kinds and the live pointer
    assert client.get_collection(chunks).count() == report.chunks
    assert not (settings.index_dir / "chroma").exists()

    # A new process (new engine, new client) finds everything in place on the server.
    again = DocQA(settings).index()
    assert again.embedded == 0 and again.changed == () and again.chunks == report.chunks


def _assert_says_what_to_do(error: StoreError, port: int) -> None:
    message = str(error)
    assert isinstance(error, DocQAError)
    assert f"{HOST}:{port}" in message, message
    assert re.search(r"start|running|DOCQA_CHROMA_(HOST|PORT)", message, re.IGNORECASE), message


def test_a_server_that_goes_away_gives_a_store_error(short_lived_server, tmp_path: Path) -> None:
    host, port, process = short_lived_server
    engine = DocQA(_settings(tmp_path, host, port))
    assert engine.index().embedded > 0
    assert not engine.answer(QUESTION).abstained

    stop(process)
    with pytest.raises(StoreError) as indexing:
        engine.index()
    _assert_says_what_to_do(indexing.value, port)
    with pytest.raises(StoreError) as answering:  # dense search asks the server every time
        engine.answer(QUESTION)
    _assert_says_what_to_do(answering.value, port)


@contextmanager
def unavailable_proxy() -> Iterator[int]:
    """A local HTTP server that answers every request with 503 Service Unavailable, as a
    proxy in front of a Chroma server does while it restarts; yields its port."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Unavailable(BaseHTTPRequestHandler):
        def _refuse(self) -> None:
            body = b"upstream unavailable"
            self.send_response(503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _refuse

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer((HOST, 0), Unavailable)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_a_503_from_a_proxy_deletes_nothing(server, tmp_path: Path) -> None:
    host, port, _process = server
    settings = _settings(tmp_path, host, port)
    built = DocQA(settings).index()
    with unavailable_proxy() as proxy_port:
        proxied = DocQA(dataclasses.replace(settings, chroma_port=proxy_port))
        with pytest.raises(StoreError) as failed:
            proxied.index()
        assert f"{HOST}:{proxy_port}" in str(failed.value)
    again = DocQA(settings).index()
    assert again.embedded == 0 and again.generation == built.generation
    assert again.chunks == built.chunks


def test_two_writers_on_one_server_take_turns(server, tmp_path: Path) -> None:
    import threading

    host, port, _process = server
    settings = _settings(tmp_path, host, port)
    first, second = DocQA(settings), DocQA(settings)
    reports: list = []
    writers = [
        threading.Thread(target=lambda e=e: reports.append(e.index())) for e in (first, second)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert len(reports) == 2
    assert sorted(report.embedded > 0 for report in reports) == [False, True]
    assert DocQA(settings).index().embedded == 0
