"""Receipt storage in S3.

Buckets created since April 2023 have ACLs disabled (Object Ownership = BucketOwnerEnforced):
a PutObject that carries an ACL (even ``private``) fails with AccessControlListNotSupported.
So uploads here never send ``ACL``/``x-amz-acl`` or any ``x-amz-grant-*`` header; access is
governed by the bucket policy and IAM alone.
"""

from __future__ import annotations

import uuid
from typing import IO

import boto3
from botocore.config import Config
from flask import Flask, current_app
from werkzeug.utils import secure_filename

EXTENSION_KEY = "budgetsync.s3"


class StorageNotConfigured(RuntimeError):
    """S3_BUCKET is unset."""


def make_s3_client(app: Flask):
    """Build the S3 client from the app config (region, optional endpoint override)."""
    endpoint = app.config.get("AWS_ENDPOINT_URL")
    cfg = Config(
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
        # Local endpoints (the local cloud, moto) are addressed by IP: use path-style.
        s3={"addressing_style": "path"} if endpoint else {},
    )
    return boto3.session.Session().client(
        "s3",
        region_name=app.config["AWS_REGION"],
        endpoint_url=endpoint,
        config=cfg,
    )


def s3_client():
    """The app's S3 client, created on first use and kept for the app's lifetime."""
    ext = current_app.extensions
    if ext.get(EXTENSION_KEY) is None:
        ext[EXTENSION_KEY] = make_s3_client(current_app)
    return ext[EXTENSION_KEY]


def receipt_key(budget_id: int, transaction_id: int, filename: str | None) -> str:
    safe = secure_filename(filename or "") or "receipt"
    return f"receipts/{budget_id}/{transaction_id}/{uuid.uuid4().hex}-{safe}"


def upload_fileobj(fileobj: IO[bytes], key: str, content_type: str | None = None) -> str:
    """Upload ``fileobj`` to ``S3_BUCKET`` under ``key``; return ``s3://bucket/key``.

    Deliberately no ``ACL`` in ExtraArgs (see the module docstring).
    """
    bucket = current_app.config.get("S3_BUCKET")
    if not bucket:
        raise StorageNotConfigured("S3_BUCKET is not set")
    extra = {"ContentType": content_type} if content_type else {}
    s3_client().upload_fileobj(fileobj, bucket, key, ExtraArgs=extra)
    return f"s3://{bucket}/{key}"
