"""Where the UI serves: GRADIO_SERVER_NAME and GRADIO_SERVER_PORT, checked before gradio is
imported (gradio parses them at import time and would print a traceback for a bad value)."""

from __future__ import annotations

import errno
import ipaddress
import re
import socket
from collections.abc import Mapping

from rag.errors import SettingsError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def server_address(environ: Mapping[str, str]) -> tuple[str, int]:
    """(host, port) from GRADIO_SERVER_NAME and GRADIO_SERVER_PORT, else 127.0.0.1:7860.

    A SettingsError names the bad value and what to set instead:
    server_address({"GRADIO_SERVER_PORT": "abc"}) raises; server_address({}) -> ("127.0.0.1", 7860)
    """
    host = environ.get("GRADIO_SERVER_NAME", "").strip() or DEFAULT_HOST
    port_text = environ.get("GRADIO_SERVER_PORT", "").strip() or str(DEFAULT_PORT)
    if not _is_host(host):
        raise SettingsError(
            f"GRADIO_SERVER_NAME must be a host name or an IP address such as 127.0.0.1 or "
            f"0.0.0.0, not {host!r}: set it to one, or unset it to serve on {DEFAULT_HOST}"
        )
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise SettingsError(
            f"GRADIO_SERVER_PORT must be a port number from 1 to 65535, not {port_text!r}: "
            f"set it to one, or unset it to serve on port {DEFAULT_PORT}"
        )
    return host, int(port_text)


def check_can_serve(host: str, port: int) -> None:
    """A SettingsError, saying what to change, when the UI could not listen on host:port (a
    name that does not resolve, an address not of this machine, a port in use); checked
    before Gradio starts, whose own message for each is about port ranges."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise SettingsError(
            f"GRADIO_SERVER_NAME {host!r} is not a name this machine can resolve: set it to "
            f"an address of this machine, or unset it to serve on {DEFAULT_HOST}"
        ) from None
    family, kind, protocol, _name, address = found[0]
    with socket.socket(family, kind, protocol) as probe:
        # As the server itself binds (uvicorn sets it too): connections of a UI that just
        # stopped, left in TIME-WAIT, do not hold the port; a listening socket still does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise SettingsError(
                    f"port {port} on {host} is already in use: stop what serves there, or set "
                    "GRADIO_SERVER_PORT to a free port"
                ) from None
            if error.errno == errno.EADDRNOTAVAIL:
                raise SettingsError(
                    f"GRADIO_SERVER_NAME {host!r} is not an address of this machine: set it to "
                    f"one (0.0.0.0 for every address), or unset it to serve on {DEFAULT_HOST}"
                ) from None
            raise SettingsError(
                f"cannot serve on {host}:{port} ({error.strerror or error}): set "
                "GRADIO_SERVER_NAME and GRADIO_SERVER_PORT to an address and port this user "
                "may use"
            ) from None


def _is_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return bool(_HOSTNAME.match(host))
    return True
