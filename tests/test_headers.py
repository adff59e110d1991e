"""Security headers (app/headers.py): HSTS only under APP_ENV=production; a per-request
script nonce, no 'unsafe-inline' / 'unsafe-eval' for scripts, and every inline script
of a server-rendered page carrying that nonce (the browser test proves they run)."""
import re

import pytest

from tests.conftest import test_config as config_for
from tests.helpers import make_ticket

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)([^>]*)>", re.I)


def _script_src(response) -> str:
    csp = response.headers["Content-Security-Policy"]
    return next(d.strip() for d in csp.split(";") if d.strip().startswith("script-src"))


def test_hsts_only_in_production(app, database_url, tmp_path):
    from app import create_app

    assert "Strict-Transport-Security" not in app.test_client().get("/health").headers
    production = create_app(dict(config_for(database_url, str(tmp_path)),
                                 APP_ENV="production"))
    response = production.test_client().get("/login/")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


@pytest.mark.parametrize("username, paths", [
    (None, ["/", "/login/", "/cadastro/", "/senha/esqueci"]),
    ("alfa_requester", ["/cliente/abrir", "/cliente/chamados", "/chamados/1", "/perfil/"]),
    ("alfa_attendant", ["/atendente/fila", "/chamados/1"]),
    ("alfa_admin", ["/memberview/list/", "/memberview/add", "/sectorview/list/", "/conta/",
                    "/notificacoes/", "/painel/", "/swagger/v1"]),
])
def test_every_inline_script_carries_the_requests_nonce(app, world, web, username, paths):
    make_ticket(app, world, "in_progress")
    client = web(username) if username else app.test_client()
    nonces = set()
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        script_src = _script_src(response)
        assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
        nonce = re.search(r"'nonce-([^']+)'", script_src).group(1)
        nonces.add(nonce)
        for attributes in INLINE_SCRIPT.findall(response.get_data(as_text=True)):
            if "application/json" in attributes:
                continue   # data, never executed
            assert f'nonce="{nonce}"' in attributes, (path, attributes)
    assert len(nonces) == len(paths)   # a new nonce per response


def test_downloads_keep_their_sandbox_policy(app, world, api):
    import io

    from tests.test_portals import png_bytes

    client = api(world.users["requester"])
    response = client.client.post("/api/v1/ticket/", data={
        "department_id": str(world.departments["TI"]),
        "service_id": str(world.services["Acesso"]), "priority": "low",
        "description": "Print", "file": (io.BytesIO(png_bytes()), "p.png")},
        content_type="multipart/form-data", headers=client._headers())
    file_id = response.json["result"]["attachments"][0]["id"]
    download = client.get(f"/api/v1/attachment/{file_id}")
    assert "sandbox" in download.headers["Content-Security-Policy"]
