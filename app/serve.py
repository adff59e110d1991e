"""`make run`: the web server plus the background jobs, in one command.

Serves the app with Werkzeug's threaded server on 127.0.0.1:$PORT for development and
demos, with app.jobs (auto-approval, the mail sender) on a background thread.
Production runs gunicorn ("run:app") and `flask jobs` as their own processes (README).
"""
from __future__ import annotations

import os
import threading

from app import create_app
from app.jobs import run_forever


def main() -> None:
    app = create_app()
    port = int(os.environ.get("PORT", "8080"))
    host = os.environ.get("HOST", "127.0.0.1")
    threading.Thread(target=run_forever, args=(app,), daemon=True, name="jobs").start()
    print(f"Gestor Serviço Empresa em http://{host}:{port}/  (Ctrl+C para parar)", flush=True)
    app.run(host=host, port=port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
