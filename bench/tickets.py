"""Ticket pages and ticket opening under gunicorn, on PostgreSQL with a large account.

    python -m bench tickets [--tickets 1000000] [--seconds 10] [--workers 4]
                            [--database-url URL] [--loader wrk|python]

Starts a throw-away PostgreSQL on loopback (sized like a small production server,
bench/pg.py), builds the schema with the real migration,
generates ``--tickets`` tickets in one account (app.generator), serves the product with
gunicorn (``bench.wsgi``: the app plus a bare hello-world route, the ceiling), logs in an
attendant through the real login form (CSRF on) and measures, at concurrency 1 and 8:
the attendant's queue page, the ticket page, the attendant's finished work (the largest
of their lists), the hello-world route, and the rate of opening tickets with a 100 KB
file through the REST API; then, at concurrency 1, a search of a common and of a rare
word from the queue and from the account's list (a manager), over ~3 generated
messages per ticket (app.generator.messages). Prints figures and the data
size; asserts nothing.

Load and latency come from ``wrk`` (bench/wrk.py; Debian's ``wrk``), a native client:
the Python threads of bench/load.py (``--loader python``, the figures before
2026-12-01's evening) cap near 700 req/s on these two cores and add their own
milliseconds. ``--database-url`` measures a database generated before (its largest
account) without generating anything.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from http.cookiejar import CookieJar

from bench import load

PASSWORD = "senha-do-bench-123"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))



def prepare(database_url: str, upload_dir: str, n_tickets: int, reuse: bool = False) -> dict:
    """Schema, roles, generated data, and known passwords for one attendant and one
    requester of the generated account. ``reuse``: the database already holds a
    generated account (an earlier run's, ``--database-url``): nothing is generated."""
    from flask_migrate import upgrade
    from sqlalchemy import func, select, text

    from app import create_app, quotas
    from app.accounts import hash_password
    from app.extensions import db
    from app.generator import generate
    from app.generator.messages import add_messages, describe
    from app.models import Account, Member, Ticket, department_attendant
    from app.security import sync_roles_and_permissions
    from app.tenancy import UNSCOPED, account_scope

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "UPLOAD_FOLDER": upload_dir,
                      "SECRET_KEY": "bench-secret-key-with-at-least-32-bytes!"})
    with app.app_context(), account_scope(UNSCOPED):
        if reuse:
            from app.models import TicketMessage

            account_id = db.session.scalar(select(Ticket.account_id).group_by(
                Ticket.account_id).order_by(func.count().desc()).limit(1))
            result = type("Reused", (), {"account_id": account_id})
            messages = db.session.scalar(select(func.count()).select_from(TicketMessage))
            generated_in = messages_in = 0.0
        else:
            upgrade()
            sync_roles_and_permissions(app.appbuilder)
            began = time.perf_counter()
            result = generate(n_tickets, seed=3)
            generated_in = time.perf_counter() - began
            began = time.perf_counter()
            messages = add_messages(result.account_id, per_ticket=3.0, seed=3)
            messages_in = time.perf_counter() - began
        # The attendant with the busiest departments, and an active requester.
        attendant_id, _ = db.session.execute(
            select(department_attendant.c.user_id, func.count(Ticket.id))
            .join(Ticket, Ticket.department_id == department_attendant.c.department_id)
            .where(Ticket.account_id == result.account_id)
            .group_by(department_attendant.c.user_id)
            .order_by(func.count(Ticket.id).desc()).limit(1)).one()
        requester = db.session.scalars(
            select(Member).where(Member.account_id == result.account_id,
                                 Member.roles.any(name="Solicitante"))
            .order_by(Member.id).limit(1)).one()
        attendant = db.session.get(Member, attendant_id)
        manager = db.session.scalars(
            select(Member).where(Member.account_id == result.account_id,
                                 Member.roles.any(name="Gestor"))
            .order_by(Member.id).limit(1)).one()
        for member in (attendant, requester, manager):
            member.password = hash_password(PASSWORD)
        # One requester opens every ticket of the opening measure: lift the hourly
        # quotas (defaults 100 openings, 300 files), which would answer 429 after that.
        account = db.session.get(Account, result.account_id)
        account.openings_per_hour = account.uploads_per_hour = quotas.MAX_PER_HOUR
        departments = [d for (d,) in db.session.execute(
            select(department_attendant.c.department_id)
            .where(department_attendant.c.user_id == attendant_id))]
        ticket_ids = list(db.session.scalars(
            select(Ticket.id).where(Ticket.account_id == result.account_id,
                                    Ticket.department_id.in_(departments))
            .order_by(func.random()).limit(500)))
        service = db.session.execute(
            select(Ticket.department_id, Ticket.service_id)
            .where(Ticket.account_id == result.account_id).limit(1)).one()
        total = db.session.scalar(select(func.count()).select_from(Ticket))
        sizes = describe(result.account_id)
        sizes.update(db.session.execute(text(
            "SELECT pg_size_pretty(pg_total_relation_size('ticket')) AS ticket_size, "
            "pg_size_pretty(pg_total_relation_size('ticket_message')) AS message_size, "
            "pg_size_pretty(pg_relation_size('ix_ticket_search')) AS gin_size")).one()._asdict())
        db.session.commit()
        return {"attendant": attendant.username, "requester": requester.username,
                "manager": manager.username, "messages": messages,
                "messages_in": messages_in, "sizes": sizes,
                "ticket_ids": ticket_ids, "department_id": service[0],
                "service_id": service[1], "tickets": total, "generated_in": generated_in}


def start_gunicorn(database_url: str, upload_dir: str, port: int, workers: int):
    env = dict(os.environ, DATABASE_URL=database_url, UPLOAD_FOLDER=upload_dir,
               APP_ENV="production", SECRET_KEY="bench-secret-key-with-at-least-32-bytes!",
               RATELIMIT_STORAGE_URI="memory://", MAX_UPLOAD_MB="10",
               SESSION_COOKIE_SECURE="0",   # plain HTTP on loopback
               BASE_URL=f"http://127.0.0.1:{port}")
    process = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "-w", str(workers),
         "-b", f"127.0.0.1:{port}", "--log-level", "warning", "bench.wsgi:app"],
        cwd=ROOT, env=env)
    deadline = time.time() + 60
    while time.time() < deadline and process.poll() is None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/__bench/hello", timeout=2)
            return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def login_session(port: int, username: str) -> str:
    """The real login form with its CSRF token; returns the Cookie header."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"http://127.0.0.1:{port}/login/").read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or \
        re.search(r'id="csrf_token" name="csrf_token"[^>]*value="([^"]+)"', page)
    data = urllib.parse.urlencode({"username": username, "password": PASSWORD,
                                   "csrf_token": token.group(1) if token else ""}).encode()
    opener.open(f"http://127.0.0.1:{port}/login/", data=data).read()
    cookies = "; ".join(f"{c.name}={c.value}" for c in jar)
    if "session=" not in cookies:
        raise RuntimeError("login failed")
    return cookies


def api_token(port: int, username: str) -> str:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/security/login",
        data=json.dumps({"username": username, "password": PASSWORD, "provider": "db"}).encode(),
        headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(request))["access_token"]


def multipart(fields: dict, filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for key, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
                     f"{value}\r\n".encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'.encode()
                 + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench tickets")
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--database-url", default=None,
                        help="a database an earlier run generated (kept with "
                             "--keep-database): measured as it is, nothing generated")
    parser.add_argument("--loader", choices=("wrk", "python"), default="wrk",
                        help="wrk (native, the default) or the Python threads of "
                             "bench/load.py (cap near 700 req/s on two cores)")
    args = parser.parse_args(argv)
    sys.path.insert(0, ROOT)
    from app.generator.messages import COMMON_WORD, RARE_WORD
    from bench import wrk
    from bench.pg import BenchPostgres
    from tests.pgserver import free_port

    loader = wrk if args.loader == "wrk" else load
    server = None if args.database_url else BenchPostgres().start()
    upload_dir = tempfile.mkdtemp(prefix="gestor-bench-uploads-")
    gunicorn = None
    try:
        if args.database_url:
            url = args.database_url
            print("Medindo a base existente (nada gerado)...", flush=True)
        else:
            url = server.create_database("gestor_bench")
            print(f"Gerando {args.tickets:,} chamados no PostgreSQL...", flush=True)
        data = prepare(url, upload_dir, args.tickets, reuse=bool(args.database_url))
        print(f"  {data['tickets']:,} chamados na base; gerados em "
              f"{data['generated_in']:.1f} s", flush=True)
        print(f"  {data['messages']:,} mensagens ({data['sizes']['notes']:,} notas internas) "
              f"em {data['messages_in']:.1f} s; ticket {data['sizes']['ticket_size']}, "
              f"ticket_message {data['sizes']['message_size']}, índice GIN "
              f"{data['sizes']['gin_size']}", flush=True)
        port = free_port()
        gunicorn = start_gunicorn(url, upload_dir, port, args.workers)
        cookie = login_session(port, data["attendant"])
        manager_cookie = login_session(port, data["manager"])
        token = api_token(port, data["requester"])
        ids = data["ticket_ids"]
        row = "id;descricao;valor\n" + "".join(f"{i};item {i} do relatório;{i * 3.5:.2f}\n"
                                             for i in range(4000))
        content = (row * (100_000 // len(row) + 1)).encode()[:100_000]
        content = content[:content.rfind(b"\n") + 1]

        def page(path):
            return lambda i: ("GET", path, None, {"Cookie": cookie})

        def ticket_page(i):
            return ("GET", f"/chamados/{ids[i % len(ids)]}", None, {"Cookie": cookie})

        def open_ticket(i):
            body, ctype = multipart({"department_id": data["department_id"],
                                     "service_id": data["service_id"], "priority": "medium",
                                     "description": f"Chamado de carga {i}"},
                                    "relatorio.csv", content)
            return ("POST", "/api/v1/ticket/", body,
                    {"Authorization": f"Bearer {token}", "Content-Type": ctype})

        print(f"\ngunicorn -w {args.workers} (sync), {args.seconds:.0f} s por medida, "
              f"carga e latência por {args.loader}; conta com {data['tickets']:,} chamados\n")
        results = {}
        for concurrency in (1, 8):
            for name, maker in (("hello-world (teto)", page("/__bench/hello")),
                                ("fila do atendente", page("/atendente/fila")),
                                ("página do chamado", ticket_page),
                                ("meus atendimentos encerrados",
                                 page("/atendente/meus?aba=encerrados")),
                                ("abrir chamado + 100 KB", open_ticket)):
                if concurrency == 1:  # warm caches and workers; not counted
                    loader.run(name, "127.0.0.1", port, maker, 4, min(3.0, args.seconds))
                result = loader.run(name, "127.0.0.1", port, maker, concurrency, args.seconds)
                results[(name, concurrency)] = result
                print(result.line(), flush=True)
        hello8 = results[("hello-world (teto)", 8)].rate
        print()
        for name in ("fila do atendente", "página do chamado"):
            share = results[(name, 8)].rate / hello8 if hello8 else float("nan")
            print(f"{name}: p50 c=1 {results[(name, 1)].pct(50):.1f} ms (alvo <= 25 ms); "
                  f"c=8 {share:.0%} da taxa do hello-world (alvo >= 20%)")
        print(f"abrir chamado com 100 KB: {results[('abrir chamado + 100 KB', 8)].rate:.1f}/s "
              "com c=8 (alvo >= 60/s)")
        print("\nBusca (c=1): uma palavra comum e uma rara, da fila e da lista da conta\n")

        def manager_page(path):
            return lambda i: ("GET", path, None, {"Cookie": manager_cookie})

        searches = (
            ("lista da conta (gestor)", manager_page("/chamados/")),
            (f"fila: busca comum '{COMMON_WORD}'", page(f"/atendente/fila?busca={COMMON_WORD}")),
            (f"fila: busca rara '{RARE_WORD}'", page(f"/atendente/fila?busca={RARE_WORD}")),
            (f"conta: busca comum '{COMMON_WORD}'",
             manager_page(f"/chamados/?busca={COMMON_WORD}")),
            (f"conta: busca rara '{RARE_WORD}'", manager_page(f"/chamados/?busca={RARE_WORD}")),
        )
        for name, maker in searches:
            loader.run(name, "127.0.0.1", port, maker, 2, min(3.0, args.seconds))
            result = loader.run(name, "127.0.0.1", port, maker, 1, args.seconds)
            results[(name, 1)] = result
            print(result.line(), flush=True)
        print()
        for name, _ in searches[1:]:
            print(f"{name}: p50 c=1 {results[(name, 1)].pct(50):.1f} ms (alvo <= 50 ms)")
    finally:
        if gunicorn is not None:
            gunicorn.terminate()
            gunicorn.wait(timeout=30)
        if server is not None:
            server.stop()
    return 0
