"""Production on many hosts (issue 12, first "Done when" line), PostgreSQL only, all on
loopback and configured by environment variables only, as docs/deploy.md writes them:

* two web servers (``gunicorn -c gunicorn.conf.py run:app``, one worker each, behind a
  trusted proxy hop), each with its OWN local upload folder and the SAME object storage
  (moto's S3 server, tests/s3server.py);
* two ``flask jobs`` workers, then a fresh third one;
* Redis for the rate limits (``RATELIMIT_STORAGE_URI``), a streaming replica
  (``DATABASE_REPLICA_URL``), one PostgreSQL primary, the SMTP sink (tests/smtp_server.py).

It drives 200 tickets with a file each through both servers (alternating, over real
HTTP, REST API with tokens from ``/api/v1/security/login``, four client threads), stops
one worker with SIGTERM and the other with SIGKILL while they drain the outbox, starts a
fresh worker to finish, and checks:

* every file downloads byte-identical from BOTH servers (each time with a token the
  OTHER server's login gave), and no host keeps it in its own folder;
* every mail arrives at the sink, exactly once, except at most ONE mail: the one the
  SIGKILLed worker had on the wire. SMTP cannot be exactly-once across a kill (the server
  may have accepted the mail when the worker dies before recording it as sent; another
  worker sends it again after the lease, with the same Message-ID);
* failed logins are limited once across both servers: the per (username, address) limit
  and the per-username limit count the failures made on either server together;
* the Painel's KPI API answers from the replica (its replay paused: a ticket opened on
  the primary is missing), and from the primary once the replica is stopped.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.conftest import PASSWORD, build_world
from tests.conftest import test_config as config_for
from tests.deploy_helpers import ROOT, flask_command, flask_env
from tests.pgserver import free_port
from tests.s3server import ACCESS_KEY, REGION, SECRET_KEY, keys
from tests.smtp_server import SmtpTestServer, set_all

BIN = os.path.dirname(sys.executable)
TICKETS = 200
THREADS = 4
LEASE = 4
PAIR_LIMIT = 3       # failed logins per (username, address), across every server
USER_LIMIT = 6       # failed logins per username (from failing addresses), across every server
WRONG = "senha-errada-123"
STORED_NAME_RE = re.compile(r"[0-9a-f]{32}")


def _readme(url: str) -> str:
    """The spelling of docs/deploy.md (``postgresql://``), not the tests' psycopg2 one."""
    return url.replace("postgresql+psycopg2://", "postgresql://", 1)


class Phases:
    def __init__(self):
        self.started = self.last = time.monotonic()

    def __call__(self, name: str) -> None:
        now = time.monotonic()
        print(f"\n[many hosts] {name}: {now - self.last:.1f} s (total {now - self.started:.1f} s)")
        self.last = now


class Process:
    """A subprocess whose output goes to a file we can read while it runs."""

    def __init__(self, command, env, log_path):
        self.log = open(log_path, "w+")
        self.popen = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log,
                                      stderr=subprocess.STDOUT, text=True)
        self.pid = self.popen.pid

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout: float = 30) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        try:
            return self.popen.wait(timeout)
        finally:
            if self.popen.poll() is None:
                self.popen.kill()
                self.popen.wait()


def _wait(predicate, timeout: float, what: str, processes=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        for process in processes:
            assert process.alive(), f"{what}: process died\n{process.output()[-3000:]}"
        time.sleep(0.05)
    logs = "\n".join(f"--- {p.pid}:\n{p.output()[-2000:]}" for p in processes)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def cluster(pg_server, redis_server, s3_server, tmp_path_factory):
    """Everything of the docstring, started; yields a namespace to drive it."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.security import sync_roles_and_permissions

    phase = Phases()
    root = tmp_path_factory.mktemp("many-hosts")
    name = f"hosts_{uuid.uuid4().hex[:8]}"
    url = pg_server.create_database(name)
    made = {}   # the replica is built while the schema is migrated
    builder = threading.Thread(target=lambda: made.update(replica=pg_server.start_replica()))
    builder.start()   # after CREATE DATABASE: it streams the rest
    app = create_app(config_for(url, str(root / "setup")))
    with app.app_context():
        upgrade()
        sync_roles_and_permissions(app.appbuilder)
        db.engine.dispose()
    builder.join()
    replica = made["replica"]
    bucket = s3_server.new_bucket()
    sink = SmtpTestServer().start()
    phase("database, replica, schema, bucket, sink")

    common = {
        "APP_ENV": "production", "SECRET_KEY": "a-production-key-of-at-least-32-bytes",
        "BASE_URL": "https://chamados.example.com", "TRUSTED_HOSTS": "127.0.0.1",
        "SESSION_COOKIE_SECURE": "0", "PROXY_FIX_HOPS": "1", "LOG_FORMAT": "text",
        "DATABASE_REPLICA_URL": _readme(replica.url(name)),
        "REPLICA_MAX_LAG_SECONDS": "3600", "REPLICA_CHECK_SECONDS": "0",
        "RATELIMIT_STORAGE_URI": redis_server.url,
        "LOGIN_FAILURE_LIMIT": f"{PAIR_LIMIT} per hour",
        "LOGIN_FAILURE_LIMIT_PER_USERNAME": f"{USER_LIMIT} per hour",
        "ATTACHMENT_STORAGE": "s3", "S3_BUCKET": bucket, "S3_ENDPOINT_URL": s3_server.url,
        "S3_REGION": REGION, "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(sink.port), "MAIL_BATCH_SIZE": "10",
        "MAIL_LEASE_SECONDS": str(LEASE), "MAIL_TIMEOUT_SECONDS": "5",
    }
    processes: list[Process] = []

    def server(host: str) -> Process:
        port = free_port()
        folder = root / host
        env = flask_env(_readme(url), folder, **common, GUNICORN_BIND=f"127.0.0.1:{port}",
                        WEB_CONCURRENCY="1", RUNTIME_DIRECTORY=str(folder / "run"),
                        # an idle sync worker notices SIGTERM at timeout / 2
                        GUNICORN_TIMEOUT="20", GUNICORN_GRACEFUL_TIMEOUT="10")
        env.pop("GUNICORN_CMD_ARGS", None)
        process = Process([os.path.join(BIN, "gunicorn"), "-c", "gunicorn.conf.py",
                           "run:app"], env, root / f"{host}.log")
        process.base = f"http://127.0.0.1:{port}"
        process.upload_folder = env["UPLOAD_FOLDER"]
        processes.append(process)
        return process

    def worker(label: str) -> Process:
        env = flask_env(_readme(url), root / label, **common)
        process = Process(flask_command("jobs"), env, root / f"{label}.log")
        processes.append(process)
        return process

    def answers(process) -> bool:
        try:
            return requests.get(process.base + "/health/live", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    # A slow SMTP server (2 mails/s for both workers): the drain outlasts the load
    # below on a loaded machine too, so the signals land mid-drain.
    sink.delay_seconds = 1.0
    engine = create_engine(url)
    try:
        hosts = [server("a"), server("b")]
        workers = [worker("term"), worker("kill")]
        # While they boot: the account, one mail per ticket (the opening, to its requester).
        world = build_world(app, "hosts")
        set_all(app, world, recipients=("requester",), events=("ticket_opened",))
        with app.app_context():
            # 201 openings by one requester within a minute: above the default per-person
            # quota (100 an hour, app/quotas.py), so the account raises it, as its
            # administrator can on the account screen.
            db.session.execute(text("UPDATE account SET openings_per_hour = 1000, "
                                    "uploads_per_hour = 1000 WHERE id = :id"),
                               {"id": world.account_id})
            db.session.commit()
            db.engine.dispose()
        _wait(lambda: all(answers(h) for h in hosts), 240, "the web servers", hosts)
        for host in hosts:   # the load balancer's check: database, replica, Redis, storage
            ready = requests.get(host.base + "/health/ready", timeout=60)
            assert ready.json()["status"] == "ok", ready.text
        _wait(lambda: all("Executando" in w.output() for w in workers), 240,
              "the job workers", workers)
        phase("2 gunicorn + 2 workers up")
        yield type("Cluster", (), dict(
            hosts=hosts, workers=workers, worker=worker, world=world, sink=sink,
            engine=engine, replica=replica, name=name, bucket=bucket,
            s3=s3_server.client(), phase=phase))
    finally:
        for process in processes:
            process.stop(signal.SIGKILL, timeout=10)
        engine.dispose()
        sink.stop()
        if _listening(replica.port):
            replica.stop()
        else:   # the test stopped it already
            shutil.rmtree(replica.root, ignore_errors=True)


# --- the HTTP client side ------------------------------------------------------------


def login(host, username, password=PASSWORD, address=None):
    headers = {"X-Forwarded-For": address} if address else {}
    return requests.post(host.base + "/api/v1/security/login", timeout=30, headers=headers,
                         json={"username": username, "password": password, "provider": "db"})


def token(host, username) -> str:
    answer = login(host, username)
    assert answer.status_code == 200, answer.text[:500]
    return answer.json()["access_token"]


def content_of(n: int) -> bytes:
    """A CSV of its own for ticket ``n``, 1 to ~40 KB."""
    line = f"conta;descricao;valor\n{n};fornecedor {n} {uuid.uuid4().hex};10,{n % 100:02d}\n"
    size = 1024 + (n * 397) % (40 * 1024)
    return (line.encode() * (size // len(line) + 1))[:size]


def open_ticket(session, host, bearer, world, n, content=None):
    fields = {"department_id": str(world.departments["TI"]),
              "service_id": str(world.services["Acesso"]), "priority": "medium",
              "description": f"Planilha {n} do fechamento."}
    files = {"file": (f"fechamento-{n}.csv", content, "text/csv")} if content else None
    answer = session.post(host.base + "/api/v1/ticket/", data=fields, files=files,
                          headers={"Authorization": f"Bearer {bearer}"}, timeout=60)
    assert answer.status_code == 201, (n, answer.status_code, answer.text[:500])
    return answer.json()


def kpis(host, bearer) -> int:
    today = dt.datetime.now(dt.timezone.utc).date()
    answer = requests.get(
        host.base + "/api/v1/painel/kpis", timeout=30,
        params={"start": str(today - dt.timedelta(days=2)),
                "end": str(today + dt.timedelta(days=2))},
        headers={"Authorization": f"Bearer {bearer}"})
    assert answer.status_code == 200, answer.text[:500]
    return answer.json()["opened_in_period"]


# --- the outbox ------------------------------------------------------------------------


def held(engine, process) -> list[int]:
    """Ids of the pending mails whose lease belongs to ``process``."""
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT id FROM outbox_mail WHERE status = 'pending' AND locked_by LIKE :mine"),
            {"mine": f"%:{process.pid}:%"}).scalars())


def statuses(engine) -> Counter:
    with engine.connect() as conn:
        return Counter(dict(conn.execute(text(
            "SELECT status, count(*) FROM outbox_mail GROUP BY status")).all()))


# --- the test --------------------------------------------------------------------------


def test_two_hosts_two_workers_one_bucket_redis_and_a_replica(cluster):
    c = cluster
    a, b = c.hosts
    world, engine, sink = c.world, c.engine, c.sink

    # 1. Failed logins counted once across both servers (Redis), per (username,
    #    address) behind the proxy...
    codes = [login(host, "hosts_attendant", WRONG, "10.9.0.1").status_code
             for host in (a, b, a, b)]
    assert codes == [401] * PAIR_LIMIT + [429], codes
    assert login(a, "hosts_attendant", PASSWORD, "10.9.0.1").status_code == 429
    assert login(b, "hosts_attendant", PASSWORD, "10.9.0.2").status_code == 200
    # ... and per username: each address guesses twice, its two guesses on different
    # servers; the second guesses count (the first of an address is not limited by
    # username) wherever they land. Each server alone saw only USER_LIMIT / 2 of them.
    codes = []
    for n in range(USER_LIMIT + 2):
        first, second = (a, b) if n % 2 == 0 else (b, a)
        codes.append(login(first, "hosts_attendant2", WRONG, f"10.8.0.{n}").status_code)
        codes.append(login(second, "hosts_attendant2", WRONG, f"10.8.0.{n}").status_code)
    assert codes == [401] * (2 * USER_LIMIT) + [401, 429, 401, 429], codes
    assert login(a, "hosts_attendant2", PASSWORD, "10.8.0.1").status_code == 429
    assert login(b, "hosts_attendant2", PASSWORD, "10.8.0.99").status_code == 200
    c.phase("login limits across both servers")

    # 2. 200 tickets with a file each, alternating servers, four client threads.
    sent: dict[int, bytes] = {}
    attachment_of: dict[int, int] = {}
    lock = threading.Lock()
    tokens: dict[tuple[int, str], str] = {}

    def client(index: int) -> None:
        session = requests.Session()
        mine = {host.base: token(host, "hosts_requester") for host in (a, b)}
        with lock:
            tokens.update({(index, base): value for base, value in mine.items()})
        for n in range(index, TICKETS, THREADS):
            host = c.hosts[n % 2]
            content = content_of(n)
            result = open_ticket(session, host, mine[host.base], world, n, content)
            [attachment] = result["result"]["attachments"]
            assert attachment["size"] == len(content)
            with lock:
                sent[n], attachment_of[n] = content, attachment["id"]

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(client, range(THREADS)))
    assert len(sent) == TICKETS
    c.phase(f"{TICKETS} tickets with a file through both servers")

    # 3. Mid-drain: SIGKILL one worker, SIGTERM the other; a fresh one finishes.
    term, kill = c.workers
    _wait(lambda: held(engine, term) and held(engine, kill), 120,
          "both workers to hold a batch", c.workers)
    assert statuses(engine)["pending"] > 0
    killed_batch = held(engine, kill)
    kill.popen.send_signal(signal.SIGKILL)
    assert term.stop(signal.SIGTERM, timeout=20) == 0, term.output()[-3000:]
    assert "Parado." in term.output()
    assert held(engine, term) == []   # its batch given back at once, not left to the lease
    assert kill.popen.wait(10) == -signal.SIGKILL
    sink.delay_seconds = 0.0
    third = c.worker("third")
    c.phase(f"SIGTERM + SIGKILL mid-drain ({statuses(engine)['sent']} sent so far)")

    # 4. While the third worker drains: every file, from both servers, byte-identical,
    #    with a token of each server's login used on both.
    def download(item):
        n, attachment_id = item
        bodies = []
        for host, other in ((a, b), (b, a)):   # each with the other server's token
            answer = requests.get(
                f"{host.base}/api/v1/attachment/{attachment_id}", timeout=60,
                headers={"Authorization": f"Bearer {tokens[(n % THREADS, other.base)]}"})
            assert answer.status_code == 200, (n, host.base, answer.text[:300])
            bodies.append(answer.content)
        return n, bodies

    with ThreadPoolExecutor(THREADS) as pool:
        for n, bodies in pool.map(download, sorted(attachment_of.items())):
            digests = {hashlib.sha256(body).hexdigest() for body in bodies}
            assert digests == {hashlib.sha256(sent[n]).hexdigest()}, n
    with engine.connect() as conn:
        stored = set(conn.execute(text("SELECT stored_name FROM attachment")).scalars())
    assert len(stored) == TICKETS and stored <= set(keys(c.s3, c.bucket))
    for host in (a, b):    # on the shared bucket, not in a host's own folder
        local = [f for _, _, files in os.walk(host.upload_folder) for f in files
                 if STORED_NAME_RE.fullmatch(f)]
        assert local == [], (host.base, local[:5])
    c.phase(f"{2 * TICKETS} downloads, with cross-server tokens")

    # 5. The Painel's KPI API: from the replica (replay paused), then from the primary.
    manager = token(a, "hosts_manager")
    deadline = time.monotonic() + 60
    while c.replica.sql(c.name, "SELECT count(*) FROM ticket") != str(TICKETS):
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.1)
    c.replica.sql(c.name, "SELECT pg_wal_replay_pause()")
    _wait(lambda: c.replica.sql(c.name, "SELECT pg_get_wal_replay_pause_state()")
          == "paused", 30, "the replica's replay to pause")
    requester = tokens[(0, b.base)]
    open_ticket(requests.Session(), b, requester, world, TICKETS)   # on the primary only
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ticket")).scalar_one() == TICKETS + 1
    assert [kpis(a, manager), kpis(b, manager)] == [TICKETS, TICKETS]   # the replica's
    ready = requests.get(a.base + "/health/ready", timeout=30).json()
    assert ready["checks"]["replica"]["status"] == "ok", ready
    c.replica.pause()   # stopped, replay still paused: only the primary has ticket 201
    assert [kpis(a, manager), kpis(b, manager)] == [TICKETS + 1, TICKETS + 1]
    ready = requests.get(b.base + "/health/ready", timeout=30).json()
    assert ready["checks"]["replica"]["status"] == "unavailable", ready
    c.phase("KPIs from the replica, then from the primary")
    for host in (a, b):   # done with HTTP: they stop (cleanly, checked below) meanwhile
        host.popen.send_signal(signal.SIGTERM)

    # 6. Every mail sent; each arrived once but for the killed worker's one on the wire.
    _wait(lambda: statuses(engine)["sent"] == TICKETS + 1, 120, "every mail sent", [third])
    assert statuses(engine) == Counter(sent=TICKETS + 1)
    assert third.stop(signal.SIGTERM, timeout=30) == 0, third.output()[-3000:]
    c.phase("drain finished by the third worker")
    with engine.connect() as conn:
        expected = set(conn.execute(text("SELECT idempotency_key FROM outbox_mail")).scalars())
        killed_keys = set(conn.execute(text(
            "SELECT idempotency_key FROM outbox_mail WHERE id = ANY(:ids)"),
            {"ids": killed_batch}).scalars())
    delivered = Counter(m["message"]["Message-ID"] for m in sink.received())
    assert len(expected) == TICKETS + 1 and len(delivered) == TICKETS + 1, \
        (len(expected), len(delivered))
    recipients = Counter(r for m in sink.received() for r in m["rcpt_tos"])
    assert set(recipients) == {"requester@hosts.example"}
    twice = {key: count for key, count in delivered.items() if count > 1}
    assert len(twice) <= 1 and set(twice.values()) <= {2}, twice
    if twice:   # and it is one of the killed worker's batch
        [message_id] = twice
        killed_ids = {"<" + re.sub(r"[^A-Za-z0-9_.-]", ".", key) + "@gestor.local>"
                      for key in killed_keys}
        assert message_id in killed_ids, (message_id, sorted(killed_ids)[:3])
    print(json.dumps({"mails": sum(delivered.values()), "distinct": len(delivered),
                      "twice": list(twice)}))

    # 7. The web servers stopped cleanly on SIGTERM.
    assert [host.stop(signal.SIGTERM, timeout=30) for host in (a, b)] == [0, 0], \
        a.output()[-2000:] + b.output()[-2000:]
    for process in (a, b, term, third):
        assert "Traceback" not in process.output(), process.output()[-3000:]
