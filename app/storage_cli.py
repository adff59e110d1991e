"""``flask storage``: copy attachments between backends, check and probe the storage.

``flask storage migrate --from local --to s3`` (or back) copies every file that has an
``Attachment`` row, in id order, from one backend to the other. It is idempotent and
resumable: a file already at the destination with the row's size is skipped, so a run
that was stopped (or that failed on some files) is simply run again. Every copy is
verified by size (the row's, the source's and the destination's must agree). Nothing is
deleted from the source; the app keeps serving from ``ATTACHMENT_STORAGE`` until it is
switched and restarted.

``flask storage check`` lists rows without their file and files without a row; with
``--delete-orphans`` it deletes those files (and stale upload temp files) once they are
older than ``--older-than-minutes``. ``flask storage probe`` writes, reads back and
deletes a small object, as ``/health/ready`` does.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from app import storage as backends
from app.storage import LocalStorage, StorageError


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


@dataclass
class CheckReport:
    rows: int = 0
    without_file: int = 0
    orphans: int = 0
    deleted: int = 0
    temp_files: int = 0

    def summary(self) -> str:
        return (f"Registros verificados: {self.rows}; sem arquivo: {self.without_file}; "
                f"arquivos sem registro: {self.orphans} (apagados: {self.deleted}); "
                f"temporários antigos apagados: {self.temp_files}.")


def _referenced(names: list[str]) -> set[str]:
    from app.extensions import db
    from app.models import Attachment
    from app.tenancy import UNSCOPED, account_scope

    with account_scope(UNSCOPED):
        found = set(db.session.scalars(
            select(Attachment.stored_name).where(Attachment.stored_name.in_(names))))
    db.session.rollback()
    return found


def check(storage, files, *, older_than: dt.timedelta, delete: bool, spool: str | None,
          echo=lambda line: None, now: dt.datetime | None = None) -> CheckReport:
    """Rows whose file is missing or of another size; files older than ``older_than``
    that no row names (an upload whose commit failed and whose cleanup failed too, or
    a crash between the two), deleted with ``delete``; upload temp files older than
    that in the local ``spool`` folder, deleted with ``delete``. The age keeps an
    upload in flight (put, not yet committed) out of reach."""
    report = CheckReport()
    now = now or dt.datetime.now(dt.timezone.utc)
    for name, size in files:
        report.rows += 1
        if storage.size(name) != size:
            report.without_file += 1
            echo(f"Registro sem arquivo (ou com outro tamanho): {name}")
    batch = []

    def flush():
        referenced = _referenced([key for key, _ in batch])
        for key, _ in batch:
            if key in referenced:
                continue
            report.orphans += 1
            echo(f"Arquivo sem registro: {key}")
            if delete:
                storage.delete(key)
                report.deleted += 1
        batch.clear()

    for key, modified in storage.keys():
        if now - modified >= older_than:
            batch.append((key, modified))
            if len(batch) >= 500:
                flush()
    flush()
    if delete and spool:
        for path, modified in LocalStorage(spool).temp_files():
            if now - modified >= older_than:
                try:
                    os.unlink(path)
                    report.temp_files += 1
                except FileNotFoundError:
                    pass
    return report


@click.group("storage")
def storage_group() -> None:
    """Armazenamento dos anexos (pasta local ou S3)."""


def _backend(kind: str, folder: str | None):
    """The app's own backend when it is the one asked for (its client is warm)."""
    mine = backends.current()
    if mine.kind == kind and (kind == "s3" or folder is None
                              or os.path.abspath(folder) == mine.folder):
        return mine
    return backends.build(current_app.config, kind, folder)


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
        source, destination = (_backend(kind, folder)
                               for kind in (source_kind, destination_kind))
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


@storage_group.command("check")
@click.option("--delete-orphans", is_flag=True,
              help="Apaga os arquivos sem registro e os temporários antigos.")
@click.option("--older-than-minutes", type=click.IntRange(min=1), default=60,
              show_default=True, help="Só considera arquivos mais antigos que isto.")
@with_appcontext
def check_command(delete_orphans: bool, older_than_minutes: int) -> None:
    """Confere registros e arquivos do armazenamento configurado (nos dois sentidos)."""
    storage = backends.current()
    click.echo(f"Conferindo {storage.describe()}.")
    try:
        report = check(storage, attachment_files(),
                       older_than=dt.timedelta(minutes=older_than_minutes),
                       delete=delete_orphans, spool=current_app.config["UPLOAD_FOLDER"],
                       echo=click.echo)
    except StorageError as error:
        raise click.ClickException(f"Armazenamento indisponível: {error.reason}") from None
    click.echo(report.summary())
    if report.without_file:
        raise SystemExit(1)
