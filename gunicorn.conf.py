"""gunicorn settings for production (docs/deploy.md): ``gunicorn -c gunicorn.conf.py run:app``.

Environment (all optional):

* ``GUNICORN_BIND`` (default ``$HOST:$PORT``, i.e. ``127.0.0.1:8080``): where to listen;
  a TLS-terminating proxy sits in front (``PROXY_FIX_HOPS=1``).
* ``WEB_CONCURRENCY``: workers; default ``2 × cores + 1``, cores being the CPUs this
  process may run on (a container's or a systemd ``CPUAffinity=`` limit, not the
  host's). Exported to the workers, so the app sees how many there are (the
  ``memory://`` rate-limit warning).
* ``GUNICORN_THREADS`` (1), ``GUNICORN_TIMEOUT`` (30 s), ``GUNICORN_GRACEFUL_TIMEOUT``
  (30 s: a deploy's SIGTERM lets running requests finish), ``GUNICORN_MAX_REQUESTS``
  (0 = never recycle a worker).
* ``GUNICORN_CONTROL_SOCKET``: the control socket of *this* instance (``gunicornc -s``).
  Default: ``$RUNTIME_DIRECTORY`` (systemd's ``RuntimeDirectory=``), else
  ``$XDG_RUNTIME_DIR``, else the system's temporary folder, named after the instance
  (``GESTOR_INSTANCE``, else the bound port): ``gunicorn-8080.ctl``. gunicorn's own
  default is one path per user, so two instances on a host would take each other's.

After each worker has loaded the app, ``gc.freeze()`` moves everything built at start-up
(SQLAlchemy's and Flask-AppBuilder's registries, pandas, plotly) out of the garbage
collector's reach: full collections stop walking them in the middle of requests (in a
trial the attendant list's p99 at concurrency 1 went from 71-94 ms to 17-26 ms).
"""
import gc
import os
import tempfile


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = [os.environ.get("GUNICORN_BIND")
        or f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8080')}"]
workers = _int("WEB_CONCURRENCY", 2 * _cores() + 1)
os.environ["WEB_CONCURRENCY"] = str(workers)
threads = _int("GUNICORN_THREADS", 1)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
max_requests = _int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = max_requests // 10
keepalive = 5
# gunicorn's access log would repeat the app's own line (app/logs.py: method, path,
# status, time and the request id); its error log keeps start-up and worker events.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Behind the proxy: the app's ProxyFix (PROXY_FIX_HOPS) reads X-Forwarded-*.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
control_socket_mode = 0o600


def _control_socket(server) -> str:
    explicit = os.environ.get("GUNICORN_CONTROL_SOCKET")
    if explicit:
        return explicit
    folder = (os.environ.get("RUNTIME_DIRECTORY") or os.environ.get("XDG_RUNTIME_DIR")
              or os.path.join(tempfile.gettempdir(), f"gestor-{os.getuid()}"))
    folder = folder.split(":")[0]  # RuntimeDirectory= may list several
    os.makedirs(folder, mode=0o700, exist_ok=True)
    instance = os.environ.get("GESTOR_INSTANCE")
    if not instance:
        address = str(server.cfg.bind[0]) if server.cfg.bind else "default"
        instance = address.rsplit(":", 1)[-1].replace("/", "_") or "default"
    return os.path.join(folder, f"gunicorn-{instance}.ctl")


def on_starting(server):
    """The bind is final here (a ``-b`` on the command line wins over this file)."""
    path = _control_socket(server)
    server.cfg.set("control_socket", path)
    server.log.info("control socket: %s (gunicornc -s %s)", path, path)


def _warm_storage(worker) -> None:
    """Build this worker's object-storage client now rather than inside its first upload:
    boto3's first client costs up to seconds of CPU on a loaded host, enough for a
    short ``GUNICORN_TIMEOUT`` to kill the worker mid-request (found by
    tests/test_many_hosts.py). Only the client is built; nothing goes over the network."""
    app = getattr(worker, "wsgi", None)
    try:
        from app import storage

        backend = getattr(app, "extensions", {}).get(storage.EXTENSION)
        if backend is not None and backend.kind == "s3":
            backend.client()
    except Exception as error:   # noqa: BLE001 - the first upload will say what is wrong
        worker.log.warning("object storage client not built at start: %s", error)


def post_worker_init(worker):
    _warm_storage(worker)
    gc.collect()
    gc.freeze()
