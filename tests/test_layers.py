"""The house's rules, read from the code's own imports: every arrow points down the order's path.

- The acknowledgement path (the WSGI fast path and what it imports) reaches nothing of the worker, the
  merchant's side or operations.
- Mapping is pure: no Flask, no database, no clock of its own.
- Delivery imports no module that defines a Blueprint.
- Nothing below the merchant's side or operations imports them, except the process shells that start
  everything (the app factory, the command line, the worker's periodic jobs).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "app"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(APP.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in APP.rglob("*.py")}


@cache
def imports(module: str) -> frozenset[str]:
    """Every `app.*` module and every third-party top-level package the module imports, at any depth."""
    tree = ast.parse(MODULES[module].read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{module}: relative import"  # imports are absolute
            found.add(node.module)
            for alias in node.names:  # `from app.ingest import beacon` imports the module app.ingest.beacon
                if f"{node.module}.{alias.name}" in MODULES:
                    found.add(f"{node.module}.{alias.name}")
    return frozenset(found)


@cache
def reach(module: str) -> frozenset[str]:
    """The app modules `module` imports, directly or through others (a package's __init__ included)."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        for name in imports(current):
            candidates = [name] + [name.rsplit(".", n)[0] for n in range(1, name.count("."))]
            for candidate in candidates:
                if candidate in MODULES and candidate not in seen and candidate != "app":
                    seen.add(candidate)
                    todo.append(candidate)
    return frozenset(seen)


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_every_module_is_known() -> None:
    assert "app.ingest.wsgi" in MODULES and "app.mapping.purchase" in MODULES
    assert len(MODULES) > 40


@pytest.mark.parametrize("forbidden", ["app.delivery", "app.merchant", "app.ops", "app.shopify", "app.inbox.routing",
                                       "app.beacons"])
def test_the_acknowledgement_path_imports_nothing_of_the_worker_the_merchant_or_operations(forbidden: str) -> None:
    reached = reach("app.ingest.wsgi")
    assert "app.inbox.receipts" in reached and "app.ingest.verify" in reached  # the walk sees the real path
    assert not [m for m in reached if _under(m, forbidden)]


PURE_GROUND = {"app", "app.vocabulary"}  # the words (enums), nothing else of the app


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _under(m, "app.mapping")))
def test_mapping_is_pure(module: str) -> None:
    outside = {name for name in imports(module) if name.split(".")[0] in {"flask", "sqlalchemy", "flask_sqlalchemy"}
               or (_under(name, "app") and not _under(name, "app.mapping") and name not in PURE_GROUND)}
    assert outside == set()
    assert "datetime.now" not in MODULES[module].read_text()  # the caller passes `now`


def _defines_blueprint(module: str) -> bool:
    return "Blueprint(" in MODULES[module].read_text()


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _under(m, "app.delivery")))
def test_delivery_imports_no_blueprint(module: str) -> None:
    assert [m for m in reach(module) if _defines_blueprint(m)] == []


# The shells that start the processes may import every stage; no other module looks upward.
SHELLS = {"app", "app.ops.cli", "app.delivery.worker", "app.delivery"}
UPPER = ("app.merchant", "app.ops")


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not any(_under(m, p) for p in UPPER)
                                          and m not in SHELLS))
def test_lower_layers_never_import_the_merchant_side_or_operations(module: str) -> None:
    upward = [name for name in imports(module) if any(_under(name, p) for p in UPPER)]
    assert upward == []


def test_the_walk_follows_package_imports() -> None:
    """The walk follows `from package import module` as an import of that module, and through packages."""
    assert "app.inbox.receipts" in imports("app.ingest.wsgi")
    assert "app.ingest.verify" in reach("app.ingest.webhooks")
