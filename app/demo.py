"""The demo account `make run` creates on an empty database."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select

from app import accounts, structure
from app.extensions import db
from app.models import Account
from app.tenancy import account_scope

DEMO_PASSWORD = "demo-senha-123"
DEMO_TICKETS = 3000  # six months of history so the Painel tells a story on first start
DEMO_USERS = [
    # username, first, last, profiles, sector
    ("admin", "Ana", "Administradora", ["admin", "requester", "manager"], "Diretoria"),
    ("solicitante", "Sérgio", "Solicitante", ["requester"], "Financeiro"),
    ("atendente", "Átila", "Atendente", ["attendant", "requester"], "Tecnologia"),
    ("gestor", "Gabriela", "Gestora", ["manager", "requester"], "Diretoria"),
]
DEMO_STRUCTURE = {
    "Tecnologia da Informação": [("Acesso a sistemas", 8), ("Equipamento com defeito", 24),
                                 ("Instalação de software", 16)],
    "Recursos Humanos": [("Declaração de vínculo", 48), ("Férias", 72)],
    "Facilities": [("Manutenção predial", 48), ("Reserva de sala", 8)],
}


def seed_demo_if_empty() -> str | None:
    if db.session.scalar(select(func.count()).select_from(Account)):
        return None
    account, admin = accounts.signup("Empresa Demonstração Ltda", "Ana Administradora",
                                     "admin", "admin@demo.gestor.local", DEMO_PASSWORD)
    with account_scope(account.id):
        sectors = {}
        for name in dict.fromkeys(u[4] for u in DEMO_USERS):
            sectors[name] = structure.save_sector(None, {"name": name})
        admin.sector = sectors["Diretoria"]
        db.session.commit()
        users = {"admin": admin}
        for username, first, last, profiles, sector in DEMO_USERS[1:]:
            users[username] = accounts.create_member({
                "first_name": first, "last_name": last, "username": username,
                "email": f"{username}@demo.gestor.local", "password": DEMO_PASSWORD,
                "sector_id": sectors[sector].id, "profiles": profiles,
            })
        for dep_name, services in DEMO_STRUCTURE.items():
            department = structure.save_department(
                None, {"name": dep_name, "attendant_ids": [users["atendente"].id]})
            for service_name, hours in services:
                structure.save_service(None, {"name": service_name, "department_id":
                                              department.id, "sla_hours": hours,
                                              "sla_hours_by_priority": {"urgent": max(2, hours // 4)}})
    from app.generator import populate_account

    tickets = populate_account(account.id, n_tickets=DEMO_TICKETS, months=6)
    current_app.logger.info("demo account created with %s tickets", tickets)
    lines = [f"Conta de demonstração criada com {tickets} chamados. "
             f"Senha de todos: {DEMO_PASSWORD}"]
    lines += [f"  {u[0]:12s} ({', '.join(u[3])})" for u in DEMO_USERS]
    return "\n".join(lines)
