"""Run every test suite of the project and end with one summary line per suite.

1. The core suite: ``python3 -m pytest tests`` (plain Python, never imports odoo).
2. Where an Odoo 18 is importable: the Odoo suites of every addon at the repository
   root, run by ``odoo -i <addons> --test-enable`` in a fresh database of a private
   PostgreSQL cluster, which is removed afterwards.

With ``--pytest-odoo``, step 2 runs the same Odoo tests through pytest-odoo instead.

The last line is the total: ``N passed, N failed, N skipped``. The exit status is 0
only when nothing failed. Set ``RP_SKIP_ODOO=1`` to run the core suite only, and
``RP_ODOO_TIMEOUT`` (seconds, default 3600) to bound each Odoo run.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field

from odoo_env import (
    BUILD,
    REPO,
    odoo_command,
    odoo_unavailable_reason,
    project_addons,
    python,
    write_config,
)
from pgcluster import Cluster, free_port

TEST_DB = "rp_test"
#: Odoo addons installed beside ours for the tests only: payment_demo gives saved
#: payment methods with deterministic outcomes.
TEST_ADDONS = ["payment_demo", "payment_stripe"]
PYTEST_ODOO_DIR = BUILD / "pytest-odoo"
LOG_TAIL = 80
ODOO_TIMEOUT = int(os.environ.get("RP_ODOO_TIMEOUT", 3600))


@dataclass
class Suite:
    name: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    problems: list = field(default_factory=list)

    def line(self):
        return f"{self.name}: {self.passed} passed, {self.failed} failed, {self.skipped} skipped"


# === pytest ================================================================================ #


def junit_counts(path):
    """(passed, failed, skipped) from a pytest JUnit XML report."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    tests = failures = skipped = 0
    for suite in suites:
        tests += int(suite.get("tests", 0))
        failures += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
    return tests - failures - skipped, failures, skipped


def run_pytest(name, args, env=None):
    """Run pytest with ``args`` and turn its report into a :class:`Suite`."""
    BUILD.mkdir(exist_ok=True)
    report = BUILD / f"{name.replace(' ', '-')}-junit.xml"
    report.unlink(missing_ok=True)
    print(f"\n=== {name}: pytest {' '.join(args)}", flush=True)
    returncode = subprocess.run(
        [python(), "-m", "pytest", f"--junitxml={report}", *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
    ).returncode
    suite = Suite(name)
    if report.exists():
        suite.passed, suite.failed, suite.skipped = junit_counts(report)
    if returncode == 5:
        suite.failed += 1
        suite.problems.append("no tests collected")
    elif returncode and not suite.failed:
        suite.failed += 1
        suite.problems.append(f"pytest exited with status {returncode}")
    return suite


def run_core():
    # ``-p no:odoo`` keeps the pytest-odoo plugin, where installed, from importing odoo.
    return run_pytest("core", ["-p", "no:odoo", "tests"])


# === Odoo's own test runner ================================================================ #

LOG_RECORD = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (?P<level>[A-Z]+) (?P<db>\S+) "
    r"(?P<logger>[\w.\-]+): (?P<msg>.*)$"
)
ADDON_NAME = re.compile(r"odoo\.addons\.(\w+)")
FINAL_REPORT = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database")
# ERROR lines that only repeat test results already counted one by one.
ECHOES = (
    FINAL_REPORT,
    re.compile(r"At least one test failed when loading the modules"),
    re.compile(r"Module \w+: \d+ failures, \d+ errors of \d+ tests"),
    re.compile(r"Test suite halted: max failed tests"),
)


def log_records(lines):
    """Group an Odoo log into (level, logger, message) records, tracebacks included."""
    record = None
    for line in lines:
        match = LOG_RECORD.match(line.rstrip("\n"))
        if match:
            if record:
                yield record
            record = [match["level"], match["logger"], match["msg"]]
        elif record:
            record[2] += "\n" + line.rstrip("\n")
    if record:
        yield record


def _test_key(logger, description):
    # A failing subtest fails its test: "Subtest TestX.test_y (i=1)" -> "TestX.test_y".
    if description.startswith("Subtest "):
        description = description[len("Subtest ") :].split(" ", 1)[0]
    return logger, description


def parse_odoo_log(lines, addons):
    """Count the tests of each addon in an Odoo log.

    :return: (suites by addon, problems not tied to an addon's test, final report match)
    """
    started, skipped, failed = (defaultdict(set) for _ in range(3))
    messages = defaultdict(list)
    install_problems = []
    final = None
    current = None  # (addon, test key) of the test running now
    for level, logger, msg in log_records(lines):
        first_line = msg.split("\n", 1)[0].rstrip()
        found = ADDON_NAME.match(logger) or ADDON_NAME.search(first_line)
        addon = found[1] if found and found[1] in addons else None
        if FINAL_REPORT.search(first_line):
            final = FINAL_REPORT.search(first_line)
            current = None
        if level == "INFO" and addon and first_line.startswith("Starting ") and ".tests." in logger:
            current = (
                addon,
                _test_key(logger, first_line[len("Starting ") :].rsplit(" ...", 1)[0]),
            )
            started[addon].add(current[1])
        elif (
            level == "INFO" and addon and first_line.startswith("skipped ") and ".tests." in logger
        ):
            skipped[addon].add(_test_key(logger, first_line[len("skipped ") :].split(" : ", 1)[0]))
        elif level == "INFO" and logger == "odoo.modules.loading":
            current = None
        elif level in ("ERROR", "CRITICAL"):
            if any(echo.search(first_line) for echo in ECHOES):
                continue
            flavour, _, description = first_line.partition(": ")
            if addon and flavour in ("FAIL", "ERROR") and description:
                failed[addon].add(_test_key(logger, description))
                messages[addon].append(first_line)
            elif current:
                failed[current[0]].add(current[1])
                messages[current[0]].append(f"{current[1][1]} logged: {logger}: {first_line}")
            elif addon:
                failed[addon].add((logger, first_line))
                messages[addon].append(f"{logger}: {first_line}")
            else:
                install_problems.append(f"{level} {logger}: {first_line}")
    suites = {}
    for addon in addons:
        suite = Suite(f"odoo {addon}")
        suite.failed = len(failed[addon])
        suite.skipped = len(skipped[addon] - failed[addon])
        suite.passed = len(started[addon] - failed[addon] - skipped[addon])
        suite.problems = messages[addon]
        if not started[addon] and not failed[addon]:
            suite.failed = 1
            suite.problems.append("no test ran (is every test file imported in tests/__init__.py?)")
        suites[addon] = suite
    return suites, install_problems, final


def show_log_tail(log):
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    print(f"\n--- last {min(LOG_TAIL, len(lines))} lines of {log} ---")
    print("\n".join(lines[-LOG_TAIL:]))
    print(f"--- end of {log} ---")


def run_odoo(cluster, config, log, *args):
    """Run Odoo with ``args`` against ``cluster``, its output going to ``log``."""
    env = {**os.environ, **cluster.env(), "RP_TEST_DB": TEST_DB}
    command = odoo_command("-c", str(config), "-d", TEST_DB, *args)
    print(f"$ {' '.join(command)}\n  (log: {log})", flush=True)
    with open(log, "w", encoding="utf-8") as output:
        try:
            return subprocess.run(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                stdin=subprocess.DEVNULL,
                cwd=REPO,
                timeout=ODOO_TIMEOUT,
            ).returncode
        except subprocess.TimeoutExpired:
            return None


def exit_problem(returncode):
    """What Odoo's exit status says went wrong, if anything."""
    if returncode is None:
        return f"Odoo was stopped after {ODOO_TIMEOUT}s (RP_ODOO_TIMEOUT)"
    return f"Odoo exited with status {returncode}" if returncode else None


def run_odoo_suites(addons):
    """Install ``addons`` with --test-enable and count their tests from Odoo's log."""
    log = BUILD / "odoo-tests.log"
    print(f"\n=== Odoo suites ({', '.join(addons)}): private PostgreSQL, fresh database")
    with Cluster() as cluster:
        config = write_config(cluster.base / "odoo.conf", cluster, http_port=free_port())
        returncode = run_odoo(
            cluster,
            config,
            log,
            "-i",
            ",".join(addons + TEST_ADDONS),
            "--test-enable",
            "--test-tags",
            ",".join(f"/{addon}" for addon in addons),
            "--without-demo=all",
            "--stop-after-init",
            "--log-level=info",
        )
    with open(log, encoding="utf-8", errors="replace") as lines:
        suites, install_problems, final = parse_odoo_log(lines, addons)
    if exit_problem(returncode) and (
        returncode is None or not any(suite.failed for suite in suites.values())
    ):
        install_problems.append(exit_problem(returncode))
    if not final:
        install_problems.append("Odoo stopped before reporting its test results")
    elif int(final[1]) + int(final[2]) and not any(s.failed for s in suites.values()):
        install_problems.append(f"Odoo reports '{final[0]}'")
    result = list(suites.values())
    if install_problems:
        result.append(
            Suite("odoo install", failed=len(install_problems), problems=install_problems)
        )
    if any(suite.failed for suite in result):
        show_log_tail(log)
    return result


# === pytest-odoo =========================================================================== #


def run_pytest_odoo_suites(addons):
    """Install ``addons`` (no tests), then run their tests with pytest-odoo."""
    if not (PYTEST_ODOO_DIR / "pytest_odoo.py").exists():
        return [
            Suite("pytest-odoo", failed=1, problems=[f"pytest-odoo not found in {PYTEST_ODOO_DIR}"])
        ]
    log = BUILD / "odoo-install.log"
    print(f"\n=== pytest-odoo suites ({', '.join(addons)}): private PostgreSQL, fresh database")
    result = []
    with Cluster() as cluster:
        config = write_config(cluster.base / "odoo.conf", cluster, http_port=free_port())
        returncode = run_odoo(
            cluster,
            config,
            log,
            "-i",
            ",".join(addons + TEST_ADDONS),
            "--without-demo=all",
            "--stop-after-init",
            "--log-level=info",
        )
        with open(log, encoding="utf-8", errors="replace") as lines:
            _suites, problems, _final = parse_odoo_log(lines, addons)
        if exit_problem(returncode):
            problems.append(exit_problem(returncode))
        if problems:
            show_log_tail(log)
            return [Suite("odoo install", failed=len(problems), problems=problems)]
        env = {
            **os.environ,
            **cluster.env(),
            "RP_TEST_DB": TEST_DB,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(PYTEST_ODOO_DIR), os.environ.get("PYTHONPATH")])
            ),
        }
        for addon in addons:
            result.append(
                run_pytest(
                    f"pytest-odoo {addon}",
                    [
                        f"--odoo-database={TEST_DB}",
                        f"--odoo-config={config}",
                        "--odoo-http",
                        "-p",
                        "no:cacheprovider",
                        f"{addon}/tests",
                    ],
                    env=env,
                )
            )
    return result


# === main ================================================================================== #


def _interrupted(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--pytest-odoo",
        action="store_true",
        help="run the Odoo suites through pytest-odoo (and skip the core suite)",
    )
    options = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGHUP, _interrupted)

    suites, notes = [], []
    try:
        if not options.pytest_odoo:
            suites.append(run_core())
        reason = odoo_unavailable_reason()
        addons = project_addons()
        if reason:
            notes.append(f"Odoo suites skipped: {reason}")
        elif not addons:
            notes.append("Odoo suites skipped: no addon at the repository root")
        else:
            try:
                suites += (run_pytest_odoo_suites if options.pytest_odoo else run_odoo_suites)(
                    addons
                )
            except (OSError, RuntimeError, subprocess.CalledProcessError) as error:
                suites.append(Suite("odoo", failed=1, problems=[f"cannot run Odoo: {error}"]))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130

    print("\n=== summary")
    for suite in suites:
        for problem in suite.problems:
            print(f"  {suite.name}: {problem}")
    for suite in suites:
        print(suite.line())
    for note in notes:
        print(note)
    totals = [
        sum(getattr(suite, count) for suite in suites) for count in ("passed", "failed", "skipped")
    ]
    print("{} passed, {} failed, {} skipped".format(*totals))
    return 1 if totals[1] or not suites else 0


if __name__ == "__main__":
    sys.exit(main())
