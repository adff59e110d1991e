"""Input that no view should ever see, refused once at the edge (a ``before_request``)
with a Portuguese 400 before any view, use case or database touches it.

Each of these was a 500 (issue 13): SQLite cannot bind an integer beyond 64 bits,
Python's JSON parser gives up with ``RecursionError`` on JSON nested a few thousand
deep, and Dash indexes a callback body without looking at its shape. Checking them
here means a new view or resource cannot forget them:

* JSON bodies (``application/json`` or ``+json``): at most ``JSON_MAX_BYTES`` (413),
  nested at most ``JSON_MAX_DEPTH`` deep, no integer beyond 64 bits, no ``NaN`` or
  ``Infinity``; the body is parsed once here and Flask reuses the result. A body that
  is not JSON at all is left to the view, which already says what it wants;
* query strings: no integer beyond 64 bits in any parameter (free-text ones aside),
  nor inside the Rison ``q`` of the REST lists;
* the forms of FAB's generated screens: no integer beyond 64 bits (their selects
  look rows up by the id sent); FAB's ``/<view>/download/<name>`` is always a 404;
* ``POST /painel/_dash-update-component``: the body must name one of the Painel's
  callbacks and carry exactly its inputs, state and outputs (Dash answered any other
  shape with a 500).

Shapes that need the resource's own knowledge (which Rison filters, which dates) stay
in ``app/api/base.py`` and ``dashboards/filters.py``.
"""
from __future__ import annotations

import json
import math
import re

from flask import Flask, request
from werkzeug.exceptions import HTTPException

INT64_MAX = 2**63 - 1
JSON_MAX_DEPTH = 32
JSON_MAX_BYTES = 1024 * 1024
# Query parameters whose value is free text: a long number there is a search, not an id.
FREE_TEXT_ARGS = frozenset({"search", "next", "_flt_0_name"})
DASH_UPDATE = "/painel/_dash-update-component"
_INTEGER = re.compile(r"[+-]?\d+")


class InputRefused(HTTPException):
    """A 400 whose Portuguese message says what was wrong (and ``field`` which part)."""

    code = 400

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class JsonTooLarge(HTTPException):
    code = 413
    description = "Corpo JSON grande demais: no máximo 1 MB."


def _integer_too_big(text: str) -> bool:
    return bool(_INTEGER.fullmatch(text.strip())) and abs(int(text)) > INT64_MAX


def check_value(value, field: str | None = None, max_depth: int = JSON_MAX_DEPTH) -> None:
    """Raise InputRefused for nesting deeper than ``max_depth``, an integer beyond 64
    bits or a non-finite number anywhere in ``value`` (parsed JSON or Rison).
    ``field`` of the error is the top-level key where it was found."""
    stack = [(value, 1, field)]
    while stack:
        item, depth, where = stack.pop()
        if depth > max_depth:
            raise InputRefused(f"Dados aninhados demais: no máximo {max_depth} níveis.",
                               where)
        if isinstance(item, bool) or item is None or isinstance(item, str):
            continue
        if isinstance(item, int):
            if abs(item) > INT64_MAX:
                raise InputRefused(f"Número grande demais{_in(where)}.", where)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InputRefused(f"Número inválido{_in(where)}.", where)
        elif isinstance(item, dict):
            stack.extend((v, depth + 1, where or str(k)) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, depth + 1, where) for v in item)


def _in(field: str | None) -> str:
    return f" em {field}" if field else ""


def _check_json() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS") or not request.is_json:
        return
    limit = JSON_MAX_BYTES
    if request.content_length is not None and request.content_length > limit:
        raise JsonTooLarge()
    raw = request.get_data(cache=True)
    if len(raw) > limit:
        raise JsonTooLarge()
    if not raw.strip():
        return
    try:
        parsed = json.loads(raw)
    except RecursionError:
        raise InputRefused(f"Dados aninhados demais: no máximo {JSON_MAX_DEPTH} níveis.")
    except ValueError:   # not JSON (or not UTF-8): the view says what it expects
        return
    check_value(parsed)
    request._cached_json = (parsed, parsed)   # Werkzeug's cache: parse once


def _check_query() -> None:
    for key, value in request.args.items(multi=True):
        if key in FREE_TEXT_ARGS:
            continue
        if _integer_too_big(value):
            raise InputRefused(f"Número grande demais em {key}.", key)
        if key == "q" and request.path.startswith("/api/"):
            import prison

            try:
                parsed = prison.loads(value)
            except Exception:   # noqa: BLE001 - malformed: the resource answers it
                continue
            check_value(parsed, "q", max_depth=8)


def _check_crud_view() -> None:
    from flask import abort, current_app
    from flask_appbuilder.baseviews import BaseCRUDView

    endpoint = request.endpoint or ""
    view = getattr(current_app.view_functions.get(endpoint), "__self__", None)
    if not isinstance(view, BaseCRUDView):
        return
    if endpoint.endswith(".download"):
        # FAB's file download serves any name under UPLOAD_FOLDER without looking at
        # the ticket (and a 500 for a missing one); files go out only through the
        # ticket's own routes. The platform operator holds every permission, this too.
        abort(404)
    if request.method != "POST" or request.mimetype not in (
            "application/x-www-form-urlencoded", "multipart/form-data"):
        return
    for key, value in request.form.items(multi=True):
        if _integer_too_big(value):
            raise InputRefused(f"Número grande demais em {key}.", key)


# --- Dash callbacks -----------------------------------------------------------------


def _same_id(sent, expected) -> bool:
    """One declared input: a plain id, or a pattern (``ALL``; Dash declares it as a JSON
    string ``{"table": ..., "id": ["ALL"]}`` and sends the list of matching components)."""
    pattern = isinstance(expected["id"], str) and expected["id"].startswith("{")
    if pattern:
        items = sent if isinstance(sent, list) else [sent]
        return all(isinstance(i, dict) and isinstance(i.get("id"), dict)
                   and i.get("property") == expected["property"] for i in items)
    return (isinstance(sent, dict) and sent.get("id") == expected["id"]
            and sent.get("property") == expected["property"])


def _same_ids(sent, expected) -> bool:
    """``sent`` (from the client) names exactly the ``expected`` id/property pairs."""
    if not isinstance(sent, list) or len(sent) != len(expected):
        return False
    return all(_same_id(s, e) for s, e in zip(sent, expected))


def dash_body_is_valid(body, callback_map) -> bool:
    if not isinstance(body, dict):
        return False
    output = body.get("output")
    if not isinstance(output, str) or output not in callback_map:
        return False
    callback = callback_map[output]
    for key in ("inputs", "state"):
        if not _same_ids(body.get(key, []), callback.get(key, [])):
            return False
    declared = callback.get("output")
    wanted = [{"id": o.component_id, "property": o.component_property}
              for o in (declared if isinstance(declared, list) else [declared])]
    outputs = body.get("outputs")
    if not _same_ids(outputs if isinstance(declared, list) else [outputs], wanted):
        return False
    changed = body.get("changedPropIds", [])
    return isinstance(changed, list) and all(isinstance(c, str) for c in changed)


def _check_dash_callback(app: Flask) -> None:
    if request.path != DASH_UPDATE or request.method != "POST":
        return
    dash_app = app.extensions.get("painel_dash")
    if dash_app is None:
        return
    if not dash_body_is_valid(request.get_json(silent=True), dash_app.callback_map):
        raise InputRefused("Atualização do Painel inválida: recarregue a página.")


def install(app: Flask) -> None:
    """Register the guard (after the tenancy scope and the Painel's own door, so an
    anonymous caller still gets 401 from the Painel) and its Portuguese answers."""

    @app.before_request
    def refuse_impossible_input():
        _check_query()
        _check_json()
        _check_crud_view()
        _check_dash_callback(app)

    @app.errorhandler(InputRefused)
    def input_refused(error):
        from flask import jsonify

        from app import _error_page, _wants_json

        if _wants_json() or request.is_json:
            # The top-level key where the value was found, or the body as a whole.
            return jsonify({"message": error.description, "field": error.field or "body"}), 400
        return _error_page(400, "Requisição inválida", error.description)

    @app.errorhandler(JsonTooLarge)
    def json_too_large(error):
        from app import _error_page

        return _error_page(413, "Envio grande demais", error.description)
