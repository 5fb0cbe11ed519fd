"""Real loopback servers for the browser tests."""
from __future__ import annotations

import contextlib
import threading

from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 # No name but the loopback ones resolves (pages that link a web font, for one),
                 # so the browser stays on loopback. Not playwright's request interception: that
                 # would answer CORS preflights itself, never asking the service.
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]


@contextlib.contextmanager
def serving(wsgi_app, host: str = "127.0.0.1"):
    """A WSGI app on a real loopback port for the length of the block; yields its base URL.
    ``host`` names the address the browser uses: ``localhost`` and ``127.0.0.1`` are two sites
    (a shop page on one frames or calls the service on the other, cross-site)."""
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
