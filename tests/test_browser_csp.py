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


def _visit(page, path: str, seen: list, ready: str | None = None) -> None:
    # "load" plus the page's own ready mark, not "networkidle": Playwright's idle mark
    # failed to arrive on /swagger/v1 in CI (and 2 of 3 runs here) with no request
    # pending, while every script of the page had run.
    response = page.goto(path, wait_until="load")
    assert response.status < 400, (path, response.status)
    csp = response.headers["content-security-policy"]
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
    if ready:
        page.wait_for_selector(ready, timeout=30000)
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
                 "/chamados/"):
        _visit(admin, path, seen)
    # Swagger UI draws the API's title after fetching the OpenAPI document.
    _visit(admin, "/swagger/v1", seen, ready="#swagger-ui .info .title")
    _visit(admin, "/painel/", seen)
    # A locator, not wait_for_function: a string predicate is an eval, which the policy
    # under test refuses.
    admin.locator(".painel-chart .main-svg").nth(7).wait_for(timeout=30000)
    admin.wait_for_load_state("networkidle")
    seen.extend(f"/painel/: {v}" for v in admin.evaluate("window.__csp || []"))
    screenshot(admin, "csp-painel")
    assert seen == []
