"""Helpers for tests that start a real server process (`chroma run`, `python ui.py`): a free
port, waiting until it answers, stopping it."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def wait_until_up(
    url: str, process: subprocess.Popen, log_path: Path, deadline: float, name: str
) -> None:
    """Poll `url` until it answers 200; fail with the process's log when it exits first or
    `deadline` (a time.perf_counter() value) passes."""
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{name} exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    pytest.fail(f"{name} did not answer {url} in time:\n{log_path.read_text()}")


def stop(process: subprocess.Popen) -> None:
    """Stop a server process: terminate, then kill if it lingers (a no-op once it exited)."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
