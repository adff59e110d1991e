"""app.storage without an app or a server: the local backend, keys, settings."""
import io
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app import storage  # noqa: E402
from app.storage import LocalStorage, S3Storage, build, check_key  # noqa: E402

KEY = "0123456789abcdef" * 2


@pytest.mark.parametrize("bad", ["", "../x", "A" * 32, "a" * 31, KEY + "\n", None,
                                 ".upload-x.part", "probe-" + KEY, "dir/" + KEY])
def test_keys_we_did_not_generate_are_refused(bad):
    with pytest.raises(ValueError):
        check_key(bad)
    with pytest.raises(ValueError):
        S3Storage("bucket")._key(bad)


def test_local_put_moves_a_file_of_the_same_folder_and_copies_any_other(tmp_path):
    local = LocalStorage(str(tmp_path / "up"))
    os.makedirs(local.folder)
    inside = Path(local.folder, ".upload-1.part")
    inside.write_bytes(b"abc")
    assert local.put_file(KEY, str(inside)) is True and not inside.exists()
    outside = tmp_path / "elsewhere"
    outside.write_bytes(b"de")
    other = "f" * 32
    assert local.put_file(other, str(outside)) is False and outside.exists()
    assert (local.size(KEY), local.size(other), local.size("e" * 32)) == (3, 2, None)
    with local.open(other) as opened:
        assert opened.size == 2 and b"".join(opened.chunks()) == b"de"
    with pytest.raises(FileNotFoundError):
        local.open("e" * 32)
    Path(local.folder, ".upload-2.part").write_bytes(b"temp")
    Path(local.folder, ".probe-" + KEY).write_bytes(b"probe")
    assert sorted(k for k, _ in local.keys()) == sorted([KEY, other])
    assert [os.path.basename(p) for p, _ in local.temp_files()] == [".upload-2.part"]
    local.delete(KEY)
    local.delete(KEY)                                  # idempotent
    assert local.size(KEY) is None


def test_a_copy_that_fails_half_way_leaves_no_file(tmp_path):
    class Broken(io.RawIOBase):
        def __init__(self):
            self.calls = 0

        def read(self, n=-1):
            self.calls += 1
            if self.calls > 1:
                raise OSError("connection reset")
            return b"x" * 100

    local = LocalStorage(str(tmp_path))
    with pytest.raises(OSError):
        local.put_fileobj(KEY, Broken())
    assert os.listdir(tmp_path) == []


def test_probe_of_a_folder_that_cannot_be_written_says_why(tmp_path):
    ok, message = LocalStorage(str(tmp_path)).probe()
    assert (ok, message) == (True, "ok") and os.listdir(tmp_path) == []
    blocker = tmp_path / "file"
    blocker.write_text("x")
    ok, message = LocalStorage(str(blocker / "uploads")).probe()
    assert ok is False and message.startswith("Não foi possível gravar na pasta de arquivos")


def test_settings_choose_the_backend_and_refuse_unknown_ones(tmp_path):
    assert build({"UPLOAD_FOLDER": str(tmp_path)}).kind == "local"
    s3 = build({"ATTACHMENT_STORAGE": "S3", "S3_BUCKET": "anexos", "S3_PREFIX": "/gestor",
                "S3_ENDPOINT_URL": "http://127.0.0.1:9000", "UPLOAD_FOLDER": str(tmp_path)})
    assert (s3.kind, s3.bucket, s3.prefix, s3.addressing_style) == ("s3", "anexos",
                                                                   "gestor/", "path")
    assert build({"ATTACHMENT_STORAGE": "s3", "S3_BUCKET": "b"}).addressing_style == "auto"
    with pytest.raises(RuntimeError, match="S3_BUCKET"):
        build({"ATTACHMENT_STORAGE": "s3", "UPLOAD_FOLDER": str(tmp_path)})
    with pytest.raises(RuntimeError, match="ATTACHMENT_STORAGE inválido"):
        build({"ATTACHMENT_STORAGE": "ftp", "UPLOAD_FOLDER": str(tmp_path)})


def test_probe_never_raises(tmp_path):
    import flask

    app = flask.Flask(__name__)
    app.extensions[storage.EXTENSION] = LocalStorage(str(tmp_path))
    with app.app_context():
        assert storage.probe() == (True, "ok")
        app.extensions[storage.EXTENSION] = S3Storage(
            "b", endpoint_url="http://127.0.0.1:9", access_key_id="x", secret_access_key="y",
            connect_timeout=0.5, max_attempts=1)
        ok, message = storage.probe()
    assert ok is False and "EndpointConnectionError" in message


@pytest.mark.parametrize("setting,value,message", [
    ("S3_MAX_ATTEMPTS", "dois", "S3_MAX_ATTEMPTS deve ser um número"),
    ("S3_READ_TIMEOUT_SECONDS", "0", "S3_READ_TIMEOUT_SECONDS deve ser maior que zero"),
    ("S3_ADDRESSING_STYLE", "dns", "S3_ADDRESSING_STYLE inválido"),
    ("ATTACHMENT_STORAGE", "nfs", "ATTACHMENT_STORAGE inválido"),
])
def test_a_wrong_setting_stops_the_start_up_with_a_clear_message(tmp_path, setting, value,
                                                                  message):
    import flask

    from config import Config

    app = flask.Flask(__name__)
    app.config.from_object(Config)
    app.config.update({"UPLOAD_FOLDER": str(tmp_path), setting: value})
    with pytest.raises(RuntimeError, match=message):
        storage.init_app(app)
