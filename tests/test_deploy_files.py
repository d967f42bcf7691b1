"""The files a Procfile platform's Python buildpack reads are there and agree with the lock.

What Heroku's Python buildpack (heroku/heroku-buildpack-python) does with them, read from its bin/detect,
lib/package_manager.sh, lib/python_version.sh and lib/pip.sh:
- with `package.json` at the root, the platform's auto-detection picks Node.js first, so the app names its
  buildpack: `heroku/python` (app.json, and `heroku buildpacks:set heroku/python` in docs/deploy.md);
- the package manager is chosen by exactly one root file among requirements.txt, Pipfile.lock, poetry.lock
  and uv.lock (two is an error), and pip then runs `pip install -r requirements.txt`;
- the Python version comes from runtime.txt (deprecated, and it wins), else `.python-version` (`3.11`),
  else the buildpack's newest default, which the lock was not made for.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from app.config import PROJECT_ROOT, REQUIRED_IN_PRODUCTION

LOCK = PROJECT_ROOT / "requirements" / "main.txt"


def procfile() -> dict[str, str]:
    lines = (PROJECT_ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))


def requirement_lines(path: Path) -> list[str]:
    """Logical lines of a requirements file, continuations joined, comments dropped."""
    joined = path.read_text().replace("\\\n", " ")
    return [line.split(" #")[0].strip() for line in joined.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_the_root_requirements_file_is_the_lock_and_nothing_else() -> None:
    assert requirement_lines(PROJECT_ROOT / "requirements.txt") == ["-r requirements/main.txt"]


def test_the_lock_pins_every_package_with_hashes() -> None:
    lines = requirement_lines(LOCK)
    assert len(lines) > 20
    for line in lines:
        assert re.match(r"^[a-z0-9._-]+(\[[a-z0-9,_-]+\])?==\S+ ", line), line
        assert "--hash=sha256:" in line, line
    names = {line.split("==")[0].split("[")[0] for line in lines}
    # What the Procfile runs and what reaches the platform's PostgreSQL.
    assert {"gunicorn", "flask", "gevent", "psycopg", "psycopg-binary", "alembic"} <= names


def test_one_package_manager_file_and_no_runtime_txt() -> None:
    present = [name for name in ("requirements.txt", "Pipfile", "Pipfile.lock", "poetry.lock", "uv.lock")
               if (PROJECT_ROOT / name).exists()]
    assert present == ["requirements.txt"]
    assert not (PROJECT_ROOT / "runtime.txt").exists(), "runtime.txt would override .python-version"


def test_the_python_version_is_the_one_the_lock_was_made_for() -> None:
    lines = [line.strip() for line in (PROJECT_ROOT / ".python-version").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert len(lines) == 1 and re.fullmatch(r"3\.\d+", lines[0]), lines
    made_for = re.search(r"--python-version (\S+)", LOCK.read_text())
    assert made_for and made_for.group(1) == lines[0]
    requires = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert f"{lines[0]}.0" in SpecifierSet(requires)


def test_the_procfile_migrates_on_release_and_scales_web_and_worker_apart() -> None:
    processes = procfile()
    assert set(processes) == {"web", "worker", "release"}
    web = shlex.split(processes["web"])
    assert web[0] == "gunicorn" and (PROJECT_ROOT / web[web.index("--config") + 1]).is_file()
    assert web[-1] == "app:create_app()"
    assert shlex.split(processes["worker"]) == ["flask", "--app", "app", "worker"]
    assert shlex.split(processes["release"]) == ["flask", "--app", "app", "db", "upgrade"]


def test_app_json_names_the_python_buildpack_postgresql_and_the_secrets() -> None:
    manifest = json.loads((PROJECT_ROOT / "app.json").read_text())
    assert manifest["buildpacks"] == [{"url": "heroku/python"}]
    assert set(manifest["formation"]) == {"web", "worker"} <= set(procfile())
    assert [addon["plan"] for addon in manifest["addons"]] == ["heroku-postgresql"]  # sets DATABASE_URL
    env = manifest["env"]
    assert env["APP_ENV"]["value"] == "production"
    required = {name for name, spec in env.items() if spec.get("required")}
    assert required == set(REQUIRED_IN_PRODUCTION) - {"DATABASE_URL"}
    assert len(manifest["description"]) <= 140


@pytest.mark.parametrize("name", ["requirements.txt", ".python-version", "app.json", "Procfile"])
def test_the_files_are_not_ignored_by_git(name: str) -> None:
    if not (PROJECT_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(["git", "check-ignore", "-q", name], cwd=PROJECT_ROOT, check=False)
    assert ignored.returncode == 1


def test_pip_resolves_the_root_requirements_file_as_the_buildpack_runs_it() -> None:
    """`pip install -r requirements.txt`, offline: every locked package is the one this environment tested."""
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--quiet",
                             "--disable-pip-version-check", "-r", "requirements.txt"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
