"""A manager subscribes to the weekly Painel report on the screen, in a real browser; the
jobs run at its hour and the mail, with the XLSX, reaches the SMTP sink.
Screenshots: test-artifacts/relatorios-*."""
import datetime as dt
import io

import openpyxl
from sqlalchemy import select

from app import reports
from app.extensions import db
from app.models import ReportSubscription
from app.tenancy import UNSCOPED, account_scope
from tests.conftest import screenshot
from tests.helpers import make_ticket
from tests.smtp_server import drain, smtp  # noqa: F401


def test_a_manager_subscribes_on_the_screen_and_gets_the_mail(page_for, app, world,
                                                               smtp, backend):  # noqa: F811
    for state, priority in (("open", "high"), ("closed", "urgent"), ("in_progress", "low")):
        make_ticket(app, world, state, priority=priority)
    drain(app)  # the tickets' own notifications
    smtp.clear()
    page = page_for("alfa_manager")
    page.goto("/")
    page.click("a.home-reports")
    page.wait_for_selector("#report-form")
    assert page.locator("#no-reports").is_visible()
    page.check("#frequency-weekly")
    page.select_option("#weekday", "0")
    page.select_option("#hour", "8")
    page.select_option("#f-department_id", label="TI")
    page.select_option("#f-priority", ["high", "urgent"])
    page.click("#subscribe")
    page.wait_for_selector(".report-row")
    text = page.locator("#my-reports").inner_text()
    assert "Toda segunda-feira às 08:00" in text
    assert "Departamento: TI" in text and "Prioridade: Alta, Urgente" in text
    screenshot(page, f"relatorios-01-assinado-{backend}")

    with app.app_context(), account_scope(UNSCOPED):
        sub = db.session.scalars(select(ReportSubscription)).one()
        due = reports.as_utc(sub.next_run_at)
        db.session.remove()
    assert due.astimezone(reports.ZoneInfo("America/Sao_Paulo")).strftime("%a %H") == "Mon 08"
    with app.app_context():
        assert reports.run_due_reports(due + dt.timedelta(seconds=30))["queued"] == 1
    assert drain(app)["sent"] == 1
    message = smtp.received()[0]["message"]
    assert "Relatório semanal do Painel" in message["Subject"]
    body = message.get_body(("plain",)).get_content()
    assert "Departamento: TI" in body and "Abertos no período: 2 (anterior: 0" in body
    (part,) = list(message.iter_attachments())
    book = openpyxl.load_workbook(io.BytesIO(part.get_content()), read_only=True)
    assert book.sheetnames == ["Indicadores", "Comparação", "Chamados", "Atendentes",
                               "Serviços"]
    assert len(list(book["Chamados"].iter_rows(values_only=True))) == 1 + 2
    mail_page = page.context.new_page()
    mail_page.set_content(message.get_body(("html",)).get_content())
    screenshot(mail_page, f"relatorios-03-email-{backend}")
    mail_page.close()
    page.reload()
    page.wait_for_selector(".report-row")
    assert "período" in page.locator("#my-reports").inner_text()
    screenshot(page, f"relatorios-02-enviado-{backend}")
