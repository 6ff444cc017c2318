"""What the product imports is installed by requirements.txt alone (make generate's environment)."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
PRODUCT = ["generate.py", "deploy.py", "templates", "rollout", "edgeconfig"]
# The Lambda runtime provides these to the inlined edge handler; it imports nothing else.
EDGE_HANDLER = PROJECT / "templates" / "edge_functions" / "edge_handler.py"


def _requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(re.split(r"[\[=<>~! ]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def _imported_top_level_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_every_third_party_import_of_the_product_is_pinned_in_requirements_txt():
    pinned = _requirement_names(PROJECT / "requirements.txt")
    local = {p.stem if p.suffix == ".py" else p.name for p in PROJECT.iterdir()}
    distributions = packages_distributions()
    missing = []
    files = [f for entry in PRODUCT for f in ([PROJECT / entry] if entry.endswith(".py")
                                              else sorted((PROJECT / entry).rglob("*.py")))]
    assert len(files) > 30
    for path in files:
        if path == EDGE_HANDLER:
            continue
        for module in _imported_top_level_modules(path):
            if module in sys.stdlib_module_names or module in local or module == "__future__":
                continue
            owners = {d.lower().replace("_", "-") for d in distributions.get(module, [])}
            if not owners & pinned:
                missing.append(f"{path.relative_to(PROJECT)} imports {module} ({', '.join(sorted(owners)) or '?'})")
    assert not missing, "not in requirements.txt:\n" + "\n".join(missing)


def test_moto_is_a_runtime_requirement_because_rehearse_is_a_product_command():
    assert "moto" in _requirement_names(PROJECT / "requirements.txt")
    assert "moto" not in _requirement_names(PROJECT / "requirements-dev.txt")
