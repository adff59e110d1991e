"""A throw-away Dovecot IMAP server on loopback for the test run (like tests/redisserver.py).

Debian's ``dovecot-imapd`` with its own configuration in a temp folder (``-c``: the
system's /etc/dovecot is never read): plain login over loopback, users in a
passwd-file, one Maildir per user under the temp folder, a free port. Run as root (CI)
it uses Debian's unprivileged ``dovecot``/``dovenull`` users for its processes, as any
other user it runs as that user. ``pause`` and ``resume`` stop and start it on the same
port (an outage); ``new_user`` and ``append`` set up a test's mailbox; ``capability``
makes a server that hides some of its capabilities (IDLE).
"""
from __future__ import annotations

import datetime
import grp
import imaplib
import ipaddress
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from tests.pgserver import free_port

POOL = 400   # users made at start (new_user)

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
# IDLE: new mail is noticed by inotify; this is Dovecot's fallback check while idling.
mailbox_idle_check_interval = 1 secs
{extra}
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
mail_location = maildir:{root}/mail/%u
mail_uid = {uid}
mail_gid = {gid}
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
  default_fields = uid={uid} gid={gid} home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
  }}
  chroot =
  process_min_avail = 0
}}
service anvil {{
  chroot =
  # No auth penalty (Dovecot's documented switch): the wrong-password tests must not
  # slow every later login from 127.0.0.1.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  chroot =
}}
"""


def _binary() -> str:
    found = os.environ.get("DOVECOT") or shutil.which("dovecot")
    if not found and os.path.exists("/usr/sbin/dovecot"):
        found = "/usr/sbin/dovecot"
    if not found:
        raise RuntimeError("dovecot not found (apt-get install -y dovecot-imapd)")
    return found


def _self_signed(root: str) -> str:
    """A certificate for 127.0.0.1 (its own CA: a test trusts it through
    MAILBOX_CA_FILE, or sees it refused without)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file = os.path.join(root, "cert.pem")
    with open(cert_file, "wb") as out:
        out.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(root, "key.pem"), "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption()))
    return cert_file


def _identities() -> dict:
    """Who the server's processes run as: never root (Dovecot refuses it for logins)."""
    if os.geteuid() == 0:
        mail = pwd.getpwnam("dovecot")
        return {"internal_user": "dovecot", "internal_group": grp.getgrgid(mail.pw_gid).gr_name,
                "login_user": "dovenull", "uid": mail.pw_uid, "gid": mail.pw_gid}
    me = pwd.getpwuid(os.geteuid())
    group = grp.getgrgid(os.getegid()).gr_name
    return {"internal_user": me.pw_name, "internal_group": group, "login_user": me.pw_name,
            "uid": me.pw_uid, "gid": os.getegid()}


class ImapServer:
    host = "127.0.0.1"

    def __init__(self, capability: str | None = None):
        """``capability``: what CAPABILITY answers after the login instead of Dovecot's
        own list (``imap_capability``), e.g. a server without IDLE."""
        self.binary = _binary()
        self.port = free_port()        # IMAP (plain login, STARTTLS offered)
        self.ssl_port = free_port()    # IMAPS
        self.root = tempfile.mkdtemp(prefix="gestor-imap-")
        self.ids = _identities()
        self.users: dict[str, str] = {}
        self.process: subprocess.Popen | None = None
        os.chmod(self.root, 0o755)   # the unprivileged login process walks into run/
        for sub in ("run", "state", "mail"):
            os.makedirs(os.path.join(self.root, sub), exist_ok=True)
        if os.geteuid() == 0:
            os.chown(os.path.join(self.root, "mail"), self.ids["uid"], self.ids["gid"])
        self.cert_file = _self_signed(self.root)
        self.config = os.path.join(self.root, "dovecot.conf")
        with open(self.config, "w") as out:
            extra = f"imap_capability = {capability}" if capability else ""
            out.write(CONFIG.format(root=self.root, port=self.port, ssl_port=self.ssl_port,
                                    extra=extra, **self.ids))
        self.password = "imap-" + secrets.token_hex(8)
        self._pool = [f"caixa{n:04d}@empresa.example" for n in range(POOL, 0, -1)]
        self.users = {user: self.password for user in self._pool}
        self._write_passwd()

    def _write_passwd(self) -> None:
        path = os.path.join(self.root, "passwd")
        with open(path, "w") as out:
            for user, password in self.users.items():
                out.write(f"{user}:{{PLAIN}}{password}::::::\n")
        os.chmod(path, 0o644)

    def new_user(self) -> tuple[str, str]:
        """A mailbox no test has used yet, and its password. The users are written
        before the server starts: Dovecot reads its passwd-file again at most once a
        second, so a user added while it runs may be refused for that second."""
        user = self._pool.pop()
        return user, self.users[user]

    def start(self) -> "ImapServer":
        self.resume()
        return self

    def resume(self) -> None:
        pid_file = os.path.join(self.root, "run", "master.pid")
        if os.path.exists(pid_file):
            os.remove(pid_file)
        self.process = subprocess.Popen(
            [self.binary, "-F", "-c", self.config], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, cwd=self.root, start_new_session=True)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited with {self.process.returncode}: "
                                   + self.log_tail())
            if self.ping():
                return
            time.sleep(0.05)
        raise RuntimeError("dovecot did not start: " + self.log_tail())

    def ping(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as sock:
                sock.settimeout(2)
                return sock.recv(64).startswith(b"* OK")
        except OSError:
            return False

    def log_tail(self) -> str:
        try:
            with open(os.path.join(self.root, "dovecot.log")) as log:
                return log.read()[-2000:]
        except OSError:
            return ""

    def pause(self) -> None:
        """Stop the server (an outage): nothing listens on the port until ``resume``;
        the mail stays on disk."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)
        deadline = time.time() + 10
        while self.ping() and time.time() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        try:
            self.pause()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    # --- what a test does to a mailbox ----------------------------------------------

    def client(self, user: str) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        client.login(user, self.users[user])
        return client

    def append(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        """Deliver a raw mail to ``folder`` (IMAP APPEND), unseen."""
        client = self.client(user)
        try:
            status, data = client.append(folder, None, None, raw)
            assert status == "OK", data
        finally:
            client.logout()

    def messages(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """The raw mails in ``folder`` (empty when the folder does not exist)."""
        client = self.client(user)
        try:
            status, _ = client.select(f'"{folder}"', readonly=True)
            if status != "OK":
                return []
            _, data = client.uid("SEARCH", None, "ALL")
            found = []
            for uid in (data[0] or b"").split():
                _, parts = client.uid("FETCH", uid, "(BODY.PEEK[])")
                found += [p[1] for p in parts if isinstance(p, tuple)]
            return found
        finally:
            client.logout()
