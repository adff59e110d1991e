"""Public pages of 'Esqueci minha senha' (app.password_reset): ask for a link, choose
the new password. Asking is limited per address and per e-mail, and the answer is the
same whether or not the e-mail exists (or the limit was reached)."""
from __future__ import annotations

from flask import current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose

from app import invitations, password_reset
from app.extensions import db
from app.security import ValidationError, rate_limited

SENT = ("Se o e-mail estiver cadastrado, enviamos um link para criar uma nova senha. "
        "O link vale por uma hora.")


class PasswordResetView(BaseView):
    route_base = "/senha"
    default_view = "forgot"

    @expose("/esqueci", methods=["GET", "POST"])
    def forgot(self):
        if request.method == "GET":
            return self.render_template("password/forgot.html", email="")
        email = request.form.get("email", "")
        limit = current_app.config["PASSWORD_RESET_RATE_LIMIT"]
        over = rate_limited(limit, f"reset:addr:{request.remote_addr}")
        over = rate_limited(limit, f"reset:email:{email.strip().lower()[:254]}") or over
        if not over:
            password_reset.request_link(email)
        flash(SENT, "info")
        return redirect(current_app.appbuilder.get_url_for_login)

    @expose("/convite/<string:token>", methods=["GET", "POST"])
    def invitation(self, token):
        """The link of an invitation mail: the member chooses a first password."""
        try:
            member = invitations.member_for_token(token)
        except ValidationError as error:
            flash(error.message, "danger")
            return self.render_template("password/choose.html", token=None), 400
        action = url_for("PasswordResetView.invitation", token=token)
        if request.method == "GET":
            return self.render_template("password/choose.html", token=token, action=action,
                                        username=member.username, title="Escolha sua senha")
        try:
            invitations.choose_password(token, request.form.get("new_password", ""),
                                        request.form.get("confirm_password", ""))
        except ValidationError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return self.render_template("password/choose.html", token=token, action=action,
                                        username=member.username,
                                        title="Escolha sua senha"), 400
        flash("Senha criada. Entre com seu usuário e a nova senha.", "success")
        return redirect(url_for(f"{current_app.appbuilder.sm.auth_view.endpoint}.login"))

    @expose("/nova/<string:token>", methods=["GET", "POST"])
    def choose(self, token):
        try:
            member = password_reset.member_for_token(token)
        except ValidationError as error:
            flash(error.message, "danger")
            return self.render_template("password/choose.html", token=None), 400
        if request.method == "GET":
            return self.render_template("password/choose.html", token=token,
                                        username=member.username)
        try:
            password_reset.choose_password(token, request.form.get("new_password", ""),
                                           request.form.get("confirm_password", ""))
        except ValidationError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return self.render_template("password/choose.html", token=token,
                                        username=member.username), 400
        flash("Senha criada. Entre com a nova senha.", "success")
        return redirect(url_for(f"{current_app.appbuilder.sm.auth_view.endpoint}.login"))
