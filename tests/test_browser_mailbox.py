"""Browser: an administrator sets up the company's mailbox on "Caixa de e-mail", the
poller finds the password wrong, and the screen says so without ever showing it."""
from sqlalchemy import select

from app.extensions import db
from app.mailbox import poller
from app.mailbox.models import Mailbox
from app.tenancy import UNSCOPED, account_scope
from tests.conftest import screenshot

WRONG = "Senha-errada-no-navegador-5e1"


def test_an_administrator_sets_up_the_mailbox_and_sees_a_refused_login(
        app, world, imap_server, page_for, monkeypatch):
    monkeypatch.setitem(app.config, "MAILBOX_ALLOW_PRIVATE_HOSTS", True)
    user, _ = imap_server.new_user()
    page = page_for("alfa_admin")
    page.goto("/conta/caixa-de-email/")
    page.fill("#mb-host", imap_server.host)
    page.select_option("#mb-security", "none")
    page.fill("#mb-port", str(imap_server.port))
    page.fill("#mb-username", user)
    page.fill("#mb-password", WRONG)
    page.select_option("#mb-department_id", str(world.departments["TI"]))
    page.select_option("#mb-service_id", str(world.services["Acesso"]))
    page.check("input[name=active]")
    page.click("#mailbox-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "Caixa de e-mail salva" in page.content()
    assert page.locator("#mailbox-state .label").first.inner_text() == "Ainda não verificada"

    with app.app_context():
        with account_scope(UNSCOPED):
            mailbox_id = db.session.scalar(select(Mailbox.id))
        assert poller.poll_due()[mailbox_id]["state"] == "auth_error"
        db.session.remove()
    page.reload()
    page.wait_for_load_state("networkidle")
    assert page.locator("#mailbox-state .label").first.inner_text() == "Login recusado"
    error = page.locator("#mailbox-error").inner_text()
    assert error.startswith(f"Login recusado para o usuário {user}: [AUTHENTICATIONFAILED]")
    assert page.input_value("#mb-password") == ""
    assert "Senha definida" in page.locator("#mb-password-state").inner_text()
    assert WRONG not in page.content()
    screenshot(page, "mailbox-login-refused")
