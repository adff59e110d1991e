"""A small closed-loop HTTP load generator: N threads, keep-alive where the server allows.

Each thread sends its next request as soon as the previous answered, for a fixed time;
latencies are measured at the client (so the figures include loopback and client cost,
equally for every endpoint and for the hello-world ceiling).
"""
from __future__ import annotations

import http.client
import statistics
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Result:
    name: str
    concurrency: int
    latencies: list = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000

    def line(self) -> str:
        return (f"{self.name:<30} c={self.concurrency:<2} {self.rate:8.1f} req/s  "
                f"p50 {self.pct(50):7.1f} ms  p95 {self.pct(95):7.1f} ms  "
                f"n={len(self.latencies)} errors={self.errors}")


def run(name: str, host: str, port: int, make_request, concurrency: int,
        seconds: float) -> Result:
    """``make_request(i) -> (method, path, body, headers)``; any 2xx/3xx counts."""
    result = Result(name, concurrency)
    lock = threading.Lock()
    stop = time.perf_counter() + seconds
    start_barrier = threading.Barrier(concurrency)

    def worker(index: int):
        conn = http.client.HTTPConnection(host, port, timeout=60)
        local, errors, i = [], 0, index
        start_barrier.wait()
        while time.perf_counter() < stop:
            method, path, body, headers = make_request(i)
            i += concurrency
            began = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                ok = 200 <= response.status < 400
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                conn.close()
                ok = False
            if ok:
                local.append(time.perf_counter() - began)
            else:
                errors += 1
        with lock:
            result.latencies.extend(local)
            result.errors += errors
        conn.close()

    began = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - began
    return result


def median(values) -> float:
    return statistics.median(values) if values else float("nan")
