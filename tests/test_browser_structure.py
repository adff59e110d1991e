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
    assert page.locator("td.col-name a", has_text="Jurídico <script>alert(1)</script>").count() == 1
    screenshot(page, f"structure-departments-{backend}")
    page.goto("/memberview/list/")
    page.wait_for_selector("text=alfa_requester")
    screenshot(page, f"structure-members-{backend}")
    page.goto("/conta/")
    page.select_option("#months", "3")
    page.click("text=Renovar plano")
    page.wait_for_selector("text=Plano renovado até")
    screenshot(page, f"account-{backend}")
