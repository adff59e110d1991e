"""The account, its plan, and the public sign-up (shared/API.md)."""
from __future__ import annotations

from flask import g
from flask_appbuilder.api import expose
from flask_appbuilder.security.decorators import protect

from app import accounts
from app.api.base import ApiBase, iso
from app.models import Account
from app.security import ValidationError
from app.tenancy import current_account


def serialize_account(account: Account) -> dict:
    return {
        "id": account.id,
        "name": account.name,
        "time_zone": account.time_zone,
        "plan_expires_at": iso(account.plan_expires_at),
        "plan_active": account.plan_active(),
        "settings": {"auto_approve_days": account.auto_approve_days,
                     "waiting_cancel_days": account.waiting_cancel_days,
                     "openings_per_hour": account.openings_per_hour,
                     "uploads_per_hour": account.uploads_per_hour},
    }


class AccountApi(ApiBase):
    resource_name = "account"
    method_permission_name = {"get": "get", "put": "put", "renew": "renew"}

    def _account(self):
        return current_account()

    @expose("", methods=["GET"])
    @protect()
    def get(self):
        account = self._account()
        if account is None:
            return self.response_404()
        return self.response(200, result=serialize_account(account))

    @expose("", methods=["PUT"])
    @protect()
    def put(self):
        account = self._account()
        if account is None:
            return self.response_404()
        try:
            body = self.json_body()
            settings = body.get("settings") if isinstance(body.get("settings"), dict) else {}
            accounts.update_account_settings(account, {**settings, **{
                k: v for k, v in body.items() if k in ("name", "time_zone", "auto_approve_days",
                                                  "waiting_cancel_days", "openings_per_hour",
                                                  "uploads_per_hour")
            }})
        except ValidationError as error:
            return self.validation_error(error)
        return self.response(200, result=serialize_account(account))

    @expose("/renew", methods=["POST"])
    @protect()
    def renew(self):
        account = self._account()
        if account is None:
            return self.response_404()
        try:
            renewal = accounts.renew_plan(account, self.json_body().get("months"), g.user)
        except ValidationError as error:
            return self.validation_error(error)
        return self.response(200, plan_expires_at=iso(renewal.new_expires_at),
                             result=serialize_account(account))


class SignupApi(ApiBase):
    """Public: creates an account (30-day plan) and its first administrator (rate
    limited per address: app.throttle)."""

    resource_name = "signup"

    @expose("", methods=["POST"])
    def signup(self):
        try:
            body = self.json_body()
            account, user = accounts.signup(
                body.get("company"), body.get("admin_name"), body.get("admin_username"),
                body.get("admin_email"), body.get("admin_password"),
            )
        except ValidationError as error:
            return self.validation_error(error)
        return self.response(201, account_id=account.id, user_id=user.id)
