"""The account page (plan, renewals, settings) and the public sign-up page."""
from __future__ import annotations

from flask import flash, g, redirect, request, session, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_login import login_user
from sqlalchemy import select

from app import accounts, sessions
from app.extensions import db
from app.models import PlanRenewal
from app.security import ValidationError
from app.tenancy import current_account
from app.vocabulary import BRAZIL_TIME_ZONES, time_zone_name


class AccountView(BaseView):
    route_base = "/conta"
    default_view = "show"

    def _account(self):
        return current_account()

    @expose("/")
    @has_access
    @permission_name("show")
    def show(self):
        account = self._account()
        if account is None:
            return self.render_template("account/none.html"), 404
        renewals = db.session.scalars(
            select(PlanRenewal).order_by(PlanRenewal.created_at.desc()).limit(50)
        ).all()
        return self.render_template(
            "account/show.html", account=account, renewals=renewals,
            expires_local=accounts.local_time(account, account.plan_expires_at),
            local_time=lambda v: accounts.local_time(account, v),
            time_zones=BRAZIL_TIME_ZONES, zone_name=time_zone_name(account.time_zone),
        )

    @expose("/renovar", methods=["POST"])
    @has_access
    @permission_name("renew")
    def renew(self):
        account = self._account()
        if account is None:
            return redirect(url_for("AccountView.show"))
        try:
            months = int(request.form.get("months", ""))
        except ValueError:
            months = None
        try:
            renewal = accounts.renew_plan(account, months, g.user)
        except ValidationError as error:
            flash(error.message, "danger")
        else:
            local = accounts.local_time(account, renewal.new_expires_at)
            flash(f"Plano renovado até {local:%d/%m/%Y}.", "success")
        return redirect(url_for("AccountView.show"))

    @expose("/configuracoes", methods=["POST"])
    @has_access
    @permission_name("edit")
    def settings(self):
        account = self._account()
        if account is None:
            return redirect(url_for("AccountView.show"))
        body = {"name": request.form.get("name", ""),
                "time_zone": request.form.get("time_zone", "")}
        for field in ("auto_approve_days", "waiting_cancel_days", "openings_per_hour",
                      "uploads_per_hour"):
            if field not in request.form and field != "auto_approve_days":
                continue
            try:
                body[field] = int(request.form.get(field, ""))
            except ValueError:
                body[field] = None
        try:
            accounts.update_account_settings(account, body)
        except ValidationError as error:
            db.session.rollback()
            flash(error.message, "danger")
        else:
            flash("Configurações salvas.", "success")
        return redirect(url_for("AccountView.show"))


class SignupView(BaseView):
    """Public page: "Criar conta". No permission: anyone may sign up (each POST counts
    towards SIGNUP_RATE_LIMIT per address: app.throttle)."""

    route_base = "/cadastro"
    default_view = "form"

    @expose("/", methods=["GET", "POST"])
    def form(self):
        values = {k: request.form.get(k, "") for k in
                  ("company", "admin_name", "admin_username", "admin_email")}
        if request.method == "POST":
            try:
                account, admin = accounts.signup(
                    values["company"], values["admin_name"], values["admin_username"],
                    values["admin_email"], request.form.get("admin_password", ""))
            except ValidationError as error:
                db.session.rollback()
                flash(error.message, "danger")
                return self.render_template("account/signup.html", values=values), error.status
            # The new administrator is in at once, as after the login form: a fresh
            # session (nothing of the anonymous visit), a page session (app.sessions).
            session.clear()
            login_user(admin, remember=False)
            sessions.open_cookie_session(admin)
            flash(f"Conta de {account.name} criada! Siga os primeiros passos abaixo para "
                  "receber o primeiro chamado.", "success")
            return redirect(url_for("HomeView.index"))
        return self.render_template("account/signup.html", values=values)
