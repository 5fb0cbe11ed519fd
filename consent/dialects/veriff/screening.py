"""Watchlist (PEP and sanctions) screening: a deterministic local stand-in for Veriff's.

Veriff screens the person of a session against PEP, sanctions and adverse-media lists when the
session is completed, and answers ``GET /v1/sessions/{id}/watchlist-screening``; its ongoing
monitoring is switched off with ``PATCH`` (``{"monitorStatus": "disabled"}``), and a hit is
reviewed with ``PATCH`` (``{"hit": {id, matchStatus?, riskLevel?, isWhitelisted?}}``). Here no
list is consulted: the result depends only on the person the session was created with, so tests
get the same answer every time (Veriff's test-mode convention, as for decisions):

* last name ``Sanction`` (any case): one sanctions hit, ``possible_match``;
* last name ``Pep``: one PEP hit, ``possible_match``;
* last name ``Adverse``: one adverse-media hit, ``possible_match``;
* anyone else: ``no_match``, no hits.

The screening is made in the transaction that submits the session (the first one is
``initial_result``, a later submission's ``updated_result`` replaces it), with an audit event that
carries the outcome but not the name. The search term (the person's name and year of birth) and
the hits are personal data: they are erased with the session. Every change is an audit event,
which records the row's new hash (the row is covered, ``consent.core.covered``; its hash is
salted while it holds personal data). No Flask here.
"""
from __future__ import annotations


from consent.core import audit, ids
from consent.core.storage import utcnow

from . import queries
from .models import VeriffScreening, new_salt
from .webhooks import veriff_time

INITIAL, UPDATED = "initial_result", "updated_result"
POSSIBLE_MATCH, NO_MATCH = "possible_match", "no_match"
ENABLED, DISABLED = "enabled", "disabled"
HIT_STATUSES = ("false_positive", "potential_match", "true_match", "inconclusive")
RISK_LEVELS = ("low", "high")
LISTINGS = ("warnings", "sanctions", "fitnessProbity", "pep", "adverseMedia")

# last name -> (listing, where the stand-in "found" it)
TEST_MODE_HITS = {
    "sanction": ("sanctions", "Stand-in sanctions list"),
    "pep": ("pep", "Stand-in PEP list"),
    "adverse": ("adverseMedia", "Stand-in adverse media"),
}


class ScreeningError(Exception):
    """A change the screening refuses; ``str()`` says why (Veriff's words where it has some)."""


class AlreadyDisabled(ScreeningError):
    def __init__(self):
        super().__init__("Watchlist screening is already disabled")


class UnknownHit(ScreeningError):
    def __init__(self, hit_id: str):
        super().__init__(f"No hit {hit_id} in this session's watchlist screening")


def search_term(person: dict | None) -> tuple[str | None, str | None]:
    """(full name, year of birth) the screening searches for, from the session's person."""
    person = person or {}
    name = person.get("fullName") or " ".join(
        p for p in (person.get("firstName"), person.get("lastName")) if p)
    birth = person.get("dateOfBirth") or ""
    year = birth[:4] if len(birth) >= 4 and birth[:4].isdigit() else None
    return (name.strip() or None), year


def stand_in_hits(person: dict | None) -> list[dict]:
    """The hits of the stand-in's lists for this person (see the module's docstring)."""
    person = person or {}
    last = str(person.get("lastName") or "").strip().lower()
    found = TEST_MODE_HITS.get(last)
    if found is None:
        return []
    listing, source = found
    name, year = search_term(person)
    return [{
        "id": ids.uuid4(), "matchedName": (name or last).upper(), "countries": [],
        "dateOfBirth": year, "dateOfDeath": None, "matchTypes": ["name_exact"],
        "aka": [], "associates": [],
        "listingsRelatedToMatch": {key: ([{"sourceName": source, "sourceUrl": None,
                                            "date": None}] if key == listing else [])
                                   for key in LISTINGS},
        "matchStatus": "potential_match", "riskLevel": None, "isWhitelisted": False}]


def screen(session, attempt_id: str, actor: str):
    """Inside the submission's transaction: screen the session's person (a new screening, or
    the previous one replaced as ``updated_result``). Returns the screening row."""
    name, year = search_term(session.person)
    hits = stand_in_hits(session.person)
    now = utcnow()
    values = {"attempt_id": attempt_id, "match_status": POSSIBLE_MATCH if hits else NO_MATCH,
              "search_name": name, "search_year": year, "hits": hits, "updated_at": now}
    event = audit.begin(session.org_id)
    previous = queries.SCREENING.one((session.id,))
    if previous is None:
        row = event.create(VeriffScreening, session_id=session.id, check_type=INITIAL,
                           monitor_status=ENABLED, created_at=now, pd_salt=new_salt(), **values)
    else:
        row = event.update(VeriffScreening, previous, check_type=UPDATED, created_at=now,
                           pd_salt=previous.pd_salt or new_salt(), **values)
    _audit(event, session, actor, "veriff.screening.created", attempt=attempt_id,
           checkType=UPDATED if previous else INITIAL, matchStatus=values["match_status"],
           totalHits=len(hits))
    return row


def of(session):
    """The session's screening row, or None (not yet submitted)."""
    return queries.SCREENING.one((session.id,))


def disable_monitoring(session, screening, actor: str):
    """``{"monitorStatus": "disabled"}``; AlreadyDisabled when it is."""
    if screening.monitor_status == DISABLED:
        raise AlreadyDisabled()
    event = audit.begin(session.org_id)
    screening = event.update(VeriffScreening, screening, monitor_status=DISABLED,
                             updated_at=utcnow())
    _audit(event, session, actor, "veriff.screening.monitoring_disabled")
    return screening


def review_hit(session, screening, change: dict, actor: str):
    """``{"hit": {id, matchStatus?, riskLevel?, isWhitelisted?}}``: the hit's review updated.
    A risk level is only for a hit that is (or becomes) a ``true_match``. Returns (screening,
    the hit as it now is)."""
    hits = [dict(h) for h in screening.hits]
    hit = next((h for h in hits if h["id"] == change["id"]), None)
    if hit is None:
        raise UnknownHit(change["id"])
    status = change.get("matchStatus", hit["matchStatus"])
    if "riskLevel" in change and status != "true_match":
        raise ScreeningError("riskLevel is only for a hit that is a true_match")
    hit["matchStatus"] = status
    if "riskLevel" in change:
        hit["riskLevel"] = change["riskLevel"]
    elif status != "true_match":
        hit["riskLevel"] = None
    if "isWhitelisted" in change:
        hit["isWhitelisted"] = change["isWhitelisted"]
    event = audit.begin(session.org_id)
    screening = event.update(VeriffScreening, screening, hits=hits, updated_at=utcnow())
    _audit(event, session, actor, "veriff.screening.hit_reviewed", hit=hit["id"],
           matchStatus=hit["matchStatus"], riskLevel=hit["riskLevel"],
           isWhitelisted=hit["isWhitelisted"])
    return screening, hit


def erase(event, session) -> None:
    """Inside the deletion's transaction, through its audit event: the screening's search term
    and hits (personal data) erased, and the salt of its hash. The row stays (covered rows are
    never deleted): what the screening found is kept, not about whom."""
    screening = queries.SCREENING.one((session.id,))
    if screening is not None:
        event.update(VeriffScreening, screening, search_name=None, search_year=None, hits=[],
                     pd_salt=None, updated_at=utcnow())


def _audit(event, session, actor: str, action: str, **payload) -> None:
    event.append(actor=actor, action=action, entity_type="veriff_session",
                 entity_id=session.id, payload=payload)


def body(session, screening) -> dict:
    """``GET /v1/sessions/{id}/watchlist-screening``'s ``data``."""
    return {"attemptId": screening.attempt_id, "sessionId": session.id,
            "vendorData": session.vendor_data, "endUserId": session.end_user_id,
            "checkType": screening.check_type, "matchStatus": screening.match_status,
            "monitorStatus": screening.monitor_status,
            "searchTerm": {"name": screening.search_name, "year": screening.search_year},
            "totalHits": len(screening.hits), "createdAt": veriff_time(screening.created_at),
            "hits": screening.hits}
