"""The home page: each profile's numbers and links, and the administrator's first steps
while the company is being set up (app.views.home_numbers)."""
from flask import g
from flask_appbuilder import IndexView, expose

from app.tenancy import current_account
from app.views import home_numbers


class HomeView(IndexView):
    index_template = "home.html"

    @expose("/")
    def index(self):
        account = current_account()
        user = g.user if getattr(g.user, "is_authenticated", False) else None
        profiles = user.profile_codes() if user is not None and hasattr(user, "profile_codes") \
            else set()
        counters, steps = {}, []
        if account is not None and user is not None:
            if "requester" in profiles:
                counters["requester"] = home_numbers.requester_counters(user)
            if "attendant" in profiles:
                counters["attendant"] = home_numbers.attendant_counters(user)
            if "manager" in profiles:
                counters["manager"] = home_numbers.manager_counters()
            if "admin" in profiles:
                counters["admin"] = home_numbers.admin_counters()
                steps = home_numbers.first_steps()
        return self.render_template(
            self.index_template, appbuilder=self.appbuilder, account=account,
            profiles=profiles, counters=counters, steps=steps,
            steps_done=sum(s.done for s in steps))
