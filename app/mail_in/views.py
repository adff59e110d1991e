"""The administrators' "Mensagens recebidas": every mail offered to the intake in the
last 30 days for their account, taken or not, with the reason.

Rows come through app.tenancy: an account sees only its own (a mail that named no
account we could trust has none, and is seen only by the platform operator).
"""
from __future__ import annotations

import datetime as dt

from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from sqlalchemy import func, select

from app import accounts
from app.extensions import db
from app.mail_in.intake import KEEP_DAYS, REASONS
from app.mail_in.models import InboundMail
from app.models import Account, utcnow
from app.tenancy import current_account_id

SHOWN = 200
STATUS_LABELS = {"taken": "Registrada", "ignored": "Ignorada", "refused": "Recusada"}


class InboundMailView(BaseView):
    route_base = "/mensagens-recebidas"
    default_view = "show"

    @expose("/")
    @has_access
    @permission_name("show")
    def show(self):
        account_id = current_account_id()
        if account_id is None:
            return self.render_template("account/none.html"), 404
        account = db.session.get(Account, account_id)
        since = utcnow() - dt.timedelta(days=KEEP_DAYS)
        recent = InboundMail.received_at >= since
        rows = db.session.scalars(select(InboundMail).where(recent).order_by(
            InboundMail.received_at.desc(), InboundMail.id.desc()).limit(SHOWN)).all()
        counts = dict(db.session.execute(select(InboundMail.status, func.count())
                                         .where(recent).group_by(InboundMail.status)).all())
        return self.render_template(
            "mail_in/list.html", rows=rows, counts=counts, reasons=REASONS,
            status_labels=STATUS_LABELS, keep_days=KEEP_DAYS, shown=SHOWN,
            local_time=lambda value: accounts.local_time(account, value))
