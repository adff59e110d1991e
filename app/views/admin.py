"""Generated CRUD screens of the account's structure, for account administrators.

Every list and form is scoped by app.tenancy (no per-view account filter); the rules
are the same use-case checks as the REST API (app.structure, app.accounts), called from
pre_add / pre_update so a bad value flashes a Portuguese message and writes nothing.
"""
from __future__ import annotations

from flask import flash, g, request
from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, Select2Widget
from flask_appbuilder.models.sqla.filters import FilterInFunction
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from sqlalchemy import String, asc, desc, select
from sqlalchemy.orm import selectinload
from wtforms import PasswordField, SelectField
from wtforms.validators import EqualTo, Optional

from app import accounts, collation, invitations, structure
from app.extensions import db
from app.models import CannedReply, Department, Member, Sector, Service
from app.security import (
    ValidationError,
    ensure_identity_free,
    validate_email,
    validate_password,
    validate_username,
)
from app.tenancy import current_account
from app.views.admin_screens import FormRefused, Screen, ScreenModelView
from app.vocabulary import ASSIGNMENT_LABELS, SLA_CLOCK_LABELS
from config import PROFILE_ROLES


def _profile_role_names():
    return list(PROFILE_ROLES.values())


def _local(value) -> str:
    """A moment as dd/mm/aaaa hh:mm in the account's time zone (FAB printed UTC)."""
    from app.views.display import time_formatter

    return time_formatter(current_account())(value) if value is not None else "Nunca"


def _attendant_ids():
    return list(db.session.scalars(select(Member.id).where(
        Member.account_id.is_not(None), Member.with_profile("attendant"))))


NAME_COLUMNS = ("name", "first_name", "last_name", "title")   # people's and things' names


class EagerInterface(SQLAInterface):
    """FAB's SQLAInterface, loading the named relationships of a list page with the
    page: FAB read each row's many-to-many (roles, attendants) and custom-join
    relationships (a service's department) one query per row."""

    def __init__(self, obj, eager: tuple[str, ...] = ()):
        # (also: text columns sorted in pt-BR order)
        super().__init__(obj)
        self.eager = eager

    def apply_order_by(self, query, order_column, order_direction, *args, **kwargs):
        """Names in pt-BR order (app.collation), the id as tie-breaker; identifiers
        (usernames, e-mails) keep the database's order."""
        column = getattr(self.obj, order_column, None) \
            if order_column and "." not in order_column else None
        if order_column in NAME_COLUMNS and isinstance(getattr(column, "type", None), String):
            direction = asc if order_direction == "asc" else desc
            return query.order_by(direction(collation.ordered(column)),
                                  direction(self.obj.id))
        return super().apply_order_by(query, order_column, order_direction, *args, **kwargs)

    def apply_all(self, query, *args, **kwargs):
        query = super().apply_all(query, *args, **kwargs)
        return query.options(*(selectinload(getattr(self.obj, name)) for name in self.eager))


class AccountModelView(ScreenModelView):
    """Common settings: pt-BR labels, no FAB bulk delete; a refused save keeps the form
    and shows the message at its field (app.views.admin_screens)."""

    page_size = 25

    def _raise(self, error: ValidationError):
        db.session.rollback()
        raise FormRefused(error.message, FORM_FIELDS.get(error.field, error.field))


# Fields of the use-case errors (app.structure, app.accounts) -> fields of the forms.
FORM_FIELDS = {"department_id": "department", "sector_id": "sector",
               "attendant_ids": "attendants"}


class SectorView(AccountModelView):
    screen = Screen("setor", "setores", "o", "Estrutura",
                    "As áreas da empresa. Cada membro pertence a um setor, e o Painel "
                    "compara os chamados e a satisfação por setor.",
                    "Nenhum setor ainda. Crie os setores da empresa (Financeiro, "
                    "Operações...) para organizar os membros.", "fa-sitemap", ("name",))
    datamodel = EagerInterface(Sector)
    list_title = show_title = _l("Setores")
    add_title = _l("Novo setor")
    edit_title = _l("Editar setor")
    list_columns = ["name"]
    add_columns = edit_columns = show_columns = ["name"]
    search_columns = ["name"]
    order_columns = ["name"]
    base_order = ("name", "asc")
    label_columns = {"name": _l("Nome")}

    def pre_add(self, item):
        self._check(item)

    def pre_update(self, item):
        self._check(item)

    def _check(self, item):
        try:
            structure._unique_name(Sector, (item.name or "").strip(), "um setor",
                                   exclude_id=item.id)
        except ValidationError as error:
            self._raise(error)

    def pre_delete(self, item):
        if db.session.scalar(select(Member.id).where(Member.sector_id == item.id).limit(1)):
            raise Exception("Setor com membros não pode ser excluído: mova-os antes.")


class MemberView(AccountModelView):
    screen = Screen("membro", "membros", "o", "Estrutura",
                    "As pessoas da empresa que usam o sistema e os perfis de cada uma: "
                    "Solicitante, Atendente, Gestor, Administrador.",
                    "Nenhum membro ainda. Inclua as pessoas que vão abrir ou atender "
                    "chamados.", "fa-users",
                    ("first_name", "last_name", "username", "email", "roles"))
    datamodel = EagerInterface(Member, eager=("roles", "sector"))
    blank_texts = {"sector": "Sem setor"}
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]
    list_title = show_title = _l("Membros")
    add_title = _l("Novo membro")
    edit_title = _l("Editar membro")
    list_columns = ["first_name", "last_name", "username", "email", "sector", "roles", "active"]
    show_columns = ["first_name", "last_name", "username", "email", "sector", "roles", "active",
                    "last_login"]
    add_columns = ["first_name", "last_name", "username", "email", "sector", "roles", "active",
                   "password", "conf_password"]
    edit_columns = ["first_name", "last_name", "username", "email", "sector", "roles", "active",
                    "password", "conf_password"]
    search_columns = ["first_name", "last_name", "username", "email", "sector", "active"]
    order_columns = ["first_name", "last_name", "username", "email", "active"]
    base_order = ("first_name", "asc")
    label_columns = {
        "first_name": _l("Nome"), "last_name": _l("Sobrenome"), "username": _l("Usuário"),
        "email": _l("E-mail"), "sector": _l("Setor"), "roles": _l("Perfis"),
        "active": _l("Ativo"), "password": _l("Senha"), "conf_password": _l("Confirmar senha"),
        "last_login": _l("Último acesso"),
    }
    description_columns = {
        "roles": _l("Administrador, Solicitante, Atendente e/ou Gestor"),
        "active": _l("Membros inativos não conseguem entrar"),
        "password": _l("Pelo menos 10 caracteres. Em branco num membro novo: ele recebe um "
                       "convite por e-mail para escolher a senha. Na edição, em branco "
                       "mantém a atual."),
    }
    add_form_query_rel_fields = edit_form_query_rel_fields = {
        "roles": [["name", FilterInFunction, _profile_role_names]],
    }
    formatters_columns = {
        "roles": lambda roles: ", ".join(r.name for r in roles),
        "active": lambda active: "Sim" if active else "Não",
        "sector": lambda sector: sector.name if sector else "—",
        "last_login": lambda value: _local(value),
    }
    add_form_extra_fields = {
        "password": PasswordField(_l("Senha"), widget=BS3PasswordFieldWidget(),
                                  validators=[Optional()]),
        "conf_password": PasswordField(
            _l("Confirmar senha"), widget=BS3PasswordFieldWidget(),
            validators=[EqualTo("password", message=_l("As senhas não conferem"))]),
    }
    edit_form_extra_fields = {
        "password": PasswordField(_l("Nova senha"), widget=BS3PasswordFieldWidget(),
                                  validators=[Optional()]),
        "conf_password": PasswordField(
            _l("Confirmar nova senha"), widget=BS3PasswordFieldWidget(),
            validators=[EqualTo("password", message=_l("As senhas não conferem"))]),
    }

    def _validate(self, item, creating: bool):
        try:
            item.username = validate_username(item.username)
            item.email = validate_email(item.email)
            ensure_identity_free(db.session, item.username, item.email,
                                 exclude_id=None if creating else item.id)
            if not item.roles:
                raise ValidationError("roles", "Escolha pelo menos um perfil.")
            if any(r.name not in PROFILE_ROLES.values() for r in item.roles):
                raise ValidationError("roles", "Perfil não permitido.")
            password = g.pop("member_new_password", None)
            if creating and not password:   # invited: app.invitations, after the add
                item.password = accounts.hash_password(invitations.unusable_password())
                g.member_invite = True
            elif creating or password:
                account = current_account()
                item.password = accounts.hash_password(validate_password(
                    password or "", username=item.username, email=item.email,
                    company=account.name if account else None))
            if not creating:
                accounts.ensure_admin_remains(item, g.user)
        except ValidationError as error:
            self._raise(error)

    def pre_add(self, item):
        self._validate(item, creating=True)

    def pre_update(self, item):
        self._validate(item, creating=False)

    def post_add(self, item):
        if g.pop("member_invite", False):
            invitations.send(item)
            flash(f"Convite enviado para {item.email}: o link para escolher a senha vale "
                  "por 7 dias.", "info")

    def prefill_form(self, form, pk):
        form.password.data = ""

    def process_form(self, form, is_created):
        # The clear password never reaches the model: pre_add/pre_update hash it, and an
        # empty one on edit keeps the current hash.
        g.member_new_password = form.password.data or None
        del form.password
        del form.conf_password


class DepartmentView(AccountModelView):
    screen = Screen("departamento", "departamentos", "o", "Estrutura",
                    "Quem presta os serviços: cada departamento tem os seus atendentes, "
                    "que recebem os chamados dos seus serviços.",
                    "Nenhum departamento ainda. Crie o primeiro (TI, RH...) e escolha "
                    "os atendentes dele; depois cadastre os serviços.", "fa-briefcase",
                    ("name",))
    datamodel = EagerInterface(Department, eager=("attendants",))
    list_title = show_title = _l("Departamentos")
    add_title = _l("Novo departamento")
    edit_title = _l("Editar departamento")
    list_columns = ["name", "attendants", "assignment", "warning"]
    add_columns = edit_columns = ["name", "attendants", "assignment"]
    show_columns = ["name", "attendants", "assignment", "warning"]
    search_columns = ["name"]
    order_columns = ["name"]
    base_order = ("name", "asc")
    label_columns = {"name": _l("Nome"), "attendants": _l("Atendentes"),
                     "assignment": _l("Atribuição de novos chamados"), "warning": _l("Aviso")}
    description_columns = {"attendants": _l("Membros com o perfil Atendente")}
    formatters_columns = {
        "attendants": lambda members: ", ".join(m.full_name for m in members),
        "assignment": lambda value: ASSIGNMENT_LABELS.get(value, value),
    }
    add_form_extra_fields = edit_form_extra_fields = {
        "assignment": SelectField(
            _l("Atribuição de novos chamados"), choices=list(ASSIGNMENT_LABELS.items()),
            default="manual", widget=Select2Widget(),
            description=_l("Automática: cada chamado novo (ou transferido para cá) vai na "
                           "hora para um atendente disponível do departamento.")),
    }
    add_form_query_rel_fields = edit_form_query_rel_fields = {
        "attendants": [["id", FilterInFunction, _attendant_ids]],
    }

    def list_notice(self):
        names = [d.name for d in db.session.scalars(
            select(Department).where(~Department.attendants.any()).order_by(Department.name))]
        if not names:
            return None
        from flask import url_for

        from app.views.filters import NO_ASSIGNEE

        which = ", ".join(names[:5]) + ("..." if len(names) > 5 else "")
        return {"text": f"Sem atendentes: {which}. Os chamados desses departamentos ficam "
                        "sem ninguém para assumir; os administradores recebem o aviso por "
                        "e-mail e os veem em “Sem atendente”.",
                "url": url_for("TicketView.list", atendente=NO_ASSIGNEE, aba="abertos"),
                "link": "Ver chamados sem atendente"}

    def _check(self, item):
        try:
            structure._unique_name(Department, (item.name or "").strip(), "um departamento",
                                   exclude_id=item.id)
            structure.check_assignment(item.assignment or "manual")
        except ValidationError as error:
            self._raise(error)

    pre_add = pre_update = _check

    def pre_delete(self, item):
        from app.models import Ticket

        if db.session.scalar(select(Ticket.id).where(Ticket.department_id == item.id).limit(1)):
            raise Exception("Departamento com chamados não pode ser excluído.")


class ServiceView(AccountModelView):
    screen = Screen("serviço", "serviços", "o", "Estrutura",
                    "O que cada departamento atende, com o prazo (SLA) de resolução em "
                    "horas, que pode mudar conforme a prioridade.",
                    "Nenhum serviço ainda. Cadastre os serviços de cada departamento "
                    "com o prazo de atendimento: sem serviço ninguém abre chamado.",
                    "fa-wrench", ("name", "department", "sla_hours"))
    datamodel = EagerInterface(Service, eager=("department",))
    list_title = show_title = _l("Serviços")
    add_title = _l("Novo serviço")
    edit_title = _l("Editar serviço")
    list_columns = ["name", "department", "sla_hours", "sla_clock", "sla_urgent_hours",
                    "sla_high_hours"]
    add_columns = edit_columns = show_columns = [
        "name", "department", "sla_hours", "sla_clock", "sla_low_hours", "sla_medium_hours",
        "sla_high_hours", "sla_urgent_hours",
    ]
    add_form_extra_fields = edit_form_extra_fields = {
        "sla_clock": SelectField(
            _l("Como o prazo é contado"), choices=list(SLA_CLOCK_LABELS.items()),
            default="24x7", widget=Select2Widget(),
            description=_l("Horas úteis seguem o calendário da conta (Conta > Calendário de "
                           "atendimento): fora do expediente e em feriados o prazo não corre.")),
    }
    formatters_columns = {"sla_clock": lambda value: SLA_CLOCK_LABELS.get(value, value)}
    search_columns = ["name", "department"]
    order_columns = ["name", "sla_hours"]
    base_order = ("name", "asc")
    label_columns = {
        "name": _l("Nome"), "department": _l("Departamento"), "sla_hours": _l("SLA (horas)"),
        "sla_low_hours": _l("SLA Baixa (h)"), "sla_medium_hours": _l("SLA Média (h)"),
        "sla_high_hours": _l("SLA Alta (h)"), "sla_urgent_hours": _l("SLA Urgente (h)"),
        "sla_clock": _l("Contagem do prazo"),
    }
    description_columns = {
        "sla_hours": _l("Prazo de resolução padrão, em horas"),
        "sla_urgent_hours": _l("Opcional: prazo diferente para chamados urgentes"),
    }

    def prepare_form(self, form, creating: bool) -> None:
        """No department chosen for the administrator (FAB preselected the first one); the
        checklist's "Cadastrar serviço" link may name one (``?departamento=<id>``)."""
        field = form.department
        field.allow_blank, field.blank_text = True, "Escolha o departamento"
        if creating and request.method == "GET":
            wanted = request.args.get("departamento", "")
            field.data = next((obj for pk, obj in field._get_object_list() if pk == wanted),
                              None)

    def _check(self, item):
        try:
            if item.department is None:
                raise ValidationError("department", "Escolha o departamento.")
            item.department_id = item.department.id
            structure._unique_name(Service, (item.name or "").strip(),
                                   "um serviço neste departamento", exclude_id=item.id,
                                   department_id=item.department_id)
            for column in ("sla_hours", "sla_low_hours", "sla_medium_hours", "sla_high_hours",
                           "sla_urgent_hours"):
                value = getattr(item, column)
                if value is None and column == "sla_hours":
                    raise ValidationError(column, "Informe o SLA em horas.")
                if value is not None:
                    structure._hours(value, column)
            structure.check_sla_clock(item.sla_clock or "24x7", "sla_clock")
        except ValidationError as error:
            self._raise(error)

    pre_add = pre_update = _check

    def pre_delete(self, item):
        from app.models import Ticket

        if db.session.scalar(select(Ticket.id).where(Ticket.service_id == item.id).limit(1)):
            raise Exception("Serviço com chamados não pode ser excluído.")


class CannedReplyView(AccountModelView):
    """Respostas prontas: written once, offered in the reply box of the department's
    tickets (or of every ticket, without a department), placeholders filled."""

    screen = Screen("resposta pronta", "respostas prontas", "a", "Estrutura",
                    "Textos que os atendentes inserem na resposta com um clique, com o "
                    "nome do solicitante e o número do chamado já preenchidos.",
                    "Nenhuma resposta pronta ainda. Escreva as respostas que os "
                    "atendentes mais repetem.", "fa-comment-o", ("title", "body"))
    datamodel = EagerInterface(CannedReply, eager=("department",))
    blank_texts = {"department": "Todos os departamentos"}
    list_title = show_title = _l("Respostas prontas")
    add_title = _l("Nova resposta pronta")
    edit_title = _l("Editar resposta pronta")
    list_columns = ["title", "department"]
    add_columns = edit_columns = show_columns = ["title", "department", "body"]
    search_columns = ["title"]
    order_columns = ["title"]
    base_order = ("title", "asc")
    label_columns = {"title": _l("Título"), "department": _l("Departamento"),
                     "body": _l("Texto")}
    description_columns = {
        "department": _l("Deixe em branco para oferecer em todos os departamentos."),
        "body": _l("Marcadores: {solicitante}, {chamado}, {atendente} e {servico} são "
                   "trocados pelos dados do chamado; o atendente ainda pode editar o "
                   "texto antes de enviar."),
    }
    formatters_columns = {"department": lambda d: d.name if d else "Todos os departamentos"}

    def _check(self, item):
        from app import canned

        try:
            body = {"title": item.title, "body": item.body,
                    "department_id": item.department.id if item.department else None}
            with db.session.no_autoflush:
                canned.check(body, exclude_id=item.id)
        except ValidationError as error:
            self._raise(error)

    pre_add = pre_update = _check
