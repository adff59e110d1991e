"""Figures and formatting of the Painel: pt-BR numbers, and user text kept as text.

Plotly renders a small subset of HTML inside labels and hover text (``<b>``, ``<a
href>``...), so every name that came from a user (sector, service, person) is
HTML-escaped before it reaches a figure; plotly shows the escaped entity as the
literal character, so "<script>" reads as "<script>" and does nothing.
"""
from __future__ import annotations

import html
import math

import pandas as pd
import plotly.graph_objects as go

BLUE, LIGHT, ACCENT = "#2471a3", "#a9cce3", "#e67e22"
SCORE_COLORS = ["#c0392b", "#e67e22", "#f1c40f", "#7dcea0", "#1e8449"]
FONT = "Helvetica Neue, Helvetica, Arial, sans-serif"


def number(value, decimals: int = 0) -> str:
    """1234.5 -> '1.234,5' (Brazilian separators)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "X").replace(".", ",").replace("X", ".")


def hours(value, clock: str = "24x7", say_clock: bool = True) -> str:
    """Durations as a person reads them: minutes, hours, or days. Working hours
    (``clock="business"``) stay in hours (48 working hours are not two days) and say
    "úteis" unless ``say_clock`` is off (a KPI card says it in its note)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if clock == "business":
        suffix = " úteis" if say_clock else ""
        if value < 1:
            return f"{number(value * 60)} min{suffix}"
        return f"{number(value, 1)} h{suffix}"
    if value < 1:
        return f"{number(value * 60)} min"
    if value < 48:
        return f"{number(value, 1)} h"
    return f"{number(value / 24, 1)} dias"


def unique_labels(frame: pd.DataFrame) -> list[str]:
    """Escaped names, made unique (two services may share a name across departments;
    a category axis would merge them)."""
    seen: dict = {}
    labels = []
    for name, ident in zip(frame["name"], frame["id"]):
        label = html.escape(str(name))
        if label in seen:
            label = f"{label} (#{ident})"
        seen[label] = True
        labels.append(label)
    return labels


def _base_layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(
        title={"text": html.escape(title), "x": 0.01, "font": {"size": 15}},
        height=height, margin={"l": 10, "r": 20, "t": 40, "b": 30},
        font={"family": FONT, "size": 12, "color": "#2c3e50"},
        plot_bgcolor="white", paper_bgcolor="white", separators=",.",
        clickmode="event", hoverlabel={"bgcolor": "white"}, showlegend=False,
    )
    fig.update_xaxes(gridcolor="#eef2f5", zeroline=False)
    fig.update_yaxes(automargin=True, autorange="reversed")
    return fig


def empty(title: str, message: str = "Sem chamados no período e filtros escolhidos.",
          height: int = 190) -> go.Figure:
    fig = _base_layout(go.Figure(), title, height)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.add_annotation(text=message, showarrow=False, font={"color": "#7f8c8d"},
                       xref="paper", yref="paper", x=0.5, y=0.5)
    return fig


def fitted_height(rows: int) -> int:
    """Bars of a readable thickness whether a chart has two groups or twelve."""
    return max(190, min(420, 70 + 30 * rows))


def bars(frame: pd.DataFrame, title: str, selected=None, notes: list | None = None
         ) -> go.Figure:
    """Horizontal bars of ticket counts; the cross-filtered group is highlighted;
    ``notes`` (one per bar, e.g. "SLA cumprido 87%") follow the count."""
    height = fitted_height(len(frame))
    if frame.empty:
        return empty(title, height=height)
    ids = [None if pd.isna(i) else (i if isinstance(i, str) else int(i)) for i in frame["id"]]
    colors = [ACCENT if selected is not None and i == selected else
              (LIGHT if selected is not None else BLUE) for i in ids]
    fig = go.Figure(go.Bar(
        x=frame["count"].astype(int).tolist(), y=unique_labels(frame), orientation="h",
        customdata=ids, marker={"color": colors},
        text=[number(v) + (f" · {n}" if notes and n else "")
              for v, n in zip(frame["count"], notes or [None] * len(frame))],
        textposition="auto",
        hovertemplate="%{y}: %{x} chamados<extra></extra>",
    ))
    return _base_layout(fig, title, height)


TREND_SERIES = (("opened", "Abertos", BLUE), ("closed", "Encerrados", "#1e8449"),
                ("backlog", "Em aberto (fim do intervalo)", "#7d3c98"))
SHORT_LABELS = {"day": "%d/%m", "week": "%d/%m/%y"}


def _whole_ticks(values) -> dict:
    """Counts up to 5 get a tick per unit: plotly's own ticks (0, 0.5, 1...) under the
    ",d" format read "0, 1, 1, 2, 2"."""
    top = values.to_numpy().max() if values.size else 0
    return {"dtick": 1} if top <= 5 else {}


def trend(frame: pd.DataFrame, granularity: str, labels: list[str],
          selected: str | None = None) -> go.Figure:
    """Opened, closed and backlog per bucket as lines, SLA breaches as bars on a
    second axis. A category axis of pt-BR labels (plotly's date axis would say
    "Nov"); every point carries its bucket (start, end, label) for the click."""
    title = "Abertos, encerrados e em aberto; violações de SLA"
    if frame.empty:
        return empty(title, height=320)
    months = ["jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov",
              "dez"]
    axis = [f"{months[a.month - 1]}/{a.year}" if granularity == "month"
            else a.strftime(SHORT_LABELS[granularity]) for a in frame["start"]]
    custom = [[a.isoformat(), b.isoformat(), label]
              for a, b, label in zip(frame["start"], frame["end"], labels)]
    fig = go.Figure()
    fig.add_trace(go.Bar(
        x=axis, y=frame["breached"].astype(int).tolist(), name="Violações de SLA",
        marker={"color": "#e6b0aa"}, yaxis="y2", customdata=custom,
        hovertemplate="%{customdata[2]}<br>Violações de SLA: %{y}<extra></extra>"))
    for column, name, color in TREND_SERIES:
        fig.add_trace(go.Scatter(
            x=axis, y=frame[column].astype(int).tolist(), name=name, mode="lines+markers",
            line={"color": color, "width": 2}, marker={"size": 7}, customdata=custom,
            hovertemplate="%{customdata[2]}<br>" + name + ": %{y}<extra></extra>"))
    _base_layout(fig, title, 320)
    fig.update_layout(showlegend=True, legend={"orientation": "h", "y": -0.18},
                      margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      yaxis2={"overlaying": "y", "side": "right", "showgrid": False,
                              "rangemode": "tozero", "title": {"text": "violações"},
                              "tickformat": ",d", **_whole_ticks(frame["breached"])},
                      hovermode="closest")
    fig.update_layout(yaxis={"autorange": True, "rangemode": "tozero", "tickformat": ",d",
                             **_whole_ticks(frame[[c for c, _, _ in TREND_SERIES]])})
    fig.update_xaxes(type="category")
    if selected is not None and selected in [c[0] for c in custom]:
        index = [c[0] for c in custom].index(selected)
        fig.add_vrect(x0=index - 0.5, x1=index + 0.5, fillcolor=ACCENT, opacity=0.15,
                      line_width=0)
    return fig


def scores(distribution: dict) -> go.Figure:
    """How many surveys gave each score, 1 to 5."""
    title = "Distribuição das notas"
    if not sum(distribution.values()):
        return empty(title, "Nenhuma pesquisa respondida no período.", 220)
    fig = go.Figure(go.Bar(
        x=[str(s) for s in range(1, 6)], y=[distribution[s] for s in range(1, 6)],
        marker={"color": SCORE_COLORS}, text=[number(distribution[s]) for s in range(1, 6)],
        textposition="outside", textangle=0, cliponaxis=False,  # "auto" turned a short
        hovertemplate="Nota %{x}: %{y} pesquisas<extra></extra>"))  # bar's count sideways
    _base_layout(fig, title, 220)
    fig.update_yaxes(range=[0, max(distribution.values()) * 1.2])
    fig.update_xaxes(type="category", title={"text": "nota"})
    return fig


def satisfaction(frame: pd.DataFrame, title: str, selected=None) -> go.Figure:
    """Mean survey score (1 to 5) per group, coloured from red to green."""
    height = fitted_height(len(frame))
    if frame.empty:
        return empty(title, "Nenhuma pesquisa respondida no período.", height)
    ids = [None if pd.isna(i) else int(i) for i in frame["id"]]
    scores = frame["mean_score"].astype(float).tolist()
    colors = [SCORE_COLORS[max(0, min(4, int(round(s)) - 1))] for s in scores]
    if selected is not None:
        colors = [c if i == selected else "#d5dbdb" for c, i in zip(colors, ids)]
    fig = go.Figure(go.Bar(
        x=scores, y=unique_labels(frame), orientation="h", customdata=ids,
        marker={"color": colors},
        text=[f"{number(s, 1)} ({number(n)} pesquisas)" for s, n in
              zip(scores, frame["surveys"])],
        textposition="auto",
        hovertemplate="%{y}: nota média %{x:.2f}<extra></extra>",
    ))
    _base_layout(fig, title, height)
    fig.update_xaxes(range=[0, 5], dtick=1)
    return fig
