"""`GET/PUT /api/v1/notification-settings` (shared/API.md), for account administrators.

Body, both ways: ``{"settings": [{"event", "enabled", "recipients"}, ...]}``. A PUT may
name only some events (the others keep their settings) and, per event, only some keys.
Everything is validated before anything is written, then committed once.
"""
from __future__ import annotations

from flask_appbuilder.api import expose
from flask_appbuilder.security.decorators import protect

from app.api.base import ApiBase
from app.notifications import (
    apply_settings,
    parse_settings,
    serialize_settings,
    settings_by_event,
)
from app.security import ValidationError
from app.tenancy import current_account_id


class NotificationSettingsApi(ApiBase):
    resource_name = "notification-settings"
    method_permission_name = {"get": "get", "put": "put"}

    @expose("", methods=["GET"])
    @protect()
    def get(self):
        account_id = current_account_id()
        if account_id is None:
            return self.response_404()
        settings = serialize_settings(settings_by_event(account_id))
        return self.response(200, settings=settings, result={"settings": settings})

    @expose("", methods=["PUT"])
    @protect()
    def put(self):
        account_id = current_account_id()
        if account_id is None:
            return self.response_404()
        try:
            changes = parse_settings(self.json_body())
        except ValidationError as error:
            return self.validation_error(error)
        settings = serialize_settings(apply_settings(account_id, changes))
        return self.response(200, settings=settings, result={"settings": settings})
