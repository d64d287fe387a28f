"""webui.server: the address the UI serves on, read from GRADIO_SERVER_NAME and
GRADIO_SERVER_PORT and checked before gradio is imported."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pytest

from rag import SettingsError
from webui.server import check_can_serve, server_address


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
