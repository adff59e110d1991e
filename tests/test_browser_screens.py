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

The Painel (Dash, /painel/) has its own browser test and owner; it is not crawled here.
"""
from __future__ import annotations

import os
import re
import time

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.conftest import ARTIFACTS, PASSWORD
from tests.helpers import make_ticket

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
        "manager": ["/", "/chamados/", f"/chamados/{closed_id}"],
        "admin": ["/", *crud, "/conta/", "/notificacoes/", "/conta/calendario/",
                  "/chamados/", "/memberview/list/?_flt_0_first_name=x",
                  f"/memberview/list/?_flt_0_sector={sector}"],
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
    problems = []
    lang = page.evaluate("() => document.documentElement.lang")
    if lang != "pt-BR":
        problems.append(f"{where}: lang={lang!r}")
    text = page.evaluate(TEXT_JS)
    for match in sorted(set(ENGLISH_RE.findall(text))):
        problems.append(f"{where}: English {match!r}")
    if "__None" in text:
        problems.append(f"{where}: FAB's '__None'")
    started = time.perf_counter()
    results = AXE.run(page, options=AXE_OPTIONS)
    timings["axe"] += time.perf_counter() - started
    for violation in results.response["violations"]:
        if violation["impact"] in ("serious", "critical"):
            targets = [n["target"] for n in violation["nodes"]][:3]
            problems.append(f"{where}: axe {violation['id']} {targets}")
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


def test_every_screen_is_portuguese_accessible_and_fits(app, world, browser, live_server,
                                                        backend):
    if backend != "sqlite":
        pytest.skip("the screens render the same on both backends: crawled once, on SQLite")
    screens = _screens(app, world)
    folder = os.path.join(ARTIFACTS, "telas")
    os.makedirs(folder, exist_ok=True)
    problems: list[str] = []
    timings = {"load": 0.0, "axe": 0.0, "screenshot": 0.0}
    for profile, urls in screens.items():
        context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="pt-BR",
                                      base_url=live_server)
        page = context.new_page()
        page.set_default_timeout(15000)
        if profile != "anonymous":
            _login(page, f"alfa_{profile}")
        for url in urls:
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
