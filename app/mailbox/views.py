"""The administrators' "Caixa de e-mail" screen (menu "Conta"): the account's IMAP
mailbox settings and the poller's state.

One page and one POST (with the CSRF token) through app.mailbox.settings. The password
field is always empty: a saved password is shown only as "definida" and is kept when
the field is left blank. A refused change shows the page again with what was typed
(never the password) and the message, and saves nothing.
"""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from sqlalchemy import select

from app import accounts
from app.extensions import db
from app.mailbox import opening, settings  # noqa: F401 (opening: its log reasons)
from app.models import Department, Service
from app.security import ValidationError
from app.tenancy import current_account

FORM_FIELDS = ("host", "port", "security", "username", "folder", "processed_folder",
               "rejected_folder", "department_id", "service_id")


class MailboxView(BaseView):
    route_base = "/conta/caixa-de-email"
    default_view = "show"

    def _page(self, account, *, typed: dict | None = None, status: int = 200,
              error_field: str = ""):
        mailbox = settings.get_mailbox(account.id)
        values = settings.as_dict(mailbox)
        if typed:
            values.update(typed)
        departments = db.session.scalars(select(Department).order_by(Department.name)).all()
        services = db.session.scalars(select(Service).order_by(Service.name)).all()
        return self.render_template(
            "mailbox/settings.html", account=account, values=values, mailbox=mailbox,
            departments=departments, services=services,
            securities=settings.SECURITY_LABELS, state_labels=settings.STATE_LABELS,
            error_field=error_field,
            local_time=lambda value: accounts.local_time(account, value)), status

    @expose("/")
    @has_access
    @permission_name("show")
    def show(self):
        account = current_account()
        if account is None:
            return self.render_template("account/none.html"), 404
        return self._page(account)

    @expose("/salvar", methods=["POST"])
    @has_access
    @permission_name("edit")
    def save(self):
        account = current_account()
        if account is None:
            return redirect(url_for("AccountView.show"))
        form = request.form
        data = {name: form.get(name, "")[:600] for name in FORM_FIELDS}
        data["password"] = form.get("password", "")[:600]
        data["active"] = form.get("active") == "on"
        try:
            settings.save_mailbox(account.id, data)
        except ValidationError as error:
            db.session.rollback()
            flash(error.message, "danger")
            typed = {k: v for k, v in data.items() if k != "password"}
            return self._page(account, typed=typed, status=error.status,
                              error_field=error.field)
        flash("Caixa de e-mail salva." + (" Ela será verificada em até um minuto."
                                          if data["active"] else ""), "success")
        return redirect(url_for("MailboxView.show"))
