"""Configuration comes from the environment only; production refuses to start half-configured."""

import logging

import pytest
from sqlalchemy import make_url

from app import ConfigError, create_app, normalize_database_url
from app.config import load_config
from app.extensions import db
from app.storage import make_s3_client

DB = "postgresql://user:pw@127.0.0.1:5432/budgetsync"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@h:5432/d", "postgresql+psycopg2://u:p@h:5432/d"),
        ("postgresql://u:p@h:5432/d", "postgresql+psycopg2://u:p@h:5432/d"),
        ("postgresql+psycopg2://u:p@h/d", "postgresql+psycopg2://u:p@h/d"),
        ("  POSTGRES://u@h/d?sslmode=require ", "postgresql+psycopg2://u@h/d?sslmode=require"),
    ],
)
def test_database_url_is_normalised_to_psycopg2(given, expected):
    assert normalize_database_url(given) == expected


def test_database_url_without_scheme_is_refused():
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        normalize_database_url("localhost:5432/budgetsync")


def test_app_accepts_heroku_style_postgres_url(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "s3cr3t")
    monkeypatch.setenv("DATABASE_URL", "postgres://user:pw@127.0.0.1:5432/budgetsync")
    app = create_app()
    with app.app_context():
        assert db.engine.url.drivername == "postgresql+psycopg2"
        assert db.engine.url.database == "budgetsync"
    assert make_url(app.config["SQLALCHEMY_DATABASE_URI"]).password == "pw"


def test_production_is_the_default_and_requires_secret_key(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", DB)
    with pytest.raises(ConfigError, match="SECRET_KEY is required"):
        create_app()


def test_explicit_production_without_secret_key_is_refused(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", DB)
    monkeypatch.setenv("SECRET_KEY", "")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()


def test_production_requires_database_url(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "s3cr3t")
    with pytest.raises(ConfigError, match="DATABASE_URL is required"):
        create_app()


def test_production_config_from_environment(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "s3cr3t")
    monkeypatch.setenv("DATABASE_URL", DB)
    monkeypatch.setenv("S3_BUCKET", "budgetsync-uploads")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    app = create_app()
    assert app.config["APP_ENV"] == "production"
    assert app.config["SECRET_KEY"] == "s3cr3t"
    assert app.config["S3_BUCKET"] == "budgetsync-uploads"
    assert app.config["AWS_REGION"] == "eu-west-1"
    assert app.config["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert not app.debug and not app.testing
    client = make_s3_client(app)
    assert client.meta.endpoint_url == "http://127.0.0.1:4566"
    assert client.meta.region_name == "eu-west-1"


def test_s3_client_uses_regional_aws_endpoint_without_override(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    app = create_app({"APP_ENV": "test", "DATABASE_URL": DB, "AWS_REGION": "eu-west-1"})
    assert app.config["AWS_ENDPOINT_URL"] is None
    assert make_s3_client(app).meta.endpoint_url == "https://s3.eu-west-1.amazonaws.com"


def test_s3_specific_endpoint_wins():
    cfg = load_config(
        {
            "APP_ENV": "development",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
            "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:2",
        }
    )
    assert cfg["AWS_ENDPOINT_URL"] == "http://127.0.0.1:2"


def test_development_gets_a_generated_secret_key():
    cfg = load_config({"APP_ENV": "development"})
    assert len(cfg["SECRET_KEY"]) >= 32
    assert cfg["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg2://")


def test_unknown_app_env_is_refused():
    with pytest.raises(ConfigError, match="APP_ENV"):
        load_config({"APP_ENV": "staging-ish"})


def test_flask_env_is_warned_about_and_ignored(monkeypatch, caplog):
    monkeypatch.setenv("FLASK_ENV", "development")
    monkeypatch.setenv("SECRET_KEY", "s3cr3t")
    monkeypatch.setenv("DATABASE_URL", DB)
    with caplog.at_level(logging.WARNING, logger="budgetsync"):
        app = create_app()
    warnings = [r for r in caplog.records if r.name == "budgetsync" and r.levelno == logging.WARNING]
    assert warnings, "expected a warning about FLASK_ENV"
    assert "FLASK_ENV" in warnings[0].getMessage()
    assert "2.3" in warnings[0].getMessage()
    # ... and it changed nothing: still production, no debugger.
    assert app.config["APP_ENV"] == "production"
    assert not app.debug


def test_no_flask_env_no_warning(monkeypatch, caplog):
    with caplog.at_level(logging.WARNING, logger="budgetsync"):
        load_config({"APP_ENV": "development"})
    assert not [r for r in caplog.records if "FLASK_ENV" in r.getMessage()]
