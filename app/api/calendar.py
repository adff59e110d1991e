"""`/api/v1/calendar` (shared/API.md, "Business hours"): the account's working hours.

* ``GET /api/v1/calendar`` and ``GET /api/v1/calendar/holidays?year=YYYY``:
  administrators, managers and attendants (the due times they work with are counted on
  this calendar; it holds nothing private); requesters get 403.
* ``PUT /api/v1/calendar``: administrators only; partial, validated by
  app.calendar_settings before anything is written.
"""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import expose
from flask_appbuilder.security.decorators import protect

from app import calendar_settings
from app.api.base import ApiBase
from app.security import ValidationError
from app.tenancy import current_account


class CalendarApi(ApiBase):
    resource_name = "calendar"
    method_permission_name = {"get": "get", "put": "put", "holidays": "get"}

    def _body(self) -> dict:
        try:
            return self.json_body()
        except RecursionError:  # JSON nested deeper than the parser goes
            raise ValidationError("body", "Envie um objeto JSON no corpo da "
                                          "requisição.") from None

    @expose("", methods=["GET"])
    @protect()
    def get(self):
        account = current_account()
        if account is None:
            return self.response_404()
        return self.response(200, result=calendar_settings.get_calendar(account))

    @expose("", methods=["PUT"])
    @protect()
    def put(self):
        account = current_account()
        if account is None:
            return self.response_404()
        try:
            result = calendar_settings.update_calendar(account, self._body())
        except ValidationError as error:
            return self.validation_error(error)
        return self.response(200, result=result)

    @expose("/holidays", methods=["GET"])
    @protect()
    def holidays(self):
        account = current_account()
        if account is None:
            return self.response_404()
        try:
            year = calendar_settings.parse_year(request.args.get("year"))
        except ValidationError as error:
            return self.validation_error(error)
        return self.response(200, year=year,
                             result=calendar_settings.holidays_of_year(account, year))
