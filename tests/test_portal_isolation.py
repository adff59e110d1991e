"""Nobody reaches a ticket, message or file they may not see through the portals: another
requester's, another department's, another account's, or a file under the wrong ticket.
Every such path answers 404 (never 403, which would confirm the id exists) and changes
nothing."""
import io

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Attachment, Survey, Ticket, TicketEvent, TicketMessage
from app.tenancy import UNSCOPED, account_scope
from tests.helpers import load_ticket, make_ticket
from tests.test_portals import png_bytes


def rows(app) -> dict:
    with app.app_context(), account_scope(UNSCOPED):
        result = {m.__name__: db.session.scalar(select(func.count()).select_from(m))
                  for m in (Ticket, TicketEvent, TicketMessage, Attachment, Survey)}
        db.session.remove()
    return result


def ticket_with_file(app, web, world, username="alfa_requester", state=None):
    """A ticket opened through the form with a file; returns (ticket id, attachment id)."""
    client = web(username)
    response = client.post("/cliente/abrir", content_type="multipart/form-data", data={
        "department_id": str(world.departments["TI"]),
        "service_id": str(world.services["Acesso"]), "priority": "medium",
        "description": "Com anexo", "file": (io.BytesIO(png_bytes()), "segredo.png")})
    assert response.status_code == 302
    ticket_id = int(response.headers["Location"].rsplit("/", 1)[1])
    with app.app_context(), account_scope(UNSCOPED):
        file_id = db.session.scalar(select(Attachment.id).where(
            Attachment.ticket_id == ticket_id))
        db.session.remove()
    return ticket_id, file_id


def every_path(ticket_id, file_id):
    """(method, url, data) for each portal route that names a ticket."""
    return [
        ("get", f"/chamados/{ticket_id}", None),
        ("get", f"/chamados/{ticket_id}/anexos/{file_id}", None),
        ("post", f"/chamados/{ticket_id}/mensagens", {"body": "intruso"}),
        ("post", f"/chamados/{ticket_id}/pesquisa", {"score": "1"}),
        *[("post", f"/chamados/{ticket_id}/acao/{a}", {"note": "intruso"})
          for a in ("assume", "start", "conclude", "approve", "reject", "cancel")],
    ]


def assert_404_everywhere(app, client, ticket_id, file_id):
    before = rows(app)
    for method, url, data in every_path(ticket_id, file_id):
        response = getattr(client, method)(url, data=data)
        if response.status_code == 403:
            # a profile without the screen's permission at all (a manager has no
            # "message" permission): the same answer for any id, so nothing leaks
            ghost = url.replace(f"/{ticket_id}", "/999999", 1)
            assert getattr(client, method)(ghost, data=data).status_code == 403
            continue
        assert response.status_code == 404, (url, response.status_code)
        text = response.get_data(as_text=True)
        assert "Chamado não encontrado" in text
        assert "Com anexo" not in text and "segredo" not in text
    assert rows(app) == before


def test_another_requesters_ticket_is_404_on_every_path(app, web, world):
    ticket_id, file_id = ticket_with_file(app, web, world)
    assert_404_everywhere(app, web("alfa_requester2"), ticket_id, file_id)
    assert load_ticket(app, world, ticket_id)["status"] == "open"


def test_attendant_of_another_department_is_404_on_every_path(app, web, world):
    ticket_id, file_id = ticket_with_file(app, web, world)
    client = web("alfa_attendant_other")
    assert_404_everywhere(app, client, ticket_id, file_id)
    queue = client.get("/atendente/fila").get_data(as_text=True)
    assert f'data-ticket="{ticket_id}"' not in queue


@pytest.mark.parametrize("intruder", ["beta_requester", "beta_attendant", "beta_manager",
                                      "beta_admin"])
def test_another_accounts_ticket_is_404_on_every_path(app, web, world, other_world, intruder):
    ticket_id, file_id = ticket_with_file(app, web, world)
    client = web(intruder)
    assert_404_everywhere(app, client, ticket_id, file_id)
    for url in ("/chamados/", "/cliente/chamados", "/atendente/fila", "/atendente/meus"):
        response = client.get(url)
        if response.status_code == 200:
            assert f'data-ticket="{ticket_id}"' not in response.get_data(as_text=True)


def test_attachment_under_the_wrong_ticket_is_404(app, web, world):
    """Both tickets are the requester's own, yet /chamados/<a>/anexos/<file of b> is 404."""
    first, first_file = ticket_with_file(app, web, world)
    second, second_file = ticket_with_file(app, web, world)
    client = web("alfa_requester")
    assert client.get(f"/chamados/{first}/anexos/{first_file}").status_code == 200
    assert client.get(f"/chamados/{first}/anexos/{second_file}").status_code == 404
    assert client.get(f"/chamados/{second}/anexos/{first_file}").status_code == 404
    assert client.get(f"/chamados/{first}/anexos/999999").status_code == 404


def test_another_accounts_attachment_under_my_ticket_is_404(app, web, world, other_world):
    mine, _ = ticket_with_file(app, web, world)
    _, theirs = ticket_with_file(app, web, other_world, username="beta_requester")
    response = web("alfa_requester").get(f"/chamados/{mine}/anexos/{theirs}")
    assert response.status_code == 404
    assert b"\x89PNG" not in response.data


def test_message_file_is_downloadable_only_by_who_sees_the_ticket(app, web, world):
    ticket_id = make_ticket(app, world, "in_progress")
    attendant = web("alfa_attendant")
    response = attendant.post(f"/chamados/{ticket_id}/mensagens",
                              content_type="multipart/form-data",
                              data={"body": "", "file": (io.BytesIO(png_bytes()), "r.png")})
    assert response.status_code == 302
    with app.app_context(), account_scope(world.account_id):
        file_id = db.session.scalar(select(Attachment.id))
        db.session.remove()
    url = f"/chamados/{ticket_id}/anexos/{file_id}"
    for username in ("alfa_requester", "alfa_attendant", "alfa_attendant2", "alfa_manager",
                     "alfa_admin"):
        assert web(username).get(url).status_code == 200, username
    for username in ("alfa_requester2", "alfa_attendant_other"):
        assert web(username).get(url).status_code == 404, username


def test_unknown_ticket_is_404(app, web, world):
    client = web("alfa_requester")
    assert client.get("/chamados/999999").status_code == 404
    assert client.post("/chamados/999999/acao/cancel", data={"note": "x"}).status_code == 404


def test_assignee_keeps_seeing_the_ticket_after_leaving_the_department(app, web, world):
    """visible_tickets lets an assignee see their own ticket even if moved elsewhere."""
    from app import structure

    ticket_id = make_ticket(app, world, "in_progress")
    with app.app_context(), account_scope(world.account_id):
        from app.models import Department

        structure.save_department(db.session.get(Department, world.departments["TI"]), {
            "name": "TI", "attendant_ids": [world.users["attendant2"]]})
        db.session.remove()
    client = web("alfa_attendant")
    assert client.get(f"/chamados/{ticket_id}").status_code == 200
    assert f'data-ticket="{ticket_id}"' not in client.get("/atendente/fila").get_data(
        as_text=True)


def test_tab_badges_count_only_the_callers_account(app, web, world, other_world):
    """The tab counters are one SQL statement of subqueries: the tenancy criteria must
    reach inside them."""
    import re

    from tests.helpers import make_ticket

    for _ in range(3):
        make_ticket(app, other_world)
    make_ticket(app, world)
    html = web("alfa_manager").get("/chamados/").get_data(as_text=True)
    badges = [int(n) for n in re.findall(r'<span class="badge">(\d+)</span>', html)]
    assert badges and badges[0] == 1, badges
    queue = web("alfa_attendant").get("/atendente/fila").get_data(as_text=True)
    assert [int(n) for n in re.findall(r'<span class="badge">(\d+)</span>', queue)][0] == 1
