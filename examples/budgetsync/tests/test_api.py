"""Budgets and transactions: CRUD, summaries, validation errors as 400 JSON."""

import pytest


def make_budget(client, **fields):
    body = {"name": "Groceries", "limit_cents": 40000, "month": "2026-11", **fields}
    resp = client.post("/budgets", json=body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def add_tx(client, budget_id, **fields):
    body = {"amount_cents": 1250, "description": "bread", "occurred_on": "2026-11-03", **fields}
    return client.post(f"/budgets/{budget_id}/transactions", json=body)


def test_create_and_list_budgets(client):
    assert client.get("/budgets").get_json() == {"budgets": []}
    created = make_budget(client)
    assert created["name"] == "Groceries"
    assert created["limit_cents"] == 40000
    assert created["month"] == "2026-11"
    assert created["created_at"]
    make_budget(client, name="Rent", month="2026-12", limit_cents=120000)
    listed = client.get("/budgets").get_json()["budgets"]
    assert [b["name"] for b in listed] == ["Rent", "Groceries"]  # newest month first


def test_create_budget_sets_location(client):
    resp = client.post("/budgets", json={"name": "Fun", "limit_cents": 0, "month": "2026-01"})
    assert resp.status_code == 201
    assert resp.headers["Location"] == f"/budgets/{resp.get_json()['id']}"


def test_get_budget_with_summary(client):
    budget = make_budget(client, limit_cents=3000)
    assert add_tx(client, budget["id"], amount_cents=1000).status_code == 201
    assert add_tx(client, budget["id"], amount_cents=2500, occurred_on="2026-11-30").status_code == 201
    body = client.get(f"/budgets/{budget['id']}").get_json()
    assert body["name"] == "Groceries"
    assert body["summary"] == {
        "spent_cents": 3500,
        "remaining_cents": -500,
        "transaction_count": 2,
        "over_limit": True,
    }


def test_empty_budget_summary(client):
    budget = make_budget(client)
    summary = client.get(f"/budgets/{budget['id']}").get_json()["summary"]
    assert summary == {"spent_cents": 0, "remaining_cents": 40000, "transaction_count": 0, "over_limit": False}


def test_unknown_budget_is_404(client):
    assert client.get("/budgets/999").status_code == 404
    assert client.get("/budgets/999/transactions").status_code == 404
    assert add_tx(client, 999).status_code == 404


def test_duplicate_budget_name_in_month_is_409(client):
    make_budget(client)
    resp = client.post("/budgets", json={"name": "Groceries", "limit_cents": 1, "month": "2026-11"})
    assert resp.status_code == 409
    assert resp.get_json()["error"] == "conflict"
    # same name, another month is fine
    make_budget(client, month="2026-10")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"limit_cents": 1, "month": "2026-11"}, "name"),
        ({"name": "   ", "limit_cents": 1, "month": "2026-11"}, "name"),
        ({"name": "x" * 121, "limit_cents": 1, "month": "2026-11"}, "name"),
        ({"name": 5, "limit_cents": 1, "month": "2026-11"}, "name"),
        ({"name": "A", "month": "2026-11"}, "limit_cents"),
        ({"name": "A", "limit_cents": "100", "month": "2026-11"}, "limit_cents"),
        ({"name": "A", "limit_cents": 1.5, "month": "2026-11"}, "limit_cents"),
        ({"name": "A", "limit_cents": True, "month": "2026-11"}, "limit_cents"),
        ({"name": "A", "limit_cents": -1, "month": "2026-11"}, "limit_cents"),
        ({"name": "A", "limit_cents": 10**13, "month": "2026-11"}, "limit_cents"),
        ({"name": "A", "limit_cents": 1}, "month"),
        ({"name": "A", "limit_cents": 1, "month": "2026-13"}, "month"),
        ({"name": "A", "limit_cents": 1, "month": "2026/11"}, "month"),
        ({"name": "A", "limit_cents": 1, "month": "2026-11-01"}, "month"),
        ({"name": "A", "limit_cents": 1, "month": 202611}, "month"),
    ],
)
def test_budget_validation(client, body, field):
    resp = client.post("/budgets", json=body)
    assert resp.status_code == 400
    payload = resp.get_json()
    assert payload["error"] == "validation_failed"
    assert field in payload["details"]
    assert client.get("/budgets").get_json() == {"budgets": []}


def test_all_budget_errors_reported_at_once(client):
    resp = client.post("/budgets", json={"name": "", "limit_cents": "x", "month": "nope"})
    assert resp.status_code == 400
    assert set(resp.get_json()["details"]) == {"name", "limit_cents", "month"}


@pytest.mark.parametrize(
    ("data", "content_type"),
    [("not json", "application/json"), ("name=x", "application/x-www-form-urlencoded"), ("[1, 2]", "application/json")],
)
def test_non_object_body_is_400(client, data, content_type):
    resp = client.post("/budgets", data=data, content_type=content_type)
    assert resp.status_code == 400
    assert "body" in resp.get_json()["details"]


def test_create_and_list_transactions(client):
    budget = make_budget(client)
    resp = add_tx(client, budget["id"], description="  milk ")
    assert resp.status_code == 201
    tx = resp.get_json()
    assert tx == {
        "id": tx["id"],
        "budget_id": budget["id"],
        "amount_cents": 1250,
        "description": "milk",
        "occurred_on": "2026-11-03",
        "receipt_key": None,
    }
    assert resp.headers["Location"] == f"/budgets/{budget['id']}/transactions/{tx['id']}"
    add_tx(client, budget["id"], occurred_on="2026-11-01", description=None)
    listed = client.get(f"/budgets/{budget['id']}/transactions").get_json()["transactions"]
    assert [t["occurred_on"] for t in listed] == ["2026-11-01", "2026-11-03"]
    assert listed[0]["description"] == ""


def test_transactions_are_scoped_to_their_budget(client):
    a = make_budget(client, name="A")
    b = make_budget(client, name="B")
    add_tx(client, a["id"])
    assert client.get(f"/budgets/{b['id']}/transactions").get_json() == {"transactions": []}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"amount_cents": None}, "amount_cents"),
        ({"amount_cents": 0}, "amount_cents"),
        ({"amount_cents": -5}, "amount_cents"),
        ({"amount_cents": "12.50"}, "amount_cents"),
        ({"description": "x" * 256}, "description"),
        ({"description": 7}, "description"),
        ({"occurred_on": None}, "occurred_on"),
        ({"occurred_on": "03/11/2026"}, "occurred_on"),
        ({"occurred_on": "2026-02-30"}, "occurred_on"),
        ({"occurred_on": "2026-12-01"}, "occurred_on"),  # outside the budget's month
    ],
)
def test_transaction_validation(client, fields, field):
    budget = make_budget(client)
    resp = add_tx(client, budget["id"], **fields)
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "validation_failed"
    assert field in resp.get_json()["details"]
    assert client.get(f"/budgets/{budget['id']}").get_json()["summary"]["transaction_count"] == 0
