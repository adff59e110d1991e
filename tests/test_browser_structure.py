"""A real browser (Debian chromium) on the administrator's screens, in pt-BR."""
import pytest

from tests.conftest import screenshot


@pytest.fixture
def admin_page(page_for, world):
    return page_for("alfa_admin")


def test_admin_walks_the_structure_screens(admin_page, backend):
    page = admin_page
    page.goto("/")
    assert "Empresa alfa" in page.content()
    page.click("text=Estrutura")
    page.click("a:has-text('Setores')")
    page.wait_for_selector("text=Financeiro")
    screenshot(page, f"structure-sectors-{backend}")
    page.goto("/serviceview/list/")
    page.wait_for_selector("text=Acesso")
    screenshot(page, f"structure-services-{backend}")
    page.goto("/departmentview/add")
    page.fill("#name", "Jurídico <script>alert(1)</script>")
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state("networkidle")
    page.goto("/departmentview/list/")
    assert page.locator("text=Jurídico <script>alert(1)</script>").count() == 1
    screenshot(page, f"structure-departments-{backend}")
    page.goto("/memberview/list/")
    page.wait_for_selector("text=alfa_requester")
    screenshot(page, f"structure-members-{backend}")
    page.goto("/conta/")
    page.select_option("#months", "3")
    page.click("text=Renovar plano")
    page.wait_for_selector("text=Plano renovado até")
    screenshot(page, f"account-{backend}")


def test_signup_page_in_browser(browser, live_server, backend):
    context = browser.new_context(base_url=live_server, locale="pt-BR")
    page = context.new_page()
    page.goto("/login/")
    page.click("#signup-link")
    page.fill("#company", "Oficina Boa Ltda")
    page.fill("#admin_name", "Rita Oliveira")
    page.fill("#admin_username", "rita")
    page.fill("#admin_email", "rita@oficina.example")
    page.fill("#admin_password", "senha-forte-rita")
    screenshot(page, f"signup-{backend}")
    page.click("#signup-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    screenshot(page, f"signup-done-{backend}")
    page.wait_for_selector("text=Conta criada")
    page.fill("#username", "rita")
    page.fill("#password", "senha-forte-rita")
    page.click("input[type=submit]")
    page.wait_for_selector("text=Oficina Boa Ltda")
    context.close()
