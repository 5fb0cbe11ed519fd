"""The consent archive: Avacy's consents recorded on the ledger, and read back for the operator.

One accepted request is one archive entry (:class:`~.models.AvacyConsent`) and, in the same
transaction, one ledger decision per preference (``domains_groups``, ``v2``) or consent feature
(``v4``), and one audit event for the entry:

* subject: the identifying value: ``subject[identifier]`` (``domains_groups``, ``v2``, where
  ``identifier`` names a subject field), or ``identifier`` itself (``v4``);
* purpose: the preference's (or feature's) name; status ``granted`` when accepted, else
  ``denied``; source ``avacy``. A ``v4`` entry's ``optin`` decides for every feature it lists:
  ``accepted`` and ``partial`` (the features listed are the ones accepted) grant, ``rejected``
  denies;
* legal notices: each one is a ledger notice (created, version "1", on first sight); the
  versions accepted are in each decision's evidence and its ``notice_version``
  (``privacy_policy@1+cookie_policy@1``, or the SHA-256 of that text when longer than 64). A
  ``v4`` request names its notices in ``versions`` ([{slug, link, date}]): the notice is the
  slug and the version accepted its date (added to the ledger notice on first sight), the link
  is in the evidence, and the ``versions`` are kept as sent in the entry;
* evidence: the entry's id, webspace, channel, the IP address and the SHA-256 of the proofs
  (the ledger commits to it under the subject's secret). The audit event of the entry holds no
  personal data: the entry's id, webspace, channel, legal notices, the subject by its id
  (``subject_ref``), the ledger consents it recorded, and the entry's salted hash (``rows``),
  which covers the proofs byte for byte, the IP address, the identifier and the ``versions``.
  An entry read back says whether it still matches what the chain recorded (:func:`intact`).
  (Events written before Avacy's version 5 carried the identifier, the IP address and the
  proofs' SHA-256 in the clear: erasure redacts them.)

The entry names its person by the ledger subject's id: the archive is searched through
``ledger.find_subject`` (a keyed lookup), so an erased person's identifier finds nothing. Its
personal columns are erased by :mod:`.people` (the subject's erasure) and its proofs by
retention (:func:`.people.retention`).

A person who submits again adds a new entry and new decisions; the ledger's newest decision per
person and purpose is their current state. No Flask here.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from consent.core import audit, auth, covered, ids, ledger, personal, sql
from consent.core import queries as core_queries
from consent.core.storage import canonical_json, new_uuid, transaction, utcnow

from . import queries
from .models import AvacyConsent, AvacyDecision, AvacyWebspace

SOURCE = "avacy"
NOTICE_VERSION_MAX = 64


@dataclass(slots=True)
class Entry:
    """An archive entry (``queries.ENTRY``'s row), its decisions, and the payload of the audit
    event that recorded it (None: the event is missing)."""

    row: object
    decisions: list = field(default_factory=list)
    audit_payload: dict | None = None
    written_payload: dict | None = None   # of the event that last wrote the row (audit_seq)

    @property
    def request(self) -> dict:
        return self.row.request or {}


@dataclass(slots=True)
class Decision:
    """A decision of an entry (``queries.DECISION``'s row), the ledger consent it became, and
    whether that is still its person's binding (newest) decision on its purpose."""

    row: object
    consent: object
    binding: bool

    @property
    def name(self) -> str:
        return self.row.name

    @property
    def accepted(self) -> bool:
        return self.row.accepted


# -- webspaces and tokens -------------------------------------------------------------------------

def create_webspace(org, name: str, actor: str = "system"):
    """A new webspace: the next number of the organisation, and a new key."""
    with transaction():
        event = audit.begin(org.id)
        number = (queries.LAST_WEBSPACE_NUMBER.value((org.id,)) or 0) + 1
        webspace = event.create(AvacyWebspace, org_id=org.id, number=number,
                                key=ids.uuid4(), name=name)
        event.append(actor=actor, action="avacy.webspace.created",
                     entity_type="avacy_webspace", entity_id=webspace.id,
                     payload={"number": number, "key": webspace.key, "name": name})
    return webspace


def webspace(org, number: int):
    return queries.WEBSPACE_BY_NUMBER.one((org.id, number))


def webspace_by_key(org, key: str):
    return queries.WEBSPACE_BY_KEY.one((org.id, key))


def webspaces(org) -> list:
    return queries.WEBSPACES_OF_ORG.all((org.id,))


def create_token(org, name: str = "avacy token", actor: str = "system"):
    """An API token (a core API key with the consent scope), sent as ``Authorization: Bearer``."""
    return auth.create_credential(org.id, kind="api_key", name=name, scopes=("consent",),
                                  actor=actor)


def token_of(org, token: str):
    """The active consent-scoped API key of ``org`` this token is, or None."""
    cred = auth.find_credential(token, kind="api_key")
    if cred is None or cred.org_id != org.id or "consent" not in cred.scope_set:
        return None
    return cred


# -- recording ------------------------------------------------------------------------------------

@dataclass(slots=True)
class Submission:
    """What one request asks to archive, whatever its channel."""

    channel: str
    identifier: str                 # the person's identifying value
    ip_address: str
    proofs: str | None
    choices: list[tuple[str, bool]]  # (purpose, accepted), in order
    notices: list[tuple]            # legal notices accepted: (name, version or None, link)
    request: dict                   # the rest of the request, as validated
    versions: list | None = None    # v4: the policy versions exactly as sent


def from_documented(channel: str, data: dict) -> Submission:
    """``domains_groups`` and ``v2``: subject, identifier (a subject field's name), ip_address,
    proofs, legal_notices, preferences."""
    subject = data["subject"]
    return Submission(
        channel=channel, identifier=str(subject[data["identifier"]]).strip(),
        ip_address=data["ip_address"], proofs=data["proofs"],
        choices=[(p["name"], p["accepted"]) for p in data["preferences"]],
        notices=[(n["name"], None, None) for n in data["legal_notices"]],
        request={"subject": subject, "identifier": data["identifier"],
                 "legal_notices": [{"name": n["name"]} for n in data["legal_notices"]],
                 "preferences": data["preferences"]})


def from_v4(data: dict) -> Submission:
    """``v4``: the WordPress plugin's FormSubmission."""
    accepted = data["optin"] != "rejected"
    return Submission(
        channel="v4", identifier=data["identifier"], ip_address=data["ip_address"],
        proofs=data.get("html_form") if data.get("html_form") is not None else data.get("proofs"),
        choices=[(name, accepted) for name in data["consent_features"]],
        notices=[(v["slug"].strip(), v["date"].strip(), v.get("link"))
                 for v in data["versions"]],
        request={k: data[k] for k in ("consent_type", "optin", "consent_data", "identifier",
                                      "source", "consent_features")},
        versions=data["versions"])


def notice_label(notices: list[dict]) -> str | None:
    """The ``notice_version`` of a decision: ``name@version`` joined by ``+``; its SHA-256 when
    that would not fit the ledger's 64 characters."""
    if not notices:
        return None
    label = "+".join(f"{n['name']}@{n['version']}" for n in notices)
    if len(label) > NOTICE_VERSION_MAX:
        return hashlib.sha256(label.encode()).hexdigest()
    return label


def record(org, space, submission: Submission, actor: str) -> Entry:
    """Archive one submission: the entry, its decisions and its audit event, one transaction."""
    proofs_sha256 = hashlib.sha256((submission.proofs or "").encode()).hexdigest()
    with transaction():
        audit.lock_org(org.id)
        now, event_id = utcnow(), new_uuid()
        notices = []
        for name, version, link in submission.notices:
            notice = ledger.ensure_notice(org.id, name, actor=actor, version=version)
            accepted = {"name": notice.code, "version": version or notice.current_version}
            if submission.versions is not None:
                accepted["link"] = link
            notices.append(accepted)
        request = dict(submission.request)
        request["legal_notices"] = notices
        # The subject first (its id names the person in the entry, whatever it decided).
        known = ledger.ensure_subject(org.id, submission.identifier)
        entry = sql.create(
            AvacyConsent, org_id=org.id, webspace_id=space.id, webspace_number=space.number,
            channel=submission.channel,
            identifier=submission.identifier, subject_id=known.id if known else None,
            ip_address=submission.ip_address, proofs=submission.proofs,
            proofs_sha256=proofs_sha256, request=request, versions=submission.versions,
            audit_event_id=event_id, created_at=now, updated_at=now)
        evidence = {"avacy_consent_id": entry.id, "webspace_id": space.number,
                    "channel": submission.channel, "ip_address": submission.ip_address,
                    "proofs_sha256": proofs_sha256, "legal_notices": notices}
        if submission.versions is not None:
            evidence["versions_sha256"] = versions_sha256(submission.versions)
        label = notice_label(notices)
        recorded = ledger.in_transaction_record(org.id, [
            ledger.Decision(subject=submission.identifier, purpose=name,
                            status="granted" if accepted else "denied", source=SOURCE,
                            notice_version=label, evidence=evidence)
            for name, accepted in submission.choices], actor=actor, now=now)
        # The entry (its subject now known) and its decisions are recorded by its own event.
        event = audit.begin(org.id, event_id=event_id, at=now)
        subject_id = entry.subject_id
        if subject_id is None and recorded:
            subject_id = recorded[0].consent.subject_id
        entry = event.update(AvacyConsent, entry, subject_id=subject_id)
        decisions = [event.create(AvacyDecision, consent_seq=r.consent.seq, entry_id=entry.id,
                                  name=name, accepted=accepted)
                     for (name, accepted), r in zip(submission.choices, recorded)]
        payload = {"avacy_consent_id": entry.id, "webspace_id": space.number,
                   "channel": submission.channel,
                   "legal_notices": [{"name": n["name"], "version": n["version"]}
                                     for n in notices],
                   "subject_ref": subject_id, "consents": [r.consent.id for r in recorded]}
        event.append(actor=actor, action="avacy.consent.archived",
                     entity_type="avacy_consent", entity_id=entry.id, payload=payload)
    return Entry(entry, [Decision(d, r.consent, True) for d, r in zip(decisions, recorded)],
                 {**payload, "rows": event.rows}, {**payload, "rows": event.rows})


# -- reading --------------------------------------------------------------------------------------

def _with_decisions(org, rows: list) -> list[Entry]:
    """The entries with their decisions, each decision's ledger consent and whether it binds,
    and their audit events' payloads: a few queries per page, whatever its length."""
    if not rows:
        return []
    decisions = []
    for chunk in sql.chunks([r.id for r in rows]):
        decisions += queries.decisions_of(sql.padded(len(chunk))).all(sql.pad(chunk))
    seqs = [d.consent_seq for d in decisions]
    consents = ledger.consents_by_seq(org.id, seqs)
    binding = ledger.binding(org.id, seqs)
    events = audit.events_by_id(org.id, [r.audit_event_id for r in rows])
    written = _events_at(org.id, {e.seq: e.payload for e in events.values()},
                         [r.audit_seq for r in rows])
    by_entry: dict[int, list] = {}
    for d in decisions:
        by_entry.setdefault(d.entry_id, []).append(
            Decision(d, consents[d.consent_seq], binding[d.consent_seq]))
    return [Entry(r, by_entry.get(r.id, []), _payload(events.get(r.audit_event_id)),
                  written.get(r.audit_seq)) for r in rows]


def _events_at(org_id: str, known: dict, seqs) -> dict:
    """``{seq: payload}`` of the events that last wrote the entries (``known``: those read
    already; the others, an attestation, an erasure or a retention pass, are read now, a few per
    page)."""
    out = dict(known)
    missing = sorted({s for s in seqs if s is not None and s not in out})
    for chunk in sql.chunks(missing):
        for event in core_queries.events_at(sql.padded(len(chunk))).all(
                (org_id, *sql.pad(chunk))):
            out[event.seq] = event.payload
    return out


def _payload(event) -> dict | None:
    return None if event is None else event.payload


def page(org, *, identifier=None, webspace_number=None, channel=None, date_from=None,
         date_to=None, limit=50, before_id=None) -> tuple[list[Entry], int | None]:
    """Entries newest first, filtered (AND), keyset-paginated. Returns (page, next cursor)."""
    subject_id = None
    if identifier not in (None, ""):
        subject = ledger.find_subject(org.id, identifier) if personal.normalise(identifier) \
            else None
        if subject is None:   # nobody (or somebody erased): no entry
            return [], None
        subject_id = subject.id
    given = {"subject_id": subject_id, "webspace_number": webspace_number, "channel": channel,
             "date_from": date_from, "date_to": date_to, "before_id": before_id}
    names = tuple(n for n in queries.ENTRY_FILTERS if given.get(n) not in (None, ""))
    rows = queries.entry_page(names).all((org.id, *(given[n] for n in names), limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return _with_decisions(org, rows), (rows[-1].id if more and rows else None)


def entry(org, entry_id: int) -> Entry | None:
    row = queries.ENTRY_BY_ID.one((org.id, entry_id))
    return _with_decisions(org, [row])[0] if row is not None else None


def versions_sha256(versions) -> str:
    """The SHA-256 of a v4 entry's ``versions`` (canonical JSON): in its audit event."""
    return hashlib.sha256(canonical_json(versions).encode()).hexdigest()


def erased(row) -> bool:
    """Was the entry's person erased (its personal columns blanked)?"""
    return row.identifier == personal.ERASED


def intact(found: Entry) -> bool:
    """Does the entry still hold what the chain recorded: its hash (the proofs byte for byte,
    the IP address, the identifier, the ``versions``, salted) is the one the event that last
    wrote it recorded; and an entry archived before Avacy's version 5, whose event named its
    proofs' SHA-256, IP address and identifier in the clear, still holds those (while it holds
    them: not once erased, nor its proofs once removed by retention)."""
    row = found.row
    cov = covered.of(AvacyConsent)
    recorded_rows = covered.recorded(found.written_payload).get(cov.table, {})
    if recorded_rows.get(cov.key_text(row.id)) != covered.row_hash(cov, row._asdict()):
        return False
    recorded = found.audit_payload
    if recorded is None:
        return False
    if personal.is_redacted(recorded):   # archived before version 5, its person erased since
        return True
    if recorded.get("avacy_consent_id") != row.id:
        return False
    if "proofs_sha256" not in recorded or erased(row) or row.proofs is None:
        return True
    proofs_sha256 = hashlib.sha256((row.proofs or "").encode()).hexdigest()
    versions_ok = (recorded.get("versions_sha256") is None and row.versions is None) or (
        row.versions is not None
        and recorded.get("versions_sha256") == versions_sha256(row.versions))
    return (recorded.get("avacy_consent_id") == row.id
            and recorded.get("proofs_sha256") == proofs_sha256 == row.proofs_sha256
            and recorded.get("ip_address") == row.ip_address
            and recorded.get("identifier") == row.identifier and versions_ok)


def _shown(value):
    """A personal column as the operator sees it: None once erased."""
    return None if value == personal.ERASED else value


def describe(found: Entry) -> dict:
    """An entry as the operator sees it (the archive API and page). Once its person is erased,
    its personal values are None (the decisions, notices and times stay)."""
    row, req = found.row, found.request
    return {"id": row.id, "webspace_id": row.webspace_number, "channel": row.channel,
            "identifier": _shown(row.identifier), "subject_id": row.subject_id,
            "ip_address": _shown(row.ip_address), "proofs": row.proofs,
            "proofs_sha256": _shown(row.proofs_sha256), "request": req,
            "preferences": [{"name": d.name, "accepted": d.accepted, "consent_id": d.consent.id,
                             "status": d.consent.status, "binding": d.binding}
                            for d in found.decisions],
            "legal_notices": req.get("legal_notices", []), "versions": row.versions,
            "audit_event_id": row.audit_event_id, "intact": intact(found),
            "created_at": row.created_at}
