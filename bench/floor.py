"""The floor under the write targets: the same storage work with none of the framework.

``make bench`` holds each write path to >= 35% of the no-op ceiling's req/s. This measures how
close any implementation on this stack and machine could get. The product app, unchanged, gains
four routes under ``/__floor/`` (this module only; the product never registers them). Each does
exactly the SQL its product twin does for one request, found by tracing it: the same statements on
the same tables and indexes, in one ``BEGIN IMMEDIATE`` transaction under the same writer lock,
with the same SHA-256 record and audit-chain hashes and the same itsdangerous link token. Left out
is everything above the storage: no flask-smorest, webargs, marshmallow or peewee models, no
validation, no error shapes. A floor route is not a usable endpoint; it is the cost of the writes
themselves.

Run: ``make bench-floor`` (``python -m bench.floor``). It alternates the ceiling, each product
write and its floor twin on one server, ``--rounds`` times, and prints (and writes to
BENCHMARKS.md between the ``bench:floor`` markers) each one's median ratio to the ceiling."""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import sqlite3
import statistics
import uuid

from flask import Response, request

from app import app
from consent.core import fastsql, tokens
from consent.core.storage import canonical_json, transaction

CONSENT = ("id", "org_id", "subject_id", "recorded_subject_id", "purpose_id", "purpose_version",
           "notice_version", "status", "source", "supersedes", "valid_from", "valid_until",
           "evidence", "created_at", "record_hash")
AUDIT = ("event_id", "org_id", "seq", "at", "actor", "action", "entity_type", "entity_id",
         "payload", "prev_hash", "hash")


def _sha(content) -> str:
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def _credential(key: str):
    return fastsql.one(
        'SELECT c."id", c."kind", c."name", c."key_prefix", c."client_id", c."scopes", '
        'c."shared_secret", c."revoked_at", o."id", o."slug", o."name", o."subdomain" '
        'FROM "credential" c JOIN "organisation" o ON o."id" = c."org_id" '
        'WHERE c."key_hash" = ?', (hashlib.sha256(key.encode()).hexdigest(),))


def _subject(org_id: str, identifier: str, now) -> int:
    row = fastsql.one('SELECT "id", "created_at" FROM "subject" WHERE "org_id" = ? AND '
                      '"identifier" = ?', (org_id, identifier))
    if row:
        return row[0]
    return fastsql.insert("subject", ("org_id", "identifier", "created_at"),
                          (org_id, identifier, now), returning="id")


def _audit(org_id, actor, action, entity_type, entity_id, now, payload) -> str:
    """The next event on the org's hash chain."""
    head = fastsql.one('SELECT "seq", "hash" FROM "audit_event" WHERE "org_id" = ? '
                       'ORDER BY "seq" DESC LIMIT 1', (org_id,))
    eid = str(uuid.uuid4())
    event_hash = _sha({"event_id": eid, "org": org_id, "seq": head[0] + 1, "at": now.isoformat(),
                       "actor": actor, "action": action, "payload": payload,
                       "prev_hash": head[1]})
    fastsql.insert("audit_event", AUDIT, (eid, org_id, head[0] + 1, now, actor, action,
                                          entity_type, entity_id, canonical_json(payload),
                                          head[1], event_hash))
    return eid


def _collection_point(org_id, display_id):
    return fastsql.one(
        'SELECT "id", "org_id", "asset_id", "display_id", "title", "notice_text", '
        '"notice_version", "purposes", "created_at" FROM "truconsent_collection_point" '
        'WHERE "org_id" = ? AND ("display_id" = ? OR "id" = ?) ORDER BY "display_id" = ? '
        'DESC LIMIT 1', (org_id, display_id, display_id, display_id))


def _decision(org_id, subject_id, identifier, purpose, source, evidence, actor, now):
    """One recorded decision: consent row, audit event on the org's chain, ``recorded`` event."""
    p = fastsql.one('SELECT "id", "name", "current_version" FROM "purpose" WHERE "org_id" = ? '
                    'AND "code" = ?', (org_id, purpose))
    cid = str(uuid.uuid4())
    record_hash = _sha({"id": cid, "org": org_id, "subject": subject_id, "purpose": p[0],
                        "purpose_version": p[2], "status": "granted", "source": source,
                        "valid_from": now.isoformat(), "evidence": evidence})
    seq = fastsql.insert("consent", CONSENT, (
        cid, org_id, subject_id, subject_id, p[0], p[2], "v1", "granted", source, None, now, None,
        canonical_json(evidence), now, record_hash), returning="seq")
    eid = _audit(org_id, actor, "consent.recorded", "consent", cid, now, {
        "purpose": purpose, "record_hash": record_hash, "source": source, "status": "granted",
        "subject": identifier, "supersedes": None})
    fastsql.insert("consent_event", ("consent_id", "type", "at", "audit_event_id", "data"),
                   (seq, "recorded", now, eid, canonical_json({"source": source,
                                                              "status": "granted"})))
    return cid, seq


def _json(body: dict, status: int) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


@app.post("/__floor/ledger/v1/consents")
def floor_ledger():
    cred = _credential(request.headers["X-API-Key"])
    body = json.loads(request.get_data())
    org_id, now = cred[8], dt.datetime.utcnow()
    with transaction():
        subject_id = _subject(org_id, body["subject"], now)
        cid, _ = _decision(org_id, subject_id, body["subject"], body["purpose"], "ledger", None,
                           f"api_key:{cred[3]}", now)
    return _json({"id": cid, "subject": body["subject"], "purpose": body["purpose"],
                  "status": body["status"], "created_at": now.isoformat() + "Z"}, 201)


@app.post("/__floor/v1/sessions/<session_id>/consents")
def floor_veriff(session_id):
    raw = request.get_data()
    cred = _credential(request.headers["X-AUTH-CLIENT"])
    expected = hmac.new(cred[6].encode(), raw, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.headers["X-HMAC-SIGNATURE"]):
        return _json({"status": "fail"}, 401)
    body = json.loads(raw)
    session_sql = ('SELECT "id", "org_id", "integration_id", "status", "vendor_data", '
                   '"end_user_id", "callback", "token_hash", "created_at", "submitted_at" '
                   'FROM "veriff_session" WHERE "id" = ? AND "integration_id" = ?')
    fastsql.one(session_sql, (session_id, cred[0]))
    org_id, now = cred[8], dt.datetime.utcnow()
    with transaction():
        session = fastsql.one(session_sql, (session_id, cred[0]))
        subject_id = _subject(org_id, session[4], now)
        evidence = {"approved": body["approved"], "integration": cred[0], "text": body["text"],
                    "type": body["type"], "veriff_session_id": session_id}
        cid, _ = _decision(org_id, subject_id, session[4], f"veriff:{body['type']}", "veriff",
                           evidence, f"credential:{cred[0]}", now)
        fastsql.insert("veriff_consent", ("session_id", "consent_id", "type", "approved",
                                          "created_at"), (session_id, cid, body["type"], 1, now))
    return _json({"status": "success", "consent": {"id": cid, "type": body["type"],
                                                   "approved": True}}, 200)


@app.post("/__floor/api/consent/consent-links")
def floor_truconsent_link():
    cred = _credential(request.headers["X-API-Key"])
    body = json.loads(request.get_data())
    org_id, now = cred[8], dt.datetime.utcnow()
    point = _collection_point(org_id, body["collection_point_id"])
    expires = now + dt.timedelta(hours=body["expiry_hours"])
    with transaction():
        request_id, event_id = str(uuid.uuid4()), str(uuid.uuid4())
        token = tokens.dumps(app.config["SECRET_KEY"], tokens.Purpose.CONSENT_LINK,
                             {"o": org_id, "c": point[0], "e": event_id})
        fastsql.insert("truconsent_request", (
            "id", "org_id", "collection_point_id", "phone", "expiry_hours",
            "data_collection_timestamp", "current_event_id", "regeneration_count", "expires_at",
            "created_at"), (request_id, org_id, point[0], body["phone"], body["expiry_hours"], now,
                            event_id, 0, expires, now))
        fastsql.insert("truconsent_link_event", ("id", "org_id", "request_id", "token",
                                                 "created_at", "expires_at"),
                       (event_id, org_id, request_id, token, now, expires))
        _audit(org_id, f"credential:{cred[0]}", "truconsent.link.created", "consent_link",
               request_id, now, {"event_id": event_id, "collection_point_id": point[0],
                                 "phone": "+*********" + body["phone"][-3:],
                                 "expires_at": expires.isoformat() + "+00:00"})
    return _json({"request_id": request_id, "url": f"{request.host_url}c/{token}",
                  "expires_at": expires.isoformat() + "Z"}, 200)


@app.post("/__floor/api/v1/external/consents/record")
def floor_truconsent_record():
    cred = _credential(request.headers["X-API-Key"])
    body = json.loads(request.get_data())
    org_id, now = cred[8], dt.datetime.utcnow()
    with transaction():
        point = _collection_point(org_id, body["collectionPointId"])
        subject_id = _subject(org_id, body["userId"], now)
        evidence = {"action": body["action"], "collection_point_id": point[0], "metadata": None,
                    "request_id": None}
        seqs = [_decision(org_id, subject_id, body["userId"], p["id"], "api", evidence,
                          f"credential:{cred[0]}", now)[1] for p in body["purposes"]]
        for seq in seqs:
            fastsql.insert("truconsent_log", ("consent_id", "org_id", "action",
                                              "collection_point_id", "request_id", "event_id",
                                              "metadata"),
                           (seq, org_id, body["action"], point[0], None, None, None))
    return _json({"success": True, "message": "Consent recorded", "recorded": len(seqs)}, 200)


# -- the measurement -------------------------------------------------------------------------------

def main(argv=None) -> int:
    from bench import run as B

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=4, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--small", type=int, default=10_000)
    args = parser.parse_args(argv)

    wrk = B.ensure_wrk()
    B.OUT.mkdir(parents=True, exist_ok=True)
    source = B.OUT / f"ledger-{args.small}.sqlite3"
    B.prefill(source, args.small)
    ceiling = B.Scenario("no-op GET /healthz (ceiling)")
    rows = []
    with B.Server(B.fresh_copy(source, "floor"), args.workers, app_spec="bench.floor:app") as srv:
        from bench import dialects

        products = [B.record_scenario(srv.seed), dialects.veriff_consent(srv.seed["veriff"]),
                    *dialects.truconsent(srv.seed["truconsent"])]
        pairs = [(product, floor_twin(product)) for product in products]
        for product, floor in pairs:  # before any load: no request may still be in flight
            same_writes(srv, product, floor)
        for product, floor in pairs:
            ratios: dict[str, list[float]] = {product.name: [], floor.name: []}
            for _ in range(args.rounds):
                base = B.run_wrk(wrk, srv.port, ceiling, args.duration, args.connections)
                for s in (product, floor):
                    r = B.run_wrk(wrk, srv.port, s, args.duration, args.connections)
                    ratios[s.name].append(r.requests_per_s / base.requests_per_s)
            row = (product.name, ratios[product.name], ratios[floor.name])
            print(f"{row[0]:34s} product {cell(row[1]):24s} floor {cell(row[2])}", flush=True)
            rows.append(row)
    write_markdown(rows, args)
    return 0


TABLES = ("subject", "consent", "audit_event", "consent_event", "veriff_consent",
          "truconsent_request", "truconsent_link_event", "truconsent_log")


def floor_twin(product):
    """The product scenario aimed at its floor route (another subject for the first request)."""
    from bench import run as B

    return B.Scenario(f"{product.name} (floor)", method=product.method,
                      path="/__floor" + product.path, headers=product.headers,
                      body=product.body.replace('"bench-0"', '"bench-floor-0"')
                      .replace('"bench-user-0"', '"bench-user-floor-0"'), lua=product.lua,
                      expect_status=product.expect_status)


def cell(ratios) -> str:
    """Median ratio, then every round's."""
    return f"{statistics.median(ratios):.0%} ({', '.join(f'{x:.0%}' for x in ratios)})"


def same_writes(server, product, floor) -> None:
    """Requests of each by hand: both must answer as expected and, once warm (the product's first
    consent on a Veriff session also starts the session), add the same number of rows to every
    table, or the floor is not the product's storage work."""
    from bench import run as B

    def added(scenario):
        B.check_once(server.port, scenario)
        before = row_counts(server.db_path)
        B.check_once(server.port, scenario)
        return {t: n - before[t] for t, n in row_counts(server.db_path).items()}

    product_rows, floor_rows = added(product), added(floor)
    if product_rows != floor_rows:
        raise SystemExit(f"{floor.name} writes {floor_rows}, its product twin {product_rows}")


def row_counts(path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in TABLES}


def write_markdown(rows, args) -> None:
    from bench import run as B

    lines = [f"Measured {dt.date.today().isoformat()} on {B.machine()}; `make bench-floor`: "
             f"{args.rounds} rounds of ceiling, product, floor; {args.duration} s each; "
             f"{args.workers} workers.", "",
             "| write | product: ratio to ceiling (rounds) | floor: ratio to ceiling (rounds) |",
             "|---|---|---|"]
    lines += [f"| {name} | {cell(product)} | {cell(floor)} |" for name, product, floor in rows]
    B.replace_block("<!-- bench:floor -->", "<!-- /bench:floor -->", "\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
