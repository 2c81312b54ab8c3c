"""Fixtures for the BudgetSync suite.

It runs against a REAL PostgreSQL named by ``TEST_DATABASE_URL`` (``cargo xtask test``
starts one). Each session works in schemas it creates and drops itself, so the database
named there is left as it was found. S3 is moto: the moto server at ``AWS_ENDPOINT_URL``
when that is set (loopback only), else moto's in-process ``mock_aws``. Credentials are
forced to dummies: nothing here can reach real AWS.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import os
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest

APP_ROOT = Path(__file__).resolve().parents[1]
if str(APP_ROOT) not in sys.path:
    sys.path.insert(0, str(APP_ROOT))

import boto3  # noqa: E402
from botocore.awsrequest import AWSResponse  # noqa: E402
from botocore.config import Config  # noqa: E402
from sqlalchemy import create_engine, make_url, text  # noqa: E402

from app import create_app, normalize_database_url  # noqa: E402
from app.extensions import db  # noqa: E402

NO_DB_MESSAGE = (
    "TEST_DATABASE_URL is not set: the BudgetSync tests run against a real PostgreSQL. "
    "Run them with `cargo xtask test` (it starts a throwaway cluster and a moto server), "
    "or point TEST_DATABASE_URL at an empty database you own, e.g. "
    "TEST_DATABASE_URL=postgresql://USER@127.0.0.1:5432/budgetsync_test"
)

# Variables that would change how the app configures itself; each test starts without them.
APP_ENV_VARS = (
    "APP_ENV",
    "FLASK_ENV",
    "FLASK_DEBUG",
    "SECRET_KEY",
    "DATABASE_URL",
    "S3_BUCKET",
    "AWS_ENDPOINT_URL_S3",
    "MAX_UPLOAD_BYTES",
)


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def pytest_configure(config):
    if not os.environ.get("TEST_DATABASE_URL"):
        raise pytest.UsageError(NO_DB_MESSAGE)
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint and not _is_loopback(urlparse(endpoint).hostname):
        raise pytest.UsageError(f"AWS_ENDPOINT_URL={endpoint} is not a loopback address; refusing to run")
    # Dummy credentials, always: a developer's real ones must never be used by the suite.
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL_S3"):
        os.environ.pop(var, None)
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    os.environ.setdefault("AWS_REGION", "us-east-1")
    os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"]
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


@pytest.fixture(autouse=True)
def _clean_app_env(monkeypatch):
    for var in APP_ENV_VARS:
        monkeypatch.delenv(var, raising=False)


# ---------------------------------------------------------------- PostgreSQL


@dataclass
class Postgres:
    base_url: str
    engine: object  # AUTOCOMMIT engine on the test database

    def schema_url(self, schema: str) -> str:
        """URL whose connections use ``schema`` (search_path), for the app and Alembic."""
        url = make_url(self.base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    @contextlib.contextmanager
    def fresh_schema(self, prefix: str = "bs"):
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self.engine.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        try:
            yield name, self.schema_url(name)
        finally:
            with self.engine.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))

    def tables(self, schema: str) -> set[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
                {"s": schema},
            )
            return {r[0] for r in rows}


@pytest.fixture(scope="session")
def postgres():
    base = normalize_database_url(os.environ["TEST_DATABASE_URL"])
    engine = create_engine(base, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # pragma: no cover - environment problem
        pytest.fail(f"cannot connect to TEST_DATABASE_URL: {exc}\n{NO_DB_MESSAGE}", pytrace=False)
    yield Postgres(base, engine)
    engine.dispose()


def make_test_app(database_url: str, **overrides):
    config = {
        "APP_ENV": "test",
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": database_url,
        "S3_BUCKET": "budgetsync-unconfigured",
    }
    config.update(overrides)
    return create_app(config)


def dispose(app) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def migrated_schema(postgres):
    """One schema for the session, built by the real migrations (not create_all)."""
    from flask_migrate import upgrade

    with postgres.fresh_schema("bs_app") as (schema, url):
        app = make_test_app(url)
        with app.app_context():
            upgrade()
        dispose(app)
        yield schema, url


@pytest.fixture
def app(migrated_schema, request):
    _, url = migrated_schema
    bucket = request.getfixturevalue("s3").bucket if "s3" in request.fixturenames else "budgetsync-unconfigured"
    app = make_test_app(url, S3_BUCKET=bucket)
    yield app
    with app.app_context():
        db.session.remove()
        db.session.execute(text("TRUNCATE transactions, budgets RESTART IDENTITY CASCADE"))
        db.session.commit()
    dispose(app)


@pytest.fixture
def client(app):
    return app.test_client()


# ---------------------------------------------------------------- S3 (moto)

ACL_HEADERS = ("x-amz-acl",)
ACL_HEADER_PREFIXES = ("x-amz-grant-",)


def acl_headers(request) -> list[str]:
    return [
        h
        for h in request.headers.keys()
        if h.lower() in ACL_HEADERS or h.lower().startswith(ACL_HEADER_PREFIXES)
    ]


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_):
        yield self._body


@dataclass
class S3Env:
    client: object
    bucket: str
    endpoint: str | None
    sent: list = field(default_factory=list)

    def enforce_bucket_owner(self, client) -> list:
        """Make ``client`` behave like a BucketOwnerEnforced bucket, which moto does not:
        any request carrying an ACL is answered 400 AccessControlListNotSupported, as S3
        does. Returns the list every request sent through ``client`` is appended to."""

        def before_send(request, **_):
            self.sent.append(request)
            if acl_headers(request):
                body = (
                    b'<?xml version="1.0" encoding="UTF-8"?><Error>'
                    b"<Code>AccessControlListNotSupported</Code>"
                    b"<Message>The bucket does not allow ACLs</Message></Error>"
                )
                return AWSResponse(request.url, 400, {"Content-Type": "application/xml"}, _Raw(body))
            return None

        client.meta.events.register("before-send.s3", before_send)
        return self.sent


def make_s3_client(endpoint: str | None):
    return boto3.session.Session().client(
        "s3",
        region_name=os.environ["AWS_REGION"],
        endpoint_url=endpoint,
        config=Config(s3={"addressing_style": "path"} if endpoint else {}),
    )


@pytest.fixture
def s3():
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or None
    if endpoint:
        mock = contextlib.nullcontext()
    else:
        from moto import mock_aws

        mock = mock_aws()
    with mock:
        client = make_s3_client(endpoint)
        bucket = f"budgetsync-test-{uuid.uuid4().hex[:12]}"
        kwargs = {}
        if os.environ["AWS_REGION"] != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": os.environ["AWS_REGION"]}
        client.create_bucket(Bucket=bucket, **kwargs)
        client.put_bucket_ownership_controls(
            Bucket=bucket,
            OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        )
        env = S3Env(client, bucket, endpoint)
        yield env
        for obj in client.list_objects_v2(Bucket=bucket).get("Contents", []):
            client.delete_object(Bucket=bucket, Key=obj["Key"])
        client.delete_bucket(Bucket=bucket)


def receipt(data: bytes = b"%PDF-1.4 fake receipt\n", name: str = "receipt.pdf"):
    return {"file": (io.BytesIO(data), name, "application/pdf")}
