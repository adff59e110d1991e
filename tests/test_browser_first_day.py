"""A new company's first day in a real browser: sign up from the home page, follow the
checklist to the first ticket, never typing a URL (issue 14). Screenshots:
test-artifacts/primeiro-dia-*."""
from tests.conftest import screenshot

PASSWORD = "senha-forte-da-rita"


def test_new_company_follows_the_checklist_to_its_first_ticket(browser, live_server, app,
                                                               backend):
    context = browser.new_context(base_url=live_server, locale="pt-BR",
                                  viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(15000)
    shot = lambda n, name: screenshot(page, f"primeiro-dia-{n:02d}-{name}-{backend}")

    page.goto("/")                                   # the only URL: the product's address
    page.click("#signup-home")
    page.fill("#company", "Oficina Boa Ltda")
    page.fill("#admin_name", "Rita Oliveira")
    page.fill("#admin_username", "rita")
    page.fill("#admin_email", "rita@oficina.example")
    page.fill("#admin_password", PASSWORD)
    page.click("#signup-form button[type=submit]")
    page.wait_for_selector("#first-steps")
    assert "Oficina Boa Ltda" in page.inner_text("main")
    assert "Faltam 4 de 4 passos" in page.inner_text("#first-steps")
    shot(1, "checklist")

    # 1. A member who will attend.
    page.click("#step-members-action")
    page.fill("#first_name", "Beto")
    page.fill("#last_name", "Souza")
    page.fill("#username", "beto")
    page.fill("#email", "beto@oficina.example")
    page.select_option("#roles", label="Atendente")
    for field in ("#password", "#conf_password"):
        if page.locator(field).count():
            page.fill(field, "senha-forte-do-beto")
    page.click("#admin-save")                      # saved: back where the step began
    page.wait_for_selector("text=Membro criado.")
    assert page.get_attribute("#step-members", "data-done") == "sim"

    # 2. A department with that attendant.
    page.click("#step-department-action")
    page.fill("#name", "Manutenção")
    page.select_option("#attendants", label="Beto Souza")
    shot(2, "departamento")
    page.click("#admin-save")
    page.wait_for_selector("text=Departamento “Manutenção” criado.")
    assert page.get_attribute("#step-department", "data-done") == "sim"

    # 3. A service with its SLA.
    page.click("#step-service-action")
    page.fill("#name", "Conserto de equipamento")
    page.select_option("#department", label="Manutenção")
    page.fill("#sla_hours", "12")
    shot(3, "servico")
    page.click("#admin-save")
    page.wait_for_selector("text=Serviço “Conserto de equipamento” criado.")
    assert "Faltam 1 de 4 passos" in page.inner_text("#first-steps")
    shot(4, "quase-pronto")

    # 4. The test ticket.
    page.click("#step-ticket-action")
    page.select_option("#department_id", label="Manutenção")
    page.select_option("#service_id", label="Conserto de equipamento")
    page.check("input[name=priority][value=medium]")
    page.fill("#description", "Chamado de teste: a impressora do balcão não liga.")
    page.click("#open-submit")
    page.wait_for_selector("text=aberto. Você será avisado")
    shot(5, "primeiro-chamado")
    page.click("a.navbar-brand, .navbar-brand a")
    page.wait_for_selector(".home")
    assert page.locator("#first-steps").count() == 0   # done: the checklist steps aside
    shot(6, "inicio")
    context.close()
