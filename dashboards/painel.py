"""What a manager sees at /painel/: filters, KPI cards, the eight charts, step times,
tickets at risk, the drill-down table and the exports.

Every callback starts from ``caller()``: the account comes from the logged-in user,
never from a value the browser sent, and every id the browser sends (filters, a
clicked bar) goes through ``dashboards.filters`` and must belong to that account.
Data access lives in ``dashboards.queries``; this module only arranges it.
"""
from __future__ import annotations

import datetime as dt

import dash
from dash import dcc, html
from dash.exceptions import PreventUpdate
from flask import current_app, render_template_string
from flask_login import current_user
from sqlalchemy import select

from app.extensions import db
from app.headers import nonce
from app.models import (
    Account,
    Department,
    Member,
    Sector,
    Service,
    department_attendant,
)
from app.security import ValidationError
from app.vocabulary import PRIORITY_LABELS
from dashboards import figures, sections, urlstate
from dashboards.filters import (
    CLOCKS,
    build_filters,
    check_ids_belong,
    parse_date,
)

GROUP_CHARTS = {  # chart id -> (dimension, title)
    "chart-department": ("department", "Chamados por departamento"),
    "chart-service": ("service", "Chamados por serviço"),
    "chart-priority": ("priority", "Chamados por prioridade"),
    "chart-attendant": ("attendant", "Chamados por atendente"),
    "chart-sector": ("sector", "Chamados por setor do solicitante"),
    "chart-requester": ("requester", "Chamados por solicitante"),
}
SATISFACTION_CHARTS = {
    "chart-sat-department": ("department", "Satisfação por departamento"),
    "chart-sat-sector": ("sector", "Satisfação por setor"),
}
FILTER_FIELDS = ("department_id", "service_id", "priority", "sector_id", "attendant_id")
DIMENSION_FIELD = {"department": "department_ids", "service": "service_ids",
                   "priority": "priorities", "attendant": "attendant_ids",
                   "sector": "sector_ids", "requester": "requester_ids"}
DIMENSION_ID_FIELD = {"department": "department_id", "service": "service_id",
                      "attendant": "attendant_id", "sector": "sector_id",
                      "requester": "requester_id"}
# The switch of the mean and step times: elapsed hours or the calendar's working hours.
CLOCK_LABELS = {"24x7": "Horas corridas", "business": "Horas úteis"}
TOP_GROUPS = 12
PAGE_SIZE = 15
NAVBAR = "{% include 'appbuilder/navbar.html' %}"


class PainelDash(dash.Dash):
    """Dash with the product's own navigation bar and styles around it."""

    # What Dash puts in every page's config that no browser of ours needs: the server's
    # exact interpreter build, and the address of plotly's version service (read only
    # by Dash's developer tools, which are off).
    HIDDEN_CONFIG = ("python_version", "dash_version_url")

    def _config(self):
        config = super()._config()
        for key in self.HIDDEN_CONFIG:
            config.pop(key, None)
        return config

    def interpolate_index(self, **kwargs):
        try:
            navbar = render_template_string(NAVBAR, appbuilder=current_app.appbuilder)
        except Exception:  # never lose the page over the menu
            current_app.logger.exception("painel navbar")
            navbar = ""
        css = "".join(f'<link rel="stylesheet" href="/static/appbuilder/css/{name}">' for name in (
            "bootstrap.min.css", "fontawesome/fontawesome.min.css",
            "fontawesome/solid.min.css", "fontawesome/v4-shims.min.css", "flags/flags16.css",
            "ab.css"))
        # Dash's one inline script (``new DashRenderer()``) runs under the page's CSP
        # nonce (app/headers.py): no 'unsafe-inline' for scripts on the Painel either.
        renderer = kwargs["renderer"].replace("<script", f'<script nonce="{nonce()}"', 1)
        return f"""<!DOCTYPE html>
<html lang="pt-BR"><head>{kwargs['metas']}<title>{kwargs['title']}</title>
{kwargs['favicon']}{css}<link rel="stylesheet" href="/static/app.css">{kwargs['css']}
</head><body class="painel-body"><header class="top">{navbar}</header>
{kwargs['app_entry']}<footer>{kwargs['config']}{kwargs['scripts']}{renderer}
<script src="/static/appbuilder/js/jquery-latest.js"></script>
<script src="/static/appbuilder/js/bootstrap.min.js"></script></footer></body></html>"""


# --- who is asking --------------------------------------------------------------------


def caller() -> Account:
    """The caller's account, re-derived on every callback; nothing for anyone else."""
    if not current_user.is_authenticated or current_user.account_id is None \
            or not current_app.appbuilder.sm.has_access("can_access", "Painel"):
        raise PreventUpdate
    account = db.session.get(Account, current_user.account_id)
    if account is None:
        raise PreventUpdate
    return account


def split_cross(cross) -> tuple[dict | None, dict | None]:
    """(clicked bar, clicked trend bucket) of the cross-filter: a bucket alone is
    ``{"dimension": "period", ...}``; a bar may carry a bucket under "bucket"."""
    if not isinstance(cross, dict):
        return None, None
    if cross.get("dimension") == "period":
        return None, {k: v for k, v in cross.items() if k != "bucket"}
    bar = {k: v for k, v in cross.items() if k != "bucket"}
    return bar, cross.get("bucket") if isinstance(cross.get("bucket"), dict) else None


def join_cross(bar: dict | None, bucket: dict | None) -> dict | None:
    if bar and bucket:
        return {**bar, "bucket": bucket}
    return bar or bucket or None


def filters_from(account: Account, start, end, values: dict, cross: dict | None,
                 skip: str | None = None):
    """Validated Filters from component values plus the clicked bar (unless it is the
    chart's own dimension: that chart keeps all its bars and highlights the one). A
    clicked point of the trend narrows the period to its bucket (within the period),
    except for the trend itself (``skip="period"``); a bar and a bucket combine."""
    f = build_filters(db.session, account.id, account.time_zone, start=start, end=end,
                      **values)
    bar, bucket = split_cross(cross)
    if bucket and skip != "period":
        low = max(f.start, dt.date.fromisoformat(bucket["id"]))
        high = min(f.end, dt.date.fromisoformat(bucket["end"]))
        if low <= high:
            f = f.replace(start=low, end=high)
    cross = bar
    if cross and cross.get("dimension") in DIMENSION_FIELD and cross["dimension"] != skip:
        field = DIMENSION_FIELD[cross["dimension"]]
        current = getattr(f, field)
        wanted = cross.get("id")
        narrowed = (wanted,) if not current or wanted in current else (-1,)
        f = f.replace(**{field: narrowed})
    return f


def validate_cross(account: Account, cross) -> dict | None:
    """A clicked bar's (dimension, id), checked like any other filter value."""
    if isinstance(cross, dict) and cross.get("dimension") == "period":
        return validate_bucket(cross)
    bar = validate_bar(account, cross)
    if bar and isinstance(cross.get("bucket"), dict):
        return join_cross(bar, validate_bucket(cross["bucket"]))
    return bar


def validate_bar(account: Account, cross) -> dict | None:
    if not isinstance(cross, dict) or cross.get("dimension") not in DIMENSION_FIELD:
        return None
    dimension, ident = cross["dimension"], cross.get("id")
    if dimension == "priority":
        return cross if ident in PRIORITY_LABELS else None
    if isinstance(ident, bool) or not isinstance(ident, int):
        return None
    try:
        check_ids_belong(db.session, account.id, DIMENSION_ID_FIELD[dimension], (ident,))
    except ValidationError:
        return None
    return {"dimension": dimension, "id": ident, "label": str(cross.get("label", ""))[:120]}


def validate_bucket(cross: dict) -> dict | None:
    """A clicked trend point: two real dates, at most a month apart."""
    try:
        low = parse_date(cross.get("id"), "start", "Data inicial", None)
        high = parse_date(cross.get("end"), "end", "Data final", None)
    except ValidationError:
        return None
    if low is None or high is None or not low <= high <= low + dt.timedelta(days=31):
        return None
    return {"dimension": "period", "id": low.isoformat(), "end": high.isoformat(),
            "label": str(cross.get("label", ""))[:60]}


# --- layout -------------------------------------------------------------------------


def _options(account_id: int) -> dict:
    session = db.session

    def pairs(stmt):
        return [{"label": name, "value": ident} for ident, name in session.execute(stmt)]

    attendants = (select(Member.id, Member.first_name + " " + Member.last_name)
                  .where(Member.account_id == account_id,
                         Member.id.in_(select(department_attendant.c.user_id)))
                  .order_by(Member.first_name, Member.last_name))
    return {
        "department_id": pairs(select(Department.id, Department.name).where(
            Department.account_id == account_id).order_by(Department.name)),
        "service_id": pairs(select(Service.id, Service.name).where(
            Service.account_id == account_id).order_by(Service.name)),
        "priority": [{"label": label, "value": code} for code, label in PRIORITY_LABELS.items()],
        "sector_id": pairs(select(Sector.id, Sector.name).where(
            Sector.account_id == account_id).order_by(Sector.name)),
        "attendant_id": pairs(attendants),
    }


def _dropdown(field: str, label: str, options: list, value=None) -> html.Div:
    return html.Div(className="painel-filter", children=[
        html.Label(label, htmlFor=f"f-{field}"),
        dcc.Dropdown(id=f"f-{field}", options=options, multi=True, placeholder="Todos",
                     value=value or [],
                     clearable=True, searchable=True, labels=sections.DROPDOWN_LABELS),
    ])


def _card(ident: str, label: str, icon: str) -> html.Div:
    return html.Div(className="kpi-card", id=f"card-{ident}", children=[
        html.Div(className="kpi-label", children=[html.I(className=f"fa {icon}"), " ", label]),
        html.Div(className="kpi-value", id=f"kpi-{ident}", children="—"),
        html.Div(className="kpi-note", id=f"kpi-{ident}-note"),
        html.Div(className="kpi-delta", id=f"kpi-{ident}-delta"),
        sections.definition(ident),
    ])


def _graph(ident: str) -> html.Div:
    return html.Div(className="painel-chart", children=dcc.Loading(dcc.Graph(
        id=ident, config={"displayModeBar": False},
        figure=figures.empty("Carregando…", "")), delay_show=400, type="dot"))


def layout():
    """Built per request (never at import): the caller's own filter options."""
    if not current_user.is_authenticated or current_user.account_id is None:
        return html.Div("Acesso restrito.", className="painel")
    account = db.session.get(Account, current_user.account_id)
    options = _options(account.id)
    # A bookmarked view (/painel/?inicio=...): its filters on the first paint. Dash
    # fetches the layout from the page, whose address is the Referer (same origin).
    state = urlstate.initial_state(account, urlstate.referrer_query())
    labels = {"department_id": "Departamento", "service_id": "Serviço",
              "priority": "Prioridade", "sector_id": "Setor", "attendant_id": "Atendente"}
    return html.Div(className="painel container-fluid", children=[
        dcc.Location(id="url", refresh=False),
        html.Div(className="painel-header", children=[
            html.H2("Painel de Atendimentos"),
            html.Span(account.name, className="painel-account"),
        ]),
        html.Div(className="painel-filters", children=[
            sections.preset_filter(state["preset"]),
            html.Div(className="painel-filter painel-period", children=[
                html.Label("Período", htmlFor="f-period"),
                dcc.DatePickerRange(id="f-period", start_date=state["start"],
                                    end_date=state["end"], display_format="DD/MM/YYYY",
                                    first_day_of_week=1, minimum_nights=0,
                                    number_of_months_shown=1,
                                    start_date_placeholder_text="Início (dd/mm/aaaa)",
                                    end_date_placeholder_text="Fim (dd/mm/aaaa)"),
            ]),
            *[_dropdown(field, labels[field], options[field], state[field])
              for field in FILTER_FIELDS],
            html.Div(className="painel-filter painel-clock", children=[
                html.Label("Tempos em"),
                dcc.RadioItems(id="f-clock", value=state["clock"], inline=True,
                               className="painel-clock-switch", options=[
                                   {"label": CLOCK_LABELS[code], "value": code}
                                   for code in CLOCKS]),
            ]),
            html.Button([html.I(className="fa fa-eraser"), " Limpar filtros"],
                        id="clear-filters", className="btn btn-default painel-clear"),
        ]),
        html.Div(id="cross-wrap", className="painel-chip", style={"display": "none"}, children=[
            html.Span(id="cross-chip"),
            html.Button([html.I(className="fa fa-times"), " remover"], id="cross-clear",
                        className="btn btn-link btn-xs"),
        ]),
        dcc.Store(id="crossfilter"),
        html.Div(id="painel-alert", role="alert"),
        html.Div(className="kpi-row", children=[
            _card("backlog", "Chamados em aberto", "fa-inbox"),
            _card("opened", "Abertos no período", "fa-plus-circle"),
            _card("first-response", "Tempo médio até o 1º atendimento", "fa-hourglass-start"),
            _card("handling", "Tempo médio de atendimento", "fa-clock-o"),
            _card("sla-met", "Cumpriram o SLA", "fa-check-circle"),
            _card("sla-breached", "Não cumpriram o SLA", "fa-exclamation-triangle"),
            _card("reopened", "Reaberturas", "fa-undo"),
        ]),
        sections.trend_panel(state["granularity"]),
        html.P("Clique numa barra ou num ponto da tendência para filtrar os demais "
               "gráficos por ele.", className="painel-hint"),
        html.Div(className="chart-grid", children=[
            _graph(ident) for ident in list(GROUP_CHARTS) + list(SATISFACTION_CHARTS)]),
        sections.people_panel(),
        sections.satisfaction_panel(),
        html.Div(className="painel-row", children=[
            html.Div(className="painel-panel", children=[
                html.H4("Tempo de cada etapa do fluxo"),
                html.Div(id="step-table"),
                html.P("Média, mediana e 90º percentil; cada etapa conta os chamados "
                       "que a concluíram no período.", className="painel-note"),
            ]),
            html.Div(className="painel-panel", children=[
                html.Div(className="painel-panel-head", children=[
                    html.H4("Chamados em risco de estourar o SLA"),
                    dcc.Dropdown(id="risk-hours", value=8, clearable=False, searchable=False,
                                 labels=sections.DROPDOWN_LABELS,
                                 options=[{"label": f"próximas {h} h", "value": h}
                                          for h in (2, 4, 8, 24, 48)]),
                ]),
                html.Div(id="risk-table"),
            ]),
        ]),
        html.Div(className="painel-panel painel-drill", children=[
            html.Div(className="painel-panel-head", children=[
                html.H4("Chamados abertos no período"),
                html.Div(className="painel-export", children=[
                    html.A([html.I(className="fa fa-file-text-o"), " CSV"], id="export-csv",
                           className="btn btn-default btn-sm", href="#"),
                    html.A([html.I(className="fa fa-file-excel-o"), " XLSX"], id="export-xlsx",
                           className="btn btn-default btn-sm", href="#"),
                ]),
            ]),
            html.Div(id="drill-table", className="painel-scroll"),
            html.Div(className="painel-pager", children=[
                html.Button("‹ Anterior", id="page-prev", className="btn btn-default btn-sm"),
                html.Span(id="page-info"),
                html.Button("Próxima ›", id="page-next", className="btn btn-default btn-sm"),
            ]),
            dcc.Store(id="drill-page", data=0),
            dcc.Store(id="drill-total", data=0),
        ]),
    ])


def register_callbacks(app: dash.Dash) -> None:
    from dashboards import callbacks

    callbacks.register(app)
