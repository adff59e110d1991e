"""``GET /api/v1/painel/kpis``: the Painel's KPI set for integrators (shared/API.md).

FAB's ``@protect`` answers 401/403 before the method runs, so other profiles get 403
before any parameter is looked at (the contract's order). The account comes from the
caller, never from a parameter; every id in the query string must belong to it, or
the answer is a 400 naming the field (the same for an unknown id and another
account's, so nothing leaks). ``clock=business`` gives the mean times in the account
calendar's working hours (same field names); any value but ``24x7``/``business`` is a
400 naming ``clock``.
"""
from __future__ import annotations

from flask import g, request
from flask_appbuilder.api import expose
from flask_appbuilder.security.decorators import protect

from app.api.base import ApiBase
from app.extensions import db
from app.models import Account
from app.replica import use_replica
from app.security import ValidationError
from dashboards.filters import build_filters
from dashboards.kpis import kpi_set

QUERY_FIELDS = ("start", "end", "department_id", "service_id", "priority", "sector_id",
                "attendant_id", "clock")


class PainelApi(ApiBase):
    resource_name = "painel"
    method_permission_name = {"kpis": "get"}
    openapi_spec_tag = "Painel"

    @expose("/kpis", methods=["GET"])
    @protect()
    def kpis(self):
        """KPIs of the Painel de Atendimentos for a period and filters.
        ---
        get:
          summary: Indicadores do Painel de Atendimentos
          parameters:
          - {in: query, name: start, schema: {type: string, format: date}}
          - {in: query, name: end, schema: {type: string, format: date}}
          - {in: query, name: department_id, schema: {type: integer}}
          - {in: query, name: service_id, schema: {type: integer}}
          - {in: query, name: priority, schema: {type: string}}
          - {in: query, name: sector_id, schema: {type: integer}}
          - {in: query, name: attendant_id, schema: {type: integer}}
          - in: query
            name: clock
            description: >-
              24x7 (padrão, horas corridas) ou business (horas úteis do calendário da
              conta) para os tempos médios
            schema: {type: string, enum: ["24x7", "business"], default: "24x7"}
          responses:
            200: {description: Os indicadores}
            400: {description: Parâmetro inválido}
            401: {description: Não autenticado}
            403: {description: Apenas gestores e administradores}
        """
        account_id = getattr(g.user, "account_id", None)
        account = db.session.get(Account, account_id) if account_id else None
        if account is None:  # the platform operator has no account to measure
            return self.response_403()
        use_replica()  # the caller is checked: the reads may go to the replica
        try:
            args = {}
            for field in QUERY_FIELDS:
                values = request.args.getlist(field)
                if len(values) > 1:
                    raise ValidationError(field, "Informe um único valor por parâmetro.")
                args[field] = values[0] if values else None
            filters = build_filters(db.session, account.id, account.time_zone, **args)
        except ValidationError as error:
            return self.validation_error(error)
        result = kpi_set(db.session, account.id, filters)
        return self.response(200, result=result, **result)
