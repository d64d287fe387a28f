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
from tests.conftest import ARTICLE_ID, ROOT, SEEDS
from tests.files import long_text
from tests.servers import HOST, free_port, stop, wait_until_up

pytestmark = pytest.mark.timeout(180)

STARTUP_TIMEOUT = 60  # seconds for `chroma run` to answer its heartbeat
QUESTION = "How many ballistic missiles did North Korea reportedly fire?"
CHROMA = Path(sys.executable).with_name("chroma")  # the CLI the chromadb wheel installs


# -- a running server ---------------------------------------------------------------------


@contextmanager
def chroma_server(
    folder: Path, port: int | None = None
) -> Iterator[tuple[str, int, subprocess.Popen]]:
    """`chroma run` on `port` (a free one by default), storing under `folder`; yields (host,
    port, process) once its heartbeat answers, and stops it afterwards."""
    port = port or free_port()
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "CHROMA_ANONYMIZED_TELEMETRY": "False"}
    log_path = folder / "chroma.log"
    command = [str(CHROMA), "run", "--path", str(folder / "data"), "--port", str(port)]
    with log_path.open("a", encoding="utf-8") as log:
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

    # A process on another machine (an index folder of its own, without the writer's serving
    # tables) derives them once from the server, keeps them, and answers the same.
    elsewhere = dataclasses.replace(settings, index_dir=tmp_path / "other-machine")
    reader = DocQA(elsewhere)
    assert reader.answer(QUESTION).citations == result.citations
    (kept,) = (elsewhere.index_dir / "serving").iterdir()
    assert kept.name in {folder.name for folder in (settings.index_dir / "serving").iterdir()}


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


# -- a writer that dies (issue 22) ----------------------------------------------------------

# Takes the server's writer lock, renewing its beat every half second, and holds it until
# it is killed: a `docqa index` that dies mid-build, without the build's minutes.
HOLDER = """
import sys, time
import rag.store.chroma
from rag.settings import Settings
rag.store.chroma._BEAT_S = 0.5
connection = rag.store.chroma.Connection(Settings.from_env())
with connection.writer_lock():
    print("held", flush=True)
    time.sleep(600)
"""


def _environment(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "DOCQA_SOURCE_DIR": str(settings.source_dir),
        "DOCQA_INDEX_DIR": str(settings.index_dir),
        "DOCQA_CHROMA_HOST": settings.chroma_host,
        "DOCQA_CHROMA_PORT": str(settings.chroma_port),
        "DOCQA_COLLECTION": settings.collection,
    }


def test_a_killed_writer_s_lock_is_taken_over_and_readers_never_wait(
    server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import rag.store.chroma

    host, port, _process = server
    settings = _settings(tmp_path, host, port)
    serving = DocQA(settings)
    built = serving.index()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        cwd=ROOT,
        env=_environment(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held", holder.communicate()
        # Nothing changed: reading never takes the lock, so it does not wait for it.
        started = time.monotonic()
        assert DocQA(settings).index().embedded == 0
        assert not serving.answer(QUESTION).abstained
        assert time.monotonic() - started < 5

        # A change must wait, and a holder that renews its beat is never taken over.
        monkeypatch.setattr(rag.store.chroma, "_STALE_LOCK_S", 2.0)
        monkeypatch.setattr(rag.store.chroma, "_LOCK_WAIT_S", 4)
        (settings.source_dir / "other.txt").write_text("Tom bought pears.", encoding="utf-8")
        with pytest.raises(StoreError, match=r"another docqa .* has been writing"):
            DocQA(settings).index()
    finally:
        holder.kill()  # kill -9: it never lets go of the lock itself
        holder.communicate()

    started = time.monotonic()
    report = DocQA(settings).index()
    assert time.monotonic() - started < 15  # the beat stopped: taken over after 2 s
    assert report.changed == ("other.txt",) and report.generation == built.generation + 1
    assert "taking over the index lock" in caplog.text
    assert "pears" in serving.answer("What did Tom buy?").text


@pytest.mark.slow
def test_a_server_killed_mid_build_and_restarted_serves_and_indexes_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    import rag.store.chroma

    folder = tmp_path / "chroma-server"
    folder.mkdir()
    with chroma_server(folder) as (host, port, process):
        settings = _settings(tmp_path, host, port)
        serving = DocQA(settings)
        built = serving.index()
        (settings.source_dir / "long.txt").write_text(long_text(600), encoding="utf-8")
        writer = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "index"],
            cwd=ROOT,
            env=_environment(settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        client = chromadb.HttpClient(
            host=host, port=port, settings=ChromaSettings(anonymized_telemetry=False)
        )
        deadline = time.monotonic() + 60
        while f"{settings.collection}-writer" not in [c.name for c in client.list_collections()]:
            assert writer.poll() is None, writer.communicate()
            assert time.monotonic() < deadline, "the build never took the lock"
            time.sleep(0.1)
        process.kill()  # the server dies while the build holds the lock
        process.wait()
        _out, err = writer.communicate(timeout=120)
        assert writer.returncode == 2 and "cannot reach the Chroma server" in err, err

    with chroma_server(folder, port) as _restarted:  # the same data, the same port
        assert serving.store.live_generation() == built.generation
        assert "two" in serving.answer(QUESTION).text  # the previous generation serves
        monkeypatch.setattr(rag.store.chroma, "_STALE_LOCK_S", 2.0)  # the dead build's lock
        (settings.source_dir / "long.txt").write_text(long_text(20), encoding="utf-8")
        report = DocQA(settings).index()
        assert report.changed == ("long.txt",) and report.generation > built.generation
        assert serving.source_text("long.txt") == long_text(20)  # it serves the new one
