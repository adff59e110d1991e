"""Run the README's deploy commands as an operator would: `flask --app run ...` in a
subprocess, configured only by environment variables."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid

from sqlalchemy import create_engine, text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PERMISSION_TABLES = ("ab_permission", "ab_view_menu", "ab_permission_view",
                     "ab_permission_view_role", "ab_role")


def readme_url(pg_server, name: str | None = None, scheme: str = "postgresql") -> str:
    """A fresh database on the test server, spelled as the README spells it."""
    name = name or f"deploy_{uuid.uuid4().hex[:10]}"
    pg_server.create_database(name)
    return f"{scheme}://gestor@127.0.0.1:{pg_server.port}/{name}"


def flask_env(database_url: str, tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("APP_ENV", "SECRET_KEY", "RATELIMIT_STORAGE_URI", "WEB_CONCURRENCY")}
    env.update({"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "instance"),
                "UPLOAD_FOLDER": str(tmp_path / "uploads"), "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def flask_command(*args) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "run", *args]


def run_flask(database_url: str, tmp_path, *args, timeout: int = 300, **extra):
    return subprocess.run(flask_command(*args), cwd=ROOT, capture_output=True, text=True,
                          env=flask_env(database_url, tmp_path, **extra), timeout=timeout)


def dump_tables(database_url: str, tables=PERMISSION_TABLES) -> dict:
    """Every row of each table, ids included, in a stable order."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg2://", 1))
    try:
        with engine.connect() as conn:
            return {table: conn.execute(text(f"SELECT * FROM {table} ORDER BY 1")).all()
                    for table in tables}
    finally:
        engine.dispose()


def count_rows(database_url: str, table: str) -> int:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg2://", 1))
    try:
        with engine.connect() as conn:
            return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    finally:
        engine.dispose()
