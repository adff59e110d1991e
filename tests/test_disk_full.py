"""Disk full on upload (HOSTILE.md "Faults"), with a real write failure: the app runs in
a process whose files cannot grow past a limit (tests/limited_server.py), so the
kernel refuses the upload's bytes. The requester gets a clear Portuguese message,
nothing is half-written (no ticket, no file, no temp file), and reads and small uploads
keep working."""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Attachment, Ticket
from app.tenancy import UNSCOPED, account_scope
from tests.conftest import token_for
from tests.pgserver import free_port

MB = 1024 * 1024
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def limited_server(app):
    """limited_server(limit) -> (base_url, limit): the app served by a process whose
    files cannot grow past ``limit`` bytes above what the SQLite database file already
    takes."""
    processes = []

    def start(limit: int):
        url = app.config["SQLALCHEMY_DATABASE_URI"]
        if url.startswith("sqlite:///"):
            path = url[len("sqlite:///"):]
            limit += max(os.path.getsize(p) for p in (path, path + "-wal")
                         if os.path.exists(p))
        process = _serve(app, url, limit)
        processes.append(process[0])
        return process[1], limit

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def _serve(app, url: str, limit: int):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "tests", "limited_server.py"), url,
         app.config["UPLOAD_FOLDER"], str(port), str(limit)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout.readline().strip() == "ready"
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 20
    while True:
        try:
            urllib.request.urlopen(base + "/health", timeout=2)
            return process, base
        except OSError:
            if time.time() > deadline:
                process.kill()
                raise
            time.sleep(0.2)




def post_ticket(base, token, world, content: bytes):
    boundary = uuid.uuid4().hex
    fields = {"department_id": world.departments["TI"], "service_id": world.services["Acesso"],
              "priority": "medium", "description": "Planilha do fechamento."}
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items())
    body += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
             f'filename="fechamento.csv"\r\nContent-Type: text/csv\r\n\r\n').encode()
    body += content + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        base + "/api/v1/ticket/", data=body, method="POST",
        headers={"Authorization": f"Bearer {token}",
                 "Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def csv_bytes(size: int) -> bytes:
    line = b"conta;descricao;valor\n1;fornecedor;10,50\n"
    return (line * (size // len(line) + 1))[:size]


def counts(app):
    with app.app_context(), account_scope(UNSCOPED):
        result = (db.session.scalar(select(func.count()).select_from(Ticket)),
                  db.session.scalar(select(func.count()).select_from(Attachment)))
        db.session.remove()
    return result


def test_disk_full_while_receiving_the_upload_is_a_clear_message(app, world, limited_server):
    """A large file is spooled to a temporary file while the form is parsed: the disk
    refuses it there."""
    base, limit = limited_server(2 * MB)
    token = token_for(app, world.users["requester"])
    folder = app.config["UPLOAD_FOLDER"]

    status, text = post_ticket(base, token, world, csv_bytes(limit + MB))
    assert status == 400, (status, text)
    assert json.loads(text) == {"message": "Não foi possível salvar o arquivo. Tente novamente."}
    assert counts(app) == (0, 0)
    assert os.listdir(folder) == []                 # no file, no temp file left behind

    listed = urllib.request.urlopen(urllib.request.Request(
        base + "/api/v1/ticket/", headers={"Authorization": f"Bearer {token}"}), timeout=10)
    assert listed.status == 200                     # reads keep working

    status, text = post_ticket(base, token, world, csv_bytes(100 * 1024))
    assert status == 201, text                      # and so do uploads that fit
    assert counts(app) == (1, 1) and len(os.listdir(folder)) == 1


def test_disk_full_while_storing_the_upload_is_a_clear_message(app, world, backend,
                                                               limited_server):
    """A file under Werkzeug's 500 KB in-memory threshold is parsed without touching the
    disk; the disk refuses it when app.attachments writes it to the upload folder."""
    if backend == "sqlite":
        pytest.skip("the SQLite file itself is larger than the limit this case needs; "
                    "PostgreSQL writes in its own, unlimited process")
    base, limit = limited_server(300 * 1024)
    token = token_for(app, world.users["requester"])
    folder = app.config["UPLOAD_FOLDER"]

    status, text = post_ticket(base, token, world, csv_bytes(450 * 1024))
    assert status == 400, (status, text)
    assert json.loads(text) == {"field": "file",
                                "message": "Não foi possível salvar o arquivo. Tente novamente."}
    assert counts(app) == (0, 0) and os.listdir(folder) == []

    status, text = post_ticket(base, token, world, csv_bytes(100 * 1024))
    assert status == 201, text
    assert counts(app) == (1, 1) and len(os.listdir(folder)) == 1
