"""JSON API: health, budgets, transactions, receipt uploads."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from flask import Blueprint, abort, jsonify, request
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from . import storage
from .extensions import db
from .models import Budget, Transaction

log = logging.getLogger("budgetsync")
bp = Blueprint("api", __name__)

MAX_CENTS = 10**12  # ten billion currency units: anything above is a typo


class ValidationError(Exception):
    def __init__(self, details: dict[str, str]):
        super().__init__("validation failed")
        self.details = details


@bp.app_errorhandler(ValidationError)
def _validation_error(err: ValidationError):
    return jsonify(error="validation_failed", details=err.details), 400


# ---------------------------------------------------------------- health


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        db.session.rollback()
        detail = str(getattr(exc, "orig", None) or exc).strip()
        reason = (detail.splitlines() or [type(exc).__name__])[0][:200]
        log.warning("healthz: database check failed: %s", reason)
        return jsonify(status="error", db="unreachable", reason=reason), 503
    return jsonify(status="ok", db="ok"), 200


# ---------------------------------------------------------------- validation helpers


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError({"body": "expected a JSON object (Content-Type: application/json)"})
    return body


def _int_field(body, name, errors, *, minimum, required=True):
    value = body.get(name)
    if value is None:
        if required:
            errors[name] = "required"
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        errors[name] = "must be an integer number of cents"
        return None
    if value < minimum or value > MAX_CENTS:
        errors[name] = f"must be between {minimum} and {MAX_CENTS}"
        return None
    return value


def _str_field(body, name, errors, *, max_len, required=True, default=None):
    value = body.get(name, default)
    if value is None:
        if required:
            errors[name] = "required"
        return None
    if not isinstance(value, str):
        errors[name] = "must be a string"
        return None
    value = value.strip()
    if required and not value:
        errors[name] = "must not be empty"
        return None
    if len(value) > max_len:
        errors[name] = f"must be at most {max_len} characters"
        return None
    return value


def _month_field(body, errors) -> dt.date | None:
    value = body.get("month")
    if value is None:
        errors["month"] = "required"
        return None
    try:
        if not isinstance(value, str) or len(value) != 7:
            raise ValueError
        return dt.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        errors["month"] = "must be a month as YYYY-MM"
        return None


def _date_field(body, name, errors) -> dt.date | None:
    value = body.get(name)
    if value is None:
        errors[name] = "required"
        return None
    try:
        if not isinstance(value, str):
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        errors[name] = "must be a date as YYYY-MM-DD"
        return None


def _get_budget(budget_id: int) -> Budget:
    budget = db.session.get(Budget, budget_id)
    if budget is None:
        abort(404, description=f"budget {budget_id} not found")
    return budget


def _get_transaction(budget: Budget, transaction_id: int) -> Transaction:
    tx = db.session.get(Transaction, transaction_id)
    if tx is None or tx.budget_id != budget.id:
        abort(404, description=f"transaction {transaction_id} not found in budget {budget.id}")
    return tx


# ---------------------------------------------------------------- budgets


@bp.get("/budgets")
def list_budgets():
    budgets = db.session.scalars(select(Budget).order_by(Budget.month.desc(), Budget.id)).all()
    return jsonify(budgets=[b.to_dict() for b in budgets])


@bp.post("/budgets")
def create_budget():
    body = _json_body()
    errors: dict[str, str] = {}
    name = _str_field(body, "name", errors, max_len=120)
    limit_cents = _int_field(body, "limit_cents", errors, minimum=0)
    month = _month_field(body, errors)
    if errors:
        raise ValidationError(errors)
    budget = Budget(name=name, limit_cents=limit_cents, month=month)
    db.session.add(budget)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return (
            jsonify(error="conflict", details={"name": f"a budget named {name!r} exists for {body['month']}"}),
            409,
        )
    return jsonify(budget.to_dict()), 201, {"Location": f"/budgets/{budget.id}"}


@bp.get("/budgets/<int:budget_id>")
def get_budget(budget_id: int):
    budget = _get_budget(budget_id)
    return jsonify({**budget.to_dict(), "summary": budget.summary()})


# ---------------------------------------------------------------- transactions


@bp.get("/budgets/<int:budget_id>/transactions")
def list_transactions(budget_id: int):
    budget = _get_budget(budget_id)
    return jsonify(transactions=[t.to_dict() for t in budget.transactions])


@bp.post("/budgets/<int:budget_id>/transactions")
def create_transaction(budget_id: int):
    budget = _get_budget(budget_id)
    body = _json_body()
    errors: dict[str, str] = {}
    amount = _int_field(body, "amount_cents", errors, minimum=1)
    description = _str_field(body, "description", errors, max_len=255, required=False, default="")
    occurred_on = _date_field(body, "occurred_on", errors)
    if occurred_on and (occurred_on.year, occurred_on.month) != (budget.month.year, budget.month.month):
        errors["occurred_on"] = f"must fall within the budget's month {budget.month:%Y-%m}"
    if errors:
        raise ValidationError(errors)
    tx = Transaction(budget=budget, amount_cents=amount, description=description or "", occurred_on=occurred_on)
    db.session.add(tx)
    db.session.commit()
    return (
        jsonify(tx.to_dict()),
        201,
        {"Location": f"/budgets/{budget.id}/transactions/{tx.id}"},
    )


@bp.post("/budgets/<int:budget_id>/transactions/<int:transaction_id>/receipt")
def upload_receipt(budget_id: int, transaction_id: int):
    budget = _get_budget(budget_id)
    tx = _get_transaction(budget, transaction_id)
    upload = request.files.get("file")
    if upload is None:
        raise ValidationError({"file": "required: send multipart/form-data with a 'file' part"})
    if not upload.filename:
        raise ValidationError({"file": "the file part needs a filename"})
    key = storage.receipt_key(budget.id, tx.id, upload.filename)
    try:
        url = storage.upload_fileobj(upload.stream, key, upload.mimetype or None)
    except storage.StorageNotConfigured:
        return jsonify(error="uploads_not_configured", details={"S3_BUCKET": "not set"}), 503
    except (ClientError, BotoCoreError) as exc:
        log.error("receipt upload to S3 failed for key %s: %s", key, exc)
        return jsonify(error="storage_unavailable", details={"s3": type(exc).__name__}), 502
    tx.receipt_key = key
    db.session.commit()
    return jsonify({**tx.to_dict(), "receipt_url": url}), 201
