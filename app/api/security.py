"""FAB's token login and refresh, with tokens that name their session (app/sessions.py)
and answers in Portuguese. Paths and bodies are FAB's (shared/API.md, Authentication);
the request shape is checked by the login throttle before this runs."""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import expose, safe
from flask_appbuilder.security.api import SecurityApi
from flask_jwt_extended import get_jwt, jwt_required

from app import passwords, sessions

INVALID_LOGIN = "Usuário ou senha incorretos."


class SessionSecurityApi(SecurityApi):
    @expose("/login", methods=["POST"])
    @safe
    def login(self):
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or body.get("provider") != "db" or not all(
                isinstance(body.get(k), str) and body[k] for k in ("username", "password")):
            return self.response(400, message="Informe username, password e provider \"db\".")
        refresh = body.get("refresh", False)
        if not isinstance(refresh, bool):
            return self.response(400, message="refresh deve ser verdadeiro ou falso.")
        user = self.appbuilder.sm.auth_user_db(body["username"], body["password"])
        if not user:
            return self.response(401, message=INVALID_LOGIN)
        result = sessions.issue_tokens(user, refresh=refresh)
        if passwords.problem(body["password"], username=user.username, email=user.email,
                             company=user.account.name if user.account else None):
            result["password_change_required"] = True
        return self.response(200, **result)

    @expose("/refresh", methods=["POST"])
    @jwt_required(refresh=True)
    @safe
    def refresh(self):
        # jwt_required already loaded the member through load_user_jwt: a refresh token
        # whose session ended never gets here.
        return self.response(200, access_token=sessions.refreshed_access_token(get_jwt()))
