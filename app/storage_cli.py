"""``flask storage``: copy attachments between backends, and check the storage.

``flask storage migrate --from local --to s3`` (or back) copies every file that has an
``Attachment`` row, in id order, from one backend to the other. It is idempotent and
resumable: a file already at the destination with the row's size is skipped, so a run
that was stopped (or that failed on some files) is simply run again. Every copy is
verified by size (the row's, the source's and the destination's must agree). Nothing is
deleted from the source; the app keeps serving from ``ATTACHMENT_STORAGE`` until it is
switched and restarted.
"""
from __future__ import annotations

from dataclasses import dataclass

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from app import storage as backends
from app.storage import StorageError


@dataclass
class MigrationReport:
    copied: int = 0
    present: int = 0
    missing: int = 0
    failed: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.failed)

    def summary(self) -> str:
        return (f"Copiados: {self.copied}; já no destino: {self.present}; ausentes na "
                f"origem: {self.missing}; com erro: {self.failed}.")


def attachment_files(batch: int = 500):
    """(stored_name, size) of every attachment row of every account, in id order."""
    from app.extensions import db
    from app.models import Attachment
    from app.tenancy import UNSCOPED, account_scope

    last = 0
    while True:
        with account_scope(UNSCOPED):
            rows = db.session.execute(
                select(Attachment.id, Attachment.stored_name, Attachment.size)
                .where(Attachment.id > last).order_by(Attachment.id).limit(batch)).all()
        db.session.rollback()        # no transaction held open while files are copied
        if not rows:
            return
        for row in rows:
            yield row.stored_name, row.size
        last = rows[-1].id


def copy_one(source, destination, name: str, size: int) -> str:
    """Copy one file; returns "copied", "present", "missing" or raises StorageError or
    ValueError (a size that does not agree)."""
    if destination.size(name) == size:
        return "present"
    try:
        opened = source.open(name)
    except FileNotFoundError:
        return "missing"
    with opened:
        if opened.size != size:
            raise ValueError(f"na origem com {opened.size} bytes; o registro diz {size}")
        destination.put_fileobj(name, opened.stream, size)
    copied = destination.size(name)
    if copied != size:
        destination.delete(name)
        raise ValueError(f"no destino com {copied} bytes; o registro diz {size}")
    return "copied"


def migrate(source, destination, files, echo=lambda line: None) -> MigrationReport:
    report = MigrationReport()
    for name, size in files:
        try:
            outcome = copy_one(source, destination, name, size)
        except (StorageError, OSError, ValueError) as error:
            report.failed += 1
            echo(f"Erro em {name}: {getattr(error, 'reason', error)}")
            continue
        setattr(report, outcome, getattr(report, outcome) + 1)
        if outcome == "missing":
            echo(f"Ausente na origem: {name}")
    return report


@click.group("storage")
def storage_group() -> None:
    """Armazenamento dos anexos (pasta local ou S3)."""


@storage_group.command("migrate")
@click.option("--from", "source_kind", type=click.Choice(backends.KINDS), required=True,
              help="De onde copiar.")
@click.option("--to", "destination_kind", type=click.Choice(backends.KINDS), required=True,
              help="Para onde copiar.")
@click.option("--folder", default=None,
              help="A pasta local (padrão: UPLOAD_FOLDER).")
@with_appcontext
def migrate_command(source_kind: str, destination_kind: str, folder: str | None) -> None:
    """Copia os anexos de um armazenamento para o outro (idempotente; pode ser repetido)."""
    if source_kind == destination_kind:
        raise click.UsageError("--from e --to devem ser armazenamentos diferentes.")
    try:
        source = backends.build(current_app.config, source_kind, folder)
        destination = backends.build(current_app.config, destination_kind, folder)
    except RuntimeError as error:
        raise click.UsageError(str(error)) from None
    click.echo(f"De {source.describe()} para {destination.describe()}.")
    report = migrate(source, destination, attachment_files(), echo=click.echo)
    click.echo(report.summary())
    if not report.ok:
        raise SystemExit(1)


@storage_group.command("probe")
@with_appcontext
def probe_command() -> None:
    """Grava, lê e apaga um arquivo de teste no armazenamento configurado."""
    ok, message = backends.probe()
    click.echo(f"{backends.current().describe()}: {message}")
    if not ok:
        raise SystemExit(1)
