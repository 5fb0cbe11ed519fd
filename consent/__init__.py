"""Consent ledger service: one ledger, the APIs of several consent providers."""
from __future__ import annotations

import logging

from flask import Flask, request
from flask.sessions import SessionInterface
from flask_smorest import Api

from . import control, dialects, settings
from .core import background, checkpoints, database, outbound, outbox, retention, verify
from .web import cors, docs, limits, serving, service
from .web.dialect import Registry, install_error_handlers, register, register_api_blueprint
from .web.jsonio import StrictJSONProvider

__version__ = "0.2.0"


class ConsentApi(Api):
    # Every operation documents its own errors in its dialect's shape; no generic catch-all.
    DEFAULT_ERROR_RESPONSE_NAME = None


class NoSessions(SessionInterface):
    """No Flask session cookie: nothing here keeps state in one (pages that need a cookie set
    their own), and opening one costs every request a signed-cookie serializer."""

    def open_session(self, app, request):
        return self.make_null_session(app)

    def save_session(self, app, session, response):
        return None


def create_app(test_config: dict | None = None) -> Flask:
    """config -> the dialects' entries declared (tables, hooks, lookups) -> database -> API ->
    dialects (blueprints, pages, loops) -> error handlers -> CORS -> docs -> CLI."""
    app = Flask(__name__, instance_relative_config=True, static_folder=None)
    settings.load(app, test_config)
    checkpoints.init_app(app)   # the signing key's place, the witnesses (refused before use)
    app.json = StrictJSONProvider(app)
    app.session_interface = NoSessions()
    app.config.update(
        API_TITLE="Consent Ledger",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    config = app.config
    # Everything the dialects bring is declared in their entries (consent.dialects.REGISTRY):
    # their tables, migrations and covered tables, hook subscriptions and consent lookups are
    # installed for the process before anything touches the database.
    entries = dialects.declare()
    background.stop_active()  # a previous app's loops never touch the database this one opens
    database.init_database(
        config["CONSENT_DATABASE_URL"],
        synchronous=config["CONSENT_SQLITE_SYNCHRONOUS"],
        busy_timeout_ms=int(config["CONSENT_SQLITE_BUSY_TIMEOUT_MS"]),
        writer_lock=config["CONSENT_SQLITE_WRITER_LOCK"],
        checkpoints=config["CONSENT_SQLITE_CHECKPOINTS"],
    )
    app.teardown_request(lambda exc: database.release_broken_connection())
    outbox.configure(max_attempts=config["CONSENT_WEBHOOK_MAX_ATTEMPTS"],
                     backoff_base=config["CONSENT_WEBHOOK_BACKOFF_BASE"],
                     backoff_cap=config["CONSENT_WEBHOOK_BACKOFF_CAP"],
                     timeout=config["CONSENT_WEBHOOK_TIMEOUT"])
    outbound.configure(config["CONSENT_WEBHOOK_ALLOW_NETWORKS"])
    # The app's background loops (webhooks that come due, verification jobs, and the dialects'
    # own): each serving process starts them with its first request, after a restart too. A new
    # app's runner stops the previous app's (they would share the process's one database).
    gate = service.init_app(app)   # first: nothing runs on a schema that is not this code's
    limits.init_app(app)           # then: no body over the limit, on any route
    runner = app.extensions["consent.background"] = background.Runner(
        (outbox.SENDER, verify.RUNNER, checkpoints.WITNESS, retention.LOOP))

    @app.before_request
    def start_background():
        # The app's background loops (webhooks that come due, verification jobs, the dialects'
        # own), in each serving process from its first request on, once the schema is current.
        # A new app's runner stops the previous app's (they would share the process's database).
        # (not on the probes and documents: /healthz answers without the database)
        if not request.path.startswith(gate.NO_DATABASE) and gate.ready():
            runner.ensure_running()

    @app.before_request
    def log_path_without_personal_data():
        # The access log writes this path, personal route arguments masked (web.serving).
        rule = request.url_rule
        if rule is not None:
            masked = serving.masked_route(rule.rule, request.view_args or {})
            if masked is not None:
                request.environ[serving.LOG_PATH] = masked

    api = ConsentApi(app, spec_kwargs={"info": {"description": (
        "A self-hosted consent ledger. Its own API lives under /ledger/v1; the provider-compatible "
        "APIs (truConsent, Veriff, ...) live at their providers' own paths.\n\n"
        + limits.OPENAPI_NOTE)}})
    app.extensions["consent.dialects"] = Registry()
    register_api_blueprint(api, service.blp)
    for dialect in entries:
        register(app, api, dialect)
    control.init_app(app, api)   # CONSENT_CONTROL=1: /_control, and its hooks (a test stub)
    install_error_handlers(app)
    cors.init_app(app, app.extensions["consent.dialects"].dialects)
    docs.init_app(app)

    from . import cli
    cli.init_app(app)
    return app
