"""Every route of the app, Dash's included, is classified here; a new route that is
not guarded (or not listed) fails the suite.

Anonymous callers must get the login redirect (pages), 401 (API and Dash callbacks) or
an explicit public answer; never a 2xx with data, never a 500.
"""
import re


PUBLIC = {  # path pattern -> why it is public
    r"/": "home page (shows the sign-in and sign-up buttons to anonymous visitors)",
    r"/health": "load balancer probe",
    r"/health/live": "liveness probe: {\"status\": \"ok\"}, no data (app/health.py)",
    r"/health/ready": "readiness probe: dependency states and counts, no account data",
    r"/login/": "login form",
    r"/logout/": "logs out (nothing to protect)",
    r"/cadastro/": "company sign-up",
    r"/senha/esqueci": "asks for a password link (same answer for any e-mail, limited)",
    r"/senha/nova/<string:token>": "chooses a new password with a signed one-hour token",
    r"/senha/convite/<string:token>": "an invited member chooses a password (signed, 7 days)",
    r"/back": "FAB's back-redirect helper",
    r"/lang/<string:locale>": "language switch",
    r"/static/<path:filename>": "static files",
    r"/static/appbuilder/<path:filename>": "FAB's static files",
    r"/api/v1/signup": "company sign-up (rate limited)",
    r"/api/v1/security/login": "token login (throttled)",
}
# Dash serves its own asset routes; they carry no data.
DASH_ASSETS = re.compile(r"^/painel/(_dash-component-suites|_dash-dependencies|assets|"
                         r"_favicon|_dash-layout|_reload-hash|_alive)")


def _sample(rule: str) -> str:
    path = re.sub(r"<int:[^>]+>", "1", rule)
    path = re.sub(r"<path:[^>]+>", "x/y.js", path)
    path = re.sub(r"<(string:)?version>", "v1", path)
    return re.sub(r"<[^>]+>", "x", path)


def _rules(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.rule, method


def test_every_route_refuses_anonymous_callers(app, world):
    client = app.test_client()
    unguarded = []
    for rule, method in _rules(app):
        if rule in PUBLIC:
            continue
        response = client.open(_sample(rule), method=method, json={} if method != "GET"
                               else None)
        code = response.status_code
        if code >= 500:
            unguarded.append((method, rule, code))
            continue
        if DASH_ASSETS.match(rule) and method == "GET":
            continue
        login_redirect = code in (301, 302, 303, 308) and "/login" in response.headers.get(
            "Location", "")
        refused = code in (400, 401, 403, 404, 405, 429) and (
            code != 404 or not rule.startswith("/api/"))
        if rule.startswith("/api/") and code == 404 and rule.endswith("<string:action>"):
            refused = True  # unknown action name in the sample path
        if not (login_redirect or refused):
            unguarded.append((method, rule, code))
    assert unguarded == []


def test_public_routes_do_not_leak_account_data(app, world):
    client = app.test_client()
    for rule in ("/", "/login/", "/cadastro/", "/health"):
        html = client.get(rule).get_data(as_text=True)
        assert "alfa" not in html.lower(), rule


def test_every_public_route_exists(app):
    rules = {rule for rule, _ in _rules(app)}
    assert set(PUBLIC) <= rules
