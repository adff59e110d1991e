"""HTML tables of the Painel, built from Dash components: every value is rendered as
text (Dash never interprets a string as markup), and ticket links are built from
integer ids only."""
from __future__ import annotations

from zoneinfo import ZoneInfo

import pandas as pd
from dash import html

from dashboards import figures

TICKET_URL = "/chamados/{}"


def local(value, time_zone: str) -> str:
    if value is None or pd.isna(value):
        return "—"
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.tz_convert(ZoneInfo(time_zone)).strftime("%d/%m/%Y %H:%M")


def _table(headers: list[str], rows: list[list], empty: str) -> html.Table | html.P:
    if not rows:
        return html.P(empty, className="painel-empty")
    return html.Table(className="table table-condensed table-hover painel-table", children=[
        html.Thead(html.Tr([html.Th(h) for h in headers])),
        html.Tbody([html.Tr([html.Td(cell) for cell in row]) for row in rows]),
    ])


def ticket_link(ident) -> html.A:
    ident = int(ident)
    return html.A(f"#{ident}", href=TICKET_URL.format(ident), target="_blank")


CLOCK_CAPTIONS = {"24x7": "Tempos em horas corridas (todas as horas contam).",
                  "business": "Tempos em horas úteis do calendário da conta."}


def steps(frame: pd.DataFrame, clock: str = "24x7"):
    rows = [[r["label"], figures.number(r["tickets"]), figures.hours(r["mean"], clock),
             figures.hours(r["median"], clock), figures.hours(r["p90"], clock)]
            for r in frame.to_dict("records")]
    table = _table(["Etapa", "Chamados", "Média", "Mediana", "90º percentil"], rows,
                   "Nenhuma etapa concluída no período.")
    return html.Div([html.P(CLOCK_CAPTIONS[clock], className="painel-note painel-clock-note"),
                     table])


def sla_label(row) -> html.Span:
    if row["status"] == "closed":
        met = bool(row["sla_met"])
        return html.Span("Cumprido" if met else "Violado",
                         className="label label-success" if met else "label label-danger")
    if row["status"] == "cancelled":
        return html.Span("—")
    if row["status"] == "waiting":  # the clock stopped while the requester answers
        return html.Span("Prazo pausado", className="label label-info")
    return html.Span("Em andamento", className="label label-default")


def at_risk(frame: pd.DataFrame, total: int, time_zone: str):
    rows = [[ticket_link(r["id"]), r["service"], r["priority_label"], r["attendant"] or "—",
             local(r["sla_due_at"], time_zone), figures.hours(r["hours_left"], r["clock"])]
            for r in frame.to_dict("records")]
    table = _table(["Chamado", "Serviço", "Prioridade", "Atendente", "Prazo", "Resta"], rows,
                   "Nenhum chamado em risco nesse intervalo.")
    if total > len(rows):
        return html.Div([table, html.P(f"Mostrando {len(rows)} de {figures.number(total)}.",
                                       className="painel-note")])
    return table


def drill(frame: pd.DataFrame, time_zone: str):
    rows = [[ticket_link(r["id"]), r["subject"] or "—", local(r["opened_at"], time_zone),
             r["status_label"], r["priority_label"], r["department"], r["service"],
             r["sector"] or "—", r["requester"] or "—", r["attendant"] or "—",
             local(r["sla_due_at"], time_zone), sla_label(r)]
            for r in frame.to_dict("records")]
    return _table(["Chamado", "Assunto", "Aberto em", "Situação", "Prioridade", "Departamento",
                   "Serviço", "Setor", "Solicitante", "Atendente", "Prazo SLA", "SLA"], rows,
                  "Nenhum chamado aberto no período com esses filtros.")
