"""A private PostgreSQL cluster for the Odoo test and demo runs.

The cluster listens on a Unix socket only (``listen_addresses = ''``), in a socket
folder of its own, so it never clashes with a PostgreSQL server already running on
the machine. Odoo connects as the role ``odoo`` (Odoo refuses the ``postgres`` role).

PostgreSQL refuses to run as root: when started by root, the server runs as the
``postgres`` system user.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

ODOO_ROLE = "odoo"


def find_pg_bindir():
    """Return the folder holding ``initdb`` and ``pg_ctl``, or None.

    ``PG_BINDIR`` wins; then the newest ``/usr/lib/postgresql/<version>/bin``
    (Debian, Ubuntu); then whatever ``pg_ctl`` is on the ``PATH``.
    """
    candidates = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(os.environ["PG_BINDIR"])
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda path: int(Path(path).parent.name) if Path(path).parent.name.isdigit() else 0,
        reverse=True,
    )
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for folder in candidates:
        if os.access(os.path.join(folder, "initdb"), os.X_OK):
            return folder
    return None


def free_port():
    """A TCP port nobody listens on right now (Odoo's HTTP server, PostgreSQL's socket name)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """Start, use and stop a private PostgreSQL cluster.

    :param data_dir: the cluster's data folder; None for a throw-away cluster in a
        temporary folder, removed by :meth:`stop`.
    :param fast: trade durability for speed (tests: no fsync).
    """

    def __init__(self, data_dir=None, fast=True):
        self.bindir = find_pg_bindir()
        if not self.bindir:
            raise RuntimeError(
                "PostgreSQL server binaries (initdb, pg_ctl) not found: install the "
                "'postgresql' package or set PG_BINDIR"
            )
        self.temporary = data_dir is None
        self.fast = fast
        self.base = Path(tempfile.mkdtemp(prefix="rp-pg-"))
        self.data_dir = self.base / "data" if self.temporary else Path(data_dir).resolve()
        self.socket_dir = self.base
        self.log_file = (
            self.base / "postgresql.log"
            if self.temporary
            else self.data_dir.parent / f"{self.data_dir.name}.log"
        )
        self.port = free_port()
        self.run_as = None
        if os.geteuid() == 0:
            self.run_as = "postgres"
            self._ensure_system_user()
            shutil.chown(self.base, self.run_as, self.run_as)
        self.started = False

    # --- helpers -------------------------------------------------------------------------

    def _ensure_system_user(self):
        try:
            pwd.getpwnam(self.run_as)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", self.run_as], check=True)

    def _as_server_user(self, argv):
        if self.run_as:
            return ["runuser", "-u", self.run_as, "--", *argv]
        return argv

    def _run(self, argv, **kwargs):
        return subprocess.run(
            self._as_server_user(argv), check=True, stdin=subprocess.DEVNULL, **kwargs
        )

    def psql(self, sql, database="postgres", user="postgres"):
        """Run one SQL statement and return its output as text (one value per line)."""
        result = subprocess.run(
            [
                os.path.join(self.bindir, "psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                user,
                "-d",
                database,
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        return result.stdout.strip()

    # --- life cycle ----------------------------------------------------------------------

    def start(self):
        """Create the cluster if needed, start it and make sure the ``odoo`` role exists."""
        if not (self.data_dir / "PG_VERSION").exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            if self.run_as:
                shutil.chown(self.data_dir, self.run_as, self.run_as)
            self._run(
                [
                    os.path.join(self.bindir, "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-instructions",
                ]
                + (["--no-sync"] if self.fast else []),
                stdout=subprocess.DEVNULL,
            )
        options = [
            "-c listen_addresses=''",
            f"-c unix_socket_directories='{self.socket_dir}'",
            f"-c port={self.port}",
            "-c max_connections=100",
        ]
        if self.fast:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        if not self.log_file.exists():
            self.log_file.touch()
        if self.run_as:
            shutil.chown(self.log_file, self.run_as, self.run_as)
        self._run(
            [
                os.path.join(self.bindir, "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                "60",
                "-o",
                " ".join(options),
                "start",
            ],
            stdout=subprocess.DEVNULL,
        )
        self.started = True
        if not self.psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{ODOO_ROLE}'"):
            self.psql(f"CREATE ROLE {ODOO_ROLE} LOGIN SUPERUSER")
        return self

    def stop(self):
        """Stop the server; remove the cluster if it is a throw-away one."""
        if self.started:
            subprocess.run(
                self._as_server_user(
                    [
                        os.path.join(self.bindir, "pg_ctl"),
                        "-D",
                        str(self.data_dir),
                        "-m",
                        "fast",
                        "-w",
                        "stop",
                    ]
                ),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                check=False,
            )
            self.started = False
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info):
        self.stop()

    # --- for clients ---------------------------------------------------------------------

    def database_exists(self, name):
        return bool(self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"))

    def env(self):
        """Environment variables that point libpq clients at this cluster."""
        return {"PGHOST": str(self.socket_dir), "PGPORT": str(self.port), "PGUSER": ODOO_ROLE}

    def odoo_options(self):
        """Lines of an Odoo configuration file that connect to this cluster."""
        return {
            "db_host": str(self.socket_dir),
            "db_port": str(self.port),
            "db_user": ODOO_ROLE,
            "db_password": "False",
        }
