"""`POST /api/v1/inbound-mail` (shared/API.md, "E-mail both ways"): how a mail server
(Postfix's pipe to curl, docs/inbound-mail.md) or a provider's inbound webhook hands
over one received mail, raw, as the body.

Answers: 202 taken; 200 ``{"status": "ignored", "reason"}`` for mail that is not taken
(the MTA must not retry it); 401 without the right bearer ``INBOUND_MAIL_TOKEN`` (and
whenever no token is configured); 400 for what cannot be parsed, a MIME bomb included;
413 over ``INBOUND_MAIL_MAX_MB``; 503 when the database fails (the MTA keeps the mail
and retries; nothing was half-written). Nothing about the ticket or the address is in
the answer.
"""
from __future__ import annotations

import hmac
import logging

from flask import current_app, jsonify, request
from flask_appbuilder.api import BaseApi, expose
from werkzeug.exceptions import RequestEntityTooLarge

from app.extensions import db
from app.mail_in import intake
from app.quotas import QuotaExceeded

log = logging.getLogger(__name__)

UNPARSEABLE = {"unparseable": "O e-mail não pôde ser lido: envie a mensagem completa, "
                              "com o cabeçalho (From) e o corpo.",
               "mime_bomb": "O e-mail tem partes demais ou aninhadas demais."}


def _authorized() -> bool:
    token = current_app.config.get("INBOUND_MAIL_TOKEN") or ""
    given = request.headers.get("Authorization", "")
    if not token or not given.lower().startswith("bearer "):
        return False
    return hmac.compare_digest(given[7:].strip().encode(), str(token).encode())


class InboundMailApi(BaseApi):
    resource_name = "inbound-mail"
    csrf_exempt = True

    @expose("", methods=["POST"])
    def post(self):
        if not _authorized():
            return jsonify(message="Token de entrega de e-mail ausente ou inválido."), 401
        limit = intake.max_bytes()
        too_large = jsonify(message=f"E-mail maior que o limite de "
                                    f"{limit // (1024 * 1024)} MB."), 413
        request.max_content_length = limit
        try:
            if request.content_length is not None and request.content_length > limit:
                raise RequestEntityTooLarge()
            raw = request.get_data(cache=False)
        except RequestEntityTooLarge:
            size = request.content_length
            intake.log_refusal("too_large", source="http",
                               detail=f"{size // (1024 * 1024)} MB" if size else "")
            return too_large
        try:
            result = intake.take_mail(raw, source="http")
        except QuotaExceeded:
            # The sender's hourly upload quota: a 429 with Retry-After (the app's 429
            # handler), which the MTA's pipe answers as a temporary failure, so the mail
            # is taken once the hour has room. Nothing was written.
            db.session.rollback()
            log.info("inbound mail deferred: the sender's upload quota is full")
            raise
        except Exception:  # noqa: BLE001 - the MTA keeps the mail and tries again
            db.session.rollback()
            log.exception("inbound mail could not be taken")
            return jsonify(message="Não foi possível receber o e-mail agora. Tente de novo "
                                   "em instantes."), 503
        finally:
            db.session.remove()
        if result.taken:
            return jsonify(status="taken"), 202
        if result.reason == "too_large":
            return too_large
        if result.status == "refused":
            return jsonify(message=UNPARSEABLE.get(result.reason, UNPARSEABLE["unparseable"]),
                           reason=result.reason), 400
        return jsonify(status="ignored", reason=result.reason), 200
