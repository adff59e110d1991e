"""``/api/v1/mailbox``: the account's IMAP mailbox, for administrators (docs/mailbox.md).

* ``GET``: the settings and the poller's state; ``password`` is ``"definida"`` or
  null, never the password.
* ``PUT``: the fields of the screen (host, port, security, username, password, folder,
  processed_folder, rejected_folder, department_id, service_id, active); a field left
  out keeps its value (the password too). 400 with the field for bad input, nothing
  saved.
"""
from __future__ import annotations

from flask_appbuilder.api import expose
from flask_appbuilder.security.decorators import protect

from app.api.base import ApiBase, iso
from app.mailbox import settings
from app.security import ValidationError
from app.tenancy import current_account

TIMES = ("last_attempt_at", "last_success_at", "next_attempt_at")


def _answer(mailbox) -> dict:
    data = settings.as_dict(mailbox)
    for name in TIMES:
        if name in data:
            data[name] = iso(data[name])
    return data


class MailboxApi(ApiBase):
    resource_name = "mailbox"
    method_permission_name = {"get": "get", "put": "put"}

    @expose("", methods=["GET"])
    @protect()
    def get(self):
        account = current_account()
        if account is None:
            return self.response_404()
        return self.response(200, result=_answer(settings.get_mailbox(account.id)))

    @expose("", methods=["PUT"])
    @protect()
    def put(self):
        account = current_account()
        if account is None:
            return self.response_404()
        try:
            body = self.json_body()
            unknown = sorted(set(body) - set(settings.FIELDS))
            if unknown:
                raise ValidationError(unknown[0], f"Campo desconhecido: {unknown[0]}.")
            current = settings.as_dict(settings.get_mailbox(account.id))
            data = {k: current[k] for k in settings.FIELDS
                    if k != "password" and current.get(k) is not None}
            data.update(body)
            mailbox = settings.save_mailbox(account.id, data)
        except ValidationError as error:
            return self.validation_error(error)
        return self.response(200, result=_answer(mailbox))
