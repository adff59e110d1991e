"""Extension singletons, bound to an app in create_app().

AppBuilder is deliberately *not* here: a module-level AppBuilder serves one app per
process (STACK_NOTES), so create_app() builds one per app and stores it on
``app.appbuilder``.
"""
from flask_appbuilder.models.sqla.base import SQLA
from flask_mail import Mail
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

db = SQLA()
migrate = Migrate()
mail = Mail()
csrf = CSRFProtect()
