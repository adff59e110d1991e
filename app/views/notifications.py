"""The administrators' "Notificações por e-mail" screen.

One table: the eight events as rows, the recipients as checkbox columns, an "ativo"
switch per event, one Save (POST with the CSRF token). Below it, "Falhas de envio": the
account's mails that ended ``failed``, each with a "Reenviar" POST that puts it back
in the queue. Rows come through app.tenancy, so another account's mails are invisible.
"""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from sqlalchemy import func, select

from app import accounts, mailer
from app.extensions import db
from app.models import EVENTS, RECIPIENTS, Account, OutboxMail
from app.notifications import (
    EVENT_LABELS,
    NEVER_TO_REQUESTER,
    RECIPIENT_LABELS,
    apply_settings,
    settings_by_event,
)
from app.tenancy import current_account_id

SCREEN_EVENT_LABELS = {**EVENT_LABELS,
                       "ticket_assumed": "Atendente assumiu o chamado",
                       "ticket_started": "Atendente iniciou o atendimento",
                       "requester_message": "Solicitante enviou mensagem ou arquivo",
                       "attendant_message": "Atendente enviou mensagem ou arquivo",
                       "ticket_concluded": "Atendente concluiu o atendimento",
                       "conclusion_reviewed": "Solicitante aprovou ou reprovou a conclusão",
                       "survey_filled": "Solicitante respondeu a pesquisa",
                       "ticket_waiting": "Atendente pediu algo ao solicitante (Aguardando "
                                         "solicitante)",
                       "ticket_cancelled": "Chamado cancelado (pelo solicitante ou "
                                           "automaticamente)",
                       "ticket_transferred": "Chamado transferido para outro departamento",
                       "ticket_reassigned": "Chamado passado a outro atendente",
                       "ticket_released": "Atendente devolveu o chamado à fila"}
FAILED_SHOWN = 100


class NotificationsView(BaseView):
    route_base = "/notificacoes"
    default_view = "show"

    @expose("/")
    @has_access
    @permission_name("show")
    def show(self):
        account_id = current_account_id()
        if account_id is None:
            return self.render_template("account/none.html"), 404
        account = db.session.get(Account, account_id)
        rows = settings_by_event(account_id)
        failed = db.session.scalars(
            select(OutboxMail).where(OutboxMail.status == "failed")
            .order_by(OutboxMail.created_at.desc(), OutboxMail.id.desc()).limit(FAILED_SHOWN)
        ).all()
        pending = db.session.scalar(select(func.count()).select_from(OutboxMail)
                                    .where(OutboxMail.status == "pending"))
        return self.render_template(
            "notifications/settings.html", events=EVENTS, rows=rows,
            recipients=RECIPIENTS, event_labels=SCREEN_EVENT_LABELS,
            recipient_labels=RECIPIENT_LABELS, failed=failed, pending=pending,
            mail_event_labels=EVENT_LABELS, never_to_requester=NEVER_TO_REQUESTER,
            local_time=lambda value: accounts.local_time(account, value))

    @expose("/salvar", methods=["POST"])
    @has_access
    @permission_name("edit")
    def save(self):
        account_id = current_account_id()
        if account_id is None:
            return redirect(url_for("NotificationsView.show"))
        changes = {}
        for event in EVENTS:
            changes[event] = {
                "enabled": request.form.get(f"{event}__enabled") == "on",
                "recipients": {r for r in RECIPIENTS
                               if request.form.get(f"{event}__{r}") == "on"},
            }
        apply_settings(account_id, changes)
        flash("Notificações salvas.", "success")
        return redirect(url_for("NotificationsView.show"))

    @expose("/reenviar/<int:mail_id>", methods=["POST"])
    @has_access
    @permission_name("resend")
    def resend(self, mail_id: int):
        if current_account_id() is not None and mailer.resend(mail_id):
            flash("E-mail colocado de novo na fila de envio.", "success")
        else:
            flash("E-mail não encontrado ou já reenviado.", "warning")
        return redirect(url_for("NotificationsView.show"))
