"""Static checks of the Odoo addons at the repository root: no Odoo, no database.

Every folder at the root holding a ``__manifest__.py`` is an addon and gets every check.
"""

import ast
import csv
import re
from pathlib import Path

import polib
import pytest
from lxml import etree

REPO = Path(__file__).resolve().parent.parent
CORE = REPO / "src" / "recurring_payments_core"
ADDONS = sorted(path.parent for path in REPO.glob("*/__manifest__.py"))

VERSION = re.compile(r"^18\.0\.\d+\.\d+\.\d+$")
# The licenses Odoo accepts in a manifest (odoo/modules/module.py).
LICENSES = {
    "GPL-2",
    "GPL-2 or any later version",
    "GPL-3",
    "GPL-3 or any later version",
    "AGPL-3",
    "LGPL-3",
    "Other OSI approved licence",
    "OEEL-1",
    "OPL-1",
    "Other proprietary",
}
ACCESS_HEADER = [
    "id",
    "name",
    "model_id:id",
    "group_id:id",
    "perm_read",
    "perm_write",
    "perm_create",
    "perm_unlink",
]

by_addon = pytest.mark.parametrize("addon", ADDONS, ids=[addon.name for addon in ADDONS])


def manifest(addon):
    return ast.literal_eval((addon / "__manifest__.py").read_text(encoding="utf-8"))


def test_addons_found():
    assert ADDONS, f"no folder with a __manifest__.py in {REPO}"


# === manifest ============================================================================== #


@by_addon
def test_manifest_is_a_literal_dict(addon):
    assert isinstance(manifest(addon), dict)


@by_addon
def test_manifest_version(addon):
    version = manifest(addon).get("version", "")
    assert VERSION.match(version), f"version {version!r} is not 18.0.x.y.z"


@by_addon
def test_manifest_license(addon):
    assert manifest(addon).get("license") in LICENSES


@by_addon
def test_manifest_files_exist(addon):
    data = manifest(addon)
    listed = [name for key in ("data", "demo") for name in data.get(key, [])]
    missing = [name for name in listed if not (addon / name).is_file()]
    assert not missing, f"listed in the manifest but missing: {missing}"


# === data files ============================================================================ #


@by_addon
def test_xml_files_parse(addon):
    errors = []
    for path in sorted(addon.rglob("*.xml")):
        try:
            etree.parse(str(path))
        except etree.XMLSyntaxError as error:
            errors.append(f"{path.relative_to(REPO)}: {error}")
    assert not errors, "\n".join(errors)


def _declares_models(addon):
    pattern = re.compile(r"^\s+_name\s*=", re.MULTILINE)
    return any(pattern.search(path.read_text(encoding="utf-8")) for path in addon.rglob("*.py"))


@by_addon
def test_access_csv(addon):
    path = addon / "security" / "ir.model.access.csv"
    if not path.exists():
        assert not _declares_models(addon), "the addon declares models but has no access CSV"
        pytest.skip("no model of its own, no security/ir.model.access.csv")
    with path.open(encoding="utf-8", newline="") as lines:
        rows = list(csv.reader(lines))
    assert rows and rows[0] == ACCESS_HEADER, f"header is {rows[0] if rows else None}"
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        assert len(row) == 8, f"line {number}: {len(row)} columns: {row}"
        assert row[0] and row[2], f"line {number}: no id or no model: {row}"
        assert set(row[4:]) <= {"0", "1"}, f"line {number}: permissions must be 0 or 1: {row}"


@by_addon
def test_tests_are_all_imported(addon):
    """Odoo runs only the test files that ``tests/__init__.py`` imports."""
    tests = addon / "tests"
    if not tests.is_dir():
        pytest.skip("no tests/ folder")
    init = (
        (tests / "__init__.py").read_text(encoding="utf-8")
        if (tests / "__init__.py").exists()
        else ""
    )
    imported = set(re.findall(r"\b(test_\w+)\b", init))
    forgotten = [path.stem for path in sorted(tests.glob("test_*.py")) if path.stem not in imported]
    assert not forgotten, f"not imported in tests/__init__.py: {forgotten}"


# === translations ========================================================================== #


@by_addon
def test_french_translation_parses(addon):
    path = addon / "i18n" / "fr.po"
    assert path.is_file(), f"{path.relative_to(REPO)} is missing"
    catalog = polib.pofile(str(path))
    assert len(catalog) > 0, "fr.po has no entry"


def _translated(entry):
    if "fuzzy" in entry.flags:
        return False
    if entry.msgid_plural:
        return bool(entry.msgstr_plural) and all(entry.msgstr_plural.values())
    return bool(entry.msgstr.strip())


@by_addon
def test_french_translation_is_complete(addon):
    i18n = addon / "i18n"
    if not i18n.is_dir():
        pytest.skip("no i18n/ folder")
    template = i18n / f"{addon.name}.pot"
    assert template.is_file(), f"{template.relative_to(REPO)} is missing"
    french = i18n / "fr.po"
    assert french.is_file(), f"{french.relative_to(REPO)} is missing"
    translations = {
        (entry.msgctxt, entry.msgid): entry
        for entry in polib.pofile(str(french))
        if not entry.obsolete
    }
    untranslated = [
        entry.msgid
        for entry in polib.pofile(str(template))
        if entry.msgid
        and not _translated(translations.get((entry.msgctxt, entry.msgid), polib.POEntry()))
    ]
    assert not untranslated, (
        f"{len(untranslated)} msgid without a French msgstr, e.g. {untranslated[:5]}"
    )


# === the core stays free of Odoo =========================================================== #

IMPORT_BY_NAME = re.compile(r"""(?:import_module|__import__)\(\s*["']odoo\b""")


def odoo_imports(source):
    """Lines of ``source`` that import odoo, however they do it."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        else:
            continue
        if any(name == "odoo" or name.startswith("odoo.") for name in names):
            found.append(node.lineno)
    found += [source.count("\n", 0, match.start()) + 1 for match in IMPORT_BY_NAME.finditer(source)]
    return sorted(found)


@pytest.mark.parametrize(
    "source, lines",
    [
        ("import odoo\n", [1]),
        ("x = 1\nfrom odoo.tools import float_round\n", [2]),
        ("def f():\n    import odoo.release as r\n", [2]),
        ("import importlib\nimportlib.import_module('odoo.fields')\n", [2]),
        ("import odoolike\nfrom .odoo import x\nodoo = 1\n", []),
    ],
)
def test_odoo_import_detection(source, lines):
    assert odoo_imports(source) == lines


def test_core_never_imports_odoo():
    sources = sorted(CORE.rglob("*.py"))
    assert sources, f"no Python file in {CORE}"
    offenders = {
        str(path.relative_to(REPO)): lines
        for path in sources
        if (lines := odoo_imports(path.read_text(encoding="utf-8")))
    }
    assert not offenders, f"the core imports odoo: {offenders}"
