"""Working hours and waiting on the requester, as people do it in a real browser.

An administrator sets Monday-Friday 08:00-18:00 with São Paulo's holidays and puts a
service on the business clock; a requester opens a ticket; the attendant asks for a
document; the requester answers with a file; the ticket page shows the due time moved
by the working hours the ticket waited. Screenshots: test-artifacts/horas-uteis-*.
"""
import datetime as dt
import re
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app import business_hours, calendars
from app.extensions import db
from app.models import Service, Ticket, TicketEvent, as_utc
from app.tenancy import account_scope
from tests.conftest import screenshot
from tests.test_portals import png_bytes

SP = ZoneInfo("America/Sao_Paulo")
WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _ticket(app, world, ticket_id):
    with app.app_context(), account_scope(world.account_id):
        ticket = db.session.get(Ticket, ticket_id)
        data = {c.name: getattr(ticket, c.name) for c in Ticket.__table__.columns}
        db.session.remove()
    return data


def test_admin_sets_hours_and_a_waiting_ticket_moves_its_due_time(page_for, world, app,
                                                                   backend):
    shot = lambda page, n, name: screenshot(page, f"horas-uteis-{n:02d}-{name}-{backend}")

    # 1. the administrator: Monday to Friday 08:00-18:00, São Paulo's holidays
    admin = page_for("alfa_admin")
    admin.goto("/conta/")
    admin.click("#calendar-link a")
    admin.wait_for_selector("#calendar-form")
    for day in WEEK:
        for i in range(3):
            for side in ("start", "end"):
                admin.fill(f"#{day}-{i}-{side}", "")
        if day not in ("sat", "sun"):
            admin.fill(f"#{day}-0-start", "08:00")
            admin.fill(f"#{day}-0-end", "18:00")
    admin.check("#national_holidays")
    admin.select_option("#subdivision", "SP")
    shot(admin, 1, "calendario")
    admin.click("#calendar-form button[type=submit]")
    admin.wait_for_selector("text=Calendário salvo.")
    year_days = admin.inner_text("#year-days-table")
    assert "Revolução Constitucionalista" in year_days and "Tiradentes" in year_days
    shot(admin, 2, "calendario-salvo")

    # 2. the service "Acesso" counts its SLA in working hours
    admin.goto(f"/serviceview/edit/{world.services['Acesso']}")
    admin.select_option("#sla_clock", "business", force=True)
    shot(admin, 3, "servico-horas-uteis")
    admin.click("form button[type=submit], form input[type=submit]")
    admin.wait_for_load_state("networkidle")
    with app.app_context(), account_scope(world.account_id):
        assert db.session.get(Service, world.services["Acesso"]).sla_clock == "business"
        calendar = calendars.calendar_for(world.account_id)
        db.session.remove()
    assert calendar.subdivision == "SP"

    # 3. the requester opens a ticket: due in 8 working hours
    requester = page_for("alfa_requester")
    requester.goto("/cliente/abrir")
    requester.select_option("#department_id", label="TI")
    requester.select_option("#service_id", label="Acesso")
    requester.check("input[name=priority][value=medium]")
    requester.fill("#subject", "Reembolso de despesa de viagem")
    requester.fill("#description", "Preciso do reembolso da viagem a Campinas.")
    requester.click("#open-submit")
    requester.wait_for_selector("text=aberto. Você será avisado")
    ticket_url = requester.url
    ticket_id = int(re.search(r"/chamados/(\d+)", ticket_url).group(1))
    opened = _ticket(app, world, ticket_id)
    assert as_utc(opened["sla_due_at"]) == business_hours.add(
        as_utc(opened["opened_at"]), 8, calendar)
    assert "Horas úteis" in requester.inner_text("#ticket-clock")

    # 4. the attendant assumes, starts and asks for the receipt
    attendant = page_for("alfa_attendant")
    attendant.goto(ticket_url)
    attendant.click("#submit-assume")
    attendant.wait_for_selector("text=Chamado assumido.")
    attendant.click("#submit-start")
    attendant.wait_for_selector("text=Atendimento iniciado.")
    attendant.click("#toggle-wait")
    attendant.fill("#note-wait", "Envie o comprovante do táxi em PDF ou foto, por favor.")
    shot(attendant, 4, "pedido-ao-solicitante")
    attendant.click("#submit-wait")
    attendant.wait_for_selector("#aguardando")
    assert "Aguardando solicitante" in attendant.inner_text("#ticket-status")
    assert "Prazo pausado" in attendant.inner_text("#ticket-sla")
    shot(attendant, 5, "aguardando")

    # The wait began a week ago (so it spans working hours whatever time CI runs).
    with app.app_context(), account_scope(world.account_id):
        ticket = db.session.get(Ticket, ticket_id)
        ticket.waiting_since = as_utc(ticket.waiting_since) - dt.timedelta(days=7)
        waited_from = as_utc(ticket.waiting_since)
        db.session.commit()
        db.session.remove()
    before = _ticket(app, world, ticket_id)
    requester.goto(ticket_url)
    shown_before = requester.inner_text("#ticket-due")

    # 5. the requester sees the question and answers with a file
    requester.wait_for_selector("#aguardando")
    assert "Envie o comprovante do táxi" in requester.inner_text("#waiting-question")
    shot(requester, 6, "solicitante-ve-pedido")
    requester.fill("#body", "Segue o comprovante do táxi.")
    requester.set_input_files("#message-file", files=[{
        "name": "comprovante.png", "mimeType": "image/png", "buffer": png_bytes()}])
    requester.click("#message-submit")
    requester.wait_for_selector("text=Mensagem enviada.")
    assert "Em atendimento" in requester.inner_text("#ticket-status")
    after = _ticket(app, world, ticket_id)
    with app.app_context(), account_scope(world.account_id):
        resumed = db.session.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == ticket_id, TicketEvent.type == "resumed")).one()
        resumed_at = as_utc(resumed.created_at)
        db.session.remove()
    paused = business_hours.between(waited_from, resumed_at, calendar)
    assert paused >= dt.timedelta(hours=30)           # a week holds at least 30 such hours
    assert after["sla_paused_seconds"] == paused.total_seconds()
    assert as_utc(after["sla_due_at"]) == business_hours.add(
        as_utc(before["sla_due_at"]), paused, calendar)
    shown_after = requester.inner_text("#ticket-due")
    expected = as_utc(after["sla_due_at"]).astimezone(SP).strftime("%d/%m/%Y %H:%M")
    assert shown_after == expected and shown_after != shown_before
    assert "aguardando o solicitante" in requester.inner_text("#ticket-paused")
    assert requester.locator("a.file-link:has-text('comprovante.png')").count() == 1
    shot(requester, 7, "prazo-movido")
    attendant.goto(ticket_url)
    attendant.wait_for_selector("#timeline")
    assert "Retomado pela resposta do solicitante" in attendant.inner_text("#timeline")
    shot(attendant, 8, "historico")
