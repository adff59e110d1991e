"""`/api/v1/calendar` (shared/API.md "Business hours"): defaults, partial updates, every
bad input refused with the field and nothing changed, the year's days off, isolation
between accounts, who may read and write, and the SLA cache seeing each change."""
import datetime as dt

import pytest
from sqlalchemy import select

URL = "/api/v1/calendar"
WEEK = {"mon": [["08:00", "12:00"], ["13:00", "18:00"]], "tue": [["08:00", "18:00"]],
        "wed": [["08:00", "18:00"]], "thu": [["08:00", "18:00"]], "fri": [["08:00", "17:00"]],
        "sat": [["09:00", "13:00"]], "sun": []}
DEFAULT_HOURS = {**{d: [["08:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
                 "sat": [], "sun": []}


def _set_clock(app, world, service: str, clock: str) -> None:
    from app.extensions import db
    from app.models import Service
    from app.tenancy import account_scope

    with app.app_context(), account_scope(world.account_id):
        db.session.get(Service, world.services[service]).sla_clock = clock
        db.session.commit()
        db.session.remove()


def _calendar_rows(app, account_id: int) -> int:
    from app.extensions import db
    from app.models import BusinessCalendar

    with app.app_context():
        count = len(db.session.scalars(select(BusinessCalendar.id).where(
            BusinessCalendar.account_id == account_id)).all())
        db.session.remove()
    return count


def test_defaults_are_weekdays_eight_to_six_with_national_holidays(api, world):
    response = api(world.users["admin"]).get(URL)
    assert response.status_code == 200, response.json
    assert response.json["result"] == {"hours": DEFAULT_HOURS, "national_holidays": True,
                                       "subdivision": None, "holidays": []}


def test_full_put_is_returned_and_kept(api, world):
    admin = api(world.users["admin"])
    body = {"hours": WEEK, "national_holidays": False, "subdivision": "sp",
            "holidays": [{"date": "2027-08-15", "name": "Aniversário da empresa"},
                         {"date": "2027-01-25", "name": "  Aniversário de São Paulo "}]}
    response = admin.put(URL, json=body)
    assert response.status_code == 200, response.json
    expected = {"hours": WEEK, "national_holidays": False, "subdivision": "SP",
                "holidays": [{"date": "2027-01-25", "name": "Aniversário de São Paulo"},
                             {"date": "2027-08-15", "name": "Aniversário da empresa"}]}
    assert response.json["result"] == expected
    assert admin.get(URL).json["result"] == expected


def test_put_is_partial_and_hours_is_the_whole_week(api, world):
    admin = api(world.users["admin"])
    admin.put(URL, json={"hours": WEEK, "subdivision": "RJ",
                         "holidays": [{"date": "2027-03-01", "name": "Folga"}]})
    response = admin.put(URL, json={"national_holidays": False})
    assert response.status_code == 200, response.json
    result = response.json["result"]
    assert result["hours"] == WEEK and result["subdivision"] == "RJ"
    assert result["holidays"] == [{"date": "2027-03-01", "name": "Folga"}]
    assert result["national_holidays"] is False
    # hours names only Monday: every other day has no working hours.
    result = admin.put(URL, json={"hours": {"mon": [["13:00", "18:00"], ["07:00", "12:00"]]}}
                       ).json["result"]
    assert result["hours"] == {"mon": [["07:00", "12:00"], ["13:00", "18:00"]], "tue": [],
                               "wed": [], "thu": [], "fri": [], "sat": [], "sun": []}
    assert result["subdivision"] == "RJ" and result["holidays"]
    # subdivision null clears the state; holidays [] clears the own days.
    result = admin.put(URL, json={"subdivision": None, "holidays": []}).json["result"]
    assert result["subdivision"] is None and result["holidays"] == []
    assert result["hours"]["mon"] == [["07:00", "12:00"], ["13:00", "18:00"]]


def test_a_day_may_run_until_midnight_and_holidays_may_be_renamed(api, world):
    admin = api(world.users["admin"])
    result = admin.put(URL, json={
        "hours": {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri",
                                                    "sat", "sun")},
        "holidays": [{"date": "2027-12-24", "name": "Véspera"}]}).json["result"]
    assert result["hours"]["sun"] == [["00:00", "24:00"]]
    result = admin.put(URL, json={"holidays": [
        {"date": "2027-12-24", "name": "Véspera de Natal"},
        {"date": "2027-12-31", "name": "Véspera de Ano-Novo"}]}).json["result"]
    assert result["holidays"] == [{"date": "2027-12-24", "name": "Véspera de Natal"},
                                  {"date": "2027-12-31", "name": "Véspera de Ano-Novo"}]


def test_mass_assignment_is_ignored(api, world, other_world):
    admin = api(world.users["admin"])
    response = admin.put(URL, json={"account_id": other_world.account_id, "id": 999,
                                    "updated_at": "2000-01-01", "subdivision": "MG"})
    assert response.status_code == 200
    assert api(other_world.users["admin"]).get(URL).json["result"]["subdivision"] is None
    assert admin.get(URL).json["result"]["subdivision"] == "MG"


BAD_BODIES = [  # (body, field): each also carries a valid change that must not be saved
    ({"hours": {"mon": [["25:00", "26:00"]]}}, "hours.mon[0]"),
    ({"hours": {"mon": [["08:00", "25:00"]]}}, "hours.mon[0]"),
    ({"hours": {"tue": [["24:00", "24:00"]]}}, "hours.tue[0]"),
    ({"hours": {"wed": [["08:00", "12:00"], ["11:00", "13:00"]]}}, "hours.wed[1]"),
    ({"hours": {"wed": [["08:00", "12:00"], ["08:00", "12:00"]]}}, "hours.wed[1]"),
    ({"hours": {"thu": [["18:00", "08:00"]]}}, "hours.thu[0]"),
    ({"hours": {"thu": [["08:00", "08:00"]]}}, "hours.thu[0]"),
    ({"hours": {"fri": [["8:00", "18:00"]]}}, "hours.fri[0]"),
    ({"hours": {"fri": [["08:00:00", "18:00"]]}}, "hours.fri[0]"),
    ({"hours": {"fri": [["\uff10\uff18:00", "18:00"]]}}, "hours.fri[0]"),
    ({"hours": {"fri": [["08:00\x00", "18:00"]]}}, "hours.fri[0]"),
    ({"hours": {"sat": [["08:00"]]}}, "hours.sat[0]"),
    ({"hours": {"sat": [["08:00", "12:00", "18:00"]]}}, "hours.sat[0]"),
    ({"hours": {"sat": [[480, 720]]}}, "hours.sat[0]"),
    ({"hours": {"sat": [[1e308, -1e308]]}}, "hours.sat[0]"),
    ({"hours": {"sat": [[["08:00"], {"x": 1}]]}}, "hours.sat[0]"),
    ({"hours": {"sat": "08:00-12:00"}}, "hours.sat"),
    ({"hours": {"sun": None}}, "hours.sun"),
    ({"hours": {"mon": [["08:00", "18:00"]], "segunda": []}}, "hours"),
    ({"hours": {"Mon": []}}, "hours"),
    ({"hours": [["08:00", "18:00"]]}, "hours"),
    ({"hours": "seg-sex 08-18"}, "hours"),
    ({"hours": None}, "hours"),
    ({"subdivision": "XX"}, "subdivision"),
    ({"subdivision": "São Paulo Capital"}, "subdivision"),
    ({"subdivision": "São Paulo"}, "subdivision"),
    ({"subdivision": 35}, "subdivision"),
    ({"subdivision": ["SP"]}, "subdivision"),
    ({"national_holidays": "sim"}, "national_holidays"),
    ({"national_holidays": 1}, "national_holidays"),
    ({"national_holidays": None}, "national_holidays"),
    ({"holidays": [{"date": "2027-02-30", "name": "Não existe"}]}, "holidays[0].date"),
    ({"holidays": [{"date": "09/07/2027", "name": "Formato errado"}]}, "holidays[0].date"),
    ({"holidays": [{"date": "2027-7-9", "name": "Sem zeros"}]}, "holidays[0].date"),
    ({"holidays": [{"date": 20270709, "name": "Número"}]}, "holidays[0].date"),
    ({"holidays": [{"name": "Sem data"}]}, "holidays[0].date"),
    ({"holidays": [{"date": "2027-07-09"}]}, "holidays[0].name"),
    ({"holidays": [{"date": "2027-07-09", "name": "   "}]}, "holidays[0].name"),
    ({"holidays": [{"date": "2027-07-09", "name": "a\x00b"}]}, "holidays[0].name"),
    ({"holidays": [{"date": "2027-07-09", "name": "x" * 101}]}, "holidays[0].name"),
    ({"holidays": [{"date": "2027-07-09", "name": 7}]}, "holidays[0].name"),
    ({"holidays": [{"date": "2027-07-09", "name": "A"}, {"date": "2027-07-09", "name": "B"}]},
     "holidays[1].date"),
    ({"holidays": [{"date": "2027-07-09", "name": "A", "account_id": 2}]}, "holidays[0]"),
    ({"holidays": ["2027-07-09"]}, "holidays[0]"),
    ({"holidays": "2027-07-09"}, "holidays"),
    ({"holidays": {"date": "2027-07-09", "name": "A"}}, "holidays"),
]


@pytest.mark.parametrize("bad, field", BAD_BODIES)
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(api, world, bad, field):
    admin = api(world.users["admin"])
    admin.put(URL, json={"hours": WEEK, "subdivision": "SP",
                         "holidays": [{"date": "2027-08-15", "name": "Aniversário"}]})
    before = admin.get(URL).json["result"]
    # A valid change of every other field rides along: none of it may be saved.
    body = {"hours": DEFAULT_HOURS, "national_holidays": False, "subdivision": "RJ",
            "holidays": [{"date": "2027-12-24", "name": "Véspera"}], **bad}
    response = admin.put(URL, json=body)
    assert response.status_code == 400, response.json
    assert response.json["field"] == field, response.json
    message = response.json["message"]
    assert message and any(w in message for w in ("inválid", "desconhecid", "repetida",
                                                  "Informe", "informe", "Envie", "sobrepost")), message
    assert admin.get(URL).json["result"] == before


@pytest.mark.parametrize("data, content_type", [
    ("[1, 2]", "application/json"),
    ('"hours"', "application/json"),
    ("42", "application/json"),
    ("1" * 5000, "application/json"),
    ("null", "application/json"),
    ("{", "application/json"),
    ('{"hours": {"mon": [["08:00", "12:00"]]}', "application/json"),
    ("[" * 100000 + "]" * 100000, "application/json"),
    ('{"hours": ' + "[" * 50000 + "]" * 50000 + "}", "application/json"),
    ("\x00", "application/json"),
    (b"\xff\xfe{", "application/json"),
    ('{"hours": {}}', "text/plain"),
    ("", "application/json"),
])
def test_any_body_shape_is_a_portuguese_400_never_a_500(app, api, world, monkeypatch, data,
                                                        content_type):
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    admin = api(world.users["admin"])
    before = admin.get(URL).json["result"]
    response = admin.client.put(URL, data=data, content_type=content_type,
                                headers=admin._headers())
    assert response.status_code == 400, response.data[:200]
    # The edge's input guard names the top-level key where a value is refused ("hours"
    # for a nest too deep inside it); the calendar's own checks name the body.
    assert response.json["message"] and response.json["field"] in ("body", "hours")
    assert admin.get(URL).json["result"] == before
    assert _calendar_rows(app, world.account_id) == 0


def test_a_refused_put_does_not_create_the_calendar_row(app, api, world):
    admin = api(world.users["admin"])
    response = admin.put(URL, json={"subdivision": "RJ", "hours": {"mon": [["9", "10"]]}})
    assert response.status_code == 400
    assert _calendar_rows(app, world.account_id) == 0
    assert admin.put(URL, json={"subdivision": "RJ"}).status_code == 200
    assert _calendar_rows(app, world.account_id) == 1


def test_no_working_hours_are_refused_while_a_service_is_on_the_business_clock(app, api,
                                                                               world):
    admin = api(world.users["admin"])
    empty = {"hours": {}}
    # No service on the business clock: a calendar without hours is allowed.
    assert admin.put(URL, json=empty).status_code == 200
    admin.put(URL, json={"hours": WEEK})
    _set_clock(app, world, "Acesso", "business")
    _set_clock(app, world, "Férias", "business")
    before = admin.get(URL).json["result"]
    response = admin.put(URL, json={**empty, "subdivision": "BA"})
    assert response.status_code == 400, response.json
    assert response.json["field"] == "hours"
    assert "Acesso" in response.json["message"] and "Férias" in response.json["message"]
    assert "horas úteis" in response.json["message"]
    response = admin.put(URL, json={"hours": {d: [] for d in DEFAULT_HOURS}})
    assert response.status_code == 400 and response.json["field"] == "hours"
    assert admin.get(URL).json["result"] == before
    # Other changes stay possible; one working interval is enough.
    assert admin.put(URL, json={"subdivision": "BA"}).status_code == 200
    assert admin.put(URL, json={"hours": {"sat": [["09:00", "10:00"]]}}).status_code == 200
    _set_clock(app, world, "Acesso", "24x7")
    _set_clock(app, world, "Férias", "24x7")
    assert admin.put(URL, json=empty).status_code == 200


def test_no_working_hours_refused_on_an_account_without_a_calendar_row(app, api, world):
    _set_clock(app, world, "Acesso", "business")
    response = api(world.users["admin"]).put(URL, json={"hours": {}})
    assert response.status_code == 400 and "Acesso" in response.json["message"]
    assert "Férias" not in response.json["message"]
    assert _calendar_rows(app, world.account_id) == 0


def _days(response) -> dict:
    assert response.status_code == 200, response.json
    return {d["date"]: d["name"] for d in response.json["result"]}


def test_the_years_days_off_with_sao_paulo(api, world):
    admin = api(world.users["admin"])
    admin.put(URL, json={"subdivision": "SP", "holidays": [
        {"date": "2027-08-15", "name": "Aniversário da empresa"},
        {"date": "2028-01-02", "name": "Outro ano"}]})
    days = _days(admin.get(f"{URL}/holidays?year=2027"))
    assert days["2027-07-09"] == "Revolução Constitucionalista"
    assert days["2027-03-26"] == "Sexta-feira Santa"
    assert days["2027-04-21"] == "Tiradentes"
    assert days["2027-11-20"]  # Consciência Negra, national since 2024
    assert days["2027-08-15"] == "Aniversário da empresa"
    assert "2028-01-02" not in days
    assert not {"2027-02-08", "2027-02-09", "2027-02-10", "2027-05-27"} & set(days)
    assert all("Carnaval" not in name for name in days.values())
    assert list(days) == sorted(days)
    assert len(days) == 12  # the ten national days, the state's, the company's


def test_the_years_days_off_follow_the_switches(api, world):
    admin = api(world.users["admin"])
    national = _days(admin.get(f"{URL}/holidays?year=2027"))
    assert len(national) == 10 and "2027-07-09" not in national
    admin.put(URL, json={"national_holidays": False, "subdivision": "SP"})
    assert _days(admin.get(f"{URL}/holidays?year=2027")) == {
        "2027-07-09": "Revolução Constitucionalista"}
    admin.put(URL, json={"subdivision": None})
    assert _days(admin.get(f"{URL}/holidays?year=2027")) == {}


@pytest.mark.parametrize("query", ["", "?year=", "?year=abc", "?year=1899", "?year=2201",
                                   "?year=-2027", "?year=2027.0", "?year=%EF%BC%92027",
                                   "?year=99999999999999999999999", "?year=20%0027",
                                   "?year=x&year=2027"])
def test_a_bad_year_is_a_400_naming_year(app, api, world, query, monkeypatch):
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    response = api(world.users["admin"]).get(f"{URL}/holidays{query}")
    assert response.status_code == 400, (query, response.data[:200])
    assert response.json["message"]
    if "%00" not in query:  # NUL is refused before any view runs
        assert response.json["field"] == "year"


@pytest.mark.parametrize("year", ["1900", "2200", "2100"])
def test_the_years_at_the_ends_of_the_range_are_answered(api, world, year):
    response = api(world.users["admin"]).get(f"{URL}/holidays?year={year}")
    assert response.status_code == 200 and response.json["year"] == int(year)


def test_one_account_never_sees_or_changes_another_accounts_calendar(api, world,
                                                                     other_world):
    alfa, beta = api(world.users["admin"]), api(other_world.users["admin"])
    alfa.put(URL, json={"hours": WEEK, "subdivision": "SP",
                        "holidays": [{"date": "2027-08-15", "name": "Festa da Alfa"}]})
    alfa_calendar = alfa.get(URL).json["result"]
    assert beta.get(URL).json["result"]["holidays"] == []
    assert beta.get(URL).json["result"]["hours"] == DEFAULT_HOURS
    assert "2027-08-15" not in _days(beta.get(f"{URL}/holidays?year=2027"))
    # Beta writes the same date and its own calendar: Alfa's stays as it was.
    assert beta.put(URL, json={"hours": {}, "subdivision": "RS", "holidays": [
        {"date": "2027-08-15", "name": "Festa da Beta"}]}).status_code == 200
    assert alfa.get(URL).json["result"] == alfa_calendar
    assert _days(alfa.get(f"{URL}/holidays?year=2027"))["2027-08-15"] == "Festa da Alfa"
    assert beta.put(URL, json={"holidays": []}).status_code == 200
    assert alfa.get(URL).json["result"] == alfa_calendar


@pytest.mark.parametrize("profile, read, write", [
    ("admin", 200, 200), ("manager", 200, 403), ("attendant", 200, 403),
    ("requester", 403, 403),
])
def test_who_may_read_and_change_the_calendar(api, world, profile, read, write):
    client = api(world.users[profile])
    assert client.get(URL).status_code == read
    assert client.get(f"{URL}/holidays?year=2027").status_code == read
    response = client.put(URL, json={"subdivision": "AM"})
    assert response.status_code == write
    if write == 403:
        assert "permissão" in response.json["message"]
        assert api(world.users["admin"]).get(URL).json["result"]["subdivision"] is None


def test_anonymous_callers_get_401(api, world):
    anonymous = api(None)
    for response in (anonymous.get(URL), anonymous.get(f"{URL}/holidays?year=2027"),
                     anonymous.put(URL, json={"subdivision": "SP"})):
        assert response.status_code == 401


def test_the_sla_cache_sees_every_change_made_through_the_api(app, api, world):
    from app import business_hours
    from app.calendars import calendar_for
    from app.extensions import db
    from app.tenancy import account_scope

    def calendar():
        with app.app_context(), account_scope(world.account_id):
            found = calendar_for(world.account_id)
            db.session.remove()
        return found

    assert calendar().hours == business_hours.DEFAULT_HOURS
    admin = api(world.users["admin"])
    admin.put(URL, json={"hours": WEEK})
    first = calendar()
    assert first.hours[0] == ((480, 720), (780, 1080)) and first.hours[6] == ()
    assert calendar() is first  # unchanged: served from the cache
    admin.put(URL, json={"holidays": [{"date": "2027-08-16", "name": "Folga"}]})
    second = calendar()
    assert second.days_off == ((dt.date(2027, 8, 16), "Folga"),)
    assert second.is_day_off(dt.date(2027, 8, 16))
    assert second.hours == first.hours
    admin.put(URL, json={"subdivision": "SP", "national_holidays": False})
    third = calendar()
    assert third.subdivision == "SP" and third.national_holidays is False
    admin.put(URL, json={"holidays": []})
    assert calendar().days_off == ()
