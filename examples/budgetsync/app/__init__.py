"""BudgetSync: a small Flask + Postgres budgeting API (the app deploykit deploys).

Run it with gunicorn ``"app:create_app()"`` (see Procfile / Dockerfile) or ``flask run``
(``FLASK_APP=app:create_app``, or let Flask find ``wsgi.py``).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from .config import ConfigError, load_config, normalize_database_url
from .extensions import db, migrate

__all__ = ["create_app", "ConfigError", "normalize_database_url"]

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def _configure_logging() -> None:
    # Under gunicorn / the flask CLI nothing has configured logging yet: log to stderr,
    # which EB and App Runner ship to CloudWatch.
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            stream=sys.stderr,
            level=os.environ.get("LOG_LEVEL", "INFO").upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )


def create_app(config_overrides: Mapping[str, Any] | None = None) -> Flask:
    """Application factory. Configuration comes from the environment; ``config_overrides``
    (tests) wins over it. Raises :class:`ConfigError` when required settings are missing."""
    _configure_logging()
    app = Flask(__name__)
    app.config.from_mapping(load_config(os.environ, config_overrides))
    app.json.sort_keys = False  # keep fields in the order the API documents them

    db.init_app(app)
    # Absolute directory: `flask db ...` works from any working directory.
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), compare_type=True)

    from . import models  # noqa: F401  (register the tables on db.metadata)
    from .routes import bp

    app.register_blueprint(bp)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        return jsonify(error=err.name.lower().replace(" ", "_"), message=err.description), err.code

    return app
