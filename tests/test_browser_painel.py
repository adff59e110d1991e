"""A manager opens the Painel in a real browser (Debian chromium): charts render, a
filter and a click on a bar narrow the view, and screenshots show how it reads."""
import os

import pytest

from tests.conftest import ARTIFACTS, screenshot


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
        populate_account(world.account_id, n_tickets=1200, months=4, seed=5)
    page = page_for("alfa_manager", bypass_csp=True)
    page.set_default_timeout(45000)  # a first load of every callback on a shared machine
    return page


def settled(page) -> None:
    """Every callback answered and every chart drawn."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function("document.querySelector('[data-dash-is-loading]') === null")
    page.wait_for_function(
        "document.querySelectorAll('.painel-chart .main-svg').length >= 8")


def visible_part(page, name: str) -> None:
    """What the screen shows without scrolling (beside the full-page screenshot)."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, f"{name}-screen.png"))


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


def test_manager_compares_last_month_and_drills_down(manager_page, backend):
    """Mês passado, its trend and the deltas; a week of the trend, a department bar and
    an attendant's row narrow the Painel, down to one ticket; the view is in the URL
    (a reload keeps it); the calendar speaks Portuguese; and on a phone the page does
    not widen."""
    page = manager_page
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto("/painel/")
    settled(page)
    page.click("#f-preset")
    page.click("text=Mês passado")
    page.wait_for_url("**preset=mes-passado**")
    settled(page)
    page.wait_for_selector("#chart-trend g.scatterlayer .trace path")
    delta = page.locator("#kpi-opened-delta").inner_text()
    assert "período anterior" in delta, delta
    assert page.locator("#kpi-opened-delta.good, #kpi-opened-delta.neutral,"
                        " #kpi-opened-delta.bad").count() == 1
    assert page.locator("#kpi-backlog-delta").inner_text().startswith("no início do período")
    page.locator("#card-handling .kpi-def summary").click()
    assert "encerrados no período" in page.locator("#card-handling .kpi-def p").inner_text()
    page.locator("#card-handling .kpi-def summary").click()
    screenshot(page, f"painel-last-month-{backend}")
    visible_part(page, f"painel-last-month-{backend}")

    page.click("#f-period")
    calendar = page.locator(".dash-datepicker-content").first
    calendar.wait_for()
    text = calendar.inner_text().lower()
    assert "novembro" in text or "outubro" in text or "dezembro" in text, text[:200]
    assert "seg" in text and "mon" not in text and "su" not in text.split()
    assert page.locator("[aria-label='Mês anterior']").count() == 1
    screenshot(page, f"painel-calendar-{backend}")
    page.keyboard.press("Escape")

    page.reload()  # the view is in the address: a bookmark opens the same one
    settled(page)
    assert "preset=mes-passado" in page.url
    assert "Mês passado" in page.locator("#f-preset").inner_text()

    page.click("#trend-granularity >> text=Semana")
    page.wait_for_url("**granularity=week**")
    page.wait_for_function(  # the weekly figure drawn, not the daily one still shown
        "() => document.querySelector('#trend-note').innerText.startsWith('Por semana')")
    settled(page)
    opened_month = page.locator("#kpi-opened").inner_text()
    page.locator("#chart-trend g.scatterlayer .trace:first-child .points path").nth(1).click(
        force=True)
    page.wait_for_selector("#cross-wrap:visible")
    assert "Intervalo: semana de" in page.locator("#cross-chip").inner_text()
    page.wait_for_function(
        "before => document.querySelector('#kpi-opened').innerText !== before",
        arg=opened_month)
    settled(page)
    screenshot(page, f"painel-trend-click-{backend}")
    visible_part(page, f"painel-trend-click-{backend}")

    page.locator("#chart-department g.trace.bars path").first.click(force=True)
    page.wait_for_function(
        "() => document.querySelector('#cross-chip').innerText.includes('Departamento')")
    assert "Intervalo" in page.locator("#cross-chip").inner_text()  # the two combine
    settled(page)
    page.click("#cross-clear")
    page.wait_for_selector("#cross-wrap", state="hidden")
    settled(page)

    page.locator("#attendants-body .painel-row-drill").first.click()
    page.wait_for_function(
        "() => document.querySelector('#cross-chip').innerText.includes('Atendente')")
    settled(page)
    link = page.locator("#drill-table a[href^='/chamados/']").first
    with page.context.expect_page() as opened:
        link.click()
    ticket = opened.value
    ticket.wait_for_load_state()
    assert "/chamados/" in ticket.url and ticket.locator("text=Chamado").count() > 0
    ticket.close()

    first = page.locator("#attendants-body tr td").first.inner_text()
    page.click("#table-attendants th:nth-child(1) button")  # by name, A to Z
    settled(page)
    names = page.locator("#attendants-body tr td:first-child").all_inner_texts()
    assert names == sorted(names, key=str.lower) and first in names
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()  # the same address on a phone
    settled(page)
    assert "Mês passado" in page.locator("#f-preset").inner_text()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, width
    screenshot(page, f"painel-phone-{backend}")
    visible_part(page, f"painel-phone-{backend}")
