"""'Meu perfil': every member's own page (all four profiles hold its two permissions).

Name and e-mail are editable; username, sector and profiles are shown read-only (they
are the administrators' to change); the password changes only with the current one,
which ends the member's other sessions and tokens (app.sessions) but not this one.
A bad value answers 400 with the page, the Portuguese message and what was typed, and
changes nothing.
"""
from __future__ import annotations

from flask import current_app, flash, g, redirect, request, session, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name

from app import accounts, sessions
from app.extensions import db
from app.models import Member
from app.security import ValidationError, rate_limited
from app.views.login import MUST_CHANGE_PASSWORD

PASSWORD_ATTEMPTS = "10 per 5 minutes"   # a stolen session cannot guess the current one


class ProfileView(BaseView):
    route_base = "/perfil"
    default_view = "show"

    def _member(self) -> Member:
        return db.session.get(Member, g.user.id)

    def _page(self, member, values=None, error=None, status=200):
        values = values or {"first_name": member.first_name, "last_name": member.last_name,
                            "email": member.email}
        return self.render_template(
            "profile/show.html", member=member, values=values, error=error,
            profiles=sorted(r.name for r in member.roles)), status

    @expose("/")
    @has_access
    @permission_name("show")
    def show(self):
        return self._page(self._member())

    @expose("/dados", methods=["POST"])
    @has_access
    @permission_name("edit")
    def save(self):
        member = self._member()
        values = {k: request.form.get(k, "") for k in ("first_name", "last_name", "email")}
        try:
            accounts.update_own_profile(member, values)
        except ValidationError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return self._page(self._member(), values, error, 400)
        flash("Dados salvos.", "success")
        return redirect(url_for("ProfileView.show"))

    @expose("/senha", methods=["POST"])
    @has_access
    @permission_name("edit")
    def password(self):
        member = self._member()
        if rate_limited(PASSWORD_ATTEMPTS, f"profile-password:{member.id}"):
            flash("Muitas tentativas de troca de senha. Aguarde alguns minutos.", "danger")
            return self._page(member, status=429)
        try:
            accounts.change_own_password(
                member, request.form.get("current_password", ""),
                request.form.get("new_password", ""), request.form.get("confirm_password", ""),
                sessions.cookie_session_id())
        except ValidationError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return self._page(self._member(), error=error, status=400)
        session.pop(MUST_CHANGE_PASSWORD, None)
        current_app.logger.info("member %s changed their password", member.id)
        flash("Senha alterada. Suas outras sessões foram encerradas.", "success")
        return redirect(url_for("ProfileView.show"))
