"""Every screen of every profile in a real browser, at a desktop and a phone width.

One page load per screen per viewport, and on each load:

- no English word of a list that cannot appear in a Portuguese interface (visible text,
  hidden text such as the delete modal, and the attributes people hear or read:
  title, placeholder, aria-label, alt, data-placeholder, button values);
- ``<html lang="pt-BR">``;
- axe-core (axe-playwright-python): no serious or critical violation;
- no horizontal page scroll (``document.documentElement.scrollWidth`` within the
  viewport);
- a full-page screenshot under test-artifacts/telas/.

The Painel (Dash, /painel/) is crawled the same way for the manager and the
administrator, once every callback has answered, with a dropdown and the date picker
opened once so their texts (search box, "select all", month and weekday names) are in
the page when the words are read; its own behaviour is tests/test_browser_painel.py.
Contexts run in pt-BR and America/Sao_Paulo, as a Brazilian's browser does.
"""
from __future__ import annotations

import os
import re
import time

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.conftest import ARTIFACTS, BROWSER_CONTEXT, PASSWORD
from tests.helpers import make_ticket

PT_BR_PAK = "/usr/lib/chromium/locales/pt-BR.pak"   # chromium-l10n
PAINEL = "/painel/"
PAINEL_TICKETS = 300   # enough for every chart, table and the drill-down's pager
VIEWPORTS = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}

# Words of FAB, Dash, Bootstrap and select2 that must never reach a Portuguese screen
# (case-sensitive, whole words: "No" or "Show" inside Portuguese text would not match).
ENGLISH = [
    "Add", "Edit", "Show", "Delete", "Back", "Save", "Search", "Select", "Value",
    "Remove", "None", "Cancel", "Are you sure", "confirmation", "In", "Not In",
    "Contains", "Equal to", "Greater than", "Smaller than", "Starts with", "Ends with",
    "Relation", "Actions", "Record Count", "Records", "Page size", "Order by", "Filter",
    "Refresh", "List", "Home", "Security", "Login", "Logout", "Password", "User",
    "Username", "Submit", "Previous", "Next", "Yes", "True", "False", "Loading",
    "Close", "items", "results", "found", "Sign In", "Welcome", "Page", "Permission",
    "Roles", "Group", "Please", "required", "Invalid", "Error", "Select All",
    "Deselect All", "Su", "Mo", "Tu", "We", "Th", "Fr", "Sa", "November", "December",
    "Increase", "Decrease", "Clear", "Dates", "Calendar", "calendar", "month",
]
ENGLISH_RE = re.compile(r"(?<![\w-])(" + "|".join(re.escape(w) for w in ENGLISH) + r")(?![\w-])")

# Every piece of text a person reads or hears, hidden ones included; never script/style.
TEXT_JS = """() => {
  const parts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const tag = n.parentElement && n.parentElement.tagName;
    if (tag !== 'SCRIPT' && tag !== 'STYLE' && tag !== 'NOSCRIPT') parts.push(n.nodeValue);
  }
  for (const el of document.querySelectorAll('[title],[placeholder],[aria-label],[alt],[data-placeholder],input[type=submit],input[type=button]')) {
    for (const a of ['title', 'placeholder', 'aria-label', 'alt', 'data-placeholder']) {
      if (el.getAttribute(a)) parts.push(el.getAttribute(a));
    }
    if (el.tagName === 'INPUT' && (el.type === 'submit' || el.type === 'button')) parts.push(el.value);
  }
  parts.push(document.title);
  return parts.join('\\n');
}"""
SCROLL_JS = "() => document.documentElement.scrollWidth"
AXE = Axe()
AXE_OPTIONS = {"resultTypes": ["violations"],
               "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a",
                                                     "wcag21aa", "best-practice"]}}


def _screens(app, world) -> dict[str, list[str]]:
    """profile -> the URLs that profile reaches from its menus (one of each kind)."""
    from app.extensions import db
    from app.models import CannedReply, Member
    from app.tenancy import account_scope

    open_id = make_ticket(app, world, "open")
    progress_id = make_ticket(app, world, "in_progress")
    concluded_id = make_ticket(app, world, "concluded")
    closed_id = make_ticket(app, world, "closed")
    with app.app_context(), account_scope(world.account_id):
        from app import canned

        reply = canned.save(None, {"title": "Boas-vindas", "department_id": None,
                                   "body": "Olá, {solicitante}!"})
        reply_id = reply.id
        member_id = db.session.get(Member, world.users["requester"]).id
        db.session.remove()
    sector, department, service = (world.sectors["Financeiro"], world.departments["TI"],
                                   world.services["Acesso"])
    crud = []
    for view, pk in (("sectorview", sector), ("memberview", member_id),
                     ("departmentview", department), ("serviceview", service),
                     ("cannedreplyview", reply_id)):
        crud += [f"/{view}/list/", f"/{view}/add", f"/{view}/edit/{pk}", f"/{view}/show/{pk}"]
    del CannedReply
    return {
        "anonymous": ["/", "/login/", "/cadastro/", "/senha/esqueci"],
        "requester": ["/", "/cliente/abrir", "/cliente/chamados",
                      f"/chamados/{concluded_id}", f"/chamados/{closed_id}", "/perfil/"],
        "attendant": ["/", "/atendente/fila", "/atendente/meus", f"/chamados/{open_id}",
                      f"/chamados/{progress_id}"],
        "manager": ["/", "/chamados/", f"/chamados/{closed_id}", PAINEL],
        "admin": ["/", *crud, "/conta/", "/notificacoes/", "/conta/calendario/",
                  "/chamados/", "/memberview/list/?_flt_0_first_name=x",
                  f"/memberview/list/?_flt_0_sector={sector}", PAINEL],
    }


def _login(page, username):
    page.goto("/login/")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, username


def _slug(url: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", url.lower()).strip("-") or "inicio"


def _check_language_and_axe(page, where: str, timings: dict) -> list[str]:
    return _check_language(page, where) + _check_axe(page, where, timings)


def _check_language(page, where: str) -> list[str]:
    problems = []
    lang = page.evaluate("() => document.documentElement.lang")
    if lang != "pt-BR":
        problems.append(f"{where}: lang={lang!r}")
    text = page.evaluate(TEXT_JS)
    for match in sorted(set(ENGLISH_RE.findall(text))):
        problems.append(f"{where}: English {match!r}")
    if "__None" in text:
        problems.append(f"{where}: FAB's '__None'")
    return problems


def _check_axe(page, where: str, timings: dict, context=None) -> list[str]:
    problems = []
    started = time.perf_counter()
    results = AXE.run(page, context=context, options=AXE_OPTIONS)
    timings["axe"] += time.perf_counter() - started
    for violation in results.response["violations"]:
        if violation["impact"] in ("serious", "critical"):
            targets = [n["target"] for n in violation["nodes"]][:3]
            problems.append(f"{where}: axe {violation['id']} {targets}")
    return problems


def _painel_settled(page) -> None:
    """Every Painel callback answered and every chart drawn. Locators only: the crawl
    keeps the pages' CSP (wait_for_function would need 'unsafe-eval'). The first load
    runs every callback: up to 45 s on a busy shared machine."""
    page.wait_for_load_state("networkidle")
    page.locator(".painel-chart .main-svg").nth(7).wait_for(state="attached")
    page.locator("#chart-trend .main-svg").first.wait_for(state="attached")
    page.wait_for_selector("#kpi-opened:not(:text-is('—'))")
    page.wait_for_selector("#drill-table > *")
    page.wait_for_selector("#risk-table > *")
    page.wait_for_selector("[data-dash-is-loading]", state="detached")
    page.wait_for_selector(".main-svg text:text-is('Carregando…')", state="detached")


PAINEL_TIMEOUT = 45000
# plotly's SVG (thousands of nodes: axes, bars, points) is a picture, not text to read:
# axe-core skips it, which keeps the run short; the charts' titles and tables are HTML.
PAINEL_AXE_CONTEXT = {"exclude": [[".main-svg"]]}


def _painel_words(page, where: str) -> list[str]:
    """The words of Dash's popups, which exist only while open: a multiple dropdown
    (search box, select all, counts) and the date picker (month, weekdays, buttons)."""
    problems = []
    page.click("#f-department_id")
    page.wait_for_selector(".dash-dropdown-content, [role=listbox]")
    text = page.evaluate(TEXT_JS)
    if "Selecionar todos" not in text:
        problems.append(f"{where} dropdown: not open or not in Portuguese")
    problems += [f"{where} dropdown: English {w!r}" for w in sorted(set(ENGLISH_RE.findall(text)))]
    page.keyboard.press("Escape")
    page.click("#f-period")
    page.locator(".dash-datepicker-content").first.wait_for()
    text = page.evaluate(TEXT_JS)
    if not re.search(r"janeiro|fevereiro|março|abril|maio|junho|julho|agosto|setembro|"
                     r"outubro|novembro|dezembro", text):
        problems.append(f"{where} calendar: no Portuguese month")
    problems += [f"{where} calendar: English {w!r}" for w in sorted(set(ENGLISH_RE.findall(text)))]
    return problems


def _close_calendar(page) -> None:
    page.keyboard.press("Escape")
    page.locator(".dash-datepicker-content").first.wait_for(state="hidden")


PHONE_FITS_JS = """() => [...document.querySelectorAll('.painel-chart .main-svg, #chart-trend .main-svg')]
  .every(svg => svg.getBoundingClientRect().width <= window.innerWidth)"""


def _crawl_painel(page, profile: str, folder: str, backend: str, timings: dict) -> list[str]:
    """The Painel at the desktop width (words, lang, the popups' words, axe-core once
    with the date picker open: the page and the calendar in one run), then the same
    page narrowed to the phone width (Dash and plotly re-lay out on resize, no reload)."""
    where = f"{profile} {PAINEL}"
    page.set_viewport_size(VIEWPORTS["desktop"])
    page.set_default_timeout(PAINEL_TIMEOUT)
    started = time.perf_counter()
    response = page.goto(PAINEL)
    if response is None or response.status >= 400:
        return [f"{where}: HTTP {response and response.status}"]
    _painel_settled(page)
    timings["painel"] += time.perf_counter() - started
    timings["painel_settle"] = timings.get("painel_settle", 0.0) + time.perf_counter() - started
    shot = os.path.join(folder, f"{profile}-painel-{{}}-{backend}.png")
    problems = []
    width = page.evaluate(SCROLL_JS)
    if width > VIEWPORTS["desktop"]["width"]:
        problems.append(f"{where} desktop: page {width}px wide")
    problems += _check_language(page, where)
    page.screenshot(path=shot.format("desktop"), full_page=True)
    problems += _painel_words(page, where)
    started = time.perf_counter()
    problems += _check_axe(page, f"{where} (calendário aberto)", timings, PAINEL_AXE_CONTEXT)
    timings["painel_axe"] = timings.get("painel_axe", 0.0) + time.perf_counter() - started
    page.screenshot(path=shot.format("calendario"))
    _close_calendar(page)
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    started = time.perf_counter()
    page.set_viewport_size(VIEWPORTS["phone"])
    for _ in range(100):   # the charts' relayout: polled, no fixed sleep
        if page.evaluate(PHONE_FITS_JS):
            break
        page.wait_for_timeout(50)
    timings["painel"] += time.perf_counter() - started
    timings["painel_phone"] = timings.get("painel_phone", 0.0) + time.perf_counter() - started
    width = page.evaluate(SCROLL_JS)
    if width > VIEWPORTS["phone"]["width"]:
        problems.append(f"{where} phone: page {width}px wide")
    page.screenshot(path=shot.format("phone"), full_page=True)
    page.screenshot(path=shot.format("phone-tela"))
    page.set_default_timeout(15000)
    return problems


def _check_delete_confirmation(page, where: str) -> list[str]:
    """"Excluir" asks first, in Portuguese, in the page's modal; "Cancelar" deletes nothing."""
    page.click("tr[data-pk] .btn-delete >> nth=0")
    page.wait_for_selector("#modal-confirm", state="visible")
    text = page.inner_text("#modal-confirm")
    problems = [f"{where} modal: English {w!r}" for w in sorted(set(ENGLISH_RE.findall(text)))]
    if "Excluir o setor “Financeiro”?" not in text or "Cancelar" not in text:
        problems.append(f"{where} modal: {text!r}")
    page.click("#modal-confirm button:has-text('Cancelar')")
    page.wait_for_selector("#modal-confirm", state="hidden")
    if page.locator("tr[data-pk]").count() != 2:
        problems.append(f"{where}: a sector went away on Cancelar")
    return problems


def test_every_screen_is_portuguese_accessible_and_fits(backend, request):
    if backend != "sqlite":   # skipped before the fixtures: no PostgreSQL server served
        pytest.skip("the screens render the same on both backends: crawled once, on SQLite")
    if os.path.isdir(os.path.dirname(PT_BR_PAK)):   # Debian's chromium
        assert os.path.exists(PT_BR_PAK), ("apt-get install chromium-l10n: without it the "
                                           "browser's date fields read mm/dd/yyyy")
    app, world, browser, live_server = (request.getfixturevalue(name) for name in (
        "app", "world", "browser", "live_server"))
    from app.generator import populate_account

    screens = _screens(app, world)
    folder = os.path.join(ARTIFACTS, "telas")
    os.makedirs(folder, exist_ok=True)
    problems: list[str] = []
    timings = {"load": 0.0, "axe": 0.0, "screenshot": 0.0, "painel": 0.0}
    for profile, urls in screens.items():
        if profile == "manager":   # the Painel: a few months of tickets for its charts
            started = time.perf_counter()
            with app.app_context():
                populate_account(world.account_id, n_tickets=PAINEL_TICKETS, months=3, seed=14)
            timings["populate"] = time.perf_counter() - started
        context = browser.new_context(viewport=VIEWPORTS["desktop"], base_url=live_server,
                                      **BROWSER_CONTEXT)
        page = context.new_page()
        page.set_default_timeout(15000)
        if profile != "anonymous":
            _login(page, f"alfa_{profile}")
        for url in urls:
            if url == PAINEL:
                problems += _crawl_painel(page, profile, folder, backend, timings)
                continue
            for name, size in VIEWPORTS.items():
                page.set_viewport_size(size)
                started = time.perf_counter()
                response = page.goto(url)
                timings["load"] += time.perf_counter() - started
                where = f"{profile} {url} {name}"
                if response is None or response.status >= 400:
                    problems.append(f"{where}: HTTP {response and response.status}")
                    continue
                width = page.evaluate(SCROLL_JS)
                if width > size["width"]:
                    problems.append(f"{where}: page {width}px wide")
                if name == "desktop":   # words, language and axe do not change with width
                    problems += _check_language_and_axe(page, where, timings)
                    if url == "/sectorview/list/":
                        problems += _check_delete_confirmation(page, where)
                started = time.perf_counter()
                page.screenshot(path=os.path.join(
                    folder, f"{profile}-{_slug(url)}-{name}-{backend}.png"), full_page=True)
                timings["screenshot"] += time.perf_counter() - started
        context.close()
    with open(os.path.join(folder, f"relatorio-{backend}.txt"), "w") as report:
        report.write(f"{timings}\n" + "\n".join(problems) + "\n")
    assert not problems, "\n".join(problems)
