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


def bars(frame: pd.DataFrame, title: str, selected=None) -> go.Figure:
    """Horizontal bars of ticket counts; the cross-filtered group is highlighted."""
    height = fitted_height(len(frame))
    if frame.empty:
        return empty(title, height=height)
    ids = [None if pd.isna(i) else (i if isinstance(i, str) else int(i)) for i in frame["id"]]
    colors = [ACCENT if selected is not None and i == selected else
              (LIGHT if selected is not None else BLUE) for i in ids]
    fig = go.Figure(go.Bar(
        x=frame["count"].astype(int).tolist(), y=unique_labels(frame), orientation="h",
        customdata=ids, marker={"color": colors},
        text=[number(v) for v in frame["count"]], textposition="auto",
        hovertemplate="%{y}: %{x} chamados<extra></extra>",
    ))
    return _base_layout(fig, title, height)


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
