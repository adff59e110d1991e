"""Área do Cliente, Área do Atendente and the shared ticket page, through the real login
form: opening (with and without a file), lists, every action as a POST, refusals that
flash a Portuguese message and change nothing, read-only pages for managers, downloads,
escaping of user text, and a constant number of queries per list page."""
import datetime as dt
import io
import re
import struct
import zlib

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import Account, Attachment, Survey, Ticket, TicketEvent, TicketMessage
from app.tenancy import UNSCOPED, account_scope
from app.views.lists import COUNT_CAP
from tests.helpers import count_queries, load_ticket, make_ticket


def png_bytes():
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def count(app, model, **where):
    with app.app_context(), account_scope(UNSCOPED):
        stmt = select(func.count()).select_from(model)
        for name, value in where.items():
            stmt = stmt.where(getattr(model, name) == value)
        value = db.session.scalar(stmt)
        db.session.remove()
    return value


def form(world, **kw):
    data = {"department_id": str(world.departments["TI"]),
            "service_id": str(world.services["Acesso"]), "priority": "high",
            "description": "Sem acesso ao ERP desde ontem."}
    data.update(kw)
    return data


def html(response) -> str:
    return response.get_data(as_text=True)


def flashes(response) -> list[str]:
    return [re.sub(r"\s+", " ", m).strip() for m in re.findall(
        r'<div class="alert alert-(?:danger|success|warning|info)">\s*'
        r'<button[^>]*>&times;</button>(.*?)</div>', html(response), re.S)]


def uploads(app) -> list[str]:
    import os

    return sorted(os.listdir(app.config["UPLOAD_FOLDER"]))


# --- opening -----------------------------------------------------------------------


def test_requester_opens_ticket_without_file(app, web, world):
    client = web("alfa_requester")
    page = client.get("/cliente/abrir")
    assert page.status_code == 200
    text = html(page)
    assert 'name="csrf_token"' in text and "Descrição detalhada" in text
    assert 'id="services-data"' in text and "Urgente" in text
    response = client.post("/cliente/abrir", data=form(world))
    assert response.status_code == 302
    ticket_id = int(response.headers["Location"].rsplit("/", 1)[1])
    ticket = load_ticket(app, world, ticket_id)
    assert ticket["status"] == "open" and ticket["priority"] == "high"
    assert ticket["requester_id"] == world.users["requester"]
    assert count(app, Attachment) == 0
    page = client.get(f"/chamados/{ticket_id}")
    assert page.status_code == 200
    text = html(page)
    assert f"Chamado #{ticket_id} aberto" in text
    assert "Sem acesso ao ERP desde ontem." in text and "Chamado aberto" in text
    assert "Aguardando" not in flashes(page)


def test_requester_opens_ticket_with_file_and_downloads_it(app, web, world):
    client = web("alfa_requester")
    data = form(world, file=(io.BytesIO(png_bytes()), "../../print da tela.png"))
    response = client.post("/cliente/abrir", data=data, content_type="multipart/form-data")
    assert response.status_code == 302
    ticket_id = int(response.headers["Location"].rsplit("/", 1)[1])
    with app.app_context(), account_scope(world.account_id):
        file = db.session.scalar(select(Attachment))
        file_id, name = file.id, file.filename
        db.session.remove()
    assert name == "print da tela.png"
    page = html(client.get(f"/chamados/{ticket_id}"))
    link = f"/chamados/{ticket_id}/anexos/{file_id}"
    assert link in page and "print da tela.png" in page
    download = client.get(link)
    assert download.status_code == 200 and download.data == png_bytes()
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download.headers["Content-Security-Policy"]
    assert download.headers["Content-Type"] == "image/png"
    assert "no-store" in download.headers["Cache-Control"]


def test_open_form_embeds_only_this_accounts_catalogue_escaped(app, web, world, other_world):
    from app import structure

    with app.app_context(), account_scope(world.account_id):
        structure.save_service(None, {"name": "</script><script>alert(1)</script>",
                                      "department_id": world.departments["RH"],
                                      "sla_hours": 4})
        db.session.remove()
    text = html(web("alfa_requester").get("/cliente/abrir"))
    data = re.search(r'<script type="application/json" id="services-data">(.*?)</script>',
                     text, re.S).group(1)
    assert "<script>" not in data and "\\u003c/script\\u003e" in data
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in text      # the no-JS <option>
    assert "<script>alert(1)</script>" not in text
    assert str(other_world.services["Acesso"]) not in re.findall(r'"id": (\d+)', data)
    assert "Empresa beta" not in text


@pytest.mark.parametrize("change, message", [
    ({"description": ""}, "Descrição é obrigatória"),
    ({"description": "   \n  "}, "Descrição é obrigatória"),
    ({"description": "x" * 20_001}, "no máximo 20000 caracteres"),
    ({"description": "nul\x00byte"}, "caracteres inválidos"),
    ({"priority": "altissima"}, "Prioridade inválida"),
    ({"priority": ""}, "Prioridade inválida"),
    ({"department_id": "abc"}, "Departamento"),
    ({"department_id": "999999"}, "Departamento inexistente"),
    ({"service_id": ""}, "Serviço"),
    ({"service_id": "999999"}, "Serviço inexistente"),
    ("other-department", "não pertence ao departamento"),
])
def test_bad_opening_flashes_keeps_input_and_writes_nothing(app, web, world, change, message):
    if change == "other-department":
        change = {"service_id": str(world.services["Férias"])}
    data = form(world, description="Texto que não pode se perder <b>negrito</b>")
    data.update(change)
    response = web("alfa_requester").post("/cliente/abrir", data=data)
    assert response.status_code == 400
    assert any(message in f for f in flashes(response)), flashes(response)
    if "description" not in change:
        assert "Texto que não pode se perder &lt;b&gt;negrito&lt;/b&gt;</textarea>" in html(
            response)
    assert count(app, Ticket) == 0 and count(app, TicketEvent) == 0


@pytest.mark.parametrize("name, content, status", [
    ("pagina.png", b"<html><script>alert(1)</script></html>", 415),
    ("nota.txt", b"<svg onload=alert(1)>", 415),
    ("vazio.pdf", b"", 400),
    ("programa.exe", b"MZ\x90\x00", 415),
])
def test_hostile_file_at_opening_is_refused_and_leaves_nothing(app, web, world, name, content,
                                                               status):
    data = form(world, file=(io.BytesIO(content), name))
    response = web("alfa_requester").post("/cliente/abrir", data=data,
                                          content_type="multipart/form-data")
    assert response.status_code == status
    assert flashes(response) and "Sem acesso ao ERP desde ontem." in html(response)
    assert count(app, Ticket) == 0 and count(app, Attachment) == 0
    assert uploads(app) == []


def test_expired_plan_shows_clear_message_and_keeps_what_was_typed(app, web, world):
    with app.app_context(), account_scope(world.account_id):
        db.session.execute(update(Account).values(
            plan_expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)))
        db.session.commit()
        db.session.remove()
    client = web("alfa_requester")
    page = html(client.get("/cliente/abrir"))
    assert "O plano da empresa expirou" in page
    data = form(world, description="Meu relato longo e importante.", priority="urgent")
    response = client.post("/cliente/abrir", data=data)
    assert response.status_code == 403
    assert any("O plano da conta expirou" in f for f in flashes(response))
    text = html(response)
    assert "Meu relato longo e importante.</textarea>" in text
    assert re.search(r'value="urgent"\s+checked', text)
    assert re.search(rf'value="{world.services["Acesso"]}"\s+selected', text)
    assert count(app, Ticket) == 0


def test_only_requesters_get_the_client_area(web, world):
    for username in ("alfa_attendant", "alfa_manager"):
        assert web(username).get("/cliente/abrir").status_code in (302, 403)
        assert web(username).post("/cliente/abrir", data=form(world)).status_code in (302, 403)
    assert web("alfa_requester").get("/atendente/fila").status_code in (302, 403)
    assert web("alfa_requester").get("/chamados/").status_code in (302, 403)


def test_anonymous_is_sent_to_login(app, world):
    ticket_id = make_ticket(app, world)
    client = app.test_client()
    for url in ("/cliente/abrir", "/cliente/chamados", "/atendente/fila", "/chamados/",
                f"/chamados/{ticket_id}"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    response = client.post(f"/chamados/{ticket_id}/acao/cancel", data={"note": "x"})
    assert response.status_code == 302
    assert load_ticket(app, world, ticket_id)["status"] == "open"


# --- lists -------------------------------------------------------------------------


def test_my_tickets_lists_only_mine_with_status_tabs(app, web, world):
    mine_open = make_ticket(app, world, "open")
    mine_closed = make_ticket(app, world, "closed")
    theirs = make_ticket(app, world, "open", requester="requester2")
    client = web("alfa_requester")
    text = html(client.get("/cliente/chamados"))
    assert f"/chamados/{mine_open}" in text and f"/chamados/{mine_closed}" in text
    assert f"/chamados/{theirs}\"" not in text
    assert "Avaliar" in text                         # closed without a survey
    text = html(client.get("/cliente/chamados?aba=encerrados"))
    assert f"/chamados/{mine_closed}" in text and f"/chamados/{mine_open}\"" not in text
    assert html(client.get("/cliente/chamados?aba=nada&pagina=x")).count("ticket-row") == 2


def test_lists_paginate_with_bounded_pages(app, web, world):
    ids = [make_ticket(app, world) for _ in range(23)]
    client = web("alfa_requester")
    first = html(client.get("/cliente/chamados"))
    assert first.count('class="ticket-row') == 20 and 'id="next-page"' in first
    second = html(client.get("/cliente/chamados?pagina=2"))
    assert second.count('class="ticket-row') == 3 and 'id="next-page"' not in second
    assert f"/chamados/{ids[0]}\"" in second          # oldest last
    assert client.get("/cliente/chamados?pagina=999999999").status_code == 200


def test_list_rows_cut_long_descriptions_and_keep_short_ones(app, web, world):
    long_text = "Relatório " + "x" * 300 + " FIM"
    exact = "y" * 115                               # within truncate's leeway: shown whole
    make_ticket(app, world, description="Assunto um\n" + long_text)
    make_ticket(app, world, description="Assunto dois\n" + exact)
    make_ticket(app, world, description="Só uma linha")   # the title says it all
    text = html(web("alfa_requester").get("/cliente/chamados"))
    snippets = re.findall(r'<div class="ticket-snippet">(.*?)</div>', text)
    assert snippets == [exact, ("Relatório " + "x" * 300)[:109] + "…"]
    assert "FIM" not in text and 'class="ticket-title">Só uma linha</a>' in text


def test_tab_badges_stop_counting_at_99(app, web, world):
    for _ in range(COUNT_CAP + 2):
        make_ticket(app, world)
    make_ticket(app, world, "assumed")
    text = html(web("alfa_attendant").get("/atendente/fila"))
    badges = dict(re.findall(r'data-tab="([^"]+)">[^<]*<span class="badge">([^<]+)</span>',
                             text))
    assert badges == {"ativos": "99+", "nao-atribuidos": "99+", "andamento": "1",
                      "aguardando": "0", "aprovacao": "0"}
    assert text.count('class="ticket-row') == 20


@pytest.mark.parametrize("typed", ["{id}", " #{id} ", "#{id}"])
def test_ticket_number_box_opens_the_ticket(app, web, world, typed):
    ticket_id = make_ticket(app, world)
    client = web("alfa_requester")
    assert 'name="numero"' in html(client.get("/cliente/chamados"))
    response = client.get("/chamados/ir", query_string={"numero": typed.format(id=ticket_id),
                                                        "origem": "RequesterView.mine"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/chamados/{ticket_id}")


def test_ticket_number_box_reveals_nothing_and_refuses_junk(app, web, world, other_world):
    theirs = make_ticket(app, world, requester="requester2")
    client = web("alfa_requester")
    # Another requester's number leads to the same 404 as any id the user may not see.
    response = client.get("/chamados/ir", query_string={"numero": str(theirs)},
                          follow_redirects=True)
    assert response.status_code == 404
    for junk, back in (("abc", "/cliente/chamados"), ("", "/cliente/chamados"),
                       ("9" * 13, "/cliente/chamados"), ("1; DROP", "/cliente/chamados")):
        response = client.get("/chamados/ir", query_string={"numero": junk,
                                                            "origem": "RequesterView.mine"})
        assert response.status_code == 302 and response.headers["Location"].endswith(back)
        assert "Informe o número do chamado" in html(client.get(back))
    # The way back is only ever one of the lists, never a URL from the query string.
    response = client.get("/chamados/ir", query_string={"numero": "x",
                                                        "origem": "//evil.example"})
    assert response.headers["Location"] in ("/", "http://localhost/")
    huge = client.get("/chamados/" + "9" * 30)
    assert huge.status_code == 404


def test_queue_shows_my_departments_unassigned_first_then_urgent(app, web, world):
    with app.app_context():
        pass
    old_low = make_ticket(app, world, "open", priority="low")
    urgent = make_ticket(app, world, "open", priority="urgent")
    assumed = make_ticket(app, world, "assumed", priority="urgent")
    other_dept = make_ticket(app, world, "open", service="Férias")
    closed = make_ticket(app, world, "closed")
    text = html(web("alfa_attendant").get("/atendente/fila"))
    rows = [int(x) for x in re.findall(r'data-ticket="(\d+)"', text)]
    assert rows == [urgent, old_low, assumed]
    assert other_dept not in rows and closed not in rows
    text = html(web("alfa_attendant_other").get("/atendente/fila"))
    assert [int(x) for x in re.findall(r'data-ticket="(\d+)"', text)] == [other_dept]
    text = html(web("alfa_attendant").get("/atendente/meus"))
    assert [int(x) for x in re.findall(r'data-ticket="(\d+)"', text)] == [assumed]


def test_queue_marks_breached_and_near_sla(app, web, world):
    late = make_ticket(app, world)
    near = make_ticket(app, world)
    fine = make_ticket(app, world)
    now = dt.datetime.now(dt.timezone.utc)
    with app.app_context(), account_scope(world.account_id):
        db.session.execute(update(Ticket).where(Ticket.id == late).values(
            opened_at=now - dt.timedelta(hours=10), sla_due_at=now - dt.timedelta(hours=2)))
        db.session.execute(update(Ticket).where(Ticket.id == near).values(
            opened_at=now - dt.timedelta(hours=7), sla_due_at=now + dt.timedelta(hours=1)))
        db.session.commit()
        db.session.remove()
    text = html(web("alfa_attendant").get("/atendente/fila"))
    row = {int(i): body for i, body in re.findall(
        r'data-ticket="(\d+)">(.*?)</tr>', text, re.S)}
    assert "sla-breached label-danger" in row[late] and "Atrasado" in row[late]
    assert "sla-near label-warning" in row[near] and "Vence em breve" in row[near]
    assert "sla-ok" in row[fine]


def test_sla_due_time_is_shown_in_the_accounts_time_zone(app, web, world):
    ticket_id = make_ticket(app, world)
    with app.app_context(), account_scope(world.account_id):
        db.session.execute(update(Ticket).where(Ticket.id == ticket_id).values(
            sla_due_at=dt.datetime(2031, 1, 15, 15, 30, tzinfo=dt.timezone.utc)))
        db.session.execute(update(Account).values(time_zone="Asia/Tokyo"))
        db.session.commit()
        db.session.remove()
    text = html(web("alfa_requester").get(f"/chamados/{ticket_id}"))
    assert "16/01/2031 00:30" in text and "Asia/Tokyo" in text


def _count_queries(app, client, url) -> int:
    return count_queries(app, client, url)[0]


@pytest.mark.parametrize("username, url", [
    ("alfa_attendant", "/atendente/fila"),
    ("alfa_requester", "/cliente/chamados"),
    ("alfa_manager", "/chamados/"),
])
def test_list_pages_do_not_query_per_row(app, web, world, username, url):
    for _ in range(2):
        make_ticket(app, world, "assumed")
    client = web(username)
    client.get(url)
    few = _count_queries(app, client, url)
    for _ in range(8):
        make_ticket(app, world, "assumed", requester="requester2"
                    if username == "alfa_attendant" else "requester")
    many = _count_queries(app, client, url)
    assert many == few, (few, many)


def test_ticket_page_does_not_query_per_message(app, web, world):
    ticket_id = make_ticket(app, world, "in_progress")
    client = web("alfa_requester")
    client.post(f"/chamados/{ticket_id}/mensagens", data={"body": "um"})
    few = _count_queries(app, client, f"/chamados/{ticket_id}")
    for n in range(6):
        client.post(f"/chamados/{ticket_id}/mensagens",
                    data={"body": f"msg {n}", "file": (io.BytesIO(png_bytes()), f"{n}.png")},
                    content_type="multipart/form-data")
    assert _count_queries(app, client, f"/chamados/{ticket_id}") == few


# --- the ticket page and its actions -----------------------------------------------


def test_full_lifecycle_through_the_pages(app, web, world):
    requester, attendant = web("alfa_requester"), web("alfa_attendant")
    ticket_id = int(requester.post("/cliente/abrir", data=form(world))
                    .headers["Location"].rsplit("/", 1)[1])
    page = html(attendant.get(f"/chamados/{ticket_id}"))
    assert 'id="submit-assume"' in page and 'id="message-form"' not in page
    assert "Assuma o chamado para conversar" in page

    def act(client, action, **data):
        response = client.post(f"/chamados/{ticket_id}/acao/{action}", data=data)
        assert response.status_code == 302, flashes(response)
        return client.get(response.headers["Location"])

    page = html(act(attendant, "assume"))
    assert "Chamado assumido" in page and 'id="submit-start"' in page
    page = html(act(attendant, "start"))
    assert 'id="form-conclude"' in page and 'id="message-form"' in page
    response = attendant.post(f"/chamados/{ticket_id}/mensagens",
                              data={"body": "Qual o seu usuário?"})
    assert response.status_code == 302
    response = requester.post(
        f"/chamados/{ticket_id}/mensagens", content_type="multipart/form-data",
        data={"body": "", "file": (io.BytesIO(png_bytes()), "erro.png")})
    assert response.status_code == 302
    page = html(requester.get(f"/chamados/{ticket_id}"))
    assert "Qual o seu usuário?" in page and "erro.png" in page
    assert 'id="form-cancel"' in page and 'id="form-approve"' not in page
    page = html(act(attendant, "conclude", note="Acesso liberado."))
    assert "Atendimento concluído" in page
    page = html(requester.get(f"/chamados/{ticket_id}"))
    assert 'id="form-approve"' in page and 'id="form-reject"' in page
    assert "Acesso liberado." in page and 'id="form-cancel"' not in page
    page = html(act(requester, "reject", note="Ainda dá erro."))
    assert "Encerramento reprovado" in page
    assert load_ticket(app, world, ticket_id)["reopen_count"] == 1
    act(attendant, "conclude", note="Agora sim.")
    page = html(act(requester, "approve"))
    assert 'id="survey-form"' in page
    response = requester.post(f"/chamados/{ticket_id}/pesquisa",
                              data={"score": "5", "comment": "Ótimo!"})
    assert response.status_code == 302
    page = html(requester.get(f"/chamados/{ticket_id}"))
    assert 'id="survey-form"' not in page and "5/5" in page and "Ótimo!" in page
    ticket = load_ticket(app, world, ticket_id)
    assert ticket["status"] == "closed" and ticket["assignee_id"] == world.users["attendant"]
    with app.app_context(), account_scope(world.account_id):
        types = db.session.scalars(select(TicketEvent.type).where(
            TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)).all()
        db.session.remove()
    assert types == ["opened", "assumed", "started", "message", "message", "concluded",
                     "rejected", "concluded", "approved", "survey"]
    # the history is shown oldest first
    timeline = re.search(r'id="timeline">(.*?)</ul>', page, re.S).group(1)
    titles = re.findall(r'class="timeline-item event-(\w+)"', timeline)
    assert titles == types


@pytest.mark.parametrize("state, username, action, note, status, message", [
    ("in_progress", "alfa_attendant", "conclude", "", 400, "nota de conclusão é obrigatória"),
    ("in_progress", "alfa_attendant", "conclude", "   ", 400, "obrigatória"),
    ("concluded", "alfa_requester", "reject", "", 400, "motivo é obrigatório"),
    ("open", "alfa_requester", "cancel", "", 400, "motivo é obrigatório"),
    ("assumed", "alfa_attendant", "conclude", "feito", 409, "Não é possível"),
    ("closed", "alfa_requester", "approve", None, 409, "Não é possível"),
    ("concluded", "alfa_attendant", "approve", None, 403, "Apenas o solicitante"),
    ("open", "alfa_requester", "assume", None, 403, "Apenas atendentes"),
    ("assumed", "alfa_attendant2", "start", None, 403, "atendente responsável"),
    ("assumed", "alfa_attendant2", "assume", None, 409, "já assumido por Attendant alfa"),
    ("closed", "alfa_requester", "cancel", "desisti", 409, "Não é possível"),
])
def test_refused_action_flashes_and_changes_nothing(app, web, world, state, username, action,
                                                    note, status, message):
    ticket_id = make_ticket(app, world, state)
    before = load_ticket(app, world, ticket_id)
    events = count(app, TicketEvent)
    data = {} if note is None else {"note": note}
    response = web(username).post(f"/chamados/{ticket_id}/acao/{action}", data=data)
    assert response.status_code == status
    assert any(message in f for f in flashes(response)), flashes(response)
    assert load_ticket(app, world, ticket_id) == before
    assert count(app, TicketEvent) == events


def test_refused_reason_keeps_the_form_open_with_the_text(app, web, world):
    ticket_id = make_ticket(app, world, "concluded")
    long_reason = "x" * 5001
    response = web("alfa_requester").post(f"/chamados/{ticket_id}/acao/reject",
                                          data={"note": long_reason})
    assert response.status_code == 400
    text = html(response)
    assert re.search(r'id="details-reject"\s+open', text) and long_reason in text


def test_unknown_action_is_404(app, web, world):
    ticket_id = make_ticket(app, world)
    response = web("alfa_requester").post(f"/chamados/{ticket_id}/acao/delete")
    assert response.status_code == 404


@pytest.mark.parametrize("score", ["0", "6", "cinco", "3.5", "-1", ""])
def test_bad_survey_score_flashes_and_writes_nothing(app, web, world, score):
    ticket_id = make_ticket(app, world, "closed")
    response = web("alfa_requester").post(f"/chamados/{ticket_id}/pesquisa",
                                          data={"score": score, "comment": "meu comentário"})
    assert response.status_code == 400
    assert any("nota deve ser um número inteiro de 1 a 5" in f for f in flashes(response))
    assert "meu comentário</textarea>" in html(response)
    assert count(app, Survey) == 0


def test_survey_before_approval_or_twice_is_refused(app, web, world):
    concluded = make_ticket(app, world, "concluded")
    client = web("alfa_requester")
    response = client.post(f"/chamados/{concluded}/pesquisa", data={"score": "4"})
    assert response.status_code == 409 and count(app, Survey) == 0
    closed = make_ticket(app, world, "closed")
    assert client.post(f"/chamados/{closed}/pesquisa", data={"score": "4"}).status_code == 302
    response = client.post(f"/chamados/{closed}/pesquisa", data={"score": "1"})
    assert response.status_code == 409
    assert any("já foi respondida" in f for f in flashes(response))
    assert count(app, Survey) == 1
    response = web("alfa_attendant").post(f"/chamados/{closed}/pesquisa", data={"score": "1"})
    assert response.status_code == 403


def test_message_rules_on_the_page(app, web, world):
    ticket_id = make_ticket(app, world, "assumed")
    # an attendant of the department who is not the assignee
    response = web("alfa_attendant2").post(f"/chamados/{ticket_id}/mensagens",
                                           data={"body": "oi"})
    assert response.status_code == 403
    response = web("alfa_requester").post(f"/chamados/{ticket_id}/mensagens",
                                          data={"body": "  "})
    assert response.status_code == 400 and any("mensagem é obrigatória" in f
                                               for f in flashes(response))
    response = web("alfa_requester").post(
        f"/chamados/{ticket_id}/mensagens", content_type="multipart/form-data",
        data={"body": "segue o arquivo", "file": (io.BytesIO(b"<html>x</html>"), "a.pdf")})
    assert response.status_code == 415
    assert "segue o arquivo</textarea>" in html(response)
    assert count(app, TicketMessage) == 0 and uploads(app) == []
    closed = make_ticket(app, world, "closed")
    response = web("alfa_requester").post(f"/chamados/{closed}/mensagens", data={"body": "oi"})
    assert response.status_code == 409 and count(app, TicketMessage) == 0


@pytest.mark.parametrize("username", ["alfa_manager", "alfa_admin"])
def test_managers_and_admins_see_every_ticket_with_staff_tools_only(app, web, world,
                                                                    username):
    """They follow every ticket, write internal notes, and (administrators) transfer or
    reassign; they never answer the requester nor approve in the requester's place."""
    a = make_ticket(app, world, "in_progress")
    b = make_ticket(app, world, "concluded", requester="requester2")
    c = make_ticket(app, world, "open", service="Férias", requester="requester2")
    client = web(username)
    text = html(client.get("/chamados/"))
    assert all(f"/chamados/{t}\"" in text for t in (a, b, c))
    for ticket_id in (a, b, c):
        page = html(client.get(f"/chamados/{ticket_id}"))
        actions = set(re.findall(r"/acao/([a-z]+)", page))
        if username == "alfa_admin" and ticket_id != b:
            assert actions == {"transfer"} | ({"reassign"} if ticket_id == a else set())
        else:
            assert actions == set()
        assert 'id="message-form"' not in page and 'id="note-form"' in page
        assert "/pesquisa\"" not in page
    before = load_ticket(app, world, b)
    response = client.post(f"/chamados/{b}/acao/approve")
    assert response.status_code in (302, 403)
    response = client.post(f"/chamados/{a}/mensagens", data={"body": "oi"})
    assert response.status_code in (302, 403)
    assert load_ticket(app, world, b) == before and count(app, TicketMessage) == 0


def test_user_text_is_escaped_everywhere(app, web, world):
    evil = '<script>alert("x")</script>"><svg onload=alert(1)>'
    ticket_id = make_ticket(app, world, "in_progress", description=evil)
    client = web("alfa_requester")
    client.post(f"/chamados/{ticket_id}/mensagens", content_type="multipart/form-data",
                data={"body": evil, "file": (io.BytesIO(png_bytes()), "<img src=x>.png")})
    for url in (f"/chamados/{ticket_id}", "/cliente/chamados"):
        text = html(client.get(url))
        assert "<script>alert" not in text and "<svg onload" not in text
        assert "<img src=x>" not in text
    text = html(client.get(f"/chamados/{ticket_id}"))
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text
    assert "&lt;img src=x&gt;" in text or "_img src=x_" in text
    text = html(web("alfa_attendant").get("/atendente/fila"))
    assert "<script>alert" not in text and "&lt;script&gt;" in text


# --- CSRF (the real app enforces it; the test app switches it off elsewhere) -------


@pytest.fixture
def csrf_on(app):
    """Call after logging in (the test login posts without a token)."""
    def enable():
        app.config["WTF_CSRF_ENABLED"] = True
    yield enable
    app.config["WTF_CSRF_ENABLED"] = False


def test_every_state_change_needs_the_csrf_token(app, web, world, csrf_on):
    ticket_id = make_ticket(app, world, "concluded")
    closed = make_ticket(app, world, "closed")
    client = web("alfa_requester")
    csrf_on()
    before = load_ticket(app, world, ticket_id)
    posts = [(f"/chamados/{ticket_id}/acao/approve", {}),
             (f"/chamados/{ticket_id}/acao/reject", {"note": "não"}),
             (f"/chamados/{ticket_id}/mensagens", {"body": "oi"}),
             (f"/chamados/{closed}/pesquisa", {"score": "5"}),
             ("/cliente/abrir", form(world))]
    for url, data in posts:
        assert client.post(url, data=data).status_code == 400, url
        assert client.post(url, data={**data, "csrf_token": "forjado"}).status_code == 400
    assert load_ticket(app, world, ticket_id) == before
    assert count(app, Ticket) == 2 and count(app, Survey) == 0
    assert count(app, TicketMessage) == 0
    page = html(client.get(f"/chamados/{ticket_id}"))
    tokens = set(re.findall(r'name="csrf_token" value="([^"]+)"', page))
    assert len(tokens) == 1 and 'id="form-approve"' in page
    response = client.post(f"/chamados/{ticket_id}/acao/approve",
                           data={"csrf_token": tokens.pop()})
    assert response.status_code == 302
    assert load_ticket(app, world, ticket_id)["status"] == "closed"


def test_open_form_posts_with_its_token(app, web, world, csrf_on):
    client = web("alfa_requester")
    csrf_on()
    page = html(client.get("/cliente/abrir"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/cliente/abrir", data={**form(world), "csrf_token": token})
    assert response.status_code == 302 and count(app, Ticket) == 1


def test_mass_assignment_fields_in_forms_are_ignored(app, web, world):
    """Only the workflow writes status, assignee, requester, account or timestamps."""
    data = form(world, status="closed", assignee_id=str(world.users["attendant"]),
                requester_id=str(world.users["requester2"]), account_id="999",
                sla_due_at="2000-01-01T00:00:00Z")
    response = web("alfa_requester").post("/cliente/abrir", data=data)
    ticket = load_ticket(app, world, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert ticket["status"] == "open" and ticket["assignee_id"] is None
    assert ticket["requester_id"] == world.users["requester"]
    assert ticket["account_id"] == world.account_id
    assert ticket["sla_due_at"].year > 2020


def test_my_attendances_lists_finished_work_latest_first(app, web, world):
    first = make_ticket(app, world, "closed")
    second = make_ticket(app, world, "closed")
    text = html(web("alfa_attendant").get("/atendente/meus?aba=encerrados"))
    assert [int(x) for x in re.findall(r'data-ticket="(\d+)"', text)] == [second, first]


def test_menus_follow_the_profiles(web, world):
    menus = {
        "alfa_requester": ({"Área do Cliente", "Abrir chamado", "Meus chamados"},
                           {"Área do Atendente", "Chamados"}),
        "alfa_attendant": ({"Área do Atendente", "Fila de atendimento", "Meus atendimentos"},
                           {"Área do Cliente", "Chamados"}),
        "alfa_manager": ({"Chamados"}, {"Área do Cliente", "Área do Atendente"}),
    }
    for username, (present, absent) in menus.items():
        page = html(web(username).get("/"))
        navbar = page[page.index('<ul class="nav navbar-nav">'):
                      page.index('<ul class="nav navbar-nav navbar-right">')]
        labels = {re.sub(r"\s+", " ", x).strip() for x in re.findall(
            r"</i>(?:&nbsp;)?([^<]+)(?:<b|</a>)", navbar)}
        assert present <= labels, (username, labels)
        assert not absent & labels, (username, labels)


def test_attendant_assumes_straight_from_the_queue(app, web, world):
    ticket_id = make_ticket(app, world)
    client = web("alfa_attendant")
    text = html(client.get("/atendente/fila"))
    assert f'action="/chamados/{ticket_id}/acao/assume"' in text
    response = client.post(f"/chamados/{ticket_id}/acao/assume")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/chamados/{ticket_id}")
    assert load_ticket(app, world, ticket_id)["assignee_id"] == world.users["attendant"]
    text = html(client.get("/atendente/fila"))
    assert f'action="/chamados/{ticket_id}/acao/assume"' not in text


def test_the_kept_menu_is_keyed_by_builtin_profiles_and_language_only(app):
    """app/views/context.py keeps the drawn menu per (profiles, language): a role kept in
    the database (its permissions may change while the process lives) or a group turns
    the keeping off for that user; anonymous visitors share one menu per language."""
    from types import SimpleNamespace as NS

    from app.views.context import _menu_key

    role = NS(name=next(iter(app.config["FAB_ROLES"])))
    with app.app_context():
        assert _menu_key(NS(is_authenticated=False), "pt_BR") == ("anonymous", "pt_BR")
        assert _menu_key(NS(is_authenticated=True, roles=[role], groups=[]), "pt_BR") == \
            ((role.name,), "pt_BR")
        assert _menu_key(NS(is_authenticated=True, roles=[role], groups=[]), "en") != \
            _menu_key(NS(is_authenticated=True, roles=[role], groups=[]), "pt_BR")
        assert _menu_key(NS(is_authenticated=True, roles=[role, NS(name="Admin")],
                            groups=[]), "pt_BR") is None
        assert _menu_key(NS(is_authenticated=True, roles=[role], groups=[NS(id=1)]),
                         "pt_BR") is None
