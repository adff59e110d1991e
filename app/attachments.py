"""Validate, store and serve uploaded files.

Pure functions over files (no models, no database) so they can be tested alone. Every
upload is checked on local disk (a temp file in the upload folder) before it goes to the
app's storage (``app/storage.py``: that folder by default, or S3-compatible object
storage); downloads are streamed from there by the app, never by a public URL.
Uploads are hostile by default (shared/HOSTILE.md): the type is decided by content *and*
a consistent extension, stored names are generated here and never contain user text, and
downloads always leave as attachments with ``nosniff`` and a sandboxing CSP.
"""
from __future__ import annotations

import codecs
import io
import logging
import os
import re
import secrets
import struct
import tempfile
import unicodedata
import urllib.parse
import zipfile
from dataclasses import dataclass

import flask
from werkzeug.datastructures import Headers
from werkzeug.exceptions import NotFound

from app import storage as storage_backends
from app.storage import StorageError, StorageUnavailable

log = logging.getLogger(__name__)

HEAD_BYTES = 8192          # what detect_type sees; enough for every magic number we use
CHUNK = 64 * 1024
MAX_PIXELS = 50_000_000    # decompression-bomb guard for images
MAX_ZIP_ENTRIES = 5000
MAX_ZIP_UNCOMPRESSED = 200 * 1024 * 1024
STORED_NAME_RE = re.compile(r"[0-9a-f]{32}")   # secrets.token_hex(16)
TEMP_PREFIX = ".upload-"   # leftovers after a crash never match STORED_NAME_RE

_OOXML = "application/vnd.openxmlformats-officedocument."
# extension -> (family, content type). The extension must agree with what the bytes say.
ALLOWED = {
    ".png": ("png", "image/png"), ".jpg": ("jpeg", "image/jpeg"),
    ".jpeg": ("jpeg", "image/jpeg"), ".gif": ("gif", "image/gif"),
    ".pdf": ("pdf", "application/pdf"),
    ".txt": ("text", "text/plain"), ".log": ("text", "text/plain"), ".csv": ("text", "text/csv"),
    ".docx": ("ooxml", _OOXML + "wordprocessingml.document"),
    ".xlsx": ("ooxml", _OOXML + "spreadsheetml.sheet"),
    ".pptx": ("ooxml", _OOXML + "presentationml.presentation"),
    ".odt": ("odf", "application/vnd.oasis.opendocument.text"),
    ".ods": ("odf", "application/vnd.oasis.opendocument.spreadsheet"),
    ".doc": ("ole", "application/msword"), ".xls": ("ole", "application/vnd.ms-excel"),
    ".ppt": ("ole", "application/vnd.ms-powerpoint"),
}
ALLOWED_CONTENT_TYPES = {ct for _, ct in ALLOWED.values()}
_OOXML_DIR = {".docx": "word/", ".xlsx": "xl/", ".pptx": "ppt/"}
# Stream names that a real legacy Office file carries (UTF-16LE in the OLE2 directory);
# "EncryptedPackage" is how a password-protected .docx/.xlsx/.pptx is stored.
_OLE_STREAMS = {".doc": ["WordDocument"], ".xls": ["Workbook", "Book"],
                ".ppt": ["PowerPoint Document"], ".docx": ["EncryptedPackage"],
                ".xlsx": ["EncryptedPackage"], ".pptx": ["EncryptedPackage"]}
_MAGIC = {"png": (b"\x89PNG\r\n\x1a\n",), "jpeg": (b"\xff\xd8\xff",),
          "gif": (b"GIF87a", b"GIF89a"), "pdf": (b"%PDF-",),
          "ooxml": (b"PK\x03\x04",), "odf": (b"PK\x03\x04",),
          "ole": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)}
# Text a browser could render as active content if it ever ignored our headers.
_ACTIVE_TEXT = re.compile(r"<html|<head|<body|<script|<svg|<\?xml|<!doctype|<iframe|<object"
                          r"|<embed|<meta|javascript:|vbscript:")
_LEGACY_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f\x81\x8d\x8f\x90\x9d]")
# Inner extensions neutralised in display names ("x.php.png" -> "x_php.png").
_RISKY_INNER = set("php php3 php4 php5 php7 phtml phar asp aspx jsp cgi pl py sh exe bat cmd "
                   "com scr dll msi jar js vbs ps1 hta htm html shtml svg".split())

MSG_TYPES = ("Envie um destes formatos: PNG, JPEG, GIF, PDF, TXT, LOG, CSV, DOCX, XLSX, "
             "PPTX, ODT, ODS, DOC, XLS ou PPT.")
MSG_SAVE = "Não foi possível salvar o arquivo. Tente novamente."


class UploadRejected(Exception):
    """A refusal the edge turns into an HTTP answer: pt-BR ``message``, ``status`` 400, 413
    or 415, and ``field`` ("file") so API errors can name the offending field."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = "file"


@dataclass(frozen=True)
class StoredFile:
    stored_name: str    # 32 hex chars from secrets.token_hex; the only on-disk name
    filename: str       # sanitised display name, never empty, never a path
    size: int
    content_type: str   # decided by content; text types carry their charset


def _reject(detail: str) -> UploadRejected:
    return UploadRejected(f"{detail} {MSG_TYPES}", 415)


def _split_ext(name: str) -> tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    return (stem, ext) if dot and len(ext) <= 16 and " " not in ext else (name, "")


def sanitize_filename(name: str | None) -> str:
    """Make a client-supplied name safe to *display* and to offer as a download name.

    Keeps letters of any script; drops directories, invisible/bidi characters and
    characters Windows refuses, so the name cannot spoof its extension or escape a folder
    when the user saves it. Never used as a server path (stored names are random)."""
    name = re.split(r"[/\\]", name or "")[-1]
    name = "".join(" " if ch.isspace() else ch for ch in name
                   if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co"))
    name = unicodedata.normalize("NFC", name)    # after removals, which can split clusters
    name = re.sub(r'[<>:"|?*]', "_", name)
    name = re.sub(r" +", " ", name).lstrip(". ").rstrip(". ")
    stem, ext = _split_ext(name)
    if not ext:                                 # nothing to keep: cut first, then look again
        stem, ext = _split_ext(name[:150].rstrip(". "))
    suffix = "." + ext if ext else ""
    parts = stem[:150 - len(suffix)].rstrip(". ").split(".")
    stem = parts[0] + "".join(("_" if p.strip().lower() in _RISKY_INNER else ".") + p
                              for p in parts[1:])
    name = (stem + suffix) if stem else ext
    return name or "arquivo"


def _jpeg_size(f) -> tuple[int, int] | None:
    """Walk JPEG segments to the first frame header (SOFn) and return (width, height);
    None if the data ends first. Dimensions may sit after a large EXIF block."""
    f.seek(2)
    while True:
        b = f.read(2)
        while len(b) == 2 and b == b"\xff\xff":      # fill bytes before a marker
            b = b[1:] + f.read(1)
        if len(b) < 2:
            return None
        marker = b[1]
        if b[0] != 0xFF or marker in (0xD9, 0xDA):   # garbage, or scan before any frame
            raise _reject("A imagem JPEG está corrompida.")
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            continue
        seg = f.read(7)
        if len(seg) < 2:
            return None
        if seg[0] == 0 and seg[1] < 2:                 # a length that cannot advance
            raise _reject("A imagem JPEG está corrompida.")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return struct.unpack(">HH", seg[3:7])[::-1] if len(seg) == 7 else None
        f.seek(struct.unpack(">H", seg[:2])[0] - len(seg), io.SEEK_CUR)


def _check_pixels(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise _reject("A imagem está corrompida.")
    if width * height > MAX_PIXELS:
        raise UploadRejected(f"A imagem é grande demais ({width}x{height} pixels); o máximo "
                             "aceito é 50 megapixels.", 415)


def detect_type(head: bytes, filename: str) -> str:
    """Return our content type for a file whose first bytes are ``head``.

    The extension picks the one family the bytes must match, so a PE renamed ``.pdf`` or
    HTML renamed ``.png`` is refused. This sees only the head; ``store_upload`` adds the
    whole-file checks (zip structure, full text decoding, JPEG frame, OLE streams)."""
    ext = os.path.splitext(sanitize_filename(filename))[1].lower()
    if ext not in ALLOWED:
        raise _reject("Tipo de arquivo não aceito.")
    family, content_type = ALLOWED[ext]
    mismatch = _reject(f"O conteúdo do arquivo não corresponde à extensão {ext}.")
    if family == "text":
        if b"\x00" in head:
            raise mismatch
        start = head.decode("utf-8", "ignore").lstrip("\ufeff \t\r\n\f").lower()[:1024]
        if _ACTIVE_TEXT.search(start):
            raise _reject("Arquivos de texto com HTML, SVG, XML ou script não são aceitos.")
        return content_type
    if ext in _OOXML_DIR and head.startswith(_MAGIC["ole"]):
        return content_type                         # password-protected OOXML (checked later)
    if not head.startswith(_MAGIC[family]):
        raise mismatch
    if family == "png":
        if head[12:16] != b"IHDR" or len(head) < 24:
            raise _reject("A imagem PNG está corrompida.")
        _check_pixels(*struct.unpack(">II", head[16:24]))
    elif family == "gif":
        if len(head) < 10:
            raise _reject("A imagem GIF está corrompida.")
        _check_pixels(*struct.unpack("<HH", head[6:10]))
    elif family == "jpeg":
        size = _jpeg_size(io.BytesIO(head))
        if size:
            _check_pixels(*size)
    return content_type


def _check_text(path: str) -> str:
    """Whole-file text check; returns the charset to label it with. Windows-1252 (a
    superset of Latin-1's printable range) is what Excel in pt-BR exports CSV as."""
    with open(path, "rb") as f:
        decoder = codecs.getincrementaldecoder("utf-8-sig")()
        try:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                if b"\x00" in chunk:
                    raise _reject("O arquivo de texto contém bytes nulos.")
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            f.seek(0)
        for chunk in iter(lambda: f.read(CHUNK), b""):
            if _LEGACY_CONTROLS.search(chunk):
                raise _reject("O texto deve estar em UTF-8 ou Latin-1, sem caracteres de "
                              "controle.")
    return "windows-1252"


def _check_zip(path: str, ext: str) -> None:
    """Inspect the central directory without extracting anything: size/count limits
    against zip bombs, and the entries that make it a real OOXML or ODF document."""
    invalid = _reject(f"O documento não é um arquivo {ext} válido.")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if (len(infos) > MAX_ZIP_ENTRIES
                    or sum(i.file_size for i in infos) > MAX_ZIP_UNCOMPRESSED):
                raise _reject("O documento compactado é grande demais (mais de 200 MB "
                              "descompactado ou mais de 5000 partes internas).")
            names = [i.filename for i in infos]
            if ext in _OOXML_DIR:
                if ("[Content_Types].xml" not in names
                        or not any(n.startswith(_OOXML_DIR[ext]) for n in names)):
                    raise invalid
                if any(n.lower().endswith("vbaproject.bin") for n in names):
                    raise _reject("Documentos com macros não são aceitos.")
            else:
                first = infos[0] if infos else None
                expected = ALLOWED[ext][1].encode()
                if (first is None or first.filename != "mimetype" or first.file_size > 100
                        or first.compress_size > 100
                        or first.compress_type != zipfile.ZIP_STORED
                        or zf.read(first).strip() != expected):
                    raise invalid
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error,
            NotImplementedError, RuntimeError, KeyError) as exc:
        raise invalid from exc


def _file_contains(path: str, needles: list[bytes]) -> bool:
    overlap = max(map(len, needles))
    tail = b""
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1024 * 1024), b""):
            window = tail + chunk
            if any(n in window for n in needles):
                return True
            tail = window[-overlap:]
    return False


def _verify_file(path: str, filename: str, content_type: str) -> str:
    """Checks that need the whole file. Returns the final content type."""
    ext = os.path.splitext(sanitize_filename(filename))[1].lower()
    family = ALLOWED[ext][0]
    with open(path, "rb") as f:
        magic = f.read(8)
        if family == "jpeg":
            size = _jpeg_size(f)
            if size is None:
                raise _reject("A imagem JPEG está corrompida.")
            _check_pixels(*size)
    if family == "text":
        return f"{content_type}; charset={_check_text(path)}"
    if family in ("png", "jpeg", "gif") and zipfile.is_zipfile(path):
        raise _reject("A imagem contém outro arquivo embutido.")   # GIFAR-style polyglot
    if magic == _MAGIC["ole"][0]:
        streams = [s.encode("utf-16-le") for s in _OLE_STREAMS[ext]]
        if not _file_contains(path, streams):
            raise _reject(f"O documento não é um arquivo {ext} válido.")
    elif family in ("ooxml", "odf"):
        _check_zip(path, ext)
    return content_type


def _limit_text(max_bytes: int) -> str:
    if max_bytes < 1024 * 1024:
        return f"{max_bytes // 1024} KB"
    mb = max_bytes / (1024 * 1024)
    return f"{mb:.1f}".rstrip("0").rstrip(".").replace(".", ",") + " MB"


def store_upload(file_storage, upload_folder: str, max_bytes: int,
                 storage=None) -> StoredFile:
    """Stream an upload to disk, validate it, and publish it under a random name.

    The bytes go to a temp file in ``upload_folder`` and only a fully validated file
    ever gets a stored name: any refusal or failure removes the temp file. Publishing is
    the storage's ``put_file``: an atomic ``os.replace`` in the same folder (the local
    backend), or one PUT of the whole object (S3). ``storage`` defaults to the app's
    (``app.storage.for_folder``). Server faults (disk full, permissions, object storage
    down) become UploadRejected with status 400 and a retry message (the brief preferred
    400 over 507 for clients' sake); the original error is logged."""
    if file_storage is None:
        raise UploadRejected("Nenhum arquivo foi enviado.", 400)
    filename = sanitize_filename(getattr(file_storage, "filename", None))
    tmp = stored_name = target = None
    try:
        target = storage or storage_backends.for_folder(upload_folder)
        os.makedirs(upload_folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".part", dir=upload_folder)
        size, head = 0, b""
        with os.fdopen(fd, "wb") as out:
            for chunk in iter(lambda: file_storage.stream.read(CHUNK), b""):
                size += len(chunk)
                if size > max_bytes:
                    raise UploadRejected(
                        f"Arquivo maior que o limite de {_limit_text(max_bytes)}.", 413)
                if len(head) < HEAD_BYTES:
                    head += chunk[:HEAD_BYTES - len(head)]
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise UploadRejected("O arquivo está vazio.", 400)
        content_type = _verify_file(tmp, filename, detect_type(head, filename))
        stored_name = secrets.token_hex(16)
        if target.put_file(stored_name, tmp):
            tmp = None                              # moved into place, nothing to remove
        return StoredFile(stored_name, filename, size, content_type)
    except UploadRejected:
        raise
    except StorageError as exc:
        log.error("upload could not be stored in %s: %s", target.describe(), exc.reason)
        if exc.ambiguous and stored_name:           # the PUT may have landed after all
            delete_stored(upload_folder, stored_name, target)
        raise UploadRejected(MSG_SAVE, 400) from exc
    except Exception as exc:
        log.exception("upload could not be stored in %s", upload_folder)
        raise UploadRejected(MSG_SAVE, 400) from exc
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            except OSError:
                log.warning("could not remove temp upload %s", tmp)


def stored_path(upload_folder: str, stored_name: str) -> str:
    """The on-disk path of a stored file; refuses anything we did not generate, so a
    tampered database value can never point outside the upload folder."""
    if not isinstance(stored_name, str) or not STORED_NAME_RE.fullmatch(stored_name):
        raise ValueError("invalid stored file name")
    return os.path.join(upload_folder, stored_name)


def delete_stored(upload_folder: str, stored_name: str, storage=None) -> None:
    """Remove a stored file from the app's storage (``storage`` defaults as in
    ``store_upload``). Idempotent; storage errors are logged, not raised, because this
    runs in cleanup paths where raising would hide the original failure."""
    stored_path(upload_folder, stored_name)            # refuses names we did not generate
    target = storage or storage_backends.for_folder(upload_folder)
    try:
        target.delete(stored_name)
    except (OSError, StorageError) as exc:
        log.warning("could not delete stored upload %s from %s: %s", stored_name,
                    target.describe(), getattr(exc, "reason", exc), exc_info=True)


def _content_disposition(headers: Headers, name: str) -> None:
    """``attachment`` with the name as Werkzeug's send_file writes it (RFC 6266: an
    ASCII fallback and the UTF-8 name)."""
    try:
        name.encode("ascii")
        headers.set("Content-Disposition", "attachment", filename=name)
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
        quoted = urllib.parse.quote(name, safe="!#$&+-.^_`|~")
        headers.set("Content-Disposition", "attachment", filename=simple,
                    **{"filename*": f"UTF-8''{quoted}"})


def _stream(opened, name: str):
    """The object's bytes in chunks; a storage failure mid-way ends the body short of
    its Content-Length (the client sees an incomplete download, the log says why)."""
    try:
        yield from opened.chunks(CHUNK)
    except StorageError as exc:
        log.error("download of %s stopped: %s", name, exc.reason)


def download_response(upload_folder: str, stored, storage=None) -> flask.Response:
    """Serve a stored file as a download that no browser will render or sniff.

    Needs a request context. A missing file answers 404, not 500; object storage that
    does not answer, a Portuguese 503 (StorageUnavailable). The type is re-checked
    against the allow-list so a bad database value degrades to octet-stream. From object
    storage the app streams the object in 64 KB chunks (never whole in memory, never a
    public or presigned URL: the caller has already checked the ticket)."""
    stored_path(upload_folder, stored.stored_name)     # refuses names we did not generate
    target = storage or storage_backends.for_folder(upload_folder)
    mimetype = stored.content_type or ""
    if mimetype.split(";")[0].strip() not in ALLOWED_CONTENT_TYPES:
        mimetype = "application/octet-stream"
    name = sanitize_filename(stored.filename)
    if target.kind == "local":
        path = target.path(stored.stored_name)
        if not os.path.isfile(path):
            raise NotFound()
        response = flask.send_file(path, mimetype=mimetype.split(";")[0], as_attachment=True,
                                   download_name=name)
    else:
        try:
            opened = target.open(stored.stored_name)
        except FileNotFoundError:
            raise NotFound() from None
        except StorageError as exc:
            log.error("download of %s failed: %s", stored.stored_name, exc.reason)
            raise StorageUnavailable() from exc
        headers = Headers()
        _content_disposition(headers, name)
        response = flask.Response(_stream(opened, stored.stored_name), headers=headers,
                                  direct_passthrough=True)
        response.content_length = opened.size
        response.call_on_close(opened.close)
    response.headers["Content-Type"] = mimetype    # keep our charset, not werkzeug's utf-8
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response
