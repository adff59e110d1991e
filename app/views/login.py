"""The login page: FAB's AuthDBView in Portuguese, keeping what was typed.

* "Entrar" as title and button (FAB's pt_BR catalogue says "Registrar");
* one answer, "Usuário ou senha incorretos.", for an unknown user, a wrong password and
  an inactive member (FAB already spends the same time on each);
* a failure still answers with FAB's redirect back to the form (the login throttle
  counts those redirects), and the typed username comes back pre-filled: it travels in
  the signed session cookie, never in the URL;
* a success opens a page session (app/sessions.py), and a password that no longer
  meets the rule (app/passwords.py) sends the member to "Meu perfil" to change it.
"""
from __future__ import annotations

from flask import flash, g, redirect, request, session, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import no_cache
from flask_appbuilder.security.forms import LoginForm_db
from flask_appbuilder.security.views import AuthDBView
from flask_appbuilder.utils.base import get_safe_redirect
from flask_login import login_user

from app import passwords, sessions

INVALID_LOGIN = "Usuário ou senha incorretos."
WEAK_PASSWORD = ("Sua senha não atende mais às regras de segurança. Escolha uma nova "
                 "senha agora.")
TYPED_USERNAME = "_login_username"
MUST_CHANGE_PASSWORD = "must_change_password"


class LoginView(AuthDBView):
    title = "Entrar"
    invalid_login_message = INVALID_LOGIN

    @expose("/login/", methods=["GET", "POST"])
    @no_cache
    def login(self):
        if g.user is not None and g.user.is_authenticated:
            return redirect(self._get_safe_next_url())
        form = LoginForm_db()
        if form.validate_on_submit():
            next_url = get_safe_redirect(request.args.get("next", ""))
            username, password = form.username.data, form.password.data
            user = self.appbuilder.sm.auth_user_db(username, password)
            if not user:
                flash(INVALID_LOGIN, "warning")
                session[TYPED_USERNAME] = (username or "")[:64]
                return redirect(self.appbuilder.get_url_for_login_with(next_url))
            session.clear()   # nothing of the anonymous visit carries into the session
            login_user(user, remember=False)
            sessions.open_cookie_session(user)
            if passwords.problem(password, username=user.username, email=user.email,
                                 company=user.account.name if user.account else None):
                session[MUST_CHANGE_PASSWORD] = True
                flash(WEAK_PASSWORD, "warning")
                return redirect(url_for("ProfileView.show"))
            return redirect(next_url)
        if request.method == "GET" and not form.username.data:
            form.username.data = session.pop(TYPED_USERNAME, None)
        return self.render_template(self.login_template, title=self.title, form=form,
                                    appbuilder=self.appbuilder)
