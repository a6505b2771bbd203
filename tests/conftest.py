"""Shared fixtures of the core suite: a localstripe server on the loopback interface.

localstripe (GPL-3) runs as a separate process, never imported into the tests. Its own
command line listens on every interface (``::``) and writes its store to
``/tmp/localstripe.pickle`` after every write; the small launcher below instead serves
the same application on ``127.0.0.1`` only, on a port the system picks (printed on the
first line of its output, so there is no race for a free port), and keeps the store in
memory. That is what ``localstripe --port N --from-scratch`` does otherwise.

When localstripe cannot be imported or started, the tests that use it are skipped with
the reason; the rest of the suite runs.
"""

import importlib.util
import selectors
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pytest

_LAUNCHER = """
import socket
import sys

from aiohttp import web
from localstripe import server
from localstripe.resources import store

store.dump_to_disk = lambda: None  # keep the store in memory, like --from-scratch
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
web.run_app(server.app, sock=sock, print=None, access_log=None)
"""

_START_TIMEOUT = 20.0


def _flush(base_url, timeout=5.0):
    """Empty localstripe's store (``DELETE /_config/data``)."""
    request = urllib.request.Request(base_url + "/_config/data", method="DELETE")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()


def _read_port(process, deadline):
    """The port printed by the launcher, or ``None`` if it died or said nothing in time."""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return None
            if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                return None
            line = process.stdout.readline()
            if line.strip().isdigit():
                return int(line)
    return None


@pytest.fixture(scope="session")
def localstripe_server():
    """Start localstripe on 127.0.0.1 for the session and yield its base URL."""
    if importlib.util.find_spec("localstripe") is None:
        pytest.skip("localstripe is not installed (pip install -e .[test])")
    if importlib.util.find_spec("aiohttp") is None:
        pytest.skip("aiohttp, which localstripe needs, is not installed")
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + _START_TIMEOUT
            port = _read_port(process, deadline)
            base_url = f"http://127.0.0.1:{port}"
            ready = False
            while port is not None and time.monotonic() < deadline and process.poll() is None:
                try:
                    _flush(base_url, timeout=1.0)
                    ready = True
                    break
                except (OSError, urllib.error.URLError):
                    time.sleep(0.05)
            if not ready:
                log.seek(0)
                tail = log.read()[-2000:].decode("utf-8", "replace")
                pytest.skip(f"localstripe did not start on 127.0.0.1: {tail or 'no output'}")
            yield base_url
        finally:
            process.kill()
            process.wait(timeout=10)
            if process.stdout:
                process.stdout.close()


@pytest.fixture
def localstripe(localstripe_server):
    """A localstripe with an empty store: the base URL, flushed before the test."""
    _flush(localstripe_server)
    return localstripe_server
