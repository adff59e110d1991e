"""A throw-away Redis server on loopback for the test run (like tests/pgserver.py).

Debian's ``redis-server`` on a free port, nothing written to disk (``--save ''
--appendonly no``), stopped at the end. ``pause`` and ``resume`` stop and restart it on
the same port, for the tests of a Redis outage.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

from tests.pgserver import free_port


def _binary() -> str:
    found = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
    if not found and os.path.exists("/usr/bin/redis-server"):
        found = "/usr/bin/redis-server"
    if not found:
        raise RuntimeError("redis-server not found (apt-get install -y redis-server)")
    return found


class RedisServer:
    def __init__(self):
        self.binary = _binary()
        self.port = free_port()
        self.root = tempfile.mkdtemp(prefix="gestor-redis-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.resume()
        return self

    def resume(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.root, "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.root)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            if self.ping():
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def flush(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(b"FLUSHALL\r\n")
            assert sock.recv(16).startswith(b"+OK")

    def pause(self) -> None:
        """Stop the server (a Redis outage); ``resume`` starts it again, empty."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)

    def stop(self) -> None:
        try:
            self.pause()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
