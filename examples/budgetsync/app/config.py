"""Configuration from the environment only (12-factor).

Nothing here reads files: every setting comes from an environment variable, optionally
overridden by the ``config_overrides`` mapping given to :func:`app.create_app` (tests).

Variables:

``APP_ENV``            ``production`` (default), ``development`` or ``test``.
``SECRET_KEY``         required when ``APP_ENV`` is ``production``.
``DATABASE_URL``       Postgres URL; ``postgres://``, ``postgresql://`` and
                       ``postgresql+psycopg2://`` are accepted. Required in production.
``S3_BUCKET``          bucket for receipt uploads (uploads answer 503 while unset).
``AWS_REGION``         region for the S3 client (``AWS_DEFAULT_REGION`` is the fallback).
``AWS_ENDPOINT_URL``   optional endpoint override (the local cloud); ``AWS_ENDPOINT_URL_S3``
                       wins over it for S3.
``MAX_UPLOAD_BYTES``   upload size limit, default 10 MiB.

``FLASK_ENV`` has been ignored by Flask since 2.3: when it is set we log a warning and
otherwise ignore it.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("budgetsync")

APP_ENVS = ("production", "development", "test")
DEFAULT_REGION = "us-east-1"
DEFAULT_DEV_DATABASE_URL = "postgresql+psycopg2://localhost:5432/budgetsync"

# Keys read from the environment, in the order they are documented.
ENV_KEYS = (
    "APP_ENV",
    "SECRET_KEY",
    "DATABASE_URL",
    "S3_BUCKET",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "MAX_UPLOAD_BYTES",
)


class ConfigError(RuntimeError):
    """The environment does not describe a runnable app; the message says what to set."""


def normalize_database_url(url: str) -> str:
    """Return ``url`` with a ``postgresql+psycopg2://`` scheme.

    Heroku-style ``postgres://`` and plain ``postgresql://`` URLs both name the psycopg2
    driver explicitly afterwards (SQLAlchemy 1.4+ refuses ``postgres://``). Any other
    scheme is returned unchanged.
    """
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(f"DATABASE_URL is not a URL (expected postgresql://...): {scheme[:12]!r}...")
    if scheme.lower() in ("postgres", "postgresql"):
        return f"postgresql+psycopg2://{rest}"
    return url


def _int(name: str, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None


def load_config(
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the Flask config mapping from ``environ`` (default ``os.environ``) and overrides.

    Raises :class:`ConfigError` when a required setting is missing.
    """
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})

    if environ.get("FLASK_ENV"):
        log.warning(
            "FLASK_ENV=%s is set but ignored: Flask removed FLASK_ENV in 2.3. "
            "Use APP_ENV=production|development|test (and FLASK_DEBUG=1 for the debugger).",
            environ["FLASK_ENV"],
        )

    raw: dict[str, Any] = {k: environ[k] for k in ENV_KEYS if environ.get(k)}
    if "AWS_REGION" not in raw and environ.get("AWS_DEFAULT_REGION"):
        raw["AWS_REGION"] = environ["AWS_DEFAULT_REGION"]
    if environ.get("AWS_ENDPOINT_URL_S3"):
        raw["AWS_ENDPOINT_URL"] = environ["AWS_ENDPOINT_URL_S3"]
    raw.update(overrides)

    app_env = str(raw.get("APP_ENV") or "production").strip().lower()
    if app_env not in APP_ENVS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(APP_ENVS)}; got {app_env!r}")
    production = app_env == "production"

    secret_key = raw.get("SECRET_KEY")
    if not secret_key:
        if production:
            raise ConfigError(
                "SECRET_KEY is required when APP_ENV=production (the default). "
                "Set it from Secrets Manager / the environment, or set APP_ENV=development locally."
            )
        secret_key = secrets.token_hex(32)

    if "SQLALCHEMY_DATABASE_URI" in raw:
        db_url = raw["SQLALCHEMY_DATABASE_URI"]
    else:
        db_url = raw.get("DATABASE_URL")
        if not db_url:
            if production:
                raise ConfigError(
                    "DATABASE_URL is required when APP_ENV=production, e.g. "
                    "postgresql://USER:PASSWORD@HOST:5432/DBNAME"
                )
            db_url = DEFAULT_DEV_DATABASE_URL
    if isinstance(db_url, str):
        db_url = normalize_database_url(db_url)

    max_upload = _int("MAX_UPLOAD_BYTES", raw.get("MAX_UPLOAD_BYTES", 10 * 1024 * 1024))

    config: dict[str, Any] = {
        "APP_ENV": app_env,
        "TESTING": app_env == "test",
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": db_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {
            # Survive RDS failovers and idle-connection reaping.
            "pool_pre_ping": True,
            "pool_recycle": 1800,
            # Keep /healthz from hanging when the database is unreachable.
            "connect_args": {"connect_timeout": 5},
        },
        "S3_BUCKET": raw.get("S3_BUCKET") or None,
        "AWS_REGION": raw.get("AWS_REGION") or DEFAULT_REGION,
        "AWS_ENDPOINT_URL": raw.get("AWS_ENDPOINT_URL") or None,
        "MAX_CONTENT_LENGTH": max_upload,
    }
    # Anything else the caller overrode (Flask or extension settings) passes through.
    for key, value in overrides.items():
        if key not in ENV_KEYS and key not in ("SQLALCHEMY_DATABASE_URI",):
            config[key] = value
    return config
