"""The files Elastic Beanstalk and Docker read: present, well-formed, and safe to ship."""

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import uuid

import yaml

from conftest import APP_ROOT

HOOK = APP_ROOT / ".platform" / "hooks" / "postdeploy" / "01_migrate.sh"


def _lines(name):
    return (APP_ROOT / name).read_text().splitlines()


def test_procfile_web_process_with_lf_endings():
    raw = (APP_ROOT / "Procfile").read_bytes()
    assert b"\r" not in raw
    assert raw.decode() == (
        'web: gunicorn "app:create_app()" --bind 0.0.0.0:${PORT:-8000} --workers 2 --access-logfile -\n'
    )


def test_hook_is_executable_lf_and_strict():
    raw = HOOK.read_bytes()
    assert b"\r" not in raw
    text = raw.decode()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert "flask db upgrade" in text
    assert 'FLASK_APP="app:create_app"' in text
    assert "/var/app/venv" in text
    assert HOOK.stat().st_mode & stat.S_IXUSR
    assert subprocess.run(["bash", "-n", str(HOOK)]).returncode == 0
    # The executable bit is recorded in git too (a checkout may otherwise lose it).
    if shutil.which("git"):
        res = subprocess.run(
            ["git", "ls-files", "-s", "--", HOOK.name], cwd=HOOK.parent, capture_output=True, text=True
        )
        if res.returncode == 0 and res.stdout.strip():
            assert res.stdout.split()[0] == "100755", res.stdout


def _fake_eb(tmp_path, environment: dict):
    """A stand-in for the EB instance: get-config and a platform venv whose `flask` is ours."""
    get_config = tmp_path / "get-config"
    get_config.write_text(
        "#!/bin/sh\n"
        '[ "$1" = environment ] || exit 2\n'
        f"cat <<'JSON'\n{json.dumps(environment)}\nJSON\n"
    )
    get_config.chmod(0o755)
    bindir = tmp_path / "venv" / "staging-LQM1lest" / "bin"
    bindir.mkdir(parents=True)
    (bindir / "activate").write_text(f'export VIRTUAL_ENV="{bindir.parent}"\nexport PATH="{bindir}:$PATH"\n')
    flask = bindir / "flask"
    flask.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m flask "$@"\n')
    flask.chmod(0o755)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "APP_DIR": str(APP_ROOT),
        "EB_VENV_ROOT": str(tmp_path / "venv"),
        "EB_GET_CONFIG": str(get_config),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    return env


def test_postdeploy_hook_migrates_with_eb_environment(postgres, tmp_path):
    secret = f"hook-secret-{uuid.uuid4().hex}"
    with postgres.fresh_schema("bs_hook") as (schema, url):
        env = _fake_eb(
            tmp_path,
            {"DATABASE_URL": url, "SECRET_KEY": secret, "APP_ENV": "production", "not-a-shell-name": "x"},
        )
        run = subprocess.run(["bash", str(HOOK)], env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr
        assert postgres.tables(schema) == {"alembic_version", "budgets", "transactions"}
        assert secret not in run.stdout + run.stderr


def test_postdeploy_hook_fails_the_deploy_when_migration_fails(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = _fake_eb(
        tmp_path,
        {"DATABASE_URL": f"postgresql://nobody@127.0.0.1:{port}/x", "SECRET_KEY": "s", "APP_ENV": "production"},
    )
    run = subprocess.run(["bash", str(HOOK)], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "migrations applied" not in run.stdout


def test_ebextensions():
    single = yaml.safe_load((APP_ROOT / ".ebextensions" / "01-single-instance.config").read_text())
    opts = single["option_settings"]
    assert opts["aws:elasticbeanstalk:environment"]["EnvironmentType"] == "SingleInstance"
    assert opts["aws:ec2:instances"]["InstanceTypes"] == "t3.micro"
    logs = yaml.safe_load((APP_ROOT / ".ebextensions" / "02-logs.config").read_text())
    cw = logs["option_settings"]["aws:elasticbeanstalk:cloudwatch:logs"]
    assert cw == {"StreamLogs": True, "RetentionInDays": 7, "DeleteOnTerminate": False}


def test_ebignore_ships_what_eb_needs_and_no_secrets():
    rules = [line.strip() for line in _lines(".ebignore") if line.strip() and not line.startswith("#")]
    for needed in ("migrations", ".platform", ".ebextensions", "app", "Procfile", "requirements.txt", "wsgi.py"):
        assert not any(r.strip("/") == needed for r in rules), needed
    for excluded in ("tests/", ".env", ".env.*", "__pycache__/", ".venv/"):
        assert excluded in rules, excluded


def test_dockerfile_after_the_seed():
    text = (APP_ROOT / "Dockerfile").read_text()
    # The base image defaults to the seed's and may be overridden (the local stand-in).
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.12-slim$", text, re.M)
    assert re.search(r"^FROM \$\{PYTHON_IMAGE\}$", text, re.M)
    assert "--no-cache-dir" in text
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"PORT=8080", text)
    assert re.search(r"^EXPOSE 8080$", text, re.M)
    cmd = re.search(r"^CMD (.+)$", text, re.M).group(1)
    assert "gunicorn" in cmd and "${PORT}" in cmd and "app:create_app()" in cmd
    for src in re.findall(r"^COPY (\S+)", text, re.M):
        assert (APP_ROOT / src).exists(), f"COPY source {src} missing"


def test_dockerignore_keeps_secrets_and_tests_out():
    rules = {line.strip() for line in _lines(".dockerignore") if line.strip() and not line.startswith("#")}
    assert {".env", ".env.*", ".git", "tests"} <= rules


def test_requirements_are_pinned():
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in _lines(name):
            line = line.split("#")[0].strip()
            if not line or line.startswith("-r "):
                continue
            assert re.fullmatch(r"[A-Za-z0-9_.\-]+(\[[a-z0-9,]+\])?==[0-9][A-Za-z0-9.]*", line), line
    direct = {line.split("==")[0].lower() for line in _lines("requirements.txt") if "==" in line}
    assert {"flask", "flask-sqlalchemy", "flask-migrate", "psycopg2-binary", "boto3", "gunicorn"} <= direct


def test_env_example_has_placeholders_only():
    for line in _lines(".env.example"):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, value = line.partition("=")
        assert re.fullmatch(r"[A-Z_][A-Z0-9_]*", key), line
        assert "<" in value or value in ("development", "us-east-1"), line
