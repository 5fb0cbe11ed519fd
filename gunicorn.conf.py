"""gunicorn's settings for this service (``make run``; gunicorn reads ``./gunicorn.conf.py`` from
the directory it starts in, or ``-c gunicorn.conf.py``). See ``consent/web/serving.py``.

* the access log (``--access-logfile -``) masks the tokens in links and never logs credentials;
* a request line over 4 KiB is answered 414, and every error gunicorn answers itself is JSON in
  the service's error shape, not an HTML page.
"""
from consent.control.guard import refuse_seed_on_public_bind
from consent.web import serving

logger_class = serving.AccessLog
limit_request_line = serving.LIMIT_REQUEST_LINE


def on_starting(server):
    serving.answer_errors_in_json()
    refuse_seed_on_public_bind(server.cfg.bind)   # CONSENT_SEED only on loopback, unless forced
