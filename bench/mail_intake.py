"""How many replies per second the mail intake takes through HTTP (``bench mail``).

Serves the app with gunicorn on loopback (the same database the sender part of
``bench mail`` filled), builds ``replies`` answers from the bench requester to its
tickets' signed reply addresses, each with a 100 KB PNG attached, and posts them raw to
``POST /api/v1/inbound-mail`` from ``clients`` threads, the way Postfix's pipe does.
Every answer must be 202 and the database must end with exactly one message and one
file per reply. The tickets are assumed first and the account's default notification
for a requester's message applies (one mail, to the assignee, per reply). The parsing, the upload checks, the message, its history event, its
notifications and the log row are all in the measured time.
"""
from __future__ import annotations

import http.client
import os
import subprocess
import sys
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "bench-inbound-token-with-enough-entropy-000"
DOMAIN = "respostas.bench.example"
SECRET = "bench-secret-key-with-at-least-32-bytes!"
ATTACHMENT_KB = 100


def _start(database_url: str, upload_dir: str, port: int, workers: int):
    env = dict(os.environ, DATABASE_URL=database_url, UPLOAD_FOLDER=upload_dir,
               APP_ENV="production", SECRET_KEY=SECRET, RATELIMIT_STORAGE_URI="memory://",
               BASE_URL=f"http://127.0.0.1:{port}",
               SESSION_COOKIE_SECURE="0", INBOUND_MAIL_DOMAIN=DOMAIN,
               INBOUND_MAIL_TOKEN=TOKEN, INBOUND_MAIL_PER_HOUR="100000000")
    process = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "-w", str(workers),
         "-b", f"127.0.0.1:{port}", "--log-level", "warning", "run:app"], cwd=ROOT, env=env)
    deadline = time.time() + 90
    while time.time() < deadline and process.poll() is None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def _assign_tickets(app) -> None:
    """Replies land on tickets an attendant has assumed, with the account's default
    notification for a requester's message (the assignee is told): the sender part of
    the bench switched every recipient on, which is not what an account runs."""
    from sqlalchemy import select

    from app import accounts, notifications, quotas, workflow
    from app.extensions import db
    from app.models import (
        Account,
        Member,
        NotificationSetting,
        Ticket,
        department_attendant,
    )
    from app.tenancy import UNSCOPED, account_scope

    with app.app_context(), account_scope(UNSCOPED):
        for row in db.session.scalars(select(NotificationSetting).where(
                NotificationSetting.event == "requester_message")):
            default = accounts.default_notification_setting(row.account_id, row.event)
            for recipient in ("requester", "assignee", "department_attendants", "managers"):
                setattr(row, f"to_{recipient}", getattr(default, f"to_{recipient}"))
        # One requester sends every reply, each with a file: lift the hourly file quota
        # (default 300), which would otherwise defer the rest with a 429.
        for account in db.session.scalars(select(Account)):
            account.uploads_per_hour = quotas.MAX_PER_HOUR
        db.session.commit()
        tickets = db.session.scalars(select(Ticket).where(Ticket.status == "open")).all()
        with notifications.muted():
            for ticket in tickets:
                attendant_id = db.session.scalar(
                    select(department_attendant.c.user_id)
                    .where(department_attendant.c.department_id == ticket.department_id)
                    .limit(1))
                workflow.apply(ticket, "assume", db.session.get(Member, attendant_id))
        db.session.remove()


def _replies(app, count: int) -> list[bytes]:
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    from sqlalchemy import select

    from app.extensions import db
    from app.mail_in import threads
    from app.models import Member, Ticket
    from app.tenancy import UNSCOPED, account_scope
    from tests.mail_replies import png

    image = png(8, 8, padding=ATTACHMENT_KB * 1024)
    app.config["INBOUND_MAIL_DOMAIN"] = DOMAIN
    with app.app_context(), account_scope(UNSCOPED):
        tickets = db.session.execute(select(Ticket.id, Ticket.requester_id)
                                     .order_by(Ticket.id)).all()
        emails = {m.id: m.email for m in db.session.scalars(select(Member))}
        raws = []
        for index in range(count):
            ticket_id, requester_id = tickets[index % len(tickets)]
            msg = EmailMessage()
            msg["From"] = f"Solicitante <{emails[requester_id]}>"
            msg["To"] = threads.reply_address(ticket_id, requester_id)
            msg["Subject"] = f"Re: [Chamado #{ticket_id}] Chamado de bench"
            msg["Date"] = formatdate(localtime=True)
            msg["Message-ID"] = make_msgid(idstring=str(index), domain="cliente.bench")
            msg.set_content(f"Resposta {index} pelo e-mail.\n\nEm ter., 1 de dez. de 2026 "
                            f"às 10:00, Bench Ltda <nao-responda@gestor.local> escreveu:\n"
                            f"> Chamado de bench\n")
            msg.add_attachment(image, maintype="image", subtype="png",
                               filename=f"print-{index}.png")
            raws.append(msg.as_bytes())
        db.session.remove()
    return raws


def _server_cpu_seconds(master_pid: int) -> float:
    """User + system CPU seconds of gunicorn's master and workers so far (/proc), so
    that the figure can be read apart from what else the machine is running."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == master_pid or int(fields[1]) == master_pid:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def _post_all(port: int, raws: list[bytes], clients: int) -> tuple[dict, float]:
    codes: dict[int, int] = {}
    lock = threading.Lock()
    queue = list(enumerate(raws))

    def work():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if not queue:
                    break
                _, raw = queue.pop()
            connection.request("POST", "/api/v1/inbound-mail", body=raw, headers={
                "Authorization": f"Bearer {TOKEN}", "Content-Type": "message/rfc822"})
            response = connection.getresponse()
            response.read()
            with lock:
                codes[response.status] = codes.get(response.status, 0) + 1
        connection.close()

    workers = [threading.Thread(target=work) for _ in range(clients)]
    started = time.perf_counter()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return codes, time.perf_counter() - started


def run(app, database_url: str, folder: str, *, replies: int, clients: int = 4,
        workers: int = 2, backend: str = "sqlite") -> bool:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Attachment, TicketMessage
    from app.tenancy import UNSCOPED, account_scope
    from tests.pgserver import free_port

    _assign_tickets(app)
    raws = _replies(app, replies)
    port = free_port()
    server = _start(database_url, os.path.join(folder, "uploads"), port, workers)
    try:
        _post_all(port, raws[:1], 1)            # warm-up: first imports of each worker
        cpu_before = _server_cpu_seconds(server.pid)
        codes, elapsed = _post_all(port, raws[1:], clients)
        cpu = _server_cpu_seconds(server.pid) - cpu_before
    finally:
        server.terminate()
        server.wait(timeout=30)
    with app.app_context(), account_scope(UNSCOPED):
        messages = db.session.scalar(select(func.count()).select_from(TicketMessage))
        files = db.session.scalar(select(func.count()).select_from(Attachment))
        db.session.remove()
    taken = len(raws) - 1
    size = sum(len(r) for r in raws) / len(raws) / 1024
    print(f"intake: {taken} replies ({size:.0f} KB each, a {ATTACHMENT_KB} KB PNG) through "
          f"POST /api/v1/inbound-mail in {elapsed:.2f} s = {taken / elapsed:.0f} replies/s "
          f"({backend}, gunicorn -w {workers}, {clients} clients; answers {codes}; "
          f"messages {messages}, files {files})", flush=True)
    cores = os.cpu_count() or 1
    per_reply = cpu / taken * 1000
    print(f"intake: server CPU {per_reply:.1f} ms per reply; with the server alone on "
          f"these {cores} cores that is at most {cores * 1000 / per_reply:.0f} replies/s "
          f"(load average now {os.getloadavg()[0]:.1f})", flush=True)
    ok = codes == {202: taken} and messages == files == len(raws)
    if not ok:
        print("ERRO: nem toda resposta virou exatamente uma mensagem com seu arquivo",
              file=sys.stderr)
    return ok
