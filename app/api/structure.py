"""REST resources of the account's structure (shared/API.md, "Structure")."""
from __future__ import annotations

from flask import g
from flask_appbuilder.api import expose
from flask_appbuilder.security.decorators import protect
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app import accounts, canned, invitations, structure
from app.api.base import ResourceApi
from app.extensions import db
from app.models import CannedReply, Department, Member, Sector, Service


class SectorApi(ResourceApi):
    resource_name = "sector"
    model = Sector
    order_columns = ("id", "name")
    filter_columns = ("name",)

    def serialize(self, obj):
        return {"id": obj.id, "name": obj.name}

    def create(self, body):
        return structure.save_sector(None, body)

    def update(self, obj, body):
        return structure.save_sector(obj, body)

    def remove(self, obj):
        structure.delete_sector(obj)


class DepartmentApi(ResourceApi):
    resource_name = "department"
    model = Department
    order_columns = ("id", "name")
    filter_columns = ("name",)

    def base_query(self):
        return select(Department).options(selectinload(Department.attendants))

    def serialize(self, obj):
        return {"id": obj.id, "name": obj.name,
                "attendant_ids": [m.id for m in obj.attendants],
                "assignment": obj.assignment}

    def create(self, body):
        return structure.save_department(None, body)

    def update(self, obj, body):
        return structure.save_department(obj, body)

    def remove(self, obj):
        structure.delete_department(obj)


class ServiceApi(ResourceApi):
    resource_name = "service"
    model = Service
    order_columns = ("id", "name", "department_id", "sla_hours")
    filter_columns = ("department_id", "name")

    def serialize(self, obj):
        return {"id": obj.id, "name": obj.name, "department_id": obj.department_id,
                "sla_hours": obj.sla_hours, "sla_hours_by_priority": obj.sla_by_priority(),
                "sla_clock": obj.sla_clock}

    def create(self, body):
        return structure.save_service(None, body)

    def update(self, obj, body):
        return structure.save_service(obj, body)

    def remove(self, obj):
        structure.delete_service(obj)


class MemberApi(ResourceApi):
    resource_name = "member"
    model = Member
    order_columns = ("id", "first_name", "last_name", "username", "email")
    filter_columns = ("username", "email", "sector_id", "active")
    method_permission_name = {**ResourceApi.method_permission_name, "invite": "put"}

    def base_query(self):
        # The platform operator has no account; members are the account's users. Their
        # roles in one more query for the whole page, not one per member.
        return select(Member).where(Member.account_id.is_not(None)).options(
            selectinload(Member.roles))

    def serialize(self, obj):
        return {"id": obj.id, "first_name": obj.first_name, "last_name": obj.last_name,
                "username": obj.username, "email": obj.email, "sector_id": obj.sector_id,
                "profiles": sorted(obj.profile_codes()), "active": bool(obj.active),
                "available": bool(obj.available)}

    def create(self, body):
        return accounts.create_member(body)

    def update(self, obj, body):
        if not g.user.has_profile("admin"):
            # Attendants reach this only to say whether they take new tickets.
            return accounts.set_own_availability(obj, body, actor=g.user)
        return accounts.update_member(obj, body, actor=g.user)

    @expose("/<int:pk>/invite", methods=["POST"])
    @protect()
    def invite(self, pk):
        """A new invitation mail (app.invitations): administrators only."""
        if not g.user.has_profile("admin"):
            return self.response_403()
        member = self._get(pk)
        if member is None:
            return self.response_404()
        if not member.active:
            return self.response(409, message="Membro inativo: ative-o antes de convidar.")
        invitations.send(member)
        return self.response(202, message="Convite enviado.")

    def remove(self, obj):
        """Members with history are deactivated, not deleted (their tickets stay)."""
        obj.active = False
        accounts.ensure_admin_remains(obj, g.user)
        db.session.commit()


class CannedReplyApi(ResourceApi):
    """``canned-reply``: administrators manage; attendants list what they may use."""

    resource_name = "canned-reply"
    model = CannedReply
    order_columns = ("id", "title", "department_id")
    filter_columns = ("department_id",)

    def base_query(self):
        return canned.visible_to(g.user)

    def serialize(self, obj):
        return {"id": obj.id, "title": obj.title, "body": obj.body,
                "department_id": obj.department_id}

    def create(self, body):
        return canned.save(None, body)

    def update(self, obj, body):
        return canned.save(obj, body)
