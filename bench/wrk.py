"""Load through Debian's ``wrk`` (a native load generator), same interface as bench.load.

A Python client on the same two cores as the server caps near 700 req/s and adds its
own milliseconds to every latency, so it flatters every ratio to the hello-world
ceiling. ``run`` writes the requests ``make_request(i)`` gives into a Lua script that
``wrk`` cycles through, and reads the rate and the p50/p95 latencies (measured by wrk,
from the request's first byte to the answer's last) back from the script's ``done``.

    apt-get install -y wrk
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

DISTINCT = 200      # requests sampled from make_request (wrk cycles through them)


@dataclass
class Result:
    name: str
    concurrency: int
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    p50_us: float = float("nan")
    p95_us: float = float("nan")

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        """Latency percentile in ms (50 and 95 only: what the script reports)."""
        return {50: self.p50_us, 95: self.p95_us}[p] / 1000

    def line(self) -> str:
        return (f"{self.name:<30} c={self.concurrency:<2} {self.rate:8.1f} req/s  "
                f"p50 {self.pct(50):7.1f} ms  p95 {self.pct(95):7.1f} ms  "
                f"n={self.requests} errors={self.errors} (wrk)")


def available() -> bool:
    return shutil.which("wrk") is not None


def _lua(value) -> str:
    """A Lua string literal of any bytes (decimal escapes outside printable ASCII)."""
    data = value.encode() if isinstance(value, str) else bytes(value)
    out = []
    for byte in data:
        char = chr(byte)
        if 32 <= byte < 127 and char not in '"\\':
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


SCRIPT_END = """
local n = #reqs
local i = 0
request = function()
  i = i % n + 1
  return reqs[i]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"p50": %d, "p95": %d, "requests": %d, "errors": %d, "duration": %d}\\n',
    latency:percentile(50), latency:percentile(95), summary.requests,
    e.status + e.connect + e.read + e.write + e.timeout, summary.duration))
end
"""


def run(name: str, host: str, port: int, make_request, concurrency: int,
        seconds: float, distinct: int = DISTINCT) -> Result:
    """``make_request(i) -> (method, path, body, headers)``; answers of 400 and above
    and socket errors count as errors (and still count in wrk's rate: see ``errors``)."""
    if not available():
        raise RuntimeError("wrk not found: apt-get install -y wrk")
    lines = ["local reqs = {}"]
    for i in range(distinct):
        method, path, body, headers = make_request(i)
        pairs = ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in (headers or {}).items())
        lines.append(f"reqs[#reqs + 1] = wrk.format({_lua(method)}, {_lua(path)}, "
                     f"{{{pairs}}}, {_lua(body) if body else 'nil'})")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + SCRIPT_END)
    try:
        threads = max(1, min(concurrency, 2))
        completed = subprocess.run(
            ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds:g}s",
             "--timeout", "30s", "-s", script.name, f"http://{host}:{port}/"],
            capture_output=True, text=True, timeout=seconds + 60)
    finally:
        os.unlink(script.name)
    marker = next((line for line in completed.stdout.splitlines()
                   if line.startswith("WRKJSON ")), None)
    if marker is None:
        raise RuntimeError(f"wrk failed: {completed.stdout}\n{completed.stderr}")
    figures = json.loads(marker[len("WRKJSON "):])
    return Result(name, concurrency, requests=figures["requests"], errors=figures["errors"],
                  seconds=figures["duration"] / 1e6, p50_us=figures["p50"],
                  p95_us=figures["p95"])
