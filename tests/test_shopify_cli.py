"""Shopify CLI's own offline checks: `shopify app build` on a copy of the app's configuration.

`shopify app build` needs no login and no network: it validates shopify.app.toml and every extension's
shopify.extension.toml against the schemas the CLI ships, and bundles the web pixel with the CLI's esbuild
settings. The CLI comes from package-lock.json (`make test` installs it). A missing CLI skips these tests on
a laptop and fails them under CI=true, so a configuration Shopify would reject never lands green.

The build runs in a temporary copy (the CLI writes `.shopify/` and `extensions/*/dist/`): the configuration
files and extensions are copied, and `app/` (the extension imports the shared event id file from it) and
`node_modules/` are linked.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from app.config import PROJECT_ROOT

CLI = PROJECT_ROOT / "node_modules" / ".bin" / "shopify"
CONFIG_FILES = ("shopify.app.toml", "shopify.web.toml", "package.json")
EXTENSIONS = sorted(p.parent.name for p in (PROJECT_ROOT / "extensions").glob("*/shopify.extension.toml"))
BUILD_SECONDS = 180  # about 2 s here; the bound only stops a hung CLI


def _cli() -> Path:
    if CLI.exists() and shutil.which("node"):
        return CLI
    message = "Shopify CLI is not installed: run `make node_modules/.installed` (npm install from package-lock.json)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def app_copy(tmp_path: Path) -> Path:
    """The app's Shopify configuration and extensions, as `shopify app build` reads them, in a folder of its own."""
    root = tmp_path / "app-copy"
    root.mkdir()
    for name in CONFIG_FILES:
        shutil.copy(PROJECT_ROOT / name, root / name)
    shutil.copytree(PROJECT_ROOT / "extensions", root / "extensions", ignore=shutil.ignore_patterns("dist"))
    (root / "app").symlink_to(PROJECT_ROOT / "app", target_is_directory=True)
    (root / "node_modules").symlink_to(PROJECT_ROOT / "node_modules", target_is_directory=True)
    return root


def build(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CI": "true", "SHOPIFY_CLI_NO_ANALYTICS": "1", "NO_COLOR": "1",
           "XDG_CONFIG_HOME": str(root.parent / "cli-config"), "XDG_CACHE_HOME": str(root.parent / "cli-cache")}
    return subprocess.run([str(_cli()), "app", "build", "--skip-dependencies-installation", "--path", str(root)],
                          cwd=root, env=env, capture_output=True, text=True, timeout=BUILD_SECONDS, check=False)


def readable(result: subprocess.CompletedProcess[str]) -> str:
    """The CLI's output without its boxes and line wrapping."""
    return " ".join(re.sub("[│╭╮╰╯─]", " ", result.stdout + result.stderr).split())


def built_extensions(result: subprocess.CompletedProcess[str]) -> list[str]:
    return sorted(set(re.findall(r"([\w-]+) successfully built", result.stdout + result.stderr)))


def test_shopify_accepts_the_app_and_builds_every_extension(tmp_path: Path) -> None:
    root = app_copy(tmp_path)
    result = build(root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert built_extensions(result) == EXTENSIONS == ["pinbridge-beacon"]
    bundle = root / "extensions" / "pinbridge-beacon" / "dist" / "pinbridge-beacon.js"
    assert 0 < bundle.stat().st_size < 100_000
    assert "checkout_completed" in bundle.read_text()


@pytest.mark.parametrize(("path", "line", "broken", "message"), [
    # A value of the wrong type in the app's configuration.
    ("shopify.app.toml", "embedded = true", 'embedded = "yes"', "[embedded]: Value must be Boolean"),
    ("shopify.app.toml", 'api_version = "2026-10"', "api_version = 2026",
     "[webhooks.api_version]: Expected string, received number"),
    # The same in the pixel's own configuration.
    ("extensions/pinbridge-beacon/shopify.extension.toml", "analytics = false", 'analytics = "no"',
     "[customer_privacy.analytics]: Expected boolean, received string"),
])
def test_a_configuration_shopify_rejects_fails_the_build(tmp_path: Path, path: str, line: str, broken: str,
                                                          message: str) -> None:
    root = app_copy(tmp_path)
    target = root / path
    text = target.read_text()
    assert text.count(line) == 1
    target.write_text(text.replace(line, broken))
    result = build(root)
    assert result.returncode != 0
    assert message in readable(result)


def test_an_extension_of_an_unknown_type_is_not_built(tmp_path: Path) -> None:
    """The CLI passes a misspelt extension type but builds nothing for it: the first test's list catches that."""
    root = app_copy(tmp_path)
    target = root / "extensions" / "pinbridge-beacon" / "shopify.extension.toml"
    target.write_text(target.read_text().replace('type = "web_pixel_extension"', 'type = "web_pixel_extensions"'))
    result = build(root)
    assert built_extensions(result) == []
