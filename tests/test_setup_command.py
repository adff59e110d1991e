"""`flask setup` as a deploy step on many hosts (README "Production: many workers"):
run as subprocesses with the README's DATABASE_URL against the real test PostgreSQL."""
from __future__ import annotations

import subprocess

from tests.deploy_helpers import (ROOT, count_rows, dump_tables, flask_command, flask_env,
                                  readme_url, run_flask)

PRODUCTION = {"APP_ENV": "production", "SECRET_KEY": "a-production-key-of-at-least-32-bytes",
              "BASE_URL": "https://gestor.example"}


def test_two_concurrent_setups_on_an_empty_database_both_succeed_and_a_third_changes_nothing(
        pg_server, tmp_path):
    url = readme_url(pg_server)
    env = flask_env(url, tmp_path)
    hosts = [subprocess.Popen(flask_command("setup", "--no-demo"), cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [host.communicate(timeout=300) for host in hosts]
    for host, (out, err) in zip(hosts, outputs):
        assert host.returncode == 0, err[-3000:]
        assert "Esquema e permissões atualizados." in out
    converged = dump_tables(url)
    third = run_flask(url, tmp_path, "setup", "--no-demo")
    assert third.returncode == 0, third.stderr[-3000:]
    assert dump_tables(url) == converged
    assert count_rows(url, "account") == 0


def test_one_setup_writes_every_permission_and_a_second_changes_no_row(pg_server, tmp_path):
    url = readme_url(pg_server)
    first = run_flask(url, tmp_path, "setup", "--no-demo")
    assert first.returncode == 0, first.stderr[-3000:]
    after_first = dump_tables(url)
    second = run_flask(url, tmp_path, "setup", "--no-demo")
    assert second.returncode == 0, second.stderr[-3000:]
    assert dump_tables(url) == after_first


def test_setup_under_production_does_not_seed_the_demo_unless_asked(pg_server, tmp_path):
    url = readme_url(pg_server)
    result = run_flask(url, tmp_path, "setup", **PRODUCTION)
    assert result.returncode == 0, result.stderr[-3000:]
    assert count_rows(url, "account") == 0
    assert count_rows(url, "ab_user") == 0
