"""The wheel carries the runbooks: installed into a fresh venv, `ditsops runbook list`
run from another directory lists every shipped runbook."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def uv() -> list[str]:
    found = shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    env = {**os.environ, "UV_COMPILE_BYTECODE": "0"}
    subprocess.run(
        [*uv(), "build", "--wheel", "--out-dir", str(work / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
        env=env,
        timeout=300,
    )
    [wheel] = (work / "dist").glob("ditsops-*.whl")
    venv = work / "venv"
    subprocess.run([*uv(), "venv", "--python", sys.executable, str(venv)], check=True, capture_output=True, env=env)
    subprocess.run(
        [*uv(), "pip", "install", "--python", str(venv / "bin" / "python"), str(wheel)],
        check=True,
        capture_output=True,
        env=env,
        timeout=300,
    )
    return venv


def test_runbook_list_from_an_installed_wheel(installed, tmp_path):
    shipped = sorted(p.stem for p in (ROOT / "runbooks").glob("*.yaml"))
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp_path / "c"),
        "XDG_STATE_HOME": str(tmp_path / "s"),
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [str(installed / "bin" / "ditsops"), "runbook", "list", "--output", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    import json

    listed = json.loads(done.stdout)
    assert sorted(entry["name"] for entry in listed) == shipped
    assert all("site-packages/ditsops/runbooks/" in entry["path"] for entry in listed)
    assert all("problems" not in entry for entry in listed)


def test_the_alert_rules_ship_too(installed):
    site = next((installed / "lib").glob("python*/site-packages"))
    assert (site / "ditsops" / "runbooks" / "alerts" / "dits.rules.yml").is_file()
    assert (site / "ditsops" / "sql" / "long_queries.sql").is_file()


def test_the_dashboards_ship_too(installed, tmp_path):
    site = next((installed / "lib").glob("python*/site-packages"))
    for name in ("overview", "storage", "database"):
        assert (site / "ditsops" / "dashboards" / f"{name}.json").is_file()
    # Loaded from the package, not from a checkout: the installed dash finds its own dashboards.
    done = subprocess.run(
        [
            str(installed / "bin" / "python"),
            "-c",
            "from ditsops.core import dashboards; print(dashboards.find('storage'))",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "site-packages/ditsops/dashboards/storage.json" in done.stdout
