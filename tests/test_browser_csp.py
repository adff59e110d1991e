"""The Content-Security-Policy (app/headers.py) in a real browser: the main pages of
each profile, the Painel included, load and work with no CSP violation reported by
Chromium, under a policy with no 'unsafe-inline' or 'unsafe-eval' for scripts."""
from tests.conftest import screenshot
from tests.helpers import make_ticket

VIOLATION_WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' '
                    + (e.sourceFile || '') + ':' + (e.lineNumber || ''));
});
"""


def _watch(page, seen: list):
    page.add_init_script(VIOLATION_WATCH)
    page.on("console", lambda m: seen.append(m.text)
            if "Content Security Policy" in m.text or "Content-Security-Policy" in m.text
            else None)


def _visit(page, path: str, seen: list) -> None:
    response = page.goto(path)
    assert response.status < 400, (path, response.status)
    csp = response.headers["content-security-policy"]
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
    page.wait_for_load_state("networkidle")
    seen.extend(f"{path}: {v}" for v in page.evaluate("window.__csp || []"))


def test_main_pages_run_their_scripts_without_csp_violations(app, world, page_for):
    ticket_id = make_ticket(app, world, "in_progress")
    seen: list = []

    requester = page_for("alfa_requester")
    _watch(requester, seen)
    _visit(requester, "/cliente/abrir", seen)
    # The page's own script (nonce'd) fills the services of the chosen department.
    requester.select_option("#department_id", str(world.departments["TI"]))
    assert requester.locator("#service_id option").count() >= 2
    for path in ("/", "/cliente/chamados", f"/chamados/{ticket_id}", "/perfil/"):
        _visit(requester, path, seen)

    attendant = page_for("alfa_attendant")
    _watch(attendant, seen)
    for path in ("/atendente/fila", f"/chamados/{ticket_id}"):
        _visit(attendant, path, seen)

    admin = page_for("alfa_admin")
    _watch(admin, seen)
    for path in ("/memberview/list/", "/memberview/add", "/sectorview/list/",
                 "/departmentview/edit/1", "/conta/", "/conta/calendario/", "/notificacoes/",
                 "/chamados/", "/swagger/v1"):
        _visit(admin, path, seen)
    _visit(admin, "/painel/", seen)
    admin.wait_for_function(
        "document.querySelectorAll('.painel-chart .main-svg').length >= 8", timeout=30000)
    admin.wait_for_load_state("networkidle")
    seen.extend(f"/painel/: {v}" for v in admin.evaluate("window.__csp || []"))
    screenshot(admin, "csp-painel")
    assert seen == []
