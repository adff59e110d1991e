"""Template context shared by every page: the account and its plan banner, and the
main menu drawn once per process for each set of built-in profiles and language."""
from flask import current_app, g, render_template
from markupsafe import Markup

from app.tenancy import current_account

MENU_CACHE_MAX = 256        # (profiles, language) pairs: a handful in practice


def _menu_key(user, locale: str):
    """What the main menu depends on: the user's roles (FAB's visibility checks read
    nothing else, and the public role's permissions for anonymous visitors) and the
    language of its labels. None, no caching, when a role is not one of the built-in
    profiles of config (their permissions are fixed while the process lives; a role
    kept in the database could change under it) or the user belongs to a group."""
    if not getattr(user, "is_authenticated", False):
        return ("anonymous", locale)
    builtin = current_app.config.get("FAB_ROLES") or {}
    roles = getattr(user, "roles", None) or []
    if getattr(user, "groups", None) or any(r.name not in builtin for r in roles):
        return None
    return (tuple(sorted(r.name for r in roles)), locale)


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

    menus: dict = {}

    def cached_navbar_menu():
        """``appbuilder/navbar_menu.html`` (FAB's menu: every item's visibility checked
        against the user's permissions, every label translated, every URL built), kept
        per process and key (``_menu_key``): it cost ~7 ms of an administrator's page."""
        from flask_babel import get_locale
        from flask_login import current_user

        key = _menu_key(current_user, str(get_locale()))
        html = menus.get(key) if key is not None else None
        if html is None:
            html = Markup(render_template("appbuilder/navbar_menu.html",
                                          menu=appbuilder.menu))
            if key is not None and len(menus) < MENU_CACHE_MAX:
                menus[key] = html
        return html

    current_app.jinja_env.globals["cached_navbar_menu"] = cached_navbar_menu
