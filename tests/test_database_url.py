"""Every DATABASE_URL the README documents reaches PostgreSQL through psycopg2 (the
driver in requirements.txt): SQLAlchemy 2.1 alone maps ``postgresql://`` to psycopg 3,
which is not installed, and knows no ``postgres://``."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from config import database_url
from tests.conftest import test_config as app_config
from tests.deploy_helpers import readme_url, run_flask


@pytest.mark.parametrize("given, expected", [
    ("postgresql://u:p@db/x", "postgresql+psycopg2://u:p@db/x"),
    ("postgres://u:p@db/x", "postgresql+psycopg2://u:p@db/x"),
    ("postgresql+psycopg2://u:p@db/x", "postgresql+psycopg2://u:p@db/x"),
    ("sqlite:///instance/gestor.db", "sqlite:///instance/gestor.db"),
])
def test_documented_database_urls_name_psycopg2(given, expected):
    assert database_url(given) == expected


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg2"])
def test_app_connects_to_postgresql_with_each_documented_spelling(pg_server, tmp_path, scheme):
    from app import create_app
    from app.extensions import db

    url = readme_url(pg_server, scheme=scheme)
    application = create_app(app_config(url, str(tmp_path)))
    with application.app_context():
        assert db.engine.dialect.driver == "psycopg2"
        assert db.session.execute(text("SELECT 1")).scalar_one() == 1
        db.session.remove()
        db.engine.dispose()


def test_flask_setup_runs_with_the_readme_database_url(pg_server, tmp_path):
    url = readme_url(pg_server)
    assert url.startswith("postgresql://")
    result = run_flask(url, tmp_path, "setup", "--no-demo")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Esquema e permissões atualizados." in result.stdout
