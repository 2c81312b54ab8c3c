"""The committed migrations build the schema on an empty database, and match the models."""

import os
import subprocess
import sys

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from app.extensions import db

from conftest import APP_ROOT, dispose, make_test_app


def test_flask_db_upgrade_cli_on_empty_database_then_no_drift(postgres, tmp_path):
    with postgres.fresh_schema("bs_mig") as (schema, url):
        assert postgres.tables(schema) == set()

        # Exactly what the EB postdeploy hook runs: `flask db upgrade`, production config,
        # started from another working directory.
        env = {
            k: v for k, v in os.environ.items() if k not in ("FLASK_ENV", "APP_ENV", "S3_BUCKET")
        }
        env.update(
            FLASK_APP="app:create_app",
            PYTHONPATH=str(APP_ROOT),
            SECRET_KEY="migration-test",
            DATABASE_URL=url,
            PYTHONDONTWRITEBYTECODE="1",
        )
        run = subprocess.run(
            [sys.executable, "-m", "flask", "db", "upgrade"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        assert "Running upgrade  -> 0001" in run.stderr

        assert postgres.tables(schema) == {"alembic_version", "budgets", "transactions"}
        with postgres.engine.connect() as conn:
            version = conn.execute(text(f'SELECT version_num FROM "{schema}".alembic_version')).scalar_one()
        assert version == "0001"

        app = make_test_app(url)
        try:
            runner = app.test_cli_runner()
            check = runner.invoke(args=["db", "check"])
            assert check.exit_code == 0, check.output
            # The same comparison, asked directly: no differences at all.
            with app.app_context(), db.engine.connect() as conn:
                mc = MigrationContext.configure(conn, opts={"compare_type": True})
                assert compare_metadata(mc, db.metadata) == []

            # Idempotent: a second upgrade is a no-op.
            again = runner.invoke(args=["db", "upgrade"])
            assert again.exit_code == 0, again.output

            # The check really detects drift: a column the models do not know about.
            with postgres.engine.connect() as conn:
                conn.execute(text(f'ALTER TABLE "{schema}".budgets ADD COLUMN stray integer'))
            drift = runner.invoke(args=["db", "check"])
            assert drift.exit_code != 0
            with postgres.engine.connect() as conn:
                conn.execute(text(f'ALTER TABLE "{schema}".budgets DROP COLUMN stray'))

            down = runner.invoke(args=["db", "downgrade", "base"])
            assert down.exit_code == 0, down.output
            assert postgres.tables(schema) == {"alembic_version"}
        finally:
            dispose(app)


def test_check_fails_on_unmigrated_database(postgres):
    with postgres.fresh_schema("bs_empty") as (_, url):
        app = make_test_app(url)
        try:
            result = app.test_cli_runner().invoke(args=["db", "check"])
            assert result.exit_code != 0
        finally:
            dispose(app)


def test_single_head():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config(str(APP_ROOT / "migrations" / "alembic.ini"))
    cfg.set_main_option("script_location", str(APP_ROOT / "migrations"))
    heads = ScriptDirectory.from_config(cfg).get_heads()
    assert heads == ["0001"]
