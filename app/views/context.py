"""Template context shared by every page: the account and its plan banner."""
from flask import current_app, g

from app.tenancy import current_account


def install_context(appbuilder) -> None:
    @current_app.context_processor
    def account_context():
        account = current_account()
        user = getattr(g, "user", None)
        is_admin = bool(account and getattr(user, "is_authenticated", False)
                        and user.has_profile("admin"))
        return {"current_account": account,
                "plan_expired": bool(account and not account.plan_active()),
                "is_account_admin": is_admin}
