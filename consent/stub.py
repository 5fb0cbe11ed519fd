"""Serve a fresh stub in one process: ``python -m consent.stub --port P --seed-json FILE``.

What the pytest plugin (plugins/pytest-consent-ledger) starts: control mode on, the database
created and migrated, the demo organisation seeded (``seed-demo --json`` written to
``--seed-json``, atomically, once the service is about to answer), then gunicorn serving the
already-built app (one worker, so one clock context and, with ``CONSENT_SEED``, one stream of
ids). One interpreter instead of three (migrate, seed-demo, gunicorn) is what keeps a session's
start-up well under the 3 s budget (``make bench`` measures it).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m consent.stub")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seed-json", required=True, help="where seed-demo --json goes")
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    os.environ["CONSENT_CONTROL"] = "1"
    os.environ.setdefault("CONSENT_AUTO_MIGRATE", "1")
    from consent.control.guard import refuse_seed_on_public_bind

    refuse_seed_on_public_bind([f"{args.host}:{args.port}"])

    from gunicorn.app.base import BaseApplication

    from consent import create_app
    from consent.cli import seeded_demo_data

    base_url = f"http://{args.host}:{args.port}"
    os.environ.setdefault("CONSENT_PUBLIC_URL", base_url)
    app = create_app()
    with app.app_context():
        data = seeded_demo_data()
    target = Path(args.seed_json)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, target)

    class Stub(BaseApplication):
        def load_config(self):
            here = Path(__file__).resolve().parent.parent
            from consent.web import serving

            self.cfg.set("bind", [f"{args.host}:{args.port}"])
            self.cfg.set("workers", 1)
            self.cfg.set("threads", args.threads)
            self.cfg.set("logger_class", serving.AccessLog)
            self.cfg.set("limit_request_line", serving.LIMIT_REQUEST_LINE)
            self.cfg.set("chdir", str(here))

        def load(self):
            return app

    Stub().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
