"""The migrations own the schema: they build what the models declare, go down and up
again, and backfill what new columns need, on SQLite and PostgreSQL."""
import datetime as dt

import pytest
from sqlalchemy import create_engine, text

from app.search import is_schema_drift_exempt  # migration 0007's search objects

# Indexes that only the migrations declare (PostgreSQL covering indexes and two that the
# Painel's queries use through their columns): not drift.
MIGRATION_ONLY_INDEXES = {"ix_survey_filled_score", "ix_ticket_assumed", "ix_ticket_id_dims",
                          "ix_ticket_opened_dims"}


@pytest.fixture
def empty_database(backend, request, tmp_path):
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    server = request.getfixturevalue("pg_server")
    return server.create_database(f"migrations_{tmp_path.name[-8:].lower()}".replace("-", "_"))


def _app(url, tmp_path):
    from app import create_app
    from tests.conftest import test_config

    return create_app(test_config(url, str(tmp_path)))


def test_migrations_build_what_the_models_declare_and_go_down_and_up(empty_database,
                                                                    tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from flask_appbuilder import Model
    from flask_migrate import downgrade, upgrade

    from app.extensions import db

    application = _app(empty_database, tmp_path)
    with application.app_context():
        upgrade()
        downgrade(revision="7c3d4e5f6a71")
        upgrade()
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Model.metadata)
        db.session.remove()
        db.engine.dispose()
    drift = [d for d in diff if not (d[0] == "remove_index"
                                     and d[1].name in MIGRATION_ONLY_INDEXES)
             and not is_schema_drift_exempt(d)]
    assert drift == []


def test_upgrades_keep_existing_tickets_and_fill_their_subjects(empty_database, tmp_path):
    """From the schema of 2026-11 (revision 0003) with data: SQLite's table copies must
    not trip over the rows that point to them, and subjects come from the first line."""
    from flask_migrate import upgrade

    from app.extensions import db

    application = _app(empty_database, tmp_path)
    descriptions = {
        1: "Impressora do 2º andar não imprime\nDesde ontem à tarde.",
        2: "\n\n   Acesso ao ERP   \r\noutra linha",
        3: "x" * 300,
    }
    with application.app_context():
        upgrade(revision="7c3d4e5f6a71")
        now = dt.datetime(2027, 3, 1, 12, 0)
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO account (id, name, time_zone, plan_expires_at, "
                              "auto_approve_days, created_at) VALUES (1, 'A', "
                              "'America/Sao_Paulo', :t, 7, :t)"), {"t": now})
            conn.execute(text("INSERT INTO ab_user (id, first_name, last_name, username, "
                              "email, active, account_id) VALUES (1, 'R', 'S', 'r', "
                              "'r@x.example', true, 1)"))
            conn.execute(text("INSERT INTO department (id, name, account_id) "
                              "VALUES (1, 'TI', 1)"))
            conn.execute(text("INSERT INTO service (id, department_id, name, sla_hours, "
                              "account_id) VALUES (1, 1, 'S', 8, 1)"))
            for ticket_id, description in descriptions.items():
                conn.execute(text(
                    "INSERT INTO ticket (id, account_id, requester_id, department_id, "
                    "service_id, priority, status, description, opened_at, sla_due_at, "
                    "reopen_count, auto_approved, version, updated_at) VALUES (:id, 1, 1, "
                    "1, 1, 'low', 'open', :d, :t, :t, 0, false, 1, :t)"),
                    {"id": ticket_id, "d": description, "t": now})
        upgrade()
        with db.engine.connect() as conn:
            subjects = dict(conn.execute(text("SELECT id, subject FROM ticket")).all())
        db.session.remove()
        db.engine.dispose()
    assert subjects == {1: "Impressora do 2º andar não imprime", 2: "Acesso ao ERP",
                        3: "x" * 120}


def test_the_test_database_is_at_the_newest_revision(app):
    from alembic.script import ScriptDirectory
    from flask_migrate import Migrate  # noqa: F401 (the app's migrate extension)

    with app.app_context():
        from app.extensions import db

        config = app.extensions["migrate"].migrate.get_config()
        head = ScriptDirectory.from_config(config).get_current_head()
        engine = create_engine(str(db.engine.url.render_as_string(hide_password=False)))
        with engine.connect() as conn:
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        engine.dispose()
    assert current == head
