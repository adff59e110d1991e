"""A real SMTP server on loopback for the notification tests (aiosmtpd).

``SmtpTestServer`` keeps one port for its whole life and can be:

* ``start()``-ed / ``stop()``-ped (stopped = connection refused),
* told to answer every DATA with ``421`` or ``550`` (``answer = "421"``),
* told to hang after accepting a message's DATA (``answer = "hang"``), or
* replaced by a "black hole" that accepts TCP connections and never says a word
  (``blackhole()``): the greeting never comes.

Received mails are in ``messages`` (envelope and parsed message). The ``smtp`` fixture
points the app's mail settings at it (1 s socket timeout) and stops it afterwards. The
helpers at the end drive the workflow, read the outbox and run the sender.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import email
import socket
import threading
import time
from email import policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import select

from app import mailer, workflow
from app.extensions import db
from app.models import EVENTS, RECIPIENTS, Member, NotificationSetting, OutboxMail, Ticket
from app.tenancy import UNSCOPED, account_scope
from tests.pgserver import free_port

ANSWERS = {
    "421": "421 4.3.2 Servico temporariamente indisponivel",
    "550": "550 5.7.1 Mensagem recusada",
}


class _Handler:
    def __init__(self, server: "SmtpTestServer"):
        self.server = server

    async def handle_DATA(self, smtp, session, envelope):
        answer = self.server.answer
        if self.server.delay_seconds:  # a slow but working server: drains take time
            await asyncio.sleep(self.server.delay_seconds)
        if answer == "hang":
            await asyncio.sleep(self.server.hang_seconds)
            return "451 4.3.0 tarde demais"
        if answer in ANSWERS:
            return ANSWERS[answer] + self.server.answer_suffix
        parsed = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.server.lock:
            self.server.messages.append({
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "raw": envelope.content,
                "message": parsed,
            })
        return "250 OK"


class SmtpTestServer:
    def __init__(self, port: int | None = None, *, username: str | None = None,
                 password: str | None = None):
        self.port = port or free_port()
        self.messages: list[dict] = []
        self.lock = threading.Lock()
        self.answer = "accept"
        self.answer_suffix = ""
        self.hang_seconds = 30.0
        self.delay_seconds = 0.0
        self.username, self.password = username, password
        self.controller: Controller | None = None
        self._hole: socket.socket | None = None
        self._hole_conns: list[socket.socket] = []
        self._hole_thread: threading.Thread | None = None

    # --- life cycle ---------------------------------------------------------------
    def start(self) -> "SmtpTestServer":
        self._close_hole()
        kwargs = {}
        if self.username:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        for _ in range(50):  # the port may linger for a moment after a stop
            try:
                self.controller = Controller(_Handler(self), hostname="127.0.0.1",
                                             port=self.port, ready_timeout=5, **kwargs)
                self.controller.start()
                return self
            except Exception:
                self.controller = None
                time.sleep(0.1)
        raise RuntimeError(f"could not start SMTP on port {self.port}")

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
        self._close_hole()

    def blackhole(self) -> None:
        """Accept TCP connections on the port and never answer (no greeting)."""
        self.stop()
        hole = socket.socket()
        hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hole.bind(("127.0.0.1", self.port))
        hole.listen(64)
        hole.settimeout(0.2)
        self._hole = hole

        def accept_forever():
            while self._hole is hole:
                try:
                    conn, _ = hole.accept()
                except (socket.timeout, OSError):
                    continue
                self._hole_conns.append(conn)

        self._hole_thread = threading.Thread(target=accept_forever, daemon=True)
        self._hole_thread.start()

    def _close_hole(self) -> None:
        hole, self._hole = self._hole, None
        if hole is not None:
            if self._hole_thread is not None:
                self._hole_thread.join(2)
            hole.close()
        for conn in self._hole_conns:
            conn.close()
        self._hole_conns.clear()

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (getattr(auth_data, "login", b"") == (self.username or "").encode()
              and getattr(auth_data, "password", b"") == (self.password or "").encode())
        return AuthResult(success=ok)

    # --- what arrived -------------------------------------------------------------
    def received(self) -> list[dict]:
        with self.lock:
            return list(self.messages)

    def recipients(self) -> list[str]:
        return sorted(r for m in self.received() for r in m["rcpt_tos"])

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()


@pytest.fixture
def smtp(app, monkeypatch):
    """A started loopback SMTP server with the app's mail settings pointing at it."""
    server = SmtpTestServer().start()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", server.port)
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT_SECONDS", 1.0)
    monkeypatch.setitem(app.config, "MAIL_USERNAME", None)
    monkeypatch.setitem(app.config, "MAIL_PASSWORD", None)
    monkeypatch.setitem(app.config, "MAIL_USE_TLS", False)
    monkeypatch.setitem(app.config, "MAIL_USE_SSL", False)
    monkeypatch.setitem(app.config, "MAIL_SUPPRESS_SEND", False)
    try:
        yield server
    finally:
        server.stop()


# --- helpers of the notification tests: settings, the outbox, the sender -------------


def set_all(app, world, recipients=RECIPIENTS, enabled=True, events=EVENTS) -> None:
    """Give every event of ``world``'s account the same recipients."""
    with app.app_context(), account_scope(world.account_id):
        for row in db.session.scalars(select(NotificationSetting)):
            if row.event in events:
                row.enabled = enabled
                for r in RECIPIENTS:
                    setattr(row, f"to_{r}", r in recipients)
        db.session.commit()
        db.session.remove()


def drain(app, now: dt.datetime | None = None, **kwargs) -> dict:
    with app.app_context():
        try:
            return mailer.send_due(now, **kwargs)
        finally:
            db.session.remove()


def later(seconds: float) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)


def outbox(app) -> list[dict]:
    with app.app_context(), account_scope(UNSCOPED):
        rows = db.session.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()
        data = [{c.name: getattr(r, c.name) for c in OutboxMail.__table__.columns}
                for r in rows]
        db.session.remove()
    return data


def emails(app, world, *keys) -> set[str]:
    with app.app_context(), account_scope(world.account_id):
        result = {db.session.get(Member, world.users[k]).email for k in keys}
        db.session.remove()
    return result


def act(app, world, ticket_id, action, who, note=None):
    with app.app_context(), account_scope(world.account_id):
        actor = db.session.get(Member, world.users[who])
        ticket = db.session.get(Ticket, ticket_id)
        if action == "message":
            workflow.post_message(ticket, actor, note or "Uma mensagem.")
        elif action == "survey":
            workflow.fill_survey(ticket, actor, 4, note)
        else:
            workflow.apply(ticket, action, actor, note=note)
        db.session.remove()


def event_of(message) -> str:
    """The event of a received mail, from its Message-ID (built from the outbox key)."""
    return message["Message-ID"].strip("<>").split(".", 1)[0]


def by_event(server) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for item in server.received():
        result.setdefault(event_of(item["message"]), []).extend(item["rcpt_tos"])
    return {k: sorted(v) for k, v in result.items()}
