"""Attachments on S3-compatible object storage (issue 12, item 4), against a real S3
server on loopback (moto's standalone server, tests/s3server.py) through boto3.

Two app instances share the database and one bucket but each has its own local folder,
as two hosts behind a load balancer would: a file uploaded through either downloads
from both, only through the ticket's checks, streamed. A put that fails leaves no row,
a commit that fails leaves no object, an unreachable storage answers in Portuguese and
writes nothing, and ``flask storage migrate`` copies existing files both ways.
"""
from __future__ import annotations

import hashlib
import io
import os
import tracemalloc

import pytest
from sqlalchemy import func, select, text

from app.extensions import db
from app.models import Attachment, Ticket
from app.tenancy import UNSCOPED, account_scope
from tests.conftest import login_browser_client, token_for
from tests.conftest import test_config as app_config
from tests.pgserver import free_port
from tests.s3server import empty, keys

MSG_SAVE = "Não foi possível salvar o arquivo. Tente novamente."
UNAVAILABLE = ("O armazenamento de arquivos está indisponível no momento. Tente novamente "
               "em instantes.")


def csv_bytes(size: int, seed: str = "a") -> bytes:
    line = f"conta;descricao;valor\n1;fornecedor {seed};10,50\n".encode()
    return (line * (size // len(line) + 1))[:size]


@pytest.fixture(scope="module")
def hosts(app, s3_server, tmp_path_factory):
    """make(name, **settings) -> an app instance on the shared database, with its own
    local folder and the S3 settings given (cached per name); ``bucket`` is this
    module's own bucket, emptied after every test."""
    from app import create_app

    client = s3_server.client()
    bucket = s3_server.new_bucket(client)
    made = {}

    def make(name: str, **settings):
        if name not in made:
            folder = str(tmp_path_factory.mktemp(f"host-{name}"))
            made[name] = create_app({
                **app_config(app.config["SQLALCHEMY_DATABASE_URI"], folder),
                **s3_server.config(bucket), **settings})
        return made[name]

    make.bucket, make.client = bucket, client
    return make


@pytest.fixture
def two(hosts, world):
    """Two hosts on one bucket; the bucket and their folders are emptied afterwards."""
    yield hosts("a"), hosts("b")
    empty(hosts.client, hosts.bucket)
    for host in (hosts("a"), hosts("b")):
        folder = host.config["UPLOAD_FOLDER"]
        for name in os.listdir(folder):
            os.remove(os.path.join(folder, name))


def down_host(hosts):
    """A host whose object storage does not answer (nothing listens on its port)."""
    return hosts("down", S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",
                 S3_MAX_ATTEMPTS=1, S3_CONNECT_TIMEOUT_SECONDS=1)


def post_ticket(host, user_id, content: bytes, name: str, world):
    token = token_for(host, user_id)
    data = {"department_id": str(world.departments["TI"]),
            "service_id": str(world.services["Acesso"]), "priority": "medium",
            "description": "Planilha do fechamento.", "file": (io.BytesIO(content), name)}
    return host.test_client().post("/api/v1/ticket/", data=data,
                                   content_type="multipart/form-data",
                                   headers={"Authorization": f"Bearer {token}"})


def get_api(host, user_id, url, **kw):
    return host.test_client().get(
        url, headers={"Authorization": f"Bearer {token_for(host, user_id)}"}, **kw)


def counts(host):
    with host.app_context(), account_scope(UNSCOPED):
        result = (db.session.scalar(select(func.count()).select_from(Ticket)),
                  db.session.scalar(select(func.count()).select_from(Attachment)))
        db.session.remove()
    return result


def rows(host):
    with host.app_context(), account_scope(UNSCOPED):
        found = [(r.id, r.ticket_id, r.stored_name, r.size)
                 for r in db.session.scalars(select(Attachment).order_by(Attachment.id))]
        db.session.remove()
    return found


def object_bytes(hosts, stored_name: str) -> bytes:
    return hosts.client.get_object(Bucket=hosts.bucket, Key=stored_name)["Body"].read()


def listing(folder: str) -> list[str]:
    return sorted(os.listdir(folder))


# ------------------------------------------------------------------ shared storage


def test_a_file_uploaded_through_either_host_downloads_from_both(two, hosts, world):
    a, b = two
    requester = world.users["requester"]
    content = csv_bytes(200 * 1024)
    response = post_ticket(a, requester, content, "fechamento.csv", world)
    assert response.status_code == 201, response.json
    attachment_id = response.json["result"]["attachments"][0]["id"]
    [(row_id, ticket_id, stored_name, size)] = rows(a)
    assert (row_id, size) == (attachment_id, len(content))
    assert keys(hosts.client, hosts.bucket) == [stored_name]      # in the bucket...
    assert object_bytes(hosts, stored_name) == content
    assert listing(a.config["UPLOAD_FOLDER"]) == []               # ...not on A's disk

    # B never saw the upload: it serves it from the bucket, by the API and by the page.
    api_download = get_api(b, requester, f"/api/v1/attachment/{attachment_id}")
    assert api_download.status_code == 200
    assert api_download.data == content
    assert api_download.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert api_download.headers["Content-Length"] == str(len(content))
    assert api_download.headers["Content-Disposition"] == "attachment; filename=fechamento.csv"
    assert api_download.headers["X-Content-Type-Options"] == "nosniff"
    assert api_download.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert api_download.headers["Cache-Control"] == "private, no-store"
    page = login_browser_client(b, "alfa_requester").get(
        f"/chamados/{ticket_id}/anexos/{attachment_id}")
    assert page.status_code == 200 and page.data == content

    # And the other way: through B's "Abrir chamado" page, downloaded from A.
    photo = csv_bytes(3000, "b")
    web_b = login_browser_client(b, "alfa_requester")
    opened = web_b.post("/cliente/abrir", data={
        "department_id": world.departments["TI"], "service_id": world.services["Acesso"],
        "priority": "low", "subject": "", "description": "Extrato em anexo.",
        "file": (io.BytesIO(photo), "extrato de março.csv")},
        content_type="multipart/form-data")
    assert opened.status_code == 302, opened.data[:500]
    second = rows(b)[1]
    assert sorted(keys(hosts.client, hosts.bucket)) == sorted([stored_name, second[2]])
    assert listing(b.config["UPLOAD_FOLDER"]) == []
    from_a = login_browser_client(a, "alfa_requester").get(
        f"/chamados/{second[1]}/anexos/{second[0]}")
    assert from_a.status_code == 200 and from_a.data == photo
    assert "filename*=UTF-8''extrato%20de%20mar%C3%A7o.csv" in from_a.headers[
        "Content-Disposition"]


def test_another_companys_member_gets_404_for_a_file_in_the_bucket(two, world, other_world):
    a, b = two
    response = post_ticket(a, world.users["requester"], csv_bytes(5000), "dados.csv", world)
    attachment_id = response.json["result"]["attachments"][0]["id"]
    ticket_id = response.json["result"]["id"]
    for user in ("requester", "admin", "attendant"):
        assert get_api(b, other_world.users[user],
                       f"/api/v1/attachment/{attachment_id}").status_code == 404
    for username in ("beta_requester", "beta_admin"):
        page = login_browser_client(b, username).get(
            f"/chamados/{ticket_id}/anexos/{attachment_id}")
        assert page.status_code == 404
        assert b"conta;descricao" not in page.data
    # The owner's second ticket cannot fetch it as its child either.
    other = post_ticket(a, world.users["requester"], csv_bytes(10), "x.csv", world)
    wrong_parent = login_browser_client(b, "alfa_requester").get(
        f"/chamados/{other.json['result']['id']}/anexos/{attachment_id}")
    assert wrong_parent.status_code == 404


def test_a_download_is_streamed_in_chunks_not_loaded_whole(two, world):
    a, b = two
    content = csv_bytes(6 * 1024 * 1024, "grande")
    response = post_ticket(a, world.users["requester"], content, "grande.csv", world)
    assert response.status_code == 201, response.json
    attachment_id = response.json["result"]["attachments"][0]["id"]
    token = token_for(b, world.users["requester"])
    client = b.test_client()
    tracemalloc.start()
    try:
        download = client.get(f"/api/v1/attachment/{attachment_id}", buffered=False,
                              headers={"Authorization": f"Bearer {token}"})
        digest, received, largest = hashlib.sha256(), 0, 0
        tracemalloc.reset_peak()
        for chunk in download.response:
            digest.update(chunk)
            received += len(chunk)
            largest = max(largest, len(chunk))
        download.close()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert download.status_code == 200
    assert received == len(content)
    assert digest.hexdigest() == hashlib.sha256(content).hexdigest()
    assert largest <= 64 * 1024
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes while streaming a 6 MB file"


def test_over_real_http_both_hosts_serve_the_same_bytes(two, world):
    """The WSGI path a server takes (a streamed body closed at the end), on loopback."""
    import threading
    import urllib.request

    from werkzeug.serving import make_server

    a, b = two
    content = csv_bytes(300 * 1024, "http")
    response = post_ticket(a, world.users["requester"], content, "http.csv", world)
    attachment_id = response.json["result"]["attachments"][0]["id"]
    for host in (a, b):
        server = make_server("127.0.0.1", 0, host, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            request = urllib.request.Request(
                f"http://127.0.0.1:{server.server_port}/api/v1/attachment/{attachment_id}",
                headers={"Authorization": f"Bearer {token_for(host, world.users['requester'])}"})
            with urllib.request.urlopen(request, timeout=30) as answer:
                assert answer.status == 200
                assert answer.headers["Content-Length"] == str(len(content))
                assert answer.read() == content
        finally:
            server.shutdown()
            thread.join(timeout=10)


# ------------------------------------------------------------------ faults


@pytest.mark.parametrize("fault", ["storage down", "bucket missing"])
def test_a_failed_put_leaves_no_row_no_object_and_no_temp_file(hosts, two, world, fault):
    broken = (down_host(hosts) if fault == "storage down"
              else hosts("no-bucket", S3_BUCKET=hosts.bucket + "-inexistente"))
    response = post_ticket(broken, world.users["requester"], csv_bytes(4000), "a.csv", world)
    assert response.status_code == 400
    assert response.json == {"field": "file", "message": MSG_SAVE}
    assert counts(broken) == (0, 0)
    assert keys(hosts.client, hosts.bucket) == []
    assert listing(broken.config["UPLOAD_FOLDER"]) == []

    page = login_browser_client(broken, "alfa_requester").post("/cliente/abrir", data={
        "department_id": world.departments["TI"], "service_id": world.services["Acesso"],
        "priority": "low", "subject": "", "description": "Com anexo.",
        "file": (io.BytesIO(csv_bytes(10)), "b.csv")}, content_type="multipart/form-data")
    assert page.status_code == 400
    assert MSG_SAVE in page.get_data(as_text=True)
    assert counts(broken) == (0, 0)
    assert listing(broken.config["UPLOAD_FOLDER"]) == []


def test_a_failed_commit_leaves_no_object(two, hosts, world, backend, monkeypatch):
    """The database refuses the attachment's row (a real trigger), after the object was
    put: the object is deleted again, and no ticket or row remains."""
    a, _ = two
    with a.app_context():
        with db.engine.begin() as conn:
            if backend == "postgresql":
                conn.execute(text(
                    "CREATE FUNCTION refuse_attachment() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'anexo recusado'; END $$ LANGUAGE plpgsql"))
                conn.execute(text(
                    "CREATE TRIGGER refuse_attachment BEFORE INSERT ON attachment "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_attachment()"))
            else:
                conn.execute(text(
                    "CREATE TRIGGER refuse_attachment BEFORE INSERT ON attachment "
                    "BEGIN SELECT RAISE(ABORT, 'anexo recusado'); END"))
        db.session.remove()
    puts = []
    storage = a.extensions["attachment_storage"]
    original = storage.put_file
    monkeypatch.setattr(storage, "put_file",
                        lambda key, path: puts.append(key) or original(key, path))
    monkeypatch.setitem(a.config, "PROPAGATE_EXCEPTIONS", False)
    try:
        response = post_ticket(a, world.users["requester"], csv_bytes(3000), "c.csv", world)
    finally:
        with a.app_context():
            with db.engine.begin() as conn:
                conn.execute(text("DROP TRIGGER refuse_attachment"
                                  + (" ON attachment" if backend == "postgresql" else "")))
                if backend == "postgresql":
                    conn.execute(text("DROP FUNCTION refuse_attachment()"))
            db.session.remove()
    assert response.status_code == 500
    assert len(puts) == 1                    # the object was put before the row...
    assert keys(hosts.client, hosts.bucket) == []        # ...and removed when it failed
    assert counts(a) == (0, 0)
    assert listing(a.config["UPLOAD_FOLDER"]) == []


def test_storage_down_answers_in_portuguese_and_reads_keep_working(two, hosts, world):
    a, _ = two
    response = post_ticket(a, world.users["requester"], csv_bytes(2000), "d.csv", world)
    attachment_id = response.json["result"]["attachments"][0]["id"]
    ticket_id = response.json["result"]["id"]
    down = down_host(hosts)

    api_download = get_api(down, world.users["requester"], f"/api/v1/attachment/{attachment_id}")
    assert api_download.status_code == 503
    assert api_download.json == {"message": UNAVAILABLE}
    web = login_browser_client(down, "alfa_requester")
    page = web.get(f"/chamados/{ticket_id}/anexos/{attachment_id}")
    assert page.status_code == 503
    assert UNAVAILABLE in page.get_data(as_text=True)
    assert "<html" in page.get_data(as_text=True).lower()         # the site's layout
    shown = web.get(f"/chamados/{ticket_id}")
    assert shown.status_code == 200 and "d.csv" in shown.get_data(as_text=True)
    with down.app_context():
        from app import storage

        ok, message = storage.probe()
    assert ok is False and message.startswith("Armazenamento de arquivos (S3) indisponível")

    # A message with a file: refused in Portuguese, no message, no history, no row.
    reply = down.test_client().post(
        f"/api/v1/ticket/{ticket_id}/messages",
        data={"body": "Segue a planilha.", "file": (io.BytesIO(csv_bytes(900)), "m.csv")},
        content_type="multipart/form-data",
        headers={"Authorization": f"Bearer {token_for(down, world.users['requester'])}"})
    assert reply.status_code == 400 and reply.json == {"field": "file", "message": MSG_SAVE}
    assert get_api(a, world.users["requester"],
                   f"/api/v1/ticket/{ticket_id}/messages").json["result"] == []
    assert counts(a) == (1, 1)
    assert listing(down.config["UPLOAD_FOLDER"]) == []


def test_probe_writes_reads_and_deletes_a_small_object(two, hosts, app):
    from app import storage

    a, _ = two
    with a.app_context():
        assert storage.probe() == (True, "ok")
    assert keys(hosts.client, hosts.bucket) == []
    with app.app_context():
        assert storage.probe() == (True, "ok")
    assert listing(app.config["UPLOAD_FOLDER"]) == []


# ------------------------------------------------------------------ migrate


def migrate(host, *args):
    result = host.test_cli_runner().invoke(args=["storage", "migrate", *args])
    return result.exit_code, result.output


def test_migrate_copies_files_both_ways_idempotent_and_resumable(app, two, hosts, world):
    a, b = two
    folder = app.config["UPLOAD_FOLDER"]
    contents = [csv_bytes(1000 + i * 7919, str(i)) for i in range(3)]
    for i, content in enumerate(contents):         # uploaded while files were local
        assert post_ticket(app, world.users["requester"], content, f"{i}.csv",
                           world).status_code == 201
    found = rows(app)
    names = [r[2] for r in found]
    assert listing(folder) == sorted(names) and keys(hosts.client, hosts.bucket) == []

    code, output = migrate(a, "--from", "local", "--to", "s3", "--folder", folder)
    assert code == 0, output
    assert "Copiados: 3; já no destino: 0; ausentes na origem: 0; com erro: 0." in output
    assert keys(hosts.client, hosts.bucket) == sorted(names)
    for (attachment_id, _, name, _), content in zip(found, contents):
        assert object_bytes(hosts, name) == content
        assert get_api(b, world.users["requester"],
                       f"/api/v1/attachment/{attachment_id}").data == content

    code, output = migrate(a, "--from", "local", "--to", "s3", "--folder", folder)
    assert code == 0 and "Copiados: 0; já no destino: 3;" in output        # idempotent

    # A run stopped half-way, and an object left short: the next run mends both.
    hosts.client.delete_object(Bucket=hosts.bucket, Key=names[0])
    hosts.client.put_object(Bucket=hosts.bucket, Key=names[1], Body=contents[1][:100])
    code, output = migrate(a, "--from", "local", "--to", "s3", "--folder", folder)
    assert code == 0 and "Copiados: 2; já no destino: 1;" in output
    assert [object_bytes(hosts, n) for n in names] == contents

    # And back: the local folder lost its files; they come back from the bucket.
    for name in names:
        os.remove(os.path.join(folder, name))
    code, output = migrate(a, "--from", "s3", "--to", "local", "--folder", folder)
    assert code == 0, output
    assert "Copiados: 3; já no destino: 0; ausentes na origem: 0; com erro: 0." in output
    assert listing(folder) == sorted(names)
    for (attachment_id, _, name, _), content in zip(found, contents):
        assert get_api(app, world.users["requester"],
                       f"/api/v1/attachment/{attachment_id}").data == content

    # A file missing from the source is reported and fails the run; the rest is kept.
    os.remove(os.path.join(folder, names[2]))
    hosts.client.delete_object(Bucket=hosts.bucket, Key=names[2])
    code, output = migrate(a, "--from", "s3", "--to", "local", "--folder", folder)
    assert code == 1
    assert f"Ausente na origem: {names[2]}" in output
    assert "Copiados: 0; já no destino: 2; ausentes na origem: 1; com erro: 0." in output


def test_migrate_refuses_a_copy_onto_itself_and_reports_an_unreachable_storage(hosts, two,
                                                                              app, world):
    a, _ = two
    code, output = migrate(a, "--from", "s3", "--to", "s3")
    assert code == 2 and "devem ser armazenamentos diferentes" in output
    post_ticket(app, world.users["requester"], csv_bytes(500), "e.csv", world)
    code, output = migrate(down_host(hosts), "--from", "local", "--to", "s3", "--folder",
                           app.config["UPLOAD_FOLDER"])
    assert code == 1
    assert "com erro: 1." in output and "EndpointConnectionError" in output


# ------------------------------------------------------------------ check


def test_check_finds_rows_without_files_and_deletes_only_old_orphans(two, hosts, world):
    import datetime as dt

    from app import storage
    from app.storage_cli import attachment_files, check

    a, _ = two
    for i in range(2):
        post_ticket(a, world.users["requester"], csv_bytes(700, str(i)), f"{i}.csv", world)
    kept, lost = [r[2] for r in rows(a)]
    hosts.client.delete_object(Bucket=hosts.bucket, Key=lost)
    orphan = "f" * 32                       # put, then its commit and cleanup both failed
    hosts.client.put_object(Bucket=hosts.bucket, Key=orphan, Body=b"x")
    stale = os.path.join(a.config["UPLOAD_FOLDER"], ".upload-crash.part")
    with open(stale, "wb") as out:
        out.write(b"half an upload")

    result = a.test_cli_runner().invoke(args=["storage", "check", "--delete-orphans"])
    assert result.exit_code == 1, result.output
    assert f"Registro sem arquivo (ou com outro tamanho): {lost}" in result.output
    assert "arquivos sem registro: 0 (apagados: 0)" in result.output     # too recent
    assert keys(hosts.client, hosts.bucket) == sorted([kept, orphan])
    assert os.path.exists(stale)

    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
    with a.app_context():
        report = check(storage.current(), attachment_files(), older_than=dt.timedelta(hours=1),
                       delete=True, spool=a.config["UPLOAD_FOLDER"], now=later)
    assert (report.rows, report.without_file, report.orphans, report.deleted,
            report.temp_files) == (2, 1, 1, 1, 1)
    assert keys(hosts.client, hosts.bucket) == [kept]
    assert listing(a.config["UPLOAD_FOLDER"]) == []
