"""What the test and demo runs need to know about Odoo and about the project's addons.

Nothing here imports odoo: Odoo is probed and run in child processes, so these tools
work (and say so clearly) on a machine without Odoo.
"""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "build"
ODOO_VERSION = 18

_PROBE = f"import odoo.release as r; assert r.version_info[0] == {ODOO_VERSION}"
_ADDONS_PATHS = (
    "import os, odoo; root = os.path.dirname(os.path.abspath(odoo.__file__)); "
    "print(','.join(p for p in (os.path.join(os.path.dirname(root), 'addons'), "
    "os.path.join(root, 'addons')) if os.path.isdir(p)))"
)


def python():
    """The interpreter that runs Odoo (``RP_PYTHON``, else the current one)."""
    return os.environ.get("RP_PYTHON") or sys.executable


def odoo_unavailable_reason():
    """None when an Odoo 18 can be imported, else why the Odoo runs cannot happen."""
    if os.environ.get("RP_SKIP_ODOO", "") not in ("", "0"):
        return "RP_SKIP_ODOO is set"
    probe = subprocess.run([python(), "-c", _PROBE], capture_output=True, stdin=subprocess.DEVNULL)
    if probe.returncode:
        return f"Odoo {ODOO_VERSION} not importable"
    return None


def project_addons():
    """Every folder at the repository root holding a ``__manifest__.py``, sorted."""
    return sorted(path.parent.name for path in REPO.glob("*/__manifest__.py"))


def addons_path():
    """Odoo's own addons folders followed by the repository root."""
    odoo_paths = subprocess.run(
        [python(), "-c", _ADDONS_PATHS],
        capture_output=True,
        text=True,
        check=True,
        stdin=subprocess.DEVNULL,
    ).stdout.strip()
    return f"{odoo_paths},{REPO}"


def odoo_command(*args):
    """The command line that runs Odoo's own launcher with ``args``."""
    return [python(), "-m", "odoo", *args]


def write_config(path, cluster, **options):
    """Write an Odoo configuration file for ``cluster`` and return its path."""
    values = {
        "addons_path": addons_path(),
        "data_dir": str(Path(path).parent / "odoo-data"),
        **cluster.odoo_options(),
        "list_db": "False",
        "workers": "0",
        "max_cron_threads": "0",
        "http_interface": "127.0.0.1",
        **{key: str(value) for key, value in options.items()},
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(
        "[options]\n" + "".join(f"{key} = {value}\n" for key, value in values.items()),
        encoding="utf-8",
    )
    return Path(path)
