"""The whole journey of a ticket as real people in a real browser (Debian chromium).

A requester opens a ticket with a file; an attendant assumes it, starts and asks a
question; the requester answers with a file; the attendant concludes; the requester
rejects; the attendant concludes again; the requester approves and rates it. Two
browser sessions side by side, a screenshot at every step (test-artifacts/journey-*).
The journey runs on both backends (``both_backends``); the other browser tests run on
PostgreSQL and the screen crawl on SQLite (tests/conftest.py says why).
"""
import datetime as dt
import re

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import Attachment, Survey, Ticket, TicketEvent
from app.tenancy import account_scope
from tests.conftest import screenshot
from tests.helpers import make_ticket
from tests.test_portals import png_bytes


@pytest.mark.both_backends
def test_ticket_journey_between_requester_and_attendant(page_for, world, app, backend):
    requester = page_for("alfa_requester")
    attendant = page_for("alfa_attendant")
    shot = lambda page, n, name: screenshot(page, f"journey-{n:02d}-{name}-{backend}")

    # 1. the requester opens a ticket with a file
    requester.goto("/")
    requester.wait_for_selector(".home-requester")
    shot(requester, 0, "inicio")
    requester.click("a.dropdown-toggle:has-text('Área do Cliente')")
    requester.click("a:has-text('Abrir chamado')")
    requester.wait_for_selector("#open-ticket-form")
    assert requester.locator("#service_id").is_disabled()
    requester.select_option("#department_id", label="TI")
    services = requester.locator("#service_id option").all_inner_texts()
    assert "Acesso" in services and "Férias" not in services     # filtered client-side
    requester.select_option("#service_id", label="Acesso")
    requester.check("input[name=priority][value=high]")
    assert "Acesso, prioridade Alta: até 8 horas" in requester.inner_text("#sla-hint")
    requester.fill("#description",
                   "Não consigo entrar no ERP desde a troca de senha de ontem.\n"
                   "Aparece \"usuário bloqueado\". Segue o print da tela.")
    requester.set_input_files("#file", files=[{"name": "print-erro.png",
                                               "mimeType": "image/png",
                                               "buffer": png_bytes()}])
    shot(requester, 1, "abrir-chamado")
    requester.click("#open-submit")
    requester.wait_for_selector("text=aberto. Você será avisado")
    ticket_url = requester.url
    ticket_id = int(re.search(r"/chamados/(\d+)", ticket_url).group(1))
    assert requester.locator("a.file-link:has-text('print-erro.png')").count() == 1
    shot(requester, 2, "chamado-aberto")
    requester.goto("/cliente/chamados")
    requester.wait_for_selector(f"tr[data-ticket='{ticket_id}']")
    shot(requester, 3, "meus-chamados")

    # 2. the attendant finds it in the queue, assumes, starts and asks a question
    attendant.goto("/")
    attendant.click("a.dropdown-toggle:has-text('Área do Atendente')")
    attendant.click("a:has-text('Fila de atendimento')")
    attendant.wait_for_selector(f"tr[data-ticket='{ticket_id}']")
    shot(attendant, 4, "fila")
    attendant.click(f"tr[data-ticket='{ticket_id}'] a.ticket-title")
    attendant.wait_for_selector("#submit-assume")
    shot(attendant, 5, "atendente-ve-chamado")
    attendant.click("#submit-assume")
    attendant.wait_for_selector("text=Chamado assumido.")
    attendant.click("#submit-start")
    attendant.wait_for_selector("text=Atendimento iniciado.")
    attendant.fill("#body", "Olá! Qual é o seu usuário no ERP? Você tentou pelo navegador ou "
                            "pelo aplicativo?")
    attendant.click("#message-submit")
    attendant.wait_for_selector("text=Mensagem enviada.")
    assert "Em atendimento" in attendant.inner_text("#ticket-status")
    shot(attendant, 6, "pergunta-do-atendente")

    # 3. the requester answers with a file
    requester.goto(ticket_url)
    requester.wait_for_selector("text=Qual é o seu usuário no ERP?")
    requester.fill("#body", "Meu usuário é joana.silva, pelo navegador. Anexo o log do erro.")
    requester.set_input_files("#message-file", files=[{
        "name": "erro-login.txt", "mimeType": "text/plain",
        "buffer": b"2031-01-15 09:12 login joana.silva: conta bloqueada (3 tentativas)\n"}])
    assert "erro-login.txt" in requester.inner_text("#message-file-name")
    requester.click("#message-submit")
    requester.wait_for_selector("text=Mensagem enviada.")
    assert requester.locator(".chat-row.mine a.file-link:has-text('erro-login.txt')").count() == 1
    shot(requester, 7, "resposta-com-arquivo")

    # 4. the attendant concludes with a resolution note
    attendant.goto(ticket_url)
    attendant.wait_for_selector("text=erro-login.txt")
    attendant.click("#toggle-conclude")
    attendant.fill("#note-conclude", "Conta desbloqueada e senha redefinida. Entre com a "
                                     "senha temporária enviada por e-mail.")
    shot(attendant, 8, "concluir")
    attendant.click("#submit-conclude")
    attendant.wait_for_selector("text=Atendimento concluído. O solicitante foi avisado")
    shot(attendant, 9, "concluido")

    # 5. the requester rejects the conclusion
    requester.goto(ticket_url)
    requester.wait_for_selector("#conclusao")
    assert "Conta desbloqueada" in requester.inner_text("#conclusao")
    shot(requester, 10, "aprovar-ou-reprovar")
    requester.click("#toggle-reject")
    requester.fill("#note-reject", "A senha temporária não chegou no meu e-mail.")
    requester.click("#submit-reject")
    requester.wait_for_selector("text=Encerramento reprovado. O chamado voltou")
    assert "Em atendimento" in requester.inner_text("#ticket-status")
    shot(requester, 11, "reprovado")

    # 6. the attendant concludes again
    attendant.goto(ticket_url)
    attendant.wait_for_selector("text=A senha temporária não chegou")
    attendant.click("#toggle-conclude")
    attendant.fill("#note-conclude", "Reenviei a senha temporária para joana@alfa.example "
                                     "e confirmei o recebimento por telefone.")
    attendant.click("#submit-conclude")
    attendant.wait_for_selector("text=Atendimento concluído. O solicitante foi avisado")
    shot(attendant, 12, "concluido-de-novo")

    # 7. the requester approves and rates it
    requester.goto(ticket_url)
    requester.wait_for_selector("#submit-approve")
    requester.click("#submit-approve")
    requester.wait_for_selector("#survey-form")
    shot(requester, 13, "pesquisa")
    requester.click("label[for=star-5]")
    requester.fill("#comment", "Atendimento rápido e muito atencioso. Obrigada!")
    requester.click("#survey-submit")
    requester.wait_for_selector("text=Obrigado! Sua avaliação foi registrada.")
    assert "Encerrado" in requester.inner_text("#ticket-status")
    assert requester.locator("#survey-form").count() == 0
    shot(requester, 14, "avaliado")

    # 8. the attendant sees the rating and the full history; a manager reads it only
    attendant.goto(ticket_url)
    attendant.wait_for_selector("text=5/5")
    assert attendant.locator("#actions-panel").count() == 0
    shot(attendant, 15, "atendente-ve-avaliacao")
    manager = page_for("alfa_manager")
    manager.goto("/chamados/")
    manager.wait_for_selector(f"tr[data-ticket='{ticket_id}']")
    shot(manager, 16, "gestor-lista")
    manager.goto(ticket_url)
    manager.wait_for_selector("#read-only-note")
    assert manager.locator("form[action*='/acao/']").count() == 0
    shot(manager, 17, "gestor-somente-leitura")
    manager.goto("/chamados/999999")
    manager.wait_for_selector("text=Chamado não encontrado")
    shot(manager, 19, "nao-encontrado")

    with app.app_context(), account_scope(world.account_id):
        ticket = db.session.get(Ticket, ticket_id)
        assert ticket.status == "closed" and ticket.reopen_count == 1
        assert ticket.assignee_id == world.users["attendant"]
        assert db.session.scalar(select(Survey.score).where(Survey.ticket_id == ticket_id)) == 5
        files = db.session.scalars(select(Attachment.filename).where(
            Attachment.ticket_id == ticket_id).order_by(Attachment.id)).all()
        assert files == ["print-erro.png", "erro-login.txt"]
        types = db.session.scalars(select(TicketEvent.type).where(
            TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)).all()
        assert types == ["opened", "assumed", "started", "message", "message", "concluded",
                         "rejected", "concluded", "approved", "survey"]
        db.session.remove()


def test_queue_shows_sla_badges_in_the_browser(page_for, world, app, backend):
    """A busier queue: unassigned on top, red for breached, yellow for near due."""
    descriptions = {
        "urgent": "Servidor de arquivos fora do ar para todo o setor financeiro.",
        "high": "Impressora do 2º andar não imprime em frente e verso.",
        "medium": "Criar acesso ao sistema de compras para o novo estagiário.",
        "low": "Trocar o mouse com defeito da estação 14.",
    }
    ids = {p: make_ticket(app, world, "open", priority=p, description=d)
           for p, d in descriptions.items()}
    working = make_ticket(app, world, "in_progress", priority="high",
                          description="VPN cai a cada 10 minutos em home office.")
    now = dt.datetime.now(dt.timezone.utc)
    with app.app_context(), account_scope(world.account_id):
        db.session.execute(update(Ticket).where(Ticket.id == ids["urgent"]).values(
            opened_at=now - dt.timedelta(hours=3), sla_due_at=now - dt.timedelta(hours=1)))
        db.session.execute(update(Ticket).where(Ticket.id == ids["high"]).values(
            opened_at=now - dt.timedelta(hours=7), sla_due_at=now + dt.timedelta(hours=1)))
        db.session.commit()
        db.session.remove()
    page = page_for("alfa_attendant")
    page.goto("/atendente/fila")
    rows = page.locator("tr.ticket-row").evaluate_all(
        "rows => rows.map(r => Number(r.dataset.ticket))")
    assert rows == [ids["urgent"], ids["high"], ids["medium"], ids["low"], working]
    assert page.locator(f"tr[data-ticket='{ids['urgent']}'] .sla-breached").count() == 1
    assert page.locator(f"tr[data-ticket='{ids['high']}'] .sla-near").count() == 1
    screenshot(page, f"journey-18-fila-com-prazos-{backend}")


def test_attendant_goes_to_a_ticket_by_its_number(page_for, world, app, backend):
    ticket_id = make_ticket(app, world, "open")
    page = page_for("alfa_attendant")
    page.goto("/atendente/fila")
    page.fill("#ticket-number", f"#{ticket_id}")
    page.press("#ticket-number", "Enter")
    page.wait_for_url(re.compile(rf".*/chamados/{ticket_id}$"))
    assert page.locator("h1, h2").first.is_visible()
    page.goto("/atendente/fila")
    page.fill("#ticket-number", "abc")
    page.click(".ticket-jump button[type=submit]")
    page.wait_for_url(re.compile(r".*/atendente/fila$"))
    assert "Informe o número do chamado" in page.content()
    screenshot(page, f"journey-20-numero-invalido-{backend}")
