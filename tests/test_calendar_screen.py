"""The "Calendário de atendimento" screen (menu Conta, administrators): it shows and
saves the week, the holidays switches and the own days off; a refused change shows the
form again with what was typed and saves nothing; other profiles are kept out."""
import re
from html import unescape

import pytest

PAGE = "/conta/calendario/"
API = "/api/v1/calendar"


def _week_form(**overrides) -> dict:
    form = {"ano": "2027", "national_holidays": "on", "subdivision": ""}
    for day in ("mon", "tue", "wed", "thu", "fri"):
        form[f"{day}-0-start"], form[f"{day}-0-end"] = "08:00", "12:00"
        form[f"{day}-1-start"], form[f"{day}-1-end"] = "13:00", "18:00"
    form.update(overrides)
    return form


@pytest.fixture
def admin(web, world):
    return web("alfa_admin")


@pytest.fixture
def admin_api(api, world):
    return api(world.users["admin"])


def _html(response) -> str:
    return response.get_data(as_text=True)


def test_admin_sees_the_calendar_with_the_defaults(admin):
    response = admin.get(PAGE + "?ano=2027")
    assert response.status_code == 200
    html = _html(response)
    assert "Calendário de atendimento" in html and "Horário de atendimento" in html
    assert 'name="mon-0-start" value="08:00"' in html
    assert 'name="fri-0-end" value="18:00"' in html
    assert 'name="sat-0-start" value=""' in html
    assert re.search(r'id="national_holidays"\s+checked', html)
    assert "São Paulo (SP)" in html and "Rio Grande do Sul (RS)" in html
    assert html.count("<option") == 28  # Nenhum + the 27 UFs
    assert "Dias de folga em 2027" in html and "21/04/2027" in html and "Tiradentes" in html
    assert "Carnaval" in html and "08/02 e 09/02" in html and "Corpus Christi" in html
    assert "Quarta-feira de Cinzas" in html


def test_every_control_has_a_label_and_every_form_posts_the_csrf_token(admin, admin_api):
    admin_api.put(API, json={"holidays": [{"date": "2027-08-15", "name": "Aniversário"}]})
    html = _html(admin.get(PAGE + "?ano=2027"))
    body = html[html.index('class="account-page calendar-page"'):]
    ids = re.findall(r'<(?:input|select)(?![^>]*type="hidden")[^>]*\sid="([^"]+)"', body)
    assert len(ids) >= 7 * 3 * 2 + 4
    labelled = set(re.findall(r'<label[^>]*\sfor="([^"]+)"', body))
    assert set(ids) <= labelled, set(ids) - labelled
    assert not re.search(r'<(?:input|select)(?![^>]*type="hidden")(?![^>]*\sid=)[^>]*>', body)
    posts = re.findall(r'<form[^>]*method="post"[^>]*>(.*?)</form>', body, re.S)
    assert len(posts) == 1 + 1 + 3 + 1  # week, add day, three one-click, one remove
    assert all('name="csrf_token"' in form for form in posts)
    for button in re.findall(r'<button[^>]*aria-label="([^"]+)"', body):
        assert button.startswith("Remover")


def test_admin_saves_hours_holidays_and_state(admin, admin_api):
    form = _week_form(**{"sat-0-start": "09:00", "sat-0-end": "13:00",
                         "subdivision": "SP"})
    del form["national_holidays"]
    response = admin.post(PAGE + "salvar", data=form)
    assert response.status_code == 302 and "ano=2027" in response.headers["Location"]
    result = admin_api.get(API).json["result"]
    assert result["hours"]["mon"] == [["08:00", "12:00"], ["13:00", "18:00"]]
    assert result["hours"]["sat"] == [["09:00", "13:00"]] and result["hours"]["sun"] == []
    assert result["national_holidays"] is False and result["subdivision"] == "SP"
    html = _html(admin.get(response.headers["Location"]))
    assert "Calendário salvo." in html
    assert 'name="sat-0-end" value="13:00"' in html
    assert '<option value="SP" selected>' in html
    assert "Revolução Constitucionalista" in html and "21/04/2027" not in html


@pytest.mark.parametrize("overrides, words", [
    ({"mon-0-start": "25:00"}, "Segunda-feira, intervalo 1"),
    ({"tue-1-end": "11:00"}, "Terça-feira, intervalo 2"),          # ends before it starts
    ({"wed-1-start": "11:00"}, "Quarta-feira, intervalo 2"),       # overlaps the first
    ({"thu-2-start": "24:00", "thu-2-end": "24:00"}, "Quinta-feira, intervalo 3"),
    ({"fri-0-end": ""}, "Sexta-feira, intervalo 1: informe o início e o fim"),
    ({"sun-2-start": "8h", "sun-2-end": "9h"}, "Domingo, intervalo 3"),
    ({"subdivision": "XX"}, "Estado desconhecido"),
])
def test_an_error_shows_the_form_again_with_what_was_typed_and_saves_nothing(
        admin, admin_api, overrides, words):
    admin_api.put(API, json={"subdivision": "MG"})
    before = admin_api.get(API).json["result"]
    form = _week_form(**{"sat-0-start": "07:30", "sat-0-end": "11:45",
                         "subdivision": "RJ", **overrides})
    response = admin.post(PAGE + "salvar", data=form)
    assert response.status_code == 400
    html = unescape(_html(response))
    assert words in html, html[html.find("alert-danger") - 50:][:400]
    assert "alert-danger" in html
    for key, value in form.items():
        if key[:3] in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
            assert f'name="{key}" value="{value}"' in html, key
    if overrides.get("subdivision") != "XX":
        assert '<option value="RJ" selected>' in html
    assert 'has-error' in html
    assert admin_api.get(API).json["result"] == before


def test_an_empty_week_is_refused_while_a_service_counts_working_hours(app, admin,
                                                                       admin_api, world):
    from app.extensions import db
    from app.models import Service
    from app.tenancy import account_scope

    with app.app_context(), account_scope(world.account_id):
        db.session.get(Service, world.services["Férias"]).sla_clock = "business"
        db.session.commit()
        db.session.remove()
    before = admin_api.get(API).json["result"]
    response = admin.post(PAGE + "salvar", data={"ano": "2027", "national_holidays": "on",
                                                 "subdivision": "SP"})
    assert response.status_code == 400
    html = unescape(_html(response))
    assert "Férias" in html and "horas úteis" in html
    assert '<option value="SP" selected>' in html
    assert admin_api.get(API).json["result"] == before


def test_one_click_carnaval_adds_its_two_days_once(admin, admin_api):
    response = admin.post(PAGE + "folgas/facultativo", data={"optional": "carnaval",
                                                             "ano": "2027"})
    assert response.status_code == 302
    assert admin_api.get(API).json["result"]["holidays"] == [
        {"date": "2027-02-08", "name": "Carnaval"}, {"date": "2027-02-09", "name": "Carnaval"}]
    html = _html(admin.get(response.headers["Location"]))
    assert "Carnaval 2027 adicionado aos dias de folga (08/02/2027 e 09/02/2027)." in html
    assert re.search(r'id="optional-carnaval" disabled', html)
    assert "Da empresa" in html and "09/02/2027" in html
    # A second click adds nothing.
    admin.post(PAGE + "folgas/facultativo", data={"optional": "carnaval", "ano": "2027"})
    assert len(admin_api.get(API).json["result"]["holidays"]) == 2
    for key, day, name in (("cinzas", "2027-02-10", "Quarta-feira de Cinzas"),
                           ("corpus_christi", "2027-05-27", "Corpus Christi")):
        admin.post(PAGE + "folgas/facultativo", data={"optional": key, "ano": "2027"})
        assert {"date": day, "name": name} in admin_api.get(API).json["result"]["holidays"]
    days = {d["date"] for d in admin_api.get(f"{API}/holidays?year=2027").json["result"]}
    assert {"2027-02-08", "2027-02-09", "2027-02-10", "2027-05-27"} <= days


def test_one_click_of_another_year_and_unknown_keys(admin, admin_api):
    admin.post(PAGE + "folgas/facultativo", data={"optional": "carnaval", "ano": "2028"})
    assert [d["date"] for d in admin_api.get(API).json["result"]["holidays"]] == [
        "2028-02-28", "2028-02-29"]
    response = admin.post(PAGE + "folgas/facultativo", data={"optional": "natal",
                                                             "ano": "2028"})
    assert response.status_code == 400 and "desconhecido" in _html(response)
    assert len(admin_api.get(API).json["result"]["holidays"]) == 2


def test_admin_adds_and_removes_an_own_day_off(admin, admin_api):
    response = admin.post(PAGE + "folgas/adicionar", data={
        "ano": "2027", "holiday_date": "2027-08-15", "holiday_name": "<b>Aniversário</b>"})
    assert response.status_code == 302
    assert admin_api.get(API).json["result"]["holidays"] == [
        {"date": "2027-08-15", "name": "<b>Aniversário</b>"}]
    html = _html(admin.get(PAGE + "?ano=2027"))
    assert "&lt;b&gt;Aniversário&lt;/b&gt;" in html and "<b>Aniversário</b>" not in html
    assert "15/08/2027" in html
    response = admin.post(PAGE + "folgas/remover", data={"ano": "2027", "date": "2027-08-15"})
    assert response.status_code == 302
    assert admin_api.get(API).json["result"]["holidays"] == []
    response = admin.post(PAGE + "folgas/remover", data={"ano": "2027", "date": "2027-08-15"})
    assert "já não estava" in _html(admin.get(response.headers["Location"]))


@pytest.mark.parametrize("date, name, words, field", [
    ("2027-02-30", "Dia que não existe", "Data inválida", "holiday_date"),
    ("", "Sem data", "Data inválida", "holiday_date"),
    ("2027-08-15", "   ", "Nome do dia de folga", "holiday_name"),
    ("2027-08-15", "x" * 101, "Nome do dia de folga", "holiday_name"),
    ("2027-08-15", "a\x00b", "Nome do dia de folga", "holiday_name"),
    ("2027-09-01", "Repetido", "já está na lista", "holiday_date"),
])
def test_a_bad_day_off_shows_the_form_again_and_saves_nothing(admin, admin_api, date, name,
                                                              words, field):
    admin_api.put(API, json={"holidays": [{"date": "2027-09-01", "name": "Existente"}]})
    before = admin_api.get(API).json["result"]
    response = admin.post(PAGE + "folgas/adicionar", data={
        "ano": "2027", "holiday_date": date, "holiday_name": name})
    assert response.status_code == 400
    html = _html(response)
    assert words in unescape(html)
    assert f'value="{date}"' in html
    if "\x00" not in name:
        assert f'value="{name}"' in html
    assert re.search(rf'form-group has-error">\s*<label for="{field}"', html)
    assert admin_api.get(API).json["result"] == before


def test_the_year_is_selectable_and_a_bad_year_is_explained(admin, admin_api):
    admin_api.put(API, json={"subdivision": "SP"})
    html = _html(admin.get(PAGE + "?ano=2031"))
    assert "Dias de folga em 2031" in html and "09/07/2031" in html
    for bad in ("abc", "1800", "20270"):
        response = admin.get(PAGE + f"?ano={bad}")
        assert response.status_code == 400
        html = _html(response)
        assert "Ano inválido" in html and f'value="{bad}"' in html


def test_the_account_page_links_to_the_calendar_and_the_menu_shows_it(admin, web):
    html = _html(admin.get("/conta/"))
    assert 'href="/conta/calendario/"' in html
    assert "Calendário de atendimento" in html
    manager_html = _html(web("alfa_manager").get("/"))
    assert "/conta/calendario/" not in manager_html


@pytest.mark.parametrize("username", ["alfa_manager", "alfa_attendant", "alfa_requester"])
def test_other_profiles_cannot_open_or_change_the_screen(web, world, admin_api, username):
    client = web(username)
    response = client.get(PAGE)
    assert response.status_code in (302, 403)
    if response.status_code == 302:
        assert "/conta/calendario" not in response.headers["Location"]
    for path, data in (("salvar", _week_form(subdivision="SP")),
                       ("folgas/adicionar", {"holiday_date": "2027-08-15",
                                             "holiday_name": "X"}),
                       ("folgas/facultativo", {"optional": "carnaval", "ano": "2027"})):
        assert client.post(PAGE + path, data=data).status_code in (302, 403)
    result = admin_api.get(API).json["result"]
    assert result["subdivision"] is None and result["holidays"] == []


def test_anonymous_is_sent_to_login(app, world):
    client = app.test_client()
    response = client.get(PAGE)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    response = client.post(PAGE + "salvar", data=_week_form())
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_another_accounts_admin_sees_only_its_own_calendar(web, other_world, admin_api):
    admin_api.put(API, json={"subdivision": "SP", "holidays": [
        {"date": "2027-08-15", "name": "Festa da Alfa"}]})
    html = _html(web("beta_admin").get(PAGE + "?ano=2027"))
    assert "Festa da Alfa" not in html and '<option value="SP" selected>' not in html


ODD_FORMS = [{}, {"ano": "\x00", "optional": "\x00", "date": "\x00", "holiday_date": "\x00",
                  "holiday_name": "\x00", "subdivision": "\x00", "mon-0-start": "\x00",
                  "mon-0-end": "99:99"},
             {"ano": "9" * 40, "optional": "carnaval", "date": "2027-13-45",
              "holiday_date": "9" * 400, "holiday_name": "x" * 5000, "subdivision": "S" * 500,
              "mon-0-start": "-1:00", "mon-0-end": "1e308", "national_holidays": "x" * 300}]


@pytest.mark.parametrize("username", ["alfa_admin", "alfa_manager", "alfa_requester"])
def test_no_calendar_route_answers_5xx_to_odd_input(app, web, world, username, monkeypatch):
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    client = web(username)
    failures = []
    for query in ("", "?ano=", "?ano=%00", "?ano=99999999999999999999", "?ano=-1",
                  "?ano=%EF%BC%92027", "?ano=2027&ano=x"):
        code = client.get(PAGE + query).status_code
        if code >= 500:
            failures.append(("GET", query, code))
    for path in ("salvar", "folgas/adicionar", "folgas/remover", "folgas/facultativo"):
        for form in ODD_FORMS:
            code = client.post(PAGE + path, data=form).status_code
            if code >= 500:
                failures.append((path, form, code))
    assert failures == []
    if username == "alfa_admin":
        assert client.get(PAGE).status_code == 200


def test_a_post_without_the_csrf_token_is_refused_and_one_with_it_saves(app, admin,
                                                                        admin_api,
                                                                        monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    form = _week_form(subdivision="SP")
    response = admin.post(PAGE + "salvar", data=form)
    assert response.status_code == 400 and "formulário expirou" in _html(response).lower()
    response = admin.post(PAGE + "folgas/facultativo", data={"optional": "carnaval",
                                                             "ano": "2027"})
    assert response.status_code == 400
    assert admin_api.get(API).json["result"]["subdivision"] is None
    assert admin_api.get(API).json["result"]["holidays"] == []
    token = re.search(r'name="csrf_token" value="([^"]+)"', _html(admin.get(PAGE))).group(1)
    response = admin.post(PAGE + "salvar", data={**form, "csrf_token": token})
    assert response.status_code == 302
    assert admin_api.get(API).json["result"]["subdivision"] == "SP"
    # The REST API takes bearer tokens, not the form token.
    assert admin_api.put(API, json={"subdivision": "RJ"}).status_code == 200


def _origins(html: str) -> dict:
    table = html[html.index('id="year-days-table"'):]
    return dict(re.findall(r'<td class="col-date">(\d\d/\d\d/2027)</td>.*?'
                           r'<span class="label[^"]*">([^<]+)</span>', table, re.S))


def test_the_years_list_says_where_each_day_off_comes_from(admin, admin_api):
    admin_api.put(API, json={"national_holidays": False, "subdivision": "SP", "holidays": [
        {"date": "2027-04-21", "name": "Folga no dia de Tiradentes"},
        {"date": "2027-08-15", "name": "Aniversário"}]})
    assert _origins(_html(admin.get(PAGE + "?ano=2027"))) == {
        "21/04/2027": "Da empresa", "09/07/2027": "Estadual", "15/08/2027": "Da empresa"}
    admin_api.put(API, json={"national_holidays": True})
    html = _html(admin.get(PAGE + "?ano=2027"))
    origins = _origins(html)
    assert origins["21/04/2027"] == "Nacional" and origins["09/07/2027"] == "Estadual"
    assert origins["15/08/2027"] == "Da empresa" and origins["25/12/2027"] == "Nacional"
    assert len(origins) == 12 and "Tiradentes" in html
