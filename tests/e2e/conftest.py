"""The browser tests' server: the test app served on a free loopback port, in a thread."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    app.config["CONSENT_PUBLIC_URL"] = base
    yield base
    server.shutdown()
    thread.join(timeout=5)
