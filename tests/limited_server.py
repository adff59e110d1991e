"""Serve the app over HTTP in a process whose files cannot grow past a size limit.

    python tests/limited_server.py <database_url> <upload_dir> <port> <max_file_bytes>

A real write failure for the disk-full tests (HOSTILE.md "Faults"): RLIMIT_FSIZE makes
the kernel refuse any write past the limit with EFBIG (SIGXFSZ ignored), exactly where
a full disk refuses with ENOSPC: in the multipart parser's spool file and in the upload
folder. The database server (PostgreSQL) is another process and is not limited; for
SQLite the caller sets the limit above the database file's size.
"""
import os
import resource
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main() -> None:
    database_url, upload_dir, port, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
        int(sys.argv[4])
    from werkzeug.serving import make_server

    from app import create_app
    from tests.conftest import test_config

    app = create_app(test_config(database_url, upload_dir))
    app.config["PROPAGATE_EXCEPTIONS"] = False
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    server = make_server("127.0.0.1", port, app, threaded=True)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
