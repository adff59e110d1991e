"""`flask` commands: set-up after migrations, demo data."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade


def register(app) -> None:
    app.cli.add_command(setup)
    app.cli.add_command(seed_demo)
    app.cli.add_command(jobs)
    app.cli.add_command(auto_approve)
    app.cli.add_command(cancel_waiting)
    from app.mailer import register_cli as register_mail_cli

    register_mail_cli(app)
    from app.generator import register_cli as register_generator_cli

    register_generator_cli(app)


@click.command("setup")
@click.option("--demo/--no-demo", default=None,
              help="Seed the demo account when empty (default: yes, except under "
                   "APP_ENV=production).")
@with_appcontext
def setup(demo: bool | None) -> None:
    """Upgrade the schema, write roles and permissions, seed the demo if empty.

    Safe to run on every host of a deploy at once: on PostgreSQL the hosts take turns
    under one advisory lock, and the later ones find nothing left to do."""
    from app.deploy import setup_lock
    from app.extensions import db
    from app.security import sync_roles_and_permissions

    if demo is None:
        demo = current_app.config.get("APP_ENV") != "production"
    with setup_lock(db.engine):
        upgrade()
        sync_roles_and_permissions(current_app.appbuilder)
        click.echo("Esquema e permissões atualizados.")
        if demo:
            from app.demo import seed_demo_if_empty

            created = seed_demo_if_empty()
            if created:
                click.echo(created)


@click.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Create the demo account (when no account exists yet)."""
    from app.demo import seed_demo_if_empty

    click.echo(seed_demo_if_empty() or "Já existem contas: nada a fazer.")


@click.command("jobs")
@with_appcontext
def jobs() -> None:
    """Run the periodic jobs (auto-approval, cancelling unanswered waits, mail sender) until stopped.

    SIGTERM or Ctrl+C: the mail in flight is finished, the rest of its batch given
    back, and the command exits 0."""
    from app.jobs import install_signal_handlers, run_forever

    install_signal_handlers()
    click.echo("Executando tarefas periódicas (Ctrl+C para parar)...")
    run_forever(current_app._get_current_object())
    click.echo("Parado.")


@click.command("auto-approve")
@with_appcontext
def auto_approve() -> None:
    """Approve concluded tickets left unanswered past each account's delay, once."""
    from app.workflow import auto_approve_due

    click.echo(f"{auto_approve_due()} chamado(s) aprovado(s) automaticamente.")


@click.command("cancel-waiting")
@with_appcontext
def cancel_waiting() -> None:
    """Cancel tickets left waiting on their requester past each account's delay, once."""
    from app.workflow import cancel_unanswered_waiting

    click.echo(f"{cancel_unanswered_waiting()} chamado(s) cancelado(s) por falta de resposta.")
