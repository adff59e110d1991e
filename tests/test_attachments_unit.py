"""Unit tests for app.attachments: real files on disk, no app, no database."""
import errno
import io
import os
import struct
import sys
import zipfile
import zlib
from pathlib import Path

import flask
import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import NotFound

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app import attachments  # noqa: E402
from app.attachments import (  # noqa: E402
    StoredFile, UploadRejected, delete_stored, detect_type, download_response,
    sanitize_filename, store_upload, stored_path,
)

MB = 1024 * 1024
OOXML = "application/vnd.openxmlformats-officedocument."


# ---------------------------------------------------------------- real minimal files

def png(width=2, height=2):
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(min(height, 4)))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def jpeg(width=1, height=1, app_padding=0):
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    seg = lambda m, d: b"\xff" + bytes([m]) + struct.pack(">H", len(d) + 2) + d  # noqa: E731
    out = b"\xff\xd8" + seg(0xE0, app0)
    if app_padding:
        out += seg(0xE1, b"Exif\x00\x00" + b"\x00" * app_padding)
    out += seg(0xDB, b"\x00" + bytes(range(1, 65)))
    out += seg(0xC0, b"\x08" + struct.pack(">HH", height, width) + b"\x01\x01\x11\x00")
    out += seg(0xC4, b"\x00" + b"\x01" + b"\x00" * 15 + b"\x00")
    out += seg(0xDA, b"\x01\x01\x00\x00\x3f\x00") + b"\x00\x3f" + b"\xff\xd9"
    return out


GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00"
       b"\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
       b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def ole(stream="WordDocument"):
    return OLE_MAGIC + b"\x00" * 504 + stream.encode("utf-16-le") + b"\x00" * 1000


def ooxml(folder="word/", extra=(), content_types=True):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        if content_types:
            zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        zf.writestr("_rels/.rels", "<Relationships/>")
        zf.writestr(folder + "document.xml", "<doc/>")
        for name in extra:
            zf.writestr(name, "x")
    return buf.getvalue()


def odf(mimetype):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("mimetype", mimetype)            # stored, first: the ODF rule
        zf.writestr("content.xml", "<office:document-content/>", zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def upload(data, name):
    return FileStorage(stream=io.BytesIO(data), filename=name)


def files_in(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


@pytest.fixture
def folder(tmp_path):
    return str(tmp_path / "uploads")          # missing on purpose: store_upload creates it


def store(data, name, folder, max_bytes=5 * MB):
    return store_upload(upload(data, name), folder, max_bytes)


def assert_rejected(data, name, folder, status=415, max_bytes=5 * MB):
    with pytest.raises(UploadRejected) as info:
        store(data, name, folder, max_bytes)
    assert info.value.status == status
    assert info.value.field == "file"
    assert info.value.message
    assert files_in(folder) == [], "a rejected upload must leave nothing behind"
    return info.value


# ---------------------------------------------------------------- accepted types

@pytest.mark.parametrize("data,name,content_type", [
    (png(), "foto.png", "image/png"),
    (jpeg(), "foto.jpg", "image/jpeg"),
    (jpeg(640, 480), "foto.JPEG", "image/jpeg"),
    (GIF, "anim.gif", "image/gif"),
    (PDF, "doc.pdf", "application/pdf"),
    ("Olá, atenção!\n".encode(), "nota.txt", "text/plain; charset=utf-8"),
    ("\ufeffcom BOM\r\n".encode(), "bom.txt", "text/plain; charset=utf-8"),
    (b"2026-01-01 INFO start\n\x1b[31mred\x1b[0m\n", "app.log", "text/plain; charset=utf-8"),
    ("nome;valor\nação;1\n".encode(), "dados.csv", "text/csv; charset=utf-8"),
    ("nome;valor\nação – sim;1\n".encode("cp1252"), "excel.csv",
     "text/csv; charset=windows-1252"),
    (ooxml("word/"), "carta.docx", OOXML + "wordprocessingml.document"),
    (ooxml("xl/"), "planilha.xlsx", OOXML + "spreadsheetml.sheet"),
    (ooxml("ppt/"), "slides.pptx", OOXML + "presentationml.presentation"),
    (odf("application/vnd.oasis.opendocument.text"), "texto.odt",
     "application/vnd.oasis.opendocument.text"),
    (odf("application/vnd.oasis.opendocument.spreadsheet"), "calc.ods",
     "application/vnd.oasis.opendocument.spreadsheet"),
    (ole("WordDocument"), "antigo.doc", "application/msword"),
    (ole("Workbook"), "antigo.xls", "application/vnd.ms-excel"),
    (ole("PowerPoint Document"), "antigo.ppt", "application/vnd.ms-powerpoint"),
    (ole("EncryptedPackage"), "senha.xlsx", OOXML + "spreadsheetml.sheet"),
])
def test_accepted_types_are_stored_under_a_random_name(folder, data, name, content_type):
    stored = store(data, name, folder)
    assert isinstance(stored, StoredFile)
    assert stored.content_type == content_type
    assert stored.size == len(data)
    assert stored.filename == name
    assert attachments.STORED_NAME_RE.fullmatch(stored.stored_name)
    assert files_in(folder) == [stored.stored_name]
    assert Path(stored_path(folder, stored.stored_name)).read_bytes() == data


def test_two_uploads_of_the_same_name_get_different_stored_names(folder):
    a, b = store(png(), "a.png", folder), store(png(), "a.png", folder)
    assert a.stored_name != b.stored_name
    assert len(files_in(folder)) == 2


def test_jpeg_frame_header_after_a_large_exif_block_is_still_checked(folder, tmp_path):
    assert store(jpeg(10, 10, app_padding=20000), "ok.jpg", str(tmp_path / "ok")).size > 20000
    assert_rejected(jpeg(20000, 20000, app_padding=20000), "bomb.jpg", folder)


# ---------------------------------------------------------------- size limits

def test_oversize_upload_is_413_and_leaves_nothing(folder):
    err = assert_rejected(b"a" * (MB + 1), "grande.txt", folder, status=413, max_bytes=MB)
    assert err.message == "Arquivo maior que o limite de 1 MB."


def test_exactly_the_limit_is_accepted(folder):
    assert store(b"a" * 1000, "limite.txt", folder, max_bytes=1000).size == 1000


def test_zero_byte_upload_is_400(folder):
    err = assert_rejected(b"", "vazio.pdf", folder, status=400)
    assert err.message == "O arquivo está vazio."


def test_missing_file_storage_is_400(folder):
    with pytest.raises(UploadRejected) as info:
        store_upload(None, folder, MB)
    assert info.value.status == 400


# ---------------------------------------------------------------- lying content

@pytest.mark.parametrize("data,name", [
    (b"<html><script>alert(1)</script></html>", "pagina.txt"),
    (b"  \n<!DOCTYPE html><p>oi", "doc.txt"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>x</script></svg>',
     "desenho.txt"),
    (b'<?xml version="1.0"?><svg/>', "dados.csv"),
    (b"\xef\xbb\xbf<IFRAME src=x>", "bom.log"),
    (b"JavaScript:alert(1)", "link.txt"),
    (b'<svg onload="alert(1)"/>', "desenho.svg"),
    (b"<html></html>", "pagina.html"),
    (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 100 + b"PE\x00\x00",
     "fatura.pdf"),
    (b"MZ\x90\x00" + b"\x00" * 200, "programa.exe"),
    (b"<html><body>oi</body></html>", "foto.png"),
    (b"<?php system($_GET['c']); ?>", "x.php.png"),
    (png(), "semextensao"),
    (png(), "foto.pdf"),
    (PDF, "doc.docx"),
    (b"texto\x00com nulo", "nulo.txt"),
    (b"ok" * 5000 + b"\x00", "nulo-depois.txt"),          # NUL beyond the head
    (b"latin \xe7\x01 controle", "ctrl.txt"),
    (ooxml("word/"), "carta.doc"),
    (ooxml("word/"), "planilha.xlsx"),                    # docx renamed .xlsx
    (ooxml("word/", content_types=False), "carta.docx"),
    (ooxml("word/", extra=["word/vbaProject.bin"]), "macro.docx"),
    (b"PK\x03\x04" + b"\x00" * 100, "quebrado.docx"),
    (odf("application/x-evil"), "texto.odt"),
    (odf("application/vnd.oasis.opendocument.text"), "calc.ods"),
    (ole("Something"), "antigo.doc"),                     # e.g. an .msi renamed .doc
    (png() + ooxml(), "polyglot.png"),                    # GIFAR-style image + zip
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 4, "curto.png"),
    (b"\xff\xd8\xff\xd9", "vazio.jpg"),
])
def test_content_that_lies_about_its_type_is_415(folder, data, name):
    assert_rejected(data, name, folder)


def test_rejection_message_lists_accepted_types(folder):
    err = assert_rejected(b"MZ\x90\x00", "fatura.pdf", folder)
    assert ".pdf" in err.message and "PNG" in err.message and "DOCX" in err.message


def test_php_png_holding_a_real_png_is_accepted_with_a_neutral_display_name(folder):
    stored = store(png(), "x.php.png", folder)
    assert stored.content_type == "image/png"
    assert stored.filename == "x_php.png"
    assert ".php" not in stored.stored_name


# ---------------------------------------------------------------- bombs

def test_png_declaring_100000_by_100000_is_refused(folder):
    err = assert_rejected(png(100000, 100000), "bomba.png", folder)
    assert "50 megapixels" in err.message


def test_gif_with_a_huge_logical_screen_is_refused(folder):
    assert_rejected(GIF[:6] + struct.pack("<HH", 65535, 65535) + GIF[10:], "b.gif", folder)


def test_detect_type_alone_answers_our_type_from_the_head():
    assert detect_type(png()[:64], "a.png") == "image/png"
    assert detect_type(b"%PDF-1.7\n", "A.PDF") == "application/pdf"
    with pytest.raises(UploadRejected):
        detect_type(b"MZ\x90\x00", "a.pdf")


@pytest.mark.parametrize("data", [
    jpeg()[:30],                                            # ends before the frame header
    b"\xff\xd8\xff\xe0\x00\x00" + b"\x00" * 40,             # zero segment length
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20,     # garbage where a marker belongs
])
def test_broken_jpeg_structure_is_refused(folder, data):
    assert_rejected(data, "quebrada.jpg", folder)


def test_jpeg_fill_bytes_before_a_marker_are_tolerated(folder):
    data = jpeg(3, 3)
    data = data[:2] + b"\xff\xff\xff" + data[2:]
    assert store(data, "fill.jpg", folder).content_type == "image/jpeg"


def test_detect_type_checks_jpeg_dimensions_in_the_head():
    with pytest.raises(UploadRejected):
        detect_type(jpeg(10000, 10000), "x.jpg")


def test_docx_declaring_a_huge_uncompressed_size_is_refused(folder):
    data = bytearray(ooxml("word/"))
    cd = data.find(b"PK\x01\x02")              # first central-directory entry
    data[cd + 24:cd + 28] = struct.pack("<I", 0xF0000000)   # "uncompressed size" ~ 4 GB
    err = assert_rejected(bytes(data), "bomba.docx", folder)
    assert "200 MB" in err.message


def test_docx_with_too_many_entries_is_refused(folder):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        for i in range(5001):
            zf.writestr(f"word/p{i}.xml", "")
    assert_rejected(buf.getvalue(), "partes.docx", folder)


# ---------------------------------------------------------------- names

@pytest.mark.parametrize("raw,expected", [
    ("../../x", "x"),
    ("../../etc/passwd", "passwd"),
    ("C:\\x", "x"),
    ("C:\\Users\\ana\\relatório.pdf", "relatório.pdf"),
    ("a.html.", "a.html"),
    ("a.pdf . . ", "a.pdf"),
    ("x.php.png", "x_php.png"),
    ("relatorio.v2.final.pdf", "relatorio.v2.final.pdf"),
    ("\u200b.htaccess", "htaccess"),
    ("..htaccess", "htaccess"),
    ("relatório.pdf", "relatório.pdf"),
    ("relato\u0301rio.pdf", "relatório.pdf"),            # NFD input comes out NFC
    ("日本語.pdf", "日本語.pdf"),
    ("fatura\u202egnp.exe", "faturagnp.exe"),             # right-to-left override removed
    ("a\u200d\u2066b\ufeff.txt", "ab.txt"),
    ("nome\x00\x07ruim.txt", "nomeruim.txt"),
    ("muito    espaço\t\n aqui.txt", "muito espaço aqui.txt"),
    ('"><svg onload=alert(1)>.png', "___svg onload=alert(1)_.png"),
    ("", "arquivo"),
    (None, "arquivo"),
    ("...", "arquivo"),
    ("../", "arquivo"),
    ("\u200b\u202e", "arquivo"),
    (" . ", "arquivo"),
])
def test_sanitize_filename(raw, expected):
    assert sanitize_filename(raw) == expected


def test_sanitize_filename_caps_length_and_keeps_the_extension():
    name = sanitize_filename("á" * 400 + ".xlsx")
    assert len(name) == 150 and name.endswith(".xlsx")


def test_sanitize_filename_is_idempotent_and_never_yields_a_path():
    import random
    import unicodedata
    rng = random.Random(7)
    alphabet = list("ab. /\\:<>\"|*\t\n\x00\x7f\u200b\u202e\ufeffçã日\u0301\u2028") + [
        "php", "html", "pdf", "x" * 60]
    for _ in range(3000):
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        name = sanitize_filename(raw)
        assert name and len(name) <= 150 and sanitize_filename(name) == name
        assert not set(name) & set("/\\\x00\t\n<>")
        assert not name.startswith((".", " ")) and not name.endswith((".", " "))
        assert name == unicodedata.normalize("NFC", name)


def test_sanitize_filename_survives_lone_surrogates():
    assert sanitize_filename("a\udcffb.txt") == "ab.txt"


@pytest.mark.parametrize("name,expected", [
    ("../../x.png", "x.png"), ("C:\\x.png", "x.png"), ("\u200b.htaccess.png", "htaccess.png"),
    ("日本語.png", "日本語.png"), ("", None),
])
def test_hostile_names_never_reach_the_disk(tmp_path, folder, name, expected):
    if expected is None:                         # empty name: no extension, so refused
        assert_rejected(png(), name, folder)
        return
    stored = store(png(), name, folder)
    assert stored.filename == expected
    assert files_in(folder) == [stored.stored_name]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["uploads"]


# ---------------------------------------------------------------- faults

def test_disk_full_during_write_leaves_no_file(folder, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(attachments.os, "fsync", full)
    err = assert_rejected(png(), "foto.png", folder, status=400)
    assert err.message == "Não foi possível salvar o arquivo. Tente novamente."
    assert isinstance(err.__cause__, OSError)


def test_failure_while_publishing_leaves_no_file(folder, monkeypatch):
    def broken(src, dst):
        raise OSError(errno.EIO, "I/O error")
    monkeypatch.setattr(attachments.os, "replace", broken)
    assert_rejected(PDF, "doc.pdf", folder, status=400)


def test_stream_error_from_the_client_leaves_no_file(folder):
    class Broken(io.RawIOBase):
        def read(self, n=-1):
            raise OSError("connection reset")
    with pytest.raises(UploadRejected) as info:
        store_upload(FileStorage(stream=Broken(), filename="a.txt"), folder, MB)
    assert info.value.status == 400 and files_in(folder) == []


def test_unwritable_folder_is_a_clean_rejection(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UploadRejected) as info:
        store(png(), "a.png", str(blocker / "uploads"))
    assert info.value.status == 400


# ---------------------------------------------------------------- paths and deletion

@pytest.mark.parametrize("bad", ["", "../etc/passwd", "A" * 32, "a" * 31, "a" * 33,
                                 "0" * 31 + "/", ".upload-x.part", None, "0" * 32 + "\n"])
def test_stored_path_refuses_names_we_did_not_generate(folder, bad):
    with pytest.raises(ValueError):
        stored_path(folder, bad)


def test_delete_stored_is_idempotent(folder):
    stored = store(PDF, "doc.pdf", folder)
    delete_stored(folder, stored.stored_name)
    delete_stored(folder, stored.stored_name)
    assert files_in(folder) == []
    with pytest.raises(ValueError):
        delete_stored(folder, "../x")


# ---------------------------------------------------------------- downloads

@pytest.fixture
def flask_app():
    return flask.Flask(__name__)


def test_download_is_an_attachment_with_nosniff_and_sandbox(flask_app, folder):
    stored = store("Olá\n".encode(), "relatório final.txt", folder)
    with flask_app.test_request_context():
        resp = download_response(folder, stored)
        resp.direct_passthrough = False
        assert resp.get_data() == "Olá\n".encode()
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert resp.headers["Cache-Control"] == "private, no-store"
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''relat%C3%B3rio%20final.txt" in disposition


def test_download_keeps_the_legacy_charset_of_a_latin1_csv(flask_app, folder):
    stored = store("ação;1\n".encode("cp1252"), "excel.csv", folder)
    with flask_app.test_request_context():
        resp = download_response(folder, stored)
    assert resp.headers["Content-Type"] == "text/csv; charset=windows-1252"


def test_download_with_a_japanese_name(flask_app, folder):
    stored = store(PDF, "日本語.pdf", folder)
    with flask_app.test_request_context():
        resp = download_response(folder, stored)
    assert "filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.pdf" in resp.headers[
        "Content-Disposition"]
    assert resp.mimetype == "application/pdf"


def test_download_resanitises_the_name_and_distrusts_unknown_types(flask_app, folder):
    stored = store(PDF, "doc.pdf", folder)
    tampered = StoredFile(stored.stored_name, "../a\r\nSet-Cookie: x=1.html", stored.size,
                          "text/html")
    with flask_app.test_request_context():
        resp = download_response(folder, tampered)
    assert resp.mimetype == "application/octet-stream"
    assert "\n" not in resp.headers["Content-Disposition"]
    assert "Set-Cookie" not in resp.headers


def test_download_of_a_missing_file_is_404(flask_app, folder):
    with flask_app.test_request_context(), pytest.raises(NotFound):
        download_response(folder, StoredFile("0" * 32, "x.pdf", 1, "application/pdf"))
