"""Where the bytes of attachments live: a local folder (the default) or S3-compatible
object storage (AWS S3, MinIO, Ceph, Cloudflare R2), chosen by ``ATTACHMENT_STORAGE``.

The backends know only keys and bytes, the way django-storages separates
``FileSystemStorage`` from ``S3Boto3Storage``; every rule about what may be stored and
how it is served stays in ``app/attachments.py``. A backend offers the same small set of
operations: ``put_file`` (a validated file on local disk), ``put_fileobj`` (a copy from
another backend), ``open`` (a stream to read in chunks), ``size`` (None when missing),
``delete`` (idempotent) and ``probe`` (write, read back and delete a small object, for
``/health/ready``).

Failures of the storage itself (unreachable, refused, timed out) are ``StorageError``;
a key that does not exist is ``FileNotFoundError``. Messages never carry credentials.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import re
import secrets
import tempfile
import threading
from dataclasses import dataclass

from flask import current_app, has_app_context
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

KINDS = ("local", "s3")
CHUNK = 64 * 1024
EXTENSION = "attachment_storage"
# Attachment keys are secrets.token_hex(16) (app.attachments); probe objects carry a
# prefix no attachment can have, so nothing that lists attachments ever sees them.
KEY_RE = re.compile(r"(\.probe-)?[0-9a-f]{32}")
ATTACHMENT_KEY_RE = re.compile(r"[0-9a-f]{32}")
TEMP_PREFIX = ".upload-"   # the same as app.attachments: leftovers never look like a key
UNAVAILABLE = ("O armazenamento de arquivos está indisponível no momento. Tente novamente "
               "em instantes.")


class StorageError(Exception):
    """The storage could not do what was asked (unreachable, refused, timed out).
    ``reason`` is short and safe to log or show to an operator."""

    def __init__(self, reason: str, ambiguous: bool = False):
        super().__init__(reason)
        self.reason = reason
        # True when the request may have reached the storage (a read timeout): a write
        # may have happened, so the caller should try to undo it.
        self.ambiguous = ambiguous


class StorageUnavailable(HTTPException):
    """A download whose storage does not answer: 503 in Portuguese, never a 500."""

    code = 503
    description = UNAVAILABLE


def _utc_timestamp(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)


def check_key(key) -> str:
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        raise ValueError("invalid storage key")
    return key


@dataclass
class Opened:
    """A stored object being read: its size and a stream to read it in chunks."""

    size: int
    stream: object   # has read(n) and close()

    def chunks(self, size: int = CHUNK):
        return iter(lambda: self.stream.read(size), b"")

    def close(self) -> None:
        self.stream.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --------------------------------------------------------------------- local folder


class LocalStorage:
    """Files named by their key in one folder (``UPLOAD_FOLDER``). Writes go to a temp
    file in the same folder and are published by ``os.replace``, so a reader never sees
    half a file."""

    kind = "local"

    def __init__(self, folder: str):
        self.folder = os.path.abspath(folder)

    def describe(self) -> str:
        return f"pasta local {self.folder}"

    def path(self, key: str) -> str:
        return os.path.join(self.folder, check_key(key))

    def put_file(self, key: str, path: str) -> bool:
        """Publish the file at ``path``. Returns True when the file was moved (it was in
        this folder already, the upload's case), False when it was copied."""
        target = self.path(key)
        os.makedirs(self.folder, exist_ok=True)
        if os.path.dirname(os.path.abspath(path)) == self.folder:
            os.replace(path, target)
            return True
        with open(path, "rb") as source:
            self.put_fileobj(key, source, os.path.getsize(path))
        return False

    def put_fileobj(self, key: str, stream, size: int | None = None) -> None:
        target = self.path(key)
        os.makedirs(self.folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".part", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in iter(lambda: stream.read(CHUNK), b""):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
            tmp = None
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    log.warning("could not remove temp file %s", tmp)

    def open(self, key: str) -> Opened:
        path = self.path(key)
        if not os.path.isfile(path):
            raise FileNotFoundError(key)
        stream = open(path, "rb")
        return Opened(os.fstat(stream.fileno()).st_size, stream)

    def size(self, key: str) -> int | None:
        try:
            return os.stat(self.path(key)).st_size
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        try:
            os.unlink(self.path(key))
        except FileNotFoundError:
            pass

    def keys(self):
        """(key, modified at, UTC) of every stored file; temp and probe files excluded."""
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            return
        for entry in entries:
            if ATTACHMENT_KEY_RE.fullmatch(entry.name) and entry.is_file():
                yield entry.name, _utc_timestamp(entry.stat().st_mtime)

    def temp_files(self):
        """(path, modified at) of upload temp files left by a crash."""
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            return
        for entry in entries:
            if entry.name.startswith(TEMP_PREFIX) and entry.is_file():
                yield entry.path, _utc_timestamp(entry.stat().st_mtime)

    def probe(self) -> tuple[bool, str]:
        key = ".probe-" + secrets.token_hex(16)
        data = key.encode()
        try:
            os.makedirs(self.folder, exist_ok=True)
            path = self.path(key)
            with open(path, "wb") as out:
                out.write(data)
            try:
                with open(path, "rb") as back:
                    if back.read() != data:
                        return False, "A pasta de arquivos devolveu outro conteúdo."
            finally:
                os.unlink(path)
        except OSError as error:
            return False, ("Não foi possível gravar na pasta de arquivos: "
                           f"{error.strerror or error.__class__.__name__}.")
        return True, "ok"


# --------------------------------------------------------------------- S3-compatible


def _reason(error: Exception) -> tuple[str, bool]:
    """A short, secret-free reason for a botocore failure, and whether the request may
    have reached the storage."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
    )

    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code") or "ClientError"), False
    if isinstance(error, (EndpointConnectionError, ConnectTimeoutError, NoCredentialsError)):
        return error.__class__.__name__, False
    return error.__class__.__name__, True


def _missing(error: Exception) -> bool:
    from botocore.exceptions import ClientError

    return (isinstance(error, ClientError)
            and str(error.response.get("Error", {}).get("Code")) in ("NoSuchKey", "404",
                                                                    "NotFound"))


_CLIENT_LOCK = threading.Lock()   # boto3 sessions are not thread-safe; clients are
_SESSION = []


def _boto_session(boto3):
    """One boto3 session for the process: it holds no connection (clients do), and it
    reads the service model once for every client made from it."""
    if not _SESSION:
        _SESSION.append(boto3.session.Session())
    return _SESSION[0]


class S3Storage:
    """Objects ``<S3_PREFIX><key>`` in one bucket, through boto3. The bucket stays
    private: every download goes through the app's ticket checks and is streamed by the
    app; no public or presigned URL is ever handed out."""

    kind = "s3"

    def __init__(self, bucket: str, *, prefix: str = "", endpoint_url: str | None = None,
                 region: str | None = None, access_key_id: str | None = None,
                 secret_access_key: str | None = None, addressing_style: str | None = None,
                 connect_timeout: float = 3, read_timeout: float = 20, max_attempts: int = 3):
        if not bucket:
            raise ValueError("S3 bucket is required")
        self.bucket = bucket
        self.prefix = prefix.lstrip("/")
        if self.prefix and not self.prefix.endswith("/"):
            self.prefix += "/"
        self.endpoint_url = endpoint_url or None
        self.region = region or "us-east-1"
        self._credentials = ({"aws_access_key_id": access_key_id,
                              "aws_secret_access_key": secret_access_key}
                             if access_key_id else {})
        self.addressing_style = addressing_style or ("path" if endpoint_url else "auto")
        self.timeouts = (float(connect_timeout), float(read_timeout), int(max_attempts))
        self._client = self._client_pid = None

    def describe(self) -> str:
        where = self.endpoint_url or "AWS"
        return f"bucket {self.bucket} ({where}, prefixo '{self.prefix}')"

    @property
    def client(self):
        """One boto3 client per storage and process, made on first use (clients are
        thread-safe; a forked child makes its own). Clients come from one boto3 session,
        so the service model is read from disk once (a new session takes ~0.5 s to make
        its first client; a client of a warm session, milliseconds)."""
        if self._client is None or self._client_pid != os.getpid():
            with _CLIENT_LOCK:
                if self._client is None or self._client_pid != os.getpid():
                    import boto3
                    from botocore.config import Config as BotoConfig

                    connect, read, attempts = self.timeouts
                    config = BotoConfig(
                        connect_timeout=connect, read_timeout=read,
                        retries={"max_attempts": attempts, "mode": "standard"},
                        s3={"addressing_style": self.addressing_style},
                        # Checksums only where S3 requires them: the newer default
                        # (aws-chunked trailers) is refused by several S3-compatible
                        # servers. Sizes are checked by Content-Length.
                        request_checksum_calculation="when_required",
                        response_checksum_validation="when_required")
                    self._client = _boto_session(boto3).client(
                        "s3", endpoint_url=self.endpoint_url, region_name=self.region,
                        config=config, **self._credentials)
                    self._client_pid = os.getpid()   # a forked child never shares sockets
        return self._client

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _call(self, method: str, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(Bucket=self.bucket, **kwargs)
        except (BotoCoreError, ClientError) as error:
            if _missing(error):
                raise FileNotFoundError(kwargs.get("Key")) from error
            reason, ambiguous = _reason(error)
            raise StorageError(reason, ambiguous) from error

    def put_file(self, key: str, path: str) -> bool:
        with open(path, "rb") as body:
            self.put_fileobj(key, body, os.fstat(body.fileno()).st_size)
        return False

    def put_fileobj(self, key: str, stream, size: int | None = None) -> None:
        """``stream`` must be a seekable binary file (a local file): botocore sends it
        in chunks and rewinds it to retry. The object appears whole or not at all."""
        if size is None:
            size = os.fstat(stream.fileno()).st_size
        self._call("put_object", Key=self._key(key), Body=stream, ContentLength=size,
                   ContentType="application/octet-stream")

    def open(self, key: str) -> Opened:
        answer = self._call("get_object", Key=self._key(key))
        return Opened(int(answer["ContentLength"]), _S3Body(answer["Body"]))

    def size(self, key: str) -> int | None:
        try:
            return int(self._call("head_object", Key=self._key(key))["ContentLength"])
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        self._call("delete_object", Key=self._key(key))

    def keys(self):
        """(key, modified at) of every attachment object under the prefix."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    key = item["Key"][len(self.prefix):]
                    if ATTACHMENT_KEY_RE.fullmatch(key):
                        yield key, item["LastModified"]
        except (BotoCoreError, ClientError) as error:
            raise StorageError(_reason(error)[0]) from error

    def probe(self) -> tuple[bool, str]:
        key = ".probe-" + secrets.token_hex(16)
        data = key.encode()
        try:
            self._call("put_object", Key=self._key(key), Body=data,
                       ContentType="application/octet-stream")
            try:
                with self.open(key) as back:
                    if back.stream.read() != data:
                        return False, "O armazenamento de arquivos devolveu outro conteúdo."
            finally:
                self.delete(key)
        except (StorageError, FileNotFoundError) as error:
            reason = getattr(error, "reason", "objeto gravado não encontrado")
            return False, f"Armazenamento de arquivos (S3) indisponível: {reason}."
        return True, "ok"


class _S3Body:
    """botocore's streaming body, with its network errors as StorageError."""

    def __init__(self, body):
        self.body = body

    def read(self, n: int = -1) -> bytes:
        from botocore.exceptions import BotoCoreError

        try:
            return self.body.read(None if n is None or n < 0 else n)
        except (BotoCoreError, OSError, ValueError) as error:
            raise StorageError(error.__class__.__name__, True) from error

    def close(self) -> None:
        try:
            self.body.close()
        except Exception:   # noqa: BLE001 - closing a broken connection must not raise
            pass


# --------------------------------------------------------------------- the app's storage


def build(config, kind: str | None = None, folder: str | None = None):
    """The backend ``kind`` (default: ``ATTACHMENT_STORAGE``) from the app's settings;
    ``folder`` overrides ``UPLOAD_FOLDER`` for the local one."""
    kind = (kind or config.get("ATTACHMENT_STORAGE") or "local").strip().lower()
    if kind == "local":
        return LocalStorage(folder or config["UPLOAD_FOLDER"])
    if kind == "s3":
        if not config.get("S3_BUCKET"):
            raise RuntimeError("Armazenamento S3 sem bucket: defina S3_BUCKET.")
        return S3Storage(
            config["S3_BUCKET"], prefix=config.get("S3_PREFIX") or "",
            endpoint_url=config.get("S3_ENDPOINT_URL"), region=config.get("S3_REGION"),
            access_key_id=config.get("S3_ACCESS_KEY_ID"),
            secret_access_key=config.get("S3_SECRET_ACCESS_KEY"),
            addressing_style=config.get("S3_ADDRESSING_STYLE"),
            connect_timeout=config.get("S3_CONNECT_TIMEOUT_SECONDS", 3),
            read_timeout=config.get("S3_READ_TIMEOUT_SECONDS", 20),
            max_attempts=config.get("S3_MAX_ATTEMPTS", 3))
    raise RuntimeError(f"ATTACHMENT_STORAGE inválido ({kind!r}): use local ou s3.")


def init_app(app) -> None:
    """Check the settings at start-up (a wrong name fails here, not at the first
    upload), keep the app's backend, answer its outages in Portuguese, add the
    ``flask storage`` commands."""
    for name in ("S3_CONNECT_TIMEOUT_SECONDS", "S3_READ_TIMEOUT_SECONDS", "S3_MAX_ATTEMPTS"):
        try:
            value = float(app.config.get(name))
        except (TypeError, ValueError):
            raise RuntimeError(f"{name} deve ser um número.") from None
        if value <= 0:
            raise RuntimeError(f"{name} deve ser maior que zero.")
        app.config[name] = int(value) if name == "S3_MAX_ATTEMPTS" else value
    style = app.config.get("S3_ADDRESSING_STYLE")
    if style and style not in ("path", "virtual", "auto"):
        raise RuntimeError("S3_ADDRESSING_STYLE inválido: use path, virtual ou auto.")
    app.extensions[EXTENSION] = build(app.config)

    @app.errorhandler(StorageUnavailable)
    def storage_unavailable(error):
        from app import _error_page

        return _error_page(503, "Arquivos indisponíveis", error.description)

    from app.storage_cli import storage_group

    app.cli.add_command(storage_group)


def current():
    """The current app's backend."""
    found = current_app.extensions.get(EXTENSION)
    if found is None:
        found = current_app.extensions[EXTENSION] = build(current_app.config)
    return found


def for_folder(folder: str):
    """The backend for a caller that names the upload folder (app.attachments' public
    functions): the app's own when there is an app and it is object storage or this
    same folder; otherwise that folder (scripts, and unit tests without our app)."""
    found = current_app.extensions.get(EXTENSION) if has_app_context() else None
    if found is not None and (found.kind != "local" or found.folder == os.path.abspath(folder)):
        return found
    return LocalStorage(folder)


def probe() -> tuple[bool, str]:
    """Write, read back and delete a small object in the current app's storage:
    ``(True, "ok")``, or ``(False, a Portuguese reason)``. Never raises."""
    try:
        return current().probe()
    except Exception as error:   # noqa: BLE001 - a health check answers, it does not raise
        log.exception("storage probe failed")
        return False, f"Armazenamento de arquivos indisponível: {error.__class__.__name__}."
