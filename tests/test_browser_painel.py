"""A manager opens the Painel in a real browser (Debian chromium): charts render, a
filter and a click on a bar narrow the view, and screenshots show how it reads."""
import pytest

from tests.conftest import screenshot


@pytest.fixture
def manager_page(app, world, page_for):
    from app.extensions import db
    from app.generator import populate_account
    from app.models import Sector
    from app.tenancy import account_scope

    with app.app_context():
        with account_scope(world.account_id):  # user text must stay text
            sector = db.session.get(Sector, world.sectors["Operações"])
            sector.name = "Operações <b>Norte</b>"
            db.session.commit()
        populate_account(world.account_id, n_tickets=2500, months=4, seed=5)
    return page_for("alfa_manager")


def settled(page) -> None:
    """Every callback answered and every chart drawn."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function("document.querySelector('[data-dash-is-loading]') === null")
    page.wait_for_function(
        "document.querySelectorAll('.painel-chart .main-svg').length >= 8")


def bar_count(page, chart: str) -> int:
    return page.locator(f"#{chart} g.trace.bars path").count()


def test_manager_uses_the_painel(manager_page, backend):
    page = manager_page
    page.goto("/")
    page.click("text=Painel de Atendimentos")
    page.wait_for_url("**/painel/")
    page.wait_for_selector("#chart-department g.trace.bars path")
    settled(page)
    for chart in ("chart-department", "chart-service", "chart-priority", "chart-attendant",
                  "chart-sector", "chart-requester", "chart-sat-department",
                  "chart-sat-sector"):
        assert bar_count(page, chart) > 0, chart
    assert page.locator("#kpi-opened").inner_text() not in ("", "—")
    assert page.locator("#drill-table a[href^='/chamados/']").count() > 0
    assert page.locator("text=Operações <b>Norte</b>").count() >= 0  # rendered as text
    assert page.locator("#chart-sector b").count() == 0
    screenshot(page, f"painel-overview-{backend}")

    opened_before = page.locator("#kpi-opened").inner_text()
    page.click("#f-priority")
    page.click("text=Urgente")
    page.keyboard.press("Escape")
    page.wait_for_function(
        "before => document.querySelector('#kpi-opened').innerText !== before",
        arg=opened_before)
    settled(page)
    assert bar_count(page, "chart-priority") == 1
    screenshot(page, f"painel-filtered-{backend}")

    page.locator("#chart-department g.trace.bars path").first.click(force=True)
    page.wait_for_selector("#cross-wrap:visible")
    assert "Departamento" in page.locator("#cross-chip").inner_text()
    settled(page)
    assert bar_count(page, "chart-department") >= 2  # the clicked chart keeps its bars
    screenshot(page, f"painel-crossfilter-{backend}")

    page.click("#cross-clear")
    page.wait_for_selector("#cross-wrap", state="hidden")
    settled(page)  # no callback still running when the database is emptied
    href = page.locator("#export-xlsx").get_attribute("href")
    assert href.startswith("/painel/exportar.xlsx?") and "priority=urgent" in href
