"""Veriff's status and reason codes, as its developer documentation publishes them.

Session status codes ("Verification session status codes (table)"): ``started`` 7001 and
``submitted`` 7002 are sent by the event webhook; the decisions by the decision webhook:
``approved`` 9001, ``declined`` 9102, ``resubmission_requested`` 9103, ``expired`` 9104,
``abandoned`` 9104 and ``review`` 9121. ``created`` is never notified. (The page of
``GET /sessions/{id}/decision`` lists 9121 as "abandoned"; the status table, which names every
status, gives abandoned 9104 and review 9121, and that is what is followed here.)

Reason codes ("Verification session decision codes (table)"): one table for ``declined`` and one
for ``resubmission_requested``; ``verification.reasonCode`` carries the code and
``verification.reason`` its description.
"""
from __future__ import annotations

CREATED = "created"
STARTED = "started"
SUBMITTED = "submitted"
APPROVED = "approved"
DECLINED = "declined"
RESUBMISSION = "resubmission_requested"
EXPIRED = "expired"
ABANDONED = "abandoned"
REVIEW = "review"

EVENT_CODES = {STARTED: 7001, SUBMITTED: 7002}
DECISION_CODES = {APPROVED: 9001, DECLINED: 9102, RESUBMISSION: 9103, EXPIRED: 9104,
                  ABANDONED: 9104, REVIEW: 9121}
DECISIONS = tuple(DECISION_CODES)
# After these nothing more happens to a session.
FINAL = (APPROVED, DECLINED, EXPIRED, ABANDONED)
# A session still taking data (media, consents) and able to be submitted.
OPEN = (CREATED, STARTED, RESUBMISSION)
# DELETE /v1/sessions/{id} is refused in the other statuses ("Session is not in a completed
# status.").
DELETABLE = (CREATED, STARTED, APPROVED, DECLINED, RESUBMISSION, EXPIRED, ABANDONED)

DECLINE_REASONS = {
    101: "Physical document not used",
    102: "Suspected document tampering",
    103: "Person showing the document does not appear to match document photo",
    104: "Name entered does not match name on document",
    105: "Suspicious behaviour",
    106: "Known fraud",
    108: "Velocity/abuse duplicated end-user",
    109: "Velocity/abuse duplicated device",
    110: "Velocity/abuse duplicated ID",
    111: "Session fraudulently accessed",
    112: "Restricted IP location",
    113: "Suspicious behaviour - Identity Farming",
    120: "Person on the portrait does not appear to match reference photo",
    121: "User ID missing",
    122: "No reference found",
    123: "Unable to pass registry checks",
    124: "Face already exists in the face collection",
    127: "Face match with blocklist",
    128: "End User ID mismatch",
    129: "Invalid workflow",
}
RESUBMISSION_REASONS = {
    201: "Video and/or photos missing",
    204: "Poor image quality",
    205: "Document damaged",
    206: "Document type not supported",
    207: "Document expired",
}
REASONS = {DECLINED: DECLINE_REASONS, RESUBMISSION: RESUBMISSION_REASONS}
DEFAULT_REASON = {DECLINED: 102, RESUBMISSION: 201}

# Veriff's test-mode convention: a session whose person's first name is one of these gets that
# decision as soon as it is submitted (with the default reason code).
TEST_MODE_NAMES = {"approve": APPROVED, "decline": DECLINED, "resubmit": RESUBMISSION}


class InvalidDecision(ValueError):
    """A decision status or reason code outside Veriff's tables; ``str()`` says why."""


def reason_for(status: str, reason_code: int | None) -> tuple[int | None, str | None]:
    """(reasonCode, reason) of a decision: a code from the status's table (its default when
    none is given), and nothing for a status without reasons."""
    if status not in DECISION_CODES:
        raise InvalidDecision(f"status must be one of {', '.join(DECISIONS)}")
    table = REASONS.get(status)
    if table is None:
        if reason_code is not None:
            raise InvalidDecision(f"a {status} decision has no reason code")
        return None, None
    code = DEFAULT_REASON[status] if reason_code is None else reason_code
    if code not in table:
        raise InvalidDecision(f"reason code {code} is not one of Veriff's {status} reasons "
                              f"({', '.join(str(c) for c in table)})")
    return code, table[code]
