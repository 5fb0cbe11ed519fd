"""The Avacy dialect's statements (see :mod:`consent.core.sql`): its own tables only (the ledger
consents and audit events its entries point at are reached through core functions), column
names from the models."""
from __future__ import annotations

from functools import lru_cache

from consent.core import sql
from consent.core.sql import Table, eq

from .models import AvacyConsent, AvacyDecision, AvacyWebspace

_t = Table(AvacyWebspace, "t")
WEBSPACE = sql.model_select(AvacyWebspace)
WEBSPACE_BY_NUMBER = WEBSPACE.where(*eq(_t.org, _t.number))
WEBSPACE_BY_KEY = WEBSPACE.where(*eq(_t.org, _t.key))
WEBSPACES_OF_ORG = WEBSPACE.where(*eq(_t.org), order=_t.number)
LAST_WEBSPACE_NUMBER = sql.Statement(f"SELECT MAX({_t.number}) FROM {_t} WHERE {_t.org} = ?")

# Archive entries (what their audit events recorded: audit.events_by_id).
_a = Table(AvacyConsent, "a")
ENTRY = sql.Select("EntryRow", sql.columns(AvacyConsent, "a"), f"FROM {_a}")
ENTRY_BY_ID = ENTRY.where(*eq(_a.org, _a.id))
ENTRY_BY_ORG = f"{_a.org} = ?"
ENTRY_NEWEST_FIRST = f"{_a.id} DESC"

# Filters of the archive list, by name; ``archive.page`` ANDs those given (newest first). An
# identifier is searched by its subject's id (``ledger.find_subject``: a keyed lookup), never
# by the plain value.
ENTRY_FILTERS = {
    "subject_id": f"{_a.subject} = ?",
    "webspace_number": f"{_a.webspace_number} = ?",
    "channel": f"{_a.channel} = ?",
    "date_from": f"{_a.created_at} >= ?",
    "date_to": f"{_a.created_at} < ?",
    "before_id": f"{_a.id} < ?",
}


@lru_cache(maxsize=None)
def entry_page(names: tuple[str, ...]) -> sql.Select:
    """A page of the archive, newest first, filtered by these of :data:`ENTRY_FILTERS` (params:
    org id, the filters' values, limit)."""
    return ENTRY.where(ENTRY_BY_ORG, *(ENTRY_FILTERS[n] for n in names),
                       order=ENTRY_NEWEST_FIRST, limit=True)

# The decisions of some entries, in recorded order (their ledger consents:
# ledger.consents_by_seq and ledger.binding).
_d = Table(AvacyDecision, "d")
DECISION = sql.Select("DecisionRow", sql.columns(AvacyDecision, "d"), f"FROM {_d}")


@lru_cache(maxsize=None)
def decisions_of(count: int) -> sql.Statement:
    """The decisions of ``count`` (padded) entries (an ``IN`` list), in recorded order."""
    return DECISION.where(f"{_d.entry} IN ({sql.marks(count)})", order=_d.consent)


# People's rights (.people): a person's entries, by subject (the (org, subject, id) index);
# the entries whose proofs retention removes, oldest first (the (org, created_at) index).
ENTRIES_OF_SUBJECT = ENTRY.where(*eq(_a.org, _a.subject), order=_a.id)
PROOFS_BEFORE = ENTRY.where(*eq(_a.org), f"{_a.created_at} < ?", f"{_a.proofs} IS NOT NULL",
                            order=_a.created_at, limit=True)
