"""Receipt uploads go to S3 with boto3 upload_fileobj and carry NO ACL.

New buckets have ACLs disabled (BucketOwnerEnforced) and answer any ACL with
AccessControlListNotSupported; moto does not enforce that, so ``S3Env.enforce_bucket_owner``
does, on the very client the app uses.
"""

import io

import pytest
from botocore.exceptions import ClientError

from app import storage
from conftest import acl_headers, receipt


@pytest.fixture
def guarded(app, s3):
    """The app's own S3 client, behaving like a BucketOwnerEnforced bucket."""
    with app.app_context():
        client = storage.s3_client()
    sent = s3.enforce_bucket_owner(client)
    return client, sent


def _budget_with_tx(client):
    b = client.post("/budgets", json={"name": "Travel", "limit_cents": 50000, "month": "2026-11"}).get_json()
    t = client.post(
        f"/budgets/{b['id']}/transactions",
        json={"amount_cents": 8900, "description": "train", "occurred_on": "2026-11-12"},
    ).get_json()
    return b, t


def test_upload_stores_object_and_key_without_acl(client, s3, guarded):
    _, sent = guarded
    b, t = _budget_with_tx(client)
    data = b"%PDF-1.4 train ticket\n" * 10
    resp = client.post(
        f"/budgets/{b['id']}/transactions/{t['id']}/receipt",
        data=receipt(data, "ticket 12.pdf"),
        content_type="multipart/form-data",
    )
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    key = body["receipt_key"]
    assert key.startswith(f"receipts/{b['id']}/{t['id']}/") and key.endswith("-ticket_12.pdf")
    assert body["receipt_url"] == f"s3://{s3.bucket}/{key}"

    # The object is in the bucket with the uploaded bytes and content type.
    obj = s3.client.get_object(Bucket=s3.bucket, Key=key)
    assert obj["Body"].read() == data
    assert obj["ContentType"] == "application/pdf"

    # The request that wrote it sent no ACL of any kind.
    puts = [r for r in sent if r.method == "PUT" and key.split("/")[-1] in r.url]
    assert puts, "expected the PutObject request to be observed"
    assert all(acl_headers(r) == [] for r in sent)

    # And the object's ACL is the owner's FULL_CONTROL alone.
    acl = s3.client.get_object_acl(Bucket=s3.bucket, Key=key)
    assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"]
    assert acl["Grants"][0]["Grantee"].get("ID") == acl["Owner"]["ID"]

    # The key is stored on the transaction.
    listed = client.get(f"/budgets/{b['id']}/transactions").get_json()["transactions"]
    assert listed[0]["receipt_key"] == key


def test_guard_rejects_the_seed_acl_private_bug(s3, guarded):
    """The seed's ExtraArgs={"ACL": "private"} fails against a BucketOwnerEnforced bucket:
    prove the guard the upload test relies on catches it."""
    client, _ = guarded
    with pytest.raises(ClientError) as err:
        client.upload_fileobj(io.BytesIO(b"x"), s3.bucket, "seed-bug", ExtraArgs={"ACL": "private"})
    assert err.value.response["Error"]["Code"] == "AccessControlListNotSupported"


def test_upload_requires_a_file_part(client, s3, guarded):
    b, t = _budget_with_tx(client)
    url = f"/budgets/{b['id']}/transactions/{t['id']}/receipt"
    resp = client.post(url, data={"other": "x"}, content_type="multipart/form-data")
    assert resp.status_code == 400
    assert "file" in resp.get_json()["details"]
    resp = client.post(url, data={"file": (io.BytesIO(b"x"), "")}, content_type="multipart/form-data")
    assert resp.status_code == 400


def test_upload_to_unknown_or_foreign_transaction_is_404(client, s3, guarded):
    b, t = _budget_with_tx(client)
    other = client.post("/budgets", json={"name": "Other", "limit_cents": 1, "month": "2026-11"}).get_json()
    resp = client.post(
        f"/budgets/{other['id']}/transactions/{t['id']}/receipt",
        data=receipt(),
        content_type="multipart/form-data",
    )
    assert resp.status_code == 404
    resp = client.post(
        f"/budgets/{b['id']}/transactions/9999/receipt", data=receipt(), content_type="multipart/form-data"
    )
    assert resp.status_code == 404


def test_upload_without_bucket_configured_is_503(migrated_schema):
    from conftest import dispose, make_test_app

    app = make_test_app(migrated_schema[1], S3_BUCKET=None)
    try:
        client = app.test_client()
        b, t = _budget_with_tx(client)
        resp = client.post(
            f"/budgets/{b['id']}/transactions/{t['id']}/receipt", data=receipt(), content_type="multipart/form-data"
        )
        assert resp.status_code == 503
        assert resp.get_json()["error"] == "uploads_not_configured"
    finally:
        from sqlalchemy import text

        from app.extensions import db

        with app.app_context():
            db.session.execute(text("TRUNCATE transactions, budgets RESTART IDENTITY CASCADE"))
            db.session.commit()
        dispose(app)


def test_upload_to_missing_bucket_is_502_and_stores_nothing(client, app, s3, guarded):
    app.config["S3_BUCKET"] = f"{s3.bucket}-missing"
    b, t = _budget_with_tx(client)
    resp = client.post(
        f"/budgets/{b['id']}/transactions/{t['id']}/receipt", data=receipt(), content_type="multipart/form-data"
    )
    assert resp.status_code == 502
    assert resp.get_json()["error"] == "storage_unavailable"
    assert client.get(f"/budgets/{b['id']}/transactions").get_json()["transactions"][0]["receipt_key"] is None


def test_upload_too_large_is_413(client, app, s3, guarded):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    b, t = _budget_with_tx(client)
    resp = client.post(
        f"/budgets/{b['id']}/transactions/{t['id']}/receipt",
        data=receipt(b"x" * 4096),
        content_type="multipart/form-data",
    )
    assert resp.status_code == 413
    assert resp.get_json()["error"] == "request_entity_too_large"
