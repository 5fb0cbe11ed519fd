"""The operator console: server-rendered pages under ``/console`` where an organisation's
operators see consents arrive, check the proof, handle people's requests and manage credentials
(README, "The operator console").

It joins the service through a ``Dialect`` entry, like the APIs: its pages, its tables and
migrations (:mod:`.models`), the hook that keeps the overview's daily counts, its CLI
(``console-link``), what a control-mode reset keeps, and its error shape (a page, never JSON).

* :mod:`.access`: sign-in links, sessions, CSRF.
* :mod:`.blueprint`: the blueprint, the guard every view runs behind, ``render``.
* :mod:`.views`: one module per view (overview, consents, audit, webhooks, credentials,
  providers, rights requests), each adding its routes to the blueprint.
* :mod:`.overview`: the counts and the chart of the overview.
"""
from __future__ import annotations

from consent.core import hooks
from consent.web.dialect import Dialect, ErrorShape
from schemas.common import ServiceErrorSchema

from . import models, overview
from .blueprint import bp, render
from .cli import console_link
from .views import load as _load_views

_load_views()


def _error_page(status: int, message: str, exc=None):
    from flask import g

    signed_in = getattr(g, "console_operator", None) is not None
    return render("console/error.html", status, code=status, message=message,
                  signed_in=signed_in)


ERRORS = ErrorShape(render=_error_page, schema=ServiceErrorSchema, auth_errors={})

DIALECT = Dialect(
    name="console", errors=ERRORS, prefixes=("/console/", "/console"), pages=(bp,),
    cli_commands=(console_link,), schema=models.SCHEMA,
    # (a control-mode reset empties the daily counts with the consents: their foreign key)
    subscriptions=((hooks.RECORDED, overview.count_recorded),),
)
