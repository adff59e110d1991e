"""Accounts people manage themselves, in a real browser (Debian chromium): an invited
member receives the invitation mail (real SMTP sink) and chooses a password; a wrong
password keeps the username and says so in Portuguese; "Meu perfil" changes the
password and logs out an older session in another browser ("Sua sessão terminou");
"Esqueci minha senha" works end to end through the outbox and the SMTP sink.
Screenshots: test-artifacts/conta-*."""
import re

from tests.conftest import screenshot, token_for
from tests.smtp_server import drain, smtp  # noqa: F401

PASSWORD = "girassol azul na janela"

NEW = "cavalo correto bateria"
NEWER = "outra frase bem comprida"


def _new_page(browser, live_server):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="pt-BR",
                                  base_url=live_server)
    page = context.new_page()
    page.set_default_timeout(15000)
    return context, page


def _login(page, username, password):
    page.goto("/login/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_load_state("networkidle")


def _mailed_link(app, sink, kind: str) -> str:
    assert drain(app)["sent"] == 1
    message = sink.received()[-1]["message"]
    text = message.get_body(("plain",)).get_content()
    return re.search(rf"http://\S+(/senha/{kind}/\S+)", text).group(1)


def test_invited_member_chooses_a_password_changes_it_and_resets_it_by_mail(
        app, world, browser, live_server, backend, smtp):  # noqa: F811
    shot = lambda page, n, name: screenshot(page, f"conta-{n:02d}-{name}-{backend}")
    older_context, older = _new_page(browser, live_server)
    context, page = _new_page(browser, live_server)
    try:
        # The administrator invites a member without typing a password.
        created = app.test_client().post("/api/v1/member/", json={
            "first_name": "Nina", "last_name": "Souza", "username": "alfa_nina",
            "email": "nina@alfa.example", "profiles": ["requester"],
            "sector_id": world.sectors["Financeiro"]},
            headers={"Authorization": f"Bearer {token_for(app, world.users['admin'])}"})
        assert created.status_code == 201, created.json
        page.goto(_mailed_link(app, smtp, "convite"))
        assert "alfa_nina" in page.inner_text("body")
        page.fill("#new_password", PASSWORD)
        page.fill("#confirm_password", PASSWORD)
        shot(page, 0, "convite")
        page.click("#choose-submit")
        page.wait_for_selector("text=Senha criada")

        # An older session in another browser.
        _login(older, "alfa_nina", PASSWORD)
        assert "/login" not in older.url

        # A wrong password: Portuguese message, the username still typed.
        _login(page, "alfa_nina", "senha-errada-123")
        assert "Usuário ou senha incorretos." in page.inner_text("body")
        assert page.input_value("#username") == "alfa_nina"
        assert page.inner_text(".panel-title") == "Entrar"
        shot(page, 1, "login-errado")

        # The right one, then "Meu perfil" from the user menu.
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_load_state("networkidle")
        page.click("#user-menu")
        assert page.is_visible("#logout-link:has-text('Sair')")
        page.click("#profile-link")
        page.wait_for_selector("#password-form")
        assert page.get_attribute("#sector", "readonly") is not None
        shot(page, 2, "meu-perfil")
        page.fill("#current_password", PASSWORD)
        page.fill("#new_password", "1234567890")
        page.fill("#confirm_password", "1234567890")
        page.click("#password-save")
        assert "mais usadas" in page.inner_text("body")
        shot(page, 3, "senha-fraca")
        page.fill("#current_password", PASSWORD)
        page.fill("#new_password", NEW)
        page.fill("#confirm_password", NEW)
        page.click("#password-save")
        page.wait_for_selector("text=Senha alterada")
        shot(page, 4, "senha-alterada")

        # This session goes on; the older one is sent to the login page.
        page.goto("/perfil/")
        assert "/login" not in page.url
        older.goto("/perfil/")
        assert "/login" in older.url
        assert "Sua sessão terminou" in older.inner_text("body")
        shot(older, 5, "sessao-antiga-encerrada")

        # Forgotten password: ask, read the mail from the outbox, choose a new one.
        page.click("#user-menu")
        page.click("#logout-link")
        page.goto("/login/")
        page.click("#forgot-link")
        page.fill("#email", "nina@alfa.example")
        shot(page, 6, "esqueci")
        page.click("#forgot-submit")
        page.wait_for_selector("text=Se o e-mail estiver cadastrado")
        page.goto(_mailed_link(app, smtp, "nova"))
        page.fill("#new_password", NEWER)
        page.fill("#confirm_password", NEWER)
        shot(page, 7, "nova-senha")
        page.click("#choose-submit")
        page.wait_for_selector("text=Senha criada")
        _login(page, "alfa_nina", NEWER)
        assert "/login" not in page.url
        shot(page, 8, "entrou-com-a-nova")
    finally:
        context.close()
        older_context.close()
