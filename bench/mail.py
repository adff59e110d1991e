"""How many mails per second the outbox sender drains into a loopback SMTP server.

    python -m bench mail [--mails 2000] [--workers 1] [--batch 50]
                         [--backend sqlite|postgresql] [--processes [--sigterm]]
                         [--replies 500] [--clients 4]

Builds a throw-away database (SQLite in a temp folder, or a throw-away PostgreSQL on
loopback via tests/pgserver.py), an account with every notification on, and opens
tickets through app.workflow until the outbox holds ``--mails`` rows (each opening
writes one mail per recipient, rendered from the real templates). Then an aiosmtpd
server on 127.0.0.1 that accepts everything is started, and ``--workers`` threads run
app.mailer.send_due until the outbox is empty (the SMTP server runs in a child process,
so it does not share the sender's GIL). Prints the enqueue rate and the drain rate.
With ``--processes`` the drain is done by ``--workers`` real `flask --app run jobs`
processes (the mails are held until every one is up), and ``--sigterm`` stops one of
them with SIGTERM once half the mails are sent; it reports the rate, the server's count
of duplicate Message-IDs and the workers' exit codes.
Then ``--replies`` answers with a 100 KB attachment each go through the HTTP intake
(bench/mail_intake.py) and it prints replies per second. Bounded: loopback only, the given number of mails, a 10-minute cap.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time

PASSWORD = "senha-do-bench-123"
MAX_SECONDS = 600


class _Counter:
    """aiosmtpd handler that accepts and counts (the receiving side is not measured),
    and keeps each Message-ID to count duplicates."""

    def __init__(self):
        self.count = 0
        self.ids = set()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        head = envelope.content.split(b"\r\n\r\n", 1)[0]
        found = [line for line in head.split(b"\r\n") if line.lower().startswith(b"message-id:")]
        with self.lock:
            self.count += 1
            self.ids.add(found[0] if found else self.count)
        return "250 OK"


def _build_app(database_url: str, folder: str, port: int):
    from flask_migrate import upgrade

    from app import create_app
    from app.security import sync_roles_and_permissions

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "bench-secret-key-with-at-least-32-bytes!",
        "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "UPLOAD_FOLDER": folder, "WTF_CSRF_ENABLED": False,
        "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "MAIL_SUPPRESS_SEND": False,
        "MAIL_TIMEOUT_SECONDS": 5.0,
    })
    with app.app_context():
        upgrade()
        sync_roles_and_permissions(app.appbuilder)
    return app


def _fill_outbox(app, mails: int) -> tuple[int, float]:
    """Open tickets through the workflow until ``mails`` outbox rows exist."""
    from sqlalchemy import func, select

    from app import accounts, structure, workflow
    from app.extensions import db
    from app.models import Member, NotificationSetting, OutboxMail
    from app.tenancy import account_scope

    with app.app_context():
        account, admin = accounts.signup("Bench Ltda", "Ana Bench", "bench_admin",
                                         "admin@bench.example", PASSWORD)
        with account_scope(account.id):
            members = {}
            for key, profiles in (("req", ["requester"]), ("at1", ["attendant"]),
                                  ("at2", ["attendant"]), ("ger", ["manager"])):
                members[key] = accounts.create_member({
                    "first_name": key, "last_name": "Bench", "username": f"bench_{key}",
                    "email": f"{key}@bench.example", "password": PASSWORD,
                    "profiles": profiles})
            department = structure.save_department(None, {
                "name": "TI", "attendant_ids": [members["at1"].id, members["at2"].id]})
            service = structure.save_service(None, {"name": "Acesso",
                                                    "department_id": department.id,
                                                    "sla_hours": 8})
            for row in db.session.scalars(select(NotificationSetting)):
                row.enabled = True
                row.to_requester = row.to_department_attendants = row.to_managers = True
            db.session.commit()
            requester_id, department_id, service_id = (members["req"].id, department.id,
                                                       service.id)
            db.session.remove()
            started = time.perf_counter()
            count = 0
            while count < mails:
                # One session per ticket, as one request each in production.
                workflow.open_ticket(db.session.get(Member, requester_id),
                                     department_id=department_id, service_id=service_id,
                                     priority="medium",
                                     description=f"Chamado de bench {count}")
                count = db.session.scalar(select(func.count()).select_from(OutboxMail))
                db.session.remove()
            elapsed = time.perf_counter() - started
        db.session.remove()
    return count, elapsed


def _drain(app, workers: int, batch: int) -> tuple[int, float]:
    from app import mailer
    from app.extensions import db

    sent = [0] * workers
    errors = []

    def work(index: int) -> None:
        deadline = time.monotonic() + MAX_SECONDS
        with app.app_context():
            try:
                while time.monotonic() < deadline:
                    counts = mailer.send_due(batch=batch, max_seconds=MAX_SECONDS)
                    sent[index] += counts["sent"]
                    if counts["claimed"] == 0:
                        break
            except Exception as error:  # reported after the run
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return sum(sent), elapsed


def _stop_server(server) -> int:
    return _stop_server_counts(server)[0]


def _stop_server_counts(server) -> tuple[int, int]:
    """(mails received, distinct Message-IDs) from the counting server."""
    out, _ = server.communicate("stop\n", timeout=30)
    parts = (out.strip() or "-1 -1").split()
    return int(parts[0]), int(parts[-1])


def _drain_processes(database_url: str, folder: str, port: int, workers: int, batch: int,
                     sigterm: bool) -> dict:
    """``workers`` real `flask --app run jobs` processes drain the outbox; with
    ``sigterm`` one of them is stopped with SIGTERM once half the mails are sent."""
    import signal

    from sqlalchemy import create_engine, text

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    engine = create_engine(database_url)
    postgresql = engine.dialect.name == "postgresql"
    later_sql = "now() + interval '1 day'" if postgresql else "datetime('now', '+1 day')"
    now_sql = "now()" if postgresql else "strftime('%Y-%m-%d %H:%M:%f', 'now')"
    with engine.begin() as conn:   # hold the mails until every worker is up
        conn.execute(text(f"UPDATE outbox_mail SET next_attempt_at = {later_sql}"))
    env = {**os.environ, "DATABASE_URL": database_url, "MAIL_SERVER": "127.0.0.1",
           "MAIL_PORT": str(port), "MAIL_BATCH_SIZE": str(batch), "LOG_LEVEL": "WARNING",
           "INSTANCE_PATH": os.path.join(folder, "instance"), "PYTHONUNBUFFERED": "1",
           "SECRET_KEY": "bench-secret-key-with-at-least-32-bytes!", "MAIL_TIMEOUT_SECONDS": "5"}
    env.pop("APP_ENV", None)
    logs = [open(os.path.join(folder, f"worker-{i}.log"), "w+") for i in range(workers)]
    procs = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "run", "jobs"],
                              cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                              text=True) for log in logs]

    def output(i):
        logs[i].flush()
        logs[i].seek(0)
        return logs[i].read()

    def sent() -> tuple[int, int]:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT count(*), sum(CASE WHEN status = 'sent' "
                                    "THEN 1 ELSE 0 END) FROM outbox_mail")).one()
        return int(row[0]), int(row[1] or 0)

    try:
        deadline = time.monotonic() + MAX_SECONDS
        while not all("Executando" in output(i) for i in range(workers)):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError("workers did not start:\n" + output(0)[-2000:])
            time.sleep(0.2)
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE outbox_mail SET next_attempt_at = {now_sql}"))
        started = time.perf_counter()
        total, done = sent()
        stopped_code = None
        while done < total:
            if time.monotonic() > deadline:
                raise RuntimeError(f"drain timed out: {done}/{total}")
            if sigterm and stopped_code is None and done >= total // 2:
                procs[0].send_signal(signal.SIGTERM)
                stopped_code = procs[0].wait(60)
            time.sleep(0.05)
            total, done = sent()
        elapsed = time.perf_counter() - started
    finally:
        codes = []
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            codes.append(proc.wait(60))
        engine.dispose()
    return {"sent": done, "seconds": elapsed, "sigterm_exit": stopped_code, "exits": codes}


def serve(port: int) -> int:
    """The receiving side (a child process): accept and count until told to stop."""
    from aiosmtpd.controller import Controller

    counter = _Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.readline()
    finally:
        controller.stop()
    print(counter.count, len(counter.ids), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve"]:
        return serve(int(argv[1]))
    parser = argparse.ArgumentParser(prog="python -m bench mail", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--processes", action="store_true",
                        help="drain with --workers real `flask jobs` processes, not threads")
    parser.add_argument("--sigterm", action="store_true",
                        help="with --processes: SIGTERM one worker once half is sent")
    parser.add_argument("--replies", type=int, default=500,
                        help="respostas por e-mail pela entrada HTTP (0: não medir)")
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args(argv)

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from tests.pgserver import PostgresServer, free_port

    folder = tempfile.mkdtemp(prefix="bench-mail-")
    pg = None
    if args.backend == "postgresql":
        pg = PostgresServer().start()
        database_url = pg.create_database("bench_mail")
    else:
        database_url = f"sqlite:///{os.path.join(folder, 'bench.db')}"
    port = free_port()
    # The SMTP server runs in its own process: it must not share the sender's GIL.
    server = subprocess.Popen([sys.executable, "-m", "bench.mail", "--serve", str(port)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdout.readline().strip() == "ready"
    received = None
    try:
        app = _build_app(database_url, folder, port)
        queued, enqueue_s = _fill_outbox(app, args.mails)
        print(f"enqueue: {queued} mails written by opening tickets through the workflow "
              f"in {enqueue_s:.2f} s ({queued / enqueue_s:.0f} mails/s)", flush=True)
        if args.processes:
            result = _drain_processes(database_url, folder, port, args.workers, args.batch,
                                      args.sigterm)
            received, distinct = _stop_server_counts(server)
            sent, drain_s = result["sent"], result["seconds"]
            print(f"mail: {sent} mails drained by {args.workers} `flask jobs` process(es) in "
                  f"{drain_s:.2f} s = {sent / drain_s:.0f} mails/s ({args.backend}, batch "
                  f"{args.batch}); server received {received}, duplicates "
                  f"{received - distinct}; "
                  + (f"SIGTERM mid-drain: exit {result['sigterm_exit']}; "
                     if args.sigterm else "") + f"exits {result['exits']}", flush=True)
            if received != queued or distinct != queued or any(result["exits"]):
                print("ERRO: nem todos os e-mails foram entregues exatamente uma vez",
                      file=sys.stderr)
                return 1
            return 0
        sent, drain_s = _drain(app, args.workers, args.batch)
        received = _stop_server(server)
        print(f"mail: {sent} mails drained into loopback SMTP in {drain_s:.2f} s = "
              f"{sent / drain_s:.0f} mails/s ({args.backend}, {args.workers} worker(s), "
              f"batch {args.batch}; server received {received})", flush=True)
        if sent != queued or received != queued:
            print("ERRO: nem todos os e-mails foram entregues exatamente uma vez",
                  file=sys.stderr)
            return 1
        if args.replies:   # the other direction: replies taken by the HTTP intake
            from bench import mail_intake

            if not mail_intake.run(app, database_url, folder, replies=args.replies,
                                   clients=args.clients, backend=args.backend):
                return 1
    finally:
        if received is None:
            _stop_server(server)
        if pg is not None:
            pg.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
