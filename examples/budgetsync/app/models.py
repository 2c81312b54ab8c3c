"""Database models. The schema itself is owned by the Alembic migrations in ``migrations/``;
``flask db check`` (run by the test suite) proves the two agree."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db


class Budget(db.Model):
    __tablename__ = "budgets"
    __table_args__ = (
        UniqueConstraint("name", "month", name="uq_budgets_name_month"),
        CheckConstraint("limit_cents >= 0", name="limit_non_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    limit_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # First day of the budget's month; the API speaks "YYYY-MM".
    month: Mapped[dt.date] = mapped_column(Date, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )

    transactions: Mapped[list[Transaction]] = relationship(
        back_populates="budget",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Transaction.occurred_on, Transaction.id",
    )

    def summary(self) -> dict[str, int | bool]:
        spent, count = db.session.execute(
            select(func.coalesce(func.sum(Transaction.amount_cents), 0), func.count(Transaction.id)).where(
                Transaction.budget_id == self.id
            )
        ).one()
        spent = int(spent)
        return {
            "spent_cents": spent,
            "remaining_cents": self.limit_cents - spent,
            "transaction_count": int(count),
            "over_limit": spent > self.limit_cents,
        }

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "limit_cents": self.limit_cents,
            "month": self.month.strftime("%Y-%m"),
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


class Transaction(db.Model):
    __tablename__ = "transactions"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    budget_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("budgets.id", ondelete="CASCADE"), nullable=False, index=True
    )
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    description: Mapped[str] = mapped_column(String(255), nullable=False, server_default="")
    occurred_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    # S3 object key of the uploaded receipt, if any.
    receipt_key: Mapped[str | None] = mapped_column(String(1024), nullable=True)

    budget: Mapped[Budget] = relationship(back_populates="transactions")

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "budget_id": self.budget_id,
            "amount_cents": self.amount_cents,
            "description": self.description,
            "occurred_on": self.occurred_on.isoformat(),
            "receipt_key": self.receipt_key,
        }
