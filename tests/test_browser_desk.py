"""The attendant's desk in a real browser (issue 10's journey).

An attendant writes an internal note and transfers a ticket to the right department;
an attendant there finds it by a word of its description typed without its accent,
answers with a canned reply, and the requester's page shows none of the note.
Screenshots: test-artifacts/mesa-*.
"""
import re

from app import canned
from app.extensions import db
from app.tenancy import account_scope
from tests.conftest import screenshot

NOTE = "Nota interna: isto é com o RH; a solicitante já ligou duas vezes."


def test_note_transfer_search_and_canned_reply(page_for, world, app, backend):
    shot = lambda page, n, name: screenshot(page, f"mesa-{n:02d}-{name}-{backend}")
    with app.app_context(), account_scope(world.account_id):
        canned.save(None, {"title": "Férias: prazo", "department_id": world.departments["RH"],
                           "body": "Olá, {solicitante}! Recebemos o {chamado} sobre "
                                   "{servico}. A programação sai em até 5 dias úteis. "
                                   "— {atendente}"})
        db.session.remove()

    # The requester asks TI for something that is RH's.
    requester = page_for("alfa_requester")
    requester.goto("/cliente/abrir")
    requester.select_option("#department_id", label="TI")
    requester.select_option("#service_id", label="Acesso")
    requester.check("input[name=priority][value=medium]")
    requester.fill("#description", "Preciso da programação das minhas férias de janeiro "
                                   "e do aviso assinado.")
    requester.click("#open-submit")
    requester.wait_for_selector("text=aberto. Você será avisado")
    ticket_url = requester.url
    ticket_id = int(re.search(r"/chamados/(\d+)", ticket_url).group(1))

    # TI: an internal note, then the transfer to RH.
    ti = page_for("alfa_attendant")
    ti.goto(ticket_url)
    ti.wait_for_selector("#note-form")
    ti.fill("#note-body", NOTE)
    ti.click("#note-submit")
    ti.wait_for_selector("text=Nota interna registrada.")
    assert ti.locator(".chat-bubble.internal-note").count() == 1
    shot(ti, 1, "nota-interna")
    ti.click("#toggle-transfer")
    ti.select_option("#transfer-target",
                     f"{world.departments['RH']}:{world.services['Férias']}")
    ti.fill("#note-transfer", "Pedido de férias é do RH.")
    shot(ti, 2, "transferir")
    ti.click("#submit-transfer")
    ti.wait_for_selector("text=Chamado transferido.")
    assert "/atendente/fila" in ti.url
    assert ti.goto(ticket_url).status == 404          # TI no longer sees it

    # RH finds it by a word typed without its accent, and answers with a canned reply.
    rh = page_for("alfa_attendant_other")
    rh.goto("/atendente/fila")
    rh.fill("#filter-search", "ferias")
    rh.press("#filter-search", "Enter")
    rh.wait_for_selector(f"tr[data-ticket='{ticket_id}']")
    assert "busca=ferias" in rh.url
    shot(rh, 3, "busca-sem-acento")
    rh.click(f"tr[data-ticket='{ticket_id}'] a.ticket-title")
    rh.wait_for_selector("#submit-assume")
    assert NOTE in rh.inner_text("#chat")                # staff of the new department see it
    rh.click("#submit-assume")
    rh.wait_for_selector("text=Chamado assumido.")
    rh.click("#submit-start")
    rh.wait_for_selector("text=Atendimento iniciado.")
    rh.select_option("#canned-reply", label="Férias: prazo")
    text = rh.input_value("#body")
    assert text.startswith(f"Olá, Requester alfa! Recebemos o #{ticket_id} sobre Férias.")
    assert text.endswith("— Attendant_other alfa")
    rh.fill("#body", text + " Qualquer dúvida, responda aqui.")   # still editable
    shot(rh, 4, "resposta-pronta")
    rh.click("#message-submit")
    rh.wait_for_selector("text=Mensagem enviada.")

    # The requester sees the answer and nothing of the note.
    requester.goto(ticket_url)
    requester.wait_for_selector("#chat")
    page_text = requester.inner_text("body")
    assert "A programação sai em até 5 dias úteis." in page_text
    assert "Qualquer dúvida, responda aqui." in page_text
    assert NOTE not in requester.content() and "Nota interna" not in page_text
    assert requester.locator(".internal-note").count() == 0
    shot(requester, 5, "solicitante-sem-nota")
