"""The home page: what each profile can do, in a few links."""
from flask import g
from flask_appbuilder import IndexView, expose

from app.tenancy import current_account


class HomeView(IndexView):
    index_template = "home.html"

    @expose("/")
    def index(self):
        account = current_account()
        user = g.user if getattr(g.user, "is_authenticated", False) else None
        profiles = user.profile_codes() if user is not None and hasattr(user, "profile_codes") \
            else set()
        return self.render_template(self.index_template, appbuilder=self.appbuilder,
                                    account=account, profiles=profiles)
