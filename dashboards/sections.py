"""The Painel's newer sections: the period presets, "como é calculado" on every card,
the trend, the people and services tables and the satisfaction panel (layout and the
HTML they are filled with). Every value is rendered as text; ticket links are built
from integer ids only (``tables.ticket_link``)."""
from __future__ import annotations

import pandas as pd
from dash import dcc, html

from dashboards import figures, periods, tables

# Dash's own dropdown texts, in Portuguese (issue 14: no "Select All" on a pt-BR screen)
DROPDOWN_LABELS = {
    "select_all": "Selecionar todos", "deselect_all": "Desmarcar todos",
    "selected_count": "{num_selected} selecionados", "search": "Buscar",
    "clear_search": "Limpar busca", "clear_selection": "Limpar seleção",
    "no_options_found": "Nenhuma opção encontrada",
}

# card id -> SPEC.md's definition, as the manager reads it
DEFINITIONS = {
    "backlog": "Chamados que não estão encerrados nem cancelados agora, qualquer que seja "
               "o período (inclui os concluídos aguardando aprovação e os que aguardam o "
               "solicitante). Comparado com os que estavam em aberto quando o período "
               "começou.",
    "opened": "Chamados cuja abertura caiu dentro do período.",
    "first-response": "Média de início do atendimento menos abertura, nos chamados "
                      "iniciados no período.",
    "handling": "Média de conclusão final menos início do atendimento, nos chamados "
                "encerrados no período.",
    "sla-met": "Chamados encerrados no período cuja conclusão final aprovada ocorreu até "
               "o prazo (abertura + meta de horas do serviço).",
    "sla-breached": "Chamados encerrados no período depois do prazo, mais os ainda sem "
                    "solução que já passaram do prazo (um chamado aguardando o "
                    "solicitante só conta se já estava atrasado quando parou).",
    "reopened": "Reprovações de encerramento (reaberturas) dos chamados abertos no "
                "período.",
}
GRANULARITY_OPTIONS = [{"label": "Automático", "value": "auto"}] + [
    {"label": label, "value": code} for code, label in periods.GRANULARITIES.items()]
ATTENDANT_COLUMNS = [  # (column, header)
    ("name", "Atendente"), ("assumed", "Assumidos"), ("concluded", "Concluídos"),
    ("mean_first_response_hours", "1º atendimento"), ("mean_handling_hours", "Atendimento"),
    ("sla_met_pct", "SLA cumprido"), ("rejection_pct", "Reprovação"),
    ("first_time_right_pct", "Certo de primeira"), ("mean_score", "Nota média"),
    ("surveys", "Pesquisas"),
]
SERVICE_COLUMNS = [
    ("name", "Serviço"), ("volume", "Volume"), ("sla_met_pct", "SLA cumprido"),
    ("mean_handling_hours", "Atendimento"), ("reopenings", "Reaberturas"),
    ("mean_score", "Nota média"), ("surveys", "Pesquisas"),
]
TABLES = {"attendants": ATTENDANT_COLUMNS, "services": SERVICE_COLUMNS}
DEFAULT_SORT = {"attendants": {"column": "concluded", "descending": True},
                "services": {"column": "volume", "descending": True}}


def definition(ident: str) -> html.Details:
    return html.Details(className="kpi-def", children=[
        html.Summary("como é calculado"), html.P(DEFINITIONS[ident])])


def preset_filter(value: str) -> html.Div:
    return html.Div(className="painel-filter painel-preset", children=[
        html.Label("Período rápido", htmlFor="f-preset"),
        dcc.Dropdown(id="f-preset", value=value, clearable=False, searchable=False,
                     labels=DROPDOWN_LABELS, options=[
                         {"label": label, "value": code}
                         for code, label in periods.PRESETS.items()]),
    ])


def trend_panel(granularity: str) -> html.Div:
    return html.Div(className="painel-panel painel-trend", children=[
        html.Div(className="painel-panel-head", children=[
            html.H4("Tendência no período"),
            dcc.RadioItems(id="trend-granularity", value=granularity, inline=True,
                           className="painel-clock-switch", options=GRANULARITY_OPTIONS),
        ]),
        dcc.Loading(dcc.Graph(id="chart-trend", config={"displayModeBar": False},
                              figure=figures.empty("Tendência", "Carregando…", 300)),
                    delay_show=400, type="dot"),
        html.P(id="trend-note", className="painel-note"),
    ])


def _sort_header(table: str, column: str, header: str) -> html.Th:
    return html.Th(html.Button(header, id={"type": "sort", "table": table, "column": column},
                               className="painel-sort", title="Ordenar por esta coluna"))


def _sortable(table: str, body_id: str) -> html.Div:
    return html.Div(className="painel-scroll", children=html.Table(
        className="table table-condensed table-hover painel-table", id=f"table-{table}",
        children=[html.Thead(html.Tr([_sort_header(table, c, h) for c, h in TABLES[table]]
                                     + [html.Th("")])),
                  html.Tbody(id=body_id)]))


def _export_links(table: str, sheet: str) -> html.Div:
    """This table as CSV, and the Painel's XLSX (where it is the sheet ``sheet``); the
    addresses follow the view (dashboards.exports_tables)."""
    return html.Div(className="painel-export painel-table-export", children=[
        html.A([html.I(className="fa fa-file-text-o"), " CSV"], id=f"export-{table}-csv",
               className="btn btn-default btn-xs", href="#",
               title="Baixar esta tabela em CSV, com os filtros e o período do Painel"),
        html.A([html.I(className="fa fa-file-excel-o"), " XLSX"], id=f"export-{table}-xlsx",
               className="btn btn-default btn-xs", href="#",
               title=f"Baixar a planilha do Painel (aba {sheet})"),
    ])


def people_panel() -> html.Div:
    return html.Div(className="painel-row painel-stack", children=[
        html.Div(className="painel-panel", children=[
            html.H4("Equipe: por atendente"),
            _export_links("attendants", "Atendentes"),
            _sortable("attendants", "attendants-body"),
            dcc.Store(id="sort-attendants", data=DEFAULT_SORT["attendants"]),
            html.P("Assumidos, concluídos e 1º atendimento: chamados que chegaram a essa "
                   "etapa no período; atendimento, SLA, reprovação (reprovações por "
                   "conclusão) e certo de primeira (encerrados sem reprovação): chamados "
                   "encerrados no período; notas: pesquisas respondidas no período.",
                   className="painel-note"),
        ]),
        html.Div(className="painel-panel", children=[
            html.H4("Por serviço"),
            _export_links("services", "Serviços"),
            _sortable("services", "services-body"),
            dcc.Store(id="sort-services", data=DEFAULT_SORT["services"]),
            html.P("Volume e reaberturas: chamados abertos no período; SLA e atendimento: "
                   "encerrados no período.", className="painel-note"),
        ]),
    ])


def satisfaction_panel() -> html.Div:
    return html.Div(className="painel-row", children=[
        html.Div(className="painel-panel", children=[
            html.H4("Satisfação"),
            html.Div(id="satisfaction-summary", className="painel-sat-summary"),
            dcc.Graph(id="chart-scores", config={"displayModeBar": False},
                      figure=figures.empty("Notas", "Carregando…", 220)),
        ]),
        html.Div(className="painel-panel", children=[
            html.H4("Notas baixas (1 e 2)"),
            html.Div(id="low-scores", className="painel-scroll"),
        ]),
    ])


def _pct(value) -> str:
    return "—" if value is None or pd.isna(value) else figures.number(value, 0) + "%"


def _score(value) -> str:
    return "—" if value is None or pd.isna(value) else figures.number(value, 1)


def sorted_frame(frame: pd.DataFrame, sort: dict | None, table: str) -> pd.DataFrame:
    columns = [c for c, _ in TABLES[table]]
    sort = sort if isinstance(sort, dict) and sort.get("column") in columns \
        else DEFAULT_SORT[table]
    key = (lambda c: c.str.casefold()) if sort["column"] == "name" else None
    return frame.sort_values(sort["column"], ascending=not sort.get("descending"),
                             na_position="last", kind="stable", key=key)


def _drill_button(table: str, ident) -> html.Button:
    return html.Button([html.I(className="fa fa-search"), " chamados"],
                       id={"type": "drill-row", "table": table, "id": int(ident)},
                       className="btn btn-link btn-xs painel-row-drill",
                       title="Ver os chamados desta linha abaixo")


def attendant_rows(frame: pd.DataFrame, clock: str) -> list:
    if frame.empty:
        return [html.Tr(html.Td("Nenhum atendente com chamados no período.",
                                colSpan=len(ATTENDANT_COLUMNS) + 1, className="painel-empty"))]
    return [html.Tr([
        html.Td(r["name"]), html.Td(figures.number(r["assumed"])),
        html.Td(figures.number(r["concluded"])),
        html.Td(figures.hours(r["mean_first_response_hours"], clock)),
        html.Td(figures.hours(r["mean_handling_hours"], clock)),
        html.Td(_pct(r["sla_met_pct"])), html.Td(_pct(r["rejection_pct"])),
        html.Td(_pct(r["first_time_right_pct"])), html.Td(_score(r["mean_score"])),
        html.Td(figures.number(r["surveys"])), html.Td(_drill_button("attendant", r["id"])),
    ]) for r in frame.to_dict("records")]


def service_rows(frame: pd.DataFrame, clock: str) -> list:
    if frame.empty:
        return [html.Tr(html.Td("Nenhum serviço com chamados no período.",
                                colSpan=len(SERVICE_COLUMNS) + 1, className="painel-empty"))]
    return [html.Tr([
        html.Td(r["name"]), html.Td(figures.number(r["volume"])),
        html.Td(_pct(r["sla_met_pct"])), html.Td(figures.hours(r["mean_handling_hours"], clock)),
        html.Td(figures.number(r["reopenings"])), html.Td(_score(r["mean_score"])),
        html.Td(figures.number(r["surveys"])), html.Td(_drill_button("service", r["id"])),
    ]) for r in frame.to_dict("records")]


def satisfaction_summary(overview: dict) -> list:
    rate = overview["response_rate"]
    return [
        html.Div(className="painel-sat-figure", children=[
            html.Span(_pct(rate), className="kpi-value", id="sat-response-rate"),
            html.Span(f" responderam à pesquisa ({figures.number(overview['answered'])} de "
                      f"{figures.number(overview['closed'])} encerrados no período)"),
        ]),
        html.Div(className="painel-sat-figure", children=[
            html.Span(_score(overview["mean_score"]), className="kpi-value"),
            html.Span(f" nota média em {figures.number(overview['surveys'])} pesquisas "
                      "respondidas no período"),
        ]),
    ]


def low_scores(frame: pd.DataFrame, time_zone: str):
    rows = [[tables.ticket_link(r["id"]), r["subject"] or "—", str(int(r["score"])),
             r["comment"] or "(sem comentário)", r["department"], r["attendant"] or "—",
             tables.local(r["filled_at"], time_zone)] for r in frame.to_dict("records")]
    return tables._table(["Chamado", "Assunto", "Nota", "Comentário", "Departamento",
                          "Atendente", "Respondida em"], rows,
                         "Nenhuma nota 1 ou 2 no período.")
