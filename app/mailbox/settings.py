"""The administrators' use cases for their account's mailbox: read it (the password
only as "definida"), validate and save it. The screen (app.mailbox.views) calls these;
a refused change raises ``ValidationError`` with the field and a pt-BR message and
saves nothing.

Changing where or how to connect (host, port, TLS, user, password, folder) resets the
poller's state, so the next ``flask jobs`` round tries at once with the new settings.
"""
from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.mailbox import crypto
from app.mailbox.models import SECURITIES, Mailbox
from app.models import Department, Service, utcnow
from app.security import ValidationError

DEFAULT_PORTS = {"ssl": 993, "starttls": 143, "none": 143}
SECURITY_LABELS = {"ssl": "SSL/TLS (porta 993)", "starttls": "STARTTLS (porta 143)",
                   "none": "Nenhuma (somente em rede interna)"}
STATE_LABELS = {"new": "Ainda não verificada", "ok": "Funcionando",
                "error": "Com falha: tentando de novo", "auth_error": "Login recusado"}
FIELDS = ("host", "port", "security", "username", "password", "folder",
          "processed_folder", "rejected_folder", "department_id", "service_id", "active")
CONNECTION_FIELDS = ("host", "port", "security", "username", "folder")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:.]+\]?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def get_mailbox(account_id: int) -> Mailbox | None:
    return db.session.scalar(select(Mailbox).where(Mailbox.account_id == account_id))


def as_dict(mailbox: Mailbox | None) -> dict:
    """What a page or an answer may show: never the password, only whether it is set."""
    if mailbox is None:
        return {"configured": False, "security": "ssl", "port": 993, "folder": "INBOX",
                "processed_folder": "Processados", "rejected_folder": "Recusados",
                "active": False, "password": None, "state": "new"}
    return {
        "configured": True, "host": mailbox.host, "port": mailbox.port,
        "security": mailbox.security, "username": mailbox.username,
        "password": "definida" if mailbox.password_encrypted else None,
        "folder": mailbox.folder, "processed_folder": mailbox.processed_folder,
        "rejected_folder": mailbox.rejected_folder, "department_id": mailbox.department_id,
        "service_id": mailbox.service_id, "active": bool(mailbox.active),
        "state": mailbox.state, "state_label": STATE_LABELS.get(mailbox.state, mailbox.state),
        "last_error": mailbox.last_error, "failures": mailbox.failures,
        "last_attempt_at": mailbox.last_attempt_at, "last_success_at": mailbox.last_success_at,
        "next_attempt_at": mailbox.next_attempt_at, "taken_count": mailbox.taken_count,
    }


def _text(data: dict, name: str, label: str, limit: int, default: str = "") -> str:
    value = data.get(name, default)
    if value is None:
        value = default
    if not isinstance(value, str):
        raise ValidationError(name, f"{label}: informe um texto.")
    value = value.strip()
    if not value:
        raise ValidationError(name, f"{label}: campo obrigatório.")
    if len(value) > limit or _CONTROL.search(value):
        raise ValidationError(name, f"{label}: até {limit} caracteres, sem quebras de linha.")
    return value


def _int(value, name: str, label: str) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise ValidationError(name, f"{label}: valor inválido.")
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValidationError(name, f"{label}: valor inválido.") from None


def _bool(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in ("1", "true", "on", "sim", "yes")


def validate(account_id: int, data: dict, existing: Mailbox | None) -> dict:
    """The settings as they will be saved (``password`` is None: keep the stored one)."""
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ValidationError(unknown[0], f"Campo desconhecido: {unknown[0]}.")
    values = {"host": _text(data, "host", "Servidor", 255)}
    if not _HOST.match(values["host"]):
        raise ValidationError("host", "Servidor: informe um nome como imap.empresa.com.br "
                                      "ou um endereço IP.")
    security = data.get("security") or "ssl"
    if security not in SECURITIES:
        raise ValidationError("security", "Segurança: escolha SSL/TLS, STARTTLS ou nenhuma.")
    values["security"] = security
    port = _int(data.get("port"), "port", "Porta")
    port = DEFAULT_PORTS[security] if port is None else port
    if not 1 <= port <= 65535:
        raise ValidationError("port", "Porta: um número de 1 a 65535.")
    values["port"] = port
    values["username"] = _text(data, "username", "Usuário", 255)
    password = data.get("password")
    if password is not None and not isinstance(password, str):
        raise ValidationError("password", "Senha: informe um texto.")
    if password:
        if len(password) > 500 or "\n" in password or "\r" in password:
            raise ValidationError("password", "Senha: até 500 caracteres, sem quebras de linha.")
        values["password"] = password
    elif existing is None:
        raise ValidationError("password", "Senha: campo obrigatório.")
    else:
        values["password"] = None
    for name, label, default in (("folder", "Pasta de entrada", "INBOX"),
                                 ("processed_folder", "Pasta dos processados", "Processados"),
                                 ("rejected_folder", "Pasta dos recusados", "Recusados")):
        values[name] = _text(data, name, label, 100, default)
    if values["processed_folder"] == values["folder"] or \
            values["rejected_folder"] == values["folder"]:
        raise ValidationError("processed_folder", "As pastas dos processados e dos recusados "
                                                  "devem ser diferentes da pasta de entrada.")
    department_id = _int(data.get("department_id"), "department_id", "Departamento")
    service_id = _int(data.get("service_id"), "service_id", "Serviço")
    if department_id is None:
        raise ValidationError("department_id", "Departamento: escolha onde os novos "
                                               "e-mails abrem chamados.")
    if service_id is None:
        raise ValidationError("service_id", "Serviço: escolha o serviço dos novos chamados.")
    department = db.session.scalar(select(Department).where(
        Department.id == department_id, Department.account_id == account_id))
    if department is None:
        raise ValidationError("department_id", "Departamento inexistente.")
    service = db.session.scalar(select(Service).where(
        Service.id == service_id, Service.account_id == account_id))
    if service is None:
        raise ValidationError("service_id", "Serviço inexistente.")
    if service.department_id != department.id:
        raise ValidationError("service_id", "Este serviço não pertence ao departamento "
                                            "escolhido.")
    values.update(department_id=department.id, service_id=service.id,
                  active=_bool(data.get("active")))
    return values


def save_mailbox(account_id: int, data: dict) -> Mailbox:
    existing = get_mailbox(account_id)
    values = validate(account_id, data, existing)
    password = values.pop("password")
    now = utcnow()
    mailbox = existing or Mailbox(account_id=account_id, state="new", failures=0,
                                  taken_count=0, next_attempt_at=now)
    changed = existing is None or password is not None or any(
        getattr(existing, name) != values[name] for name in CONNECTION_FIELDS)
    switched_on = values["active"] and existing is not None and not existing.active
    for name, value in values.items():
        setattr(mailbox, name, value)
    if password is not None:
        mailbox.password_encrypted = crypto.encrypt(password)
    if changed or switched_on:
        mailbox.state, mailbox.failures, mailbox.last_error = "new", 0, None
        mailbox.next_attempt_at = now
    mailbox.updated_at = now
    if existing is None:
        db.session.add(mailbox)
    db.session.commit()
    return mailbox
