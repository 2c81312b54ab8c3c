import socket

from conftest import dispose, make_test_app


def test_healthz_ok(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "db": "ok"}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_healthz_503_when_database_unreachable():
    app = make_test_app(f"postgresql://nobody@127.0.0.1:{_closed_port()}/nothing")
    try:
        resp = app.test_client().get("/healthz")
        assert resp.status_code == 503
        body = resp.get_json()
        assert body["status"] == "error"
        assert body["db"] == "unreachable"
        assert body["reason"]
    finally:
        dispose(app)


def test_unknown_route_is_json_404(client):
    resp = client.get("/nope")
    assert resp.status_code == 404
    assert resp.get_json()["error"] == "not_found"


def test_wrong_method_is_json_405(client):
    resp = client.delete("/budgets")
    assert resp.status_code == 405
    assert resp.get_json()["error"] == "method_not_allowed"
