"""The Veriff dialect: Veriff's session API under /v1, its hosted flow page, decisions and webhooks,
with consent uploads recorded in the ledger. A team points its whole Veriff integration here:
the server-side calls, ``@veriff/js-sdk`` and ``@veriff/incontext-sdk`` in the browser, and its
webhook listeners.

Auth
  An integration is a core credential of kind ``hmac``: its API key is sent as ``X-AUTH-CLIENT``,
  its shared secret signs bodies (``X-HMAC-SIGNATURE``, lowercase hex HMAC-SHA256; ``VRF-``
  twins accepted). POST and PATCH sign the raw body, GET and DELETE the id in the path (the
  session's; the media's for ``/v1/media/{id}``, the attempt's for ``/v1/attempts/{id}/media``);
  ``POST /v1/sessions`` may be unsigned (as ``@veriff/js-sdk`` sends it). Every success is
  signed back (``x-auth-client``, ``x-hmac-signature`` and their ``vrf-`` twins). Create one
  with ``flask --app app veriff integration-create --org <slug>`` (or ``seed-demo``).

Errors
  ``{"status": "fail", "code": "1101", "message": ...}``: 400 "Validation failed" for any body
  that is not JSON or fails its schema, 401 with Veriff's header messages, 404 "Resource not
  found", 405, 413, 500 "Something went wrong" (:mod:`.errors`). A URL under /v1/ that matches
  no route is 401 without a known ``X-AUTH-CLIENT``, then 404 or 405.

CORS
  /v1/ answers preflights and carries ``Access-Control-*`` headers for the origins of
  ``CONSENT_CORS_ORIGINS``: the headers Veriff's SDKs send are allowed (``content-type``,
  ``x-auth-client``, ``x-origin``, ``vrf-integration-id``, the signatures) and the signature
  headers exposed. The pages and /ledger get none.

POST /v1/sessions   in {verification: {callback?, person?, document?, address?, vendorData?,
                    endUserId?, consents?, timestamp?}}
  201 {status: "success", verification: {id, url, vendorData, host, status: "created",
      sessionToken}}; url = {public url}/v/{sessionToken}, the token derived from the session id
      and the secret key (only its hash stored). The whole ``verification`` object is kept as
      sent, and the person and document as the decision and /person show them (in the dialect's
      tables, never in the audit chain; erased when the session is deleted).
PATCH /v1/sessions/{id}   in {verification: {status: "submitted", frontState?, timestamp?}}
  200 {status, verification: {id, url, vendorData, host, status, sessionToken}}: submitted
  (event webhook 7002, then the watchlist screening), or as it was when not open; Veriff's
  test-mode names decide it at once (see below).
DELETE /v1/sessions/{id}
  200 (same shape) after deciding a created session ``expired`` and a started or
  resubmission_requested one ``abandoned`` (decision webhook); 400 "Session is not in a
  completed status." while submitted or in review. Afterwards the session is 404 everywhere and
  its person data erased; its consents stay in the ledger.
GET /v1/sessions/{id}/decision
  {status: "success", verification: null | {id, attemptId, vendorData, endUserId, status, code,
  reason, reasonCode, decisionTime, acceptanceTime, submissionTime, person, document,
  additionalVerifiedData, riskLabels, comments}, technicalData: {ip}}; null until decided.
GET /v1/sessions/{id}/person    {status, person: {firstName, lastName, idNumber, dateOfBirth,
  gender, nationality, placeOfBirth, citizenships, pepSanctionMatches}}
GET /v1/sessions/{id}/attempts  {status, verifications: [{id, status, createdTime}]}
POST|GET /v1/sessions/{id}/media, POST|GET /v1/sessions/{id}/consents
  images kept (bytes, context, timestamp, size, SHA-256; each listed with its ``url`` and
  ``attemptId``), consent uploads recorded in the ledger (see :mod:`.service`; ``approved:
  false`` is a refusal, for every type); refused once the session is submitted, until a
  resubmission is requested.
GET /v1/media/{id}   the file as uploaded (its media type when recognised, else
  application/octet-stream), signed like every answer; 404 once its session is deleted.
GET /v1/attempts/{id}/media   {status, images, videos: []}: the media of one attempt (media
  uploaded while no attempt was in progress belong to the next one).
GET /v1/sessions/{id}/watchlist-screening   {status, data: {attemptId, sessionId, vendorData,
  endUserId, checkType, matchStatus, monitorStatus, searchTerm: {name, year}, totalHits,
  createdAt, hits}}: a deterministic local stand-in (:mod:`.screening`: last name ``Sanction``,
  ``Pep`` or ``Adverse`` is one hit of that list, anyone else ``no_match``), made at submission;
  404 "Watchlist screening is not enabled" before.
PATCH /v1/sessions/{id}/watchlist-screening   in exactly one of {monitorStatus: "disabled"} and
  {hit: {id, matchStatus?, riskLevel?, isWhitelisted?}}; 200 {status, data: {attemptId,
  sessionId, vendorData, monitorStatus, hit?}}; 400 "Watchlist screening is already disabled".

Statuses and codes (:mod:`.codes`, from Veriff's tables)
  created -> started (7001, when the flow page is opened) -> submitted (7002) -> approved 9001,
  declined 9102 (reason 101-129), resubmission_requested 9103 (reason 201-207), expired 9104,
  abandoned 9104, review 9121 (:mod:`.lifecycle`). A session lives 7 days from its creation
  (``CONSENT_VERIFF_SESSION_LIFETIME``) on the organisation's clock; past it, it is decided
  ``expired`` (never started) or ``abandoned`` (started, not submitted), with its decision
  webhook: by the background sweep (``loops``), at once when control mode moves the clock
  (``Stub.clock_moved``), or by the first read that meets it. Test mode: a session whose person's first name
  is ``Approve``, ``Decline`` or ``Resubmit`` gets that decision when it is submitted.

The flow page ``/v/{sessionToken}`` (:mod:`.pages`)
  What a tester drives in a browser: opened, the session is started; submitted; then decided
  (every decision offered, with Veriff's reason codes); finished, it redirects to ``callback``.
  Framed by ``@veriff/incontext-sdk`` (``CONSENT_FRAME_ANCESTORS``) it speaks the SDK's
  postMessage protocol (VERIFF_HANDSHAKE, VERIFF_STARTED, VERIFF_SUBMITTED, VERIFF_FINISHED,
  VERIFF_CANCELED). No JavaScript needed; one script from the service under a strict CSP.

Webhooks (:mod:`.webhooks`, through the core's durable outbox)
  Per integration: an event URL (started 7001, submitted 7002) and a decision URL (every
  decision, the body of GET /decision), signed with the shared secret, ``X-AUTH-CLIENT``,
  ``X-HMAC-SIGNATURE``, their ``vrf-`` twins and ``vrf-integration-id``. Set them with
  ``flask --app app veriff webhooks``, ``veriff integration-create --event-url/--decision-url``,
  ``seed-demo --veriff-event-url/--veriff-decision-url`` or
  ``PATCH /ledger/v1/veriff/integrations/{id}``; list and replay deliveries with
  ``flask --app app webhooks`` or ``/ledger/v1/webhooks``.

Decisions without a browser
  ``flask --app app veriff decide SESSION_ID STATUS [--reason-code N]`` and
  ``POST /ledger/v1/veriff/sessions/{id}/decision`` (admin key, this service's own error shape).

Every status change and decision is an audit event (``veriff.session.started|submitted|decided|
deleted``).
"""
from __future__ import annotations

import click
from flask import current_app

from consent.control.store import Stub
from consent.web import public_url
from consent.web.dialect import Dialect

from . import lifecycle, models, people, service
from .cli import veriff_cli
from .errors import ERRORS
from .pages import bp as pages_bp
from .routes import CORS, KNOWN_INTEGRATION, admin_blp, blp, sign

SEED_DEMO_OPTIONS = (
    click.Option(["--veriff-event-url"], help="Veriff: where the demo integration's event "
                                              "webhooks go."),
    click.Option(["--veriff-decision-url"], help="Veriff: where the demo integration's decision "
                                                 "webhooks go."),
)


def seed_demo(org, user, veriff_event_url=None, veriff_decision_url=None) -> dict:
    """A fresh integration (with the webhook URLs given) and one session of it, each run."""
    issued = service.create_integration(org, name="demo veriff integration", actor="cli:seed-demo",
                                event_url=veriff_event_url, decision_url=veriff_decision_url)
    session, token = service.create_session(issued.credential, {"vendorData": "demo-user-1"},
                                            current_app.config["SECRET_KEY"])
    return {"integration_id": issued.credential.id, "api_key": issued.key,
            "shared_secret": issued.shared_secret, "session_id": session.id,
            "session_url": f"{public_url()}/v/{token}",
            "event_webhook_url": veriff_event_url, "decision_webhook_url": veriff_decision_url}


# The session lifetime (Veriff's 7 days) from the app's settings.
blp.record_once(lambda state: lifecycle.configure(
    state.app.config["CONSENT_VERIFF_SESSION_LIFETIME"]))

DIALECT = Dialect(name="veriff", errors=ERRORS, prefixes=("/v1/",),
                  unmatched_auth=KNOWN_INTEGRATION, blueprints=(blp, admin_blp),
                  pages=(pages_bp,), seed_demo=seed_demo, cli_commands=(veriff_cli,),
                  seed_demo_options=SEED_DEMO_OPTIONS, cors=CORS, schema=models.SCHEMA,
                  loops=(lifecycle.SWEEPER,),   # sessions past their lifetime expire
                  # people's rights: erasure, the access report, media retention (.people)
                  people=people.PEOPLE,
                  # control mode: a reset keeps its integrations; a moved clock expires the
                  # organisation's sessions past their lifetime at once; a fault is signed
                  stub=Stub(keep=(models.VeriffIntegration,),
                            clock_moved=lambda org_id: lifecycle.expire_all(org_id),
                            decorate_fault=lambda response, principal: sign(
                                response, principal.credential)),
                  sources=("veriff",))

__all__ = ["DIALECT"]
