"""``seed-demo --sample N``: a realistic history of N consent records in the demo organisation,
across every provider's API and the ledger's, spread over the last 30 days, so a demo (the
operator console first of all) shows something at once.

What it does is what clients would have done: each step is a request to the service's own wire
APIs (a Flask test client, in process), made with the clock frozen at the step's time in the past
(:func:`consent.core.clock.frozen`). So every record goes through the product's own code: its
audit event, its covered rows, the ``consent.recorded`` hook that keeps the console's daily
counts, the webhooks it queues; ``audit verify`` passes afterwards.

The history, in time order (the chain's order):

* truConsent: consent logs of the demo collection point (approved, declined; some from an
  anonymous id, later mapped to the user it turns out to be; some revoked later);
* Veriff: sessions of a sample integration, each with consent uploads and then a decision
  (approved, declined, resubmission requested), whose decision webhook is queued;
* Avacy: archive consents of the demo webspace (preferences and legal notices);
* Attestr: consent registrations of a sample client, some revoked later;
* the ledger's API: decisions, some withdrawn later;
* rights requests: access and erasure, some started, some answered, some refused, a few
  overdue (received more than a month ago and still open).

The decision webhooks went to a receiver that is not there (a loopback port nothing listens
on); their attempts are written as the sender writes them (``outbox.record_attempt``) at times in the
past, most delivered, some failed after every retry, so the webhooks view has both.

N counts consent records (withdrawals included): the ledger holds exactly N more afterwards.
Deterministic with ``CONSENT_SEED`` (consent.core.ids): the same seed gives the same requests,
so the same ids in the same order; times are relative to the start of the current UTC day (a
run the same day gives the same times; another day, the same history moved by whole days).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import random
from dataclasses import dataclass, field
from typing import Callable

from consent.core import clock, ids

DAYS = 29                       # yesterday back to 29 days ago (the overview shows 30 with today)
WEIGHTS = (("truconsent", 30), ("ledger", 20), ("avacy", 20), ("veriff", 15), ("attestr", 15))
LEDGER_PURPOSES = ("newsletter", "analytics", "personalisation", "research")
AVACY_PREFERENCES = ("newsletter", "updates", "profiling")
VERIFF_CONSENTS = (("bipa", "I agree to the processing of my biometric data."),
                   ("aadhaar", "I agree to verify my identity with my Aadhaar number."))
ATTESTR_CATEGORIES = {"BANK_ACC": {"category": "financial", "values": ["bank_account", "ifsc"]},
                      "PAN": {"category": "identity", "values": ["pan"]}}
FIRST = ("Aarav", "Maria", "Luca", "Priya", "Sofia", "Jonas", "Amara", "Chen", "Elif", "Noah",
         "Ines", "Ravi", "Hana", "Omar", "Lea", "Mateo", "Yuki", "Zara", "Ivan", "Nora")
LAST = ("Sharma", "Rossi", "Bianchi", "Patel", "Muller", "Garcia", "Okafor", "Kim", "Yilmaz",
        "Novak", "Silva", "Khan", "Ito", "Haddad", "Dubois", "Lopez", "Sato", "Ali", "Petrov")
# Where the sample integration's decision webhooks go: a loopback port nothing listens on (the
# attempts are written, not sent: see the module's docstring).
RECEIVER = "http://127.0.0.1:9/demo-receiver/veriff/decision"


class SampleError(RuntimeError):
    """A step answered what it should not have (the service refused part of the history)."""


@dataclass(order=True)
class Step:
    at: dt.datetime
    order: int
    run: Callable = field(compare=False)


@dataclass
class Person:
    email: str
    phone: str
    name: tuple
    user_id: str
    age: int


class Sample:
    def __init__(self, app, seed: dict, n: int, rng: random.Random, today: dt.datetime):
        self.app, self.seed, self.n, self.rng, self.today = app, seed, n, rng, today
        self.client = app.test_client()
        self.steps: list[Step] = []
        self.records = 0                    # consent records planned
        self.counts: dict[str, int] = {name: 0 for name, _ in WEIGHTS}
        self.made: dict = {}                # what earlier steps made (ids), by story
        self.people: list[Person] = []
        self.met = 0                        # people made, met again or not
        self.deliveries: list[tuple] = []   # (decision time, outcome)
        self.rights = 0

    # -- planning ---------------------------------------------------------------------------

    def when(self, earliest: dt.datetime | None = None, days: int = DAYS) -> dt.datetime:
        """A time in the last ``days`` days before today (or after ``earliest``, still before
        today), busier in the day than at night."""
        if earliest is None:
            day = self.today - dt.timedelta(days=self.rng.randint(1, days))
            hour = min(23, max(0, int(self.rng.gauss(14, 4))))
            return day + dt.timedelta(hours=hour, minutes=self.rng.randrange(60),
                                      seconds=self.rng.randrange(60),
                                      microseconds=self.rng.randrange(10 ** 6))
        room = (self.today - earliest).total_seconds() - 1
        return earliest + dt.timedelta(seconds=self.rng.uniform(min(30.0, room / 2), room))

    def soon(self, after: dt.datetime, seconds: float) -> dt.datetime:
        """A moment after ``after`` (within ``seconds``), still before today."""
        limit = (self.today - after).total_seconds() - 0.001
        return after + dt.timedelta(seconds=min(self.rng.uniform(1, seconds), limit))

    def add(self, at: dt.datetime, run: Callable) -> None:
        self.steps.append(Step(at, len(self.steps), run))

    def person(self, fresh: bool = False) -> Person:
        """Someone new, or (a third of the time) someone seen before; ``fresh``: someone no
        other story meets."""
        if not fresh and self.people and self.rng.random() < 0.33:
            return self.rng.choice(self.people)
        first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
        number = self.met + 1
        p = Person(email=f"{first}.{last}.{number}@example.com".lower(),
                   phone=f"+9198{self.rng.randrange(10 ** 8):08d}", name=(first, last),
                   user_id=f"user-{number:05d}", age=self.rng.randint(18, 80))
        self.met += 1
        if not fresh:
            self.people.append(p)
        return p

    def plan(self) -> None:
        names = [name for name, _ in WEIGHTS]
        weights = [w for _, w in WEIGHTS]
        story = 0
        # every provider at least once when N allows, then by weight
        order = list(names)
        while self.records < self.n:
            name = order.pop(0) if order else self.rng.choices(names, weights)[0]
            left = self.n - self.records
            planned = getattr(self, f"_{name}")(story, left)
            if planned == 0:
                planned = self._ledger(story, left)
            self.records += planned
            self.counts[name if planned else "ledger"] += planned
            story += 1
        for _ in range(max(3, self.n // 60)):
            self._rights_request(story)
            story += 1

    # -- the stories; each returns how many consent records it writes (at most ``left``) --------

    def _ledger(self, story: int, left: int) -> int:
        granted = self.rng.random() < 0.8
        withdraws = granted and left >= 2 and self.rng.random() < 0.15
        # who withdraws later decides nothing else on it meanwhile (their grant stays binding)
        p = self.person(fresh=withdraws)
        purpose = self.rng.choice(LEDGER_PURPOSES)
        at = self.when()
        body = {"subject": p.email, "purpose": purpose,
                "status": "granted" if granted else "denied", "notice_version": "v3",
                "evidence": {"ip": self._ip(), "channel": self.rng.choice(("web", "app"))}}
        self.add(at, lambda: self._remember(story, self._post(
            "/ledger/v1/consents", body, self._admin(), 201)["id"]))
        if withdraws:
            self.add(self.when(at), lambda: self._post(
                f"/ledger/v1/consents/{self.made[story]}/withdraw", {}, self._admin(), 201))
            return 2
        return 1

    def _truconsent(self, story: int, left: int) -> int:
        t = self.seed["truconsent"]
        purposes = list(t["purpose_ids"])
        chosen = [x for x in purposes if self.rng.random() < 0.7] or purposes[:1]
        chosen = chosen[:left]
        p = self.person()
        anonymous = self.rng.random() < 0.15
        user = f"anon-{self.rng.randrange(16 ** 8):08x}" if anonymous else p.phone
        action = "approved" if self.rng.random() < 0.85 else "declined"
        at = self.when()
        body = {"userId": user, "action": action,
                "collectionPointId": t["collection_point_display_id"],
                "purposes": [{"id": x} for x in chosen]}
        headers = {"X-API-Key": t["api_key"], "X-Org-Id": t["org_id"]}
        self.add(at, lambda: self._post("/api/v1/external/consents/record", body, headers))
        planned = len(chosen)
        if anonymous:        # signs up later: the anonymous history moves to the account
            admin = {"X-API-Key": t["admin_api_key"], "X-Org-Id": t["org_id"]}
            self.add(self.soon(at, 3 * 3600), lambda: self._post(
                "/api/v1/external/consents/map-user",
                {"anonymousId": user, "authenticatedUserId": p.phone}, admin))
        elif action == "approved" and left - planned >= 1 and self.rng.random() < 0.12:
            revoked = [self.rng.choice(chosen)]
            self.add(self.when(at), lambda: self._post(
                "/api/v1/external/consents/record",
                {"userId": user, "action": "revoked",
                 "collectionPointId": t["collection_point_display_id"],
                 "purposes": [{"id": x} for x in revoked]}, headers))
            planned += 1
        return planned

    def _avacy(self, story: int, left: int) -> int:
        a = self.seed["avacy"]
        prefs = [x for x in AVACY_PREFERENCES if self.rng.random() < 0.6] or ["newsletter"]
        prefs = prefs[:left]
        p = self.person()
        body = {"subject": {"email": p.email, "first_name": p.name[0], "last_name": p.name[1],
                            "age": p.age},
                "identifier": "email", "ip_address": self._ip(),
                "proofs": "<form><input type=\"checkbox\" checked> I agree</form>",
                "legal_notices": [{"name": "privacy_policy"}, {"name": "cookie_policy"}],
                "preferences": [{"name": x, "accepted": self.rng.random() < 0.8}
                                for x in prefs]}
        headers = {"Authorization": f"Bearer {a['token']}", "Accept": "application/json"}
        path = f"/{a['tenant']}/domains_groups/{a['domains_group_id']}/consents"
        self.add(self.when(), lambda: self._post(path, body, headers, 201))
        return len(prefs)

    def _veriff(self, story: int, left: int) -> int:
        v = self.made.get("veriff-integration")
        if v is None:
            return 0
        uploads = VERIFF_CONSENTS[: min(left, 1 + (self.rng.random() < 0.5))]
        p = self.person()
        at = self.when()
        outcome = self.rng.choices(("approved", "declined", "resubmission_requested"),
                                   (75, 15, 10))[0]

        def create():
            body = {"verification": {"vendorData": p.user_id,
                                     "person": {"firstName": p.name[0],
                                                "lastName": p.name[1]}}}
            self._remember(story, self._post("/v1/sessions", body,
                                             {"X-AUTH-CLIENT": v["key"]}, 201)
                           ["verification"]["id"])

        self.add(at, create)
        t = at
        for kind, words in uploads:
            t = self.soon(t, 120)
            self.add(t, lambda kind=kind, words=words: self._signed(
                f"/v1/sessions/{self.made[story]}/consents",
                {"type": kind, "approved": True, "text": words}, v, 200))
        decided = self.soon(t, 6 * 3600)
        self.add(decided, lambda: self._post(
            f"/ledger/v1/veriff/sessions/{self.made[story]}/decision", {"status": outcome},
            self._admin()))
        if v.get("webhooks"):
            self.deliveries.append((decided, self.rng.random() < 0.85))
        return len(uploads)

    def _attestr(self, story: int, left: int) -> int:
        a = self.seed["attestr"]
        p = self.person()
        at = self.when()
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S+0000")
        till = (at + dt.timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%S+0000")
        reference = f"KYC-{story:06d}-{self.rng.randrange(16 ** 6):06x}"
        service = self.rng.choice(a["services"])
        body = {"consentPurpose": "kyc_verification", "services": [{"service": service}],
                "consentTimestamp": stamp, "consentMode": self.rng.choice(
                    ("email_otp", "mobile_otp")),
                "consentType": self.rng.choice(("single_use", "multi_use")),
                "consentValidFrom": stamp, "consentValidTill": till,
                "consentReferenceId": reference, "consentPrincipalUserId": p.user_id,
                "clientDeclaration": True, "consentOperations": ["VERIFY", "FETCH"],
                "consentDataCategories": [ATTESTR_CATEGORIES.get(
                    service, {"category": "personal_information", "values": ["name"]})]}
        headers = {"Authorization": a["authorization"]}

        def register():
            answer = self._post("/api/v3/public/consent/register", body, headers)
            self._remember(story, answer["_id"])

        self.add(at, register)
        if left >= 2 and self.rng.random() < 0.1:
            self.add(self.when(at), lambda: self._post(
                f"/api/v3/public/consent/{self.made[story]}/revoke", {}, headers))
            return 2
        return 1

    def _rights_request(self, story: int) -> None:
        """Requests people made: a few overdue (received over a month ago, still open), the
        rest in the last weeks, answered or not."""
        p = self.rng.choice(self.people) if self.people else self.person()
        kind = "access" if self.rng.random() < 0.6 else "erasure"
        overdue = self.rights < 2 or self.rng.random() < 0.15
        at = (self.today - dt.timedelta(days=self.rng.randint(31, 40), hours=-10)) if overdue \
            else self.when(days=20)
        fate = "open" if overdue else self.rng.choices(
            ("open", "started", "completed", "refused"), (3, 2, 3, 1))[0]
        if kind == "erasure" and fate == "completed":
            fate = "refused"     # the sample erases no one: its N records stay as they are
        self.rights += 1
        body = {"kind": kind, "subject": p.email,
                "reason": self.rng.choice(("by e-mail", "by letter", "by phone", None))}
        body = {k: v for k, v in body.items() if v is not None}

        def receive():
            self._remember(story, self._post("/ledger/v1/rights-requests", body,
                                             self._admin(), 201)["id"])

        self.add(at, receive)
        if fate == "open":
            return
        later = self.when(at) if not overdue else at + dt.timedelta(days=1)
        base = f"/ledger/v1/rights-requests/{{}}/"
        if fate in ("started", "completed"):
            self.add(later, lambda: self._post(base.format(self.made[story]) + "start", None,
                                               self._admin()))
        if fate == "completed":
            self.add(self.when(later), lambda: self._post(
                base.format(self.made[story]) + "complete", None, self._admin()))
        if fate == "refused":
            self.add(later, lambda: self._post(
                base.format(self.made[story]) + "refuse",
                {"reason": "We could not confirm the requester's identity."}, self._admin()))

    # -- requests ---------------------------------------------------------------------------

    def _ip(self) -> str:
        return f"203.0.113.{self.rng.randrange(1, 255)}"

    def _admin(self) -> dict:
        return {"X-Org-Id": self.seed["org"]["slug"],
                "X-API-Key": self.seed["ledger"]["admin_api_key"]}

    def _remember(self, story: int, value) -> None:
        self.made[story] = value

    def _post(self, path: str, body, headers: dict, expect=200):
        expected = expect if isinstance(expect, tuple) else (expect,)
        data = None if body is None else json.dumps(body)
        answer = self.client.post(path, data=data, headers={
            **headers, **({"Content-Type": "application/json"} if data else {})})
        if answer.status_code not in expected:
            raise SampleError(f"POST {path}: {answer.status_code} "
                              f"{answer.get_data(as_text=True)[:300]}")
        return answer.get_json(silent=True) or {}

    def _signed(self, path: str, body: dict, v: dict, expect: int):
        import hashlib
        import hmac

        raw = json.dumps(body).encode()
        signature = hmac.new(v["secret"].encode(), raw, hashlib.sha256).hexdigest()
        answer = self.client.post(path, data=raw, headers={
            "Content-Type": "application/json", "X-AUTH-CLIENT": v["key"],
            "X-HMAC-SIGNATURE": signature})
        if answer.status_code != expect:
            raise SampleError(f"POST {path}: {answer.status_code} "
                              f"{answer.get_data(as_text=True)[:300]}")
        return answer.get_json(silent=True) or {}

    # -- running ----------------------------------------------------------------------------

    def integration(self, org) -> None:
        """The sample's own Veriff integration, its decision webhooks to :data:`RECEIVER`
        (none if the operator's allowed networks refuse it)."""
        from consent.core.errors import Invalid
        from consent.dialects.veriff import service

        at = self.today - dt.timedelta(days=DAYS + 1)
        with clock.frozen(at):
            issued = service.create_integration(org, name="sample veriff integration",
                                                actor="cli:seed-demo")
            webhooks = True
            try:
                from consent.dialects.veriff import webhooks as veriff_webhooks

                veriff_webhooks.configure(org, issued.credential.id, decision_url=RECEIVER,
                                          actor="cli:seed-demo")
            except Invalid:
                webhooks = False
        self.made["veriff-integration"] = {"key": issued.key, "secret": issued.shared_secret,
                                           "id": issued.credential.id, "webhooks": webhooks}

    def run(self, progress: bool = False) -> None:
        from tqdm import tqdm

        self.steps.sort()
        bar = tqdm(total=len(self.steps), desc="sample history", unit="step",
                   disable=not progress, leave=False)
        try:
            for step in self.steps:
                with clock.frozen(step.at):
                    step.run()
                bar.update(1)
        finally:
            bar.close()

    def settle_webhooks(self, org_id: str, since_id: int) -> dict:
        """Write the sample's decision webhooks' attempts as the sender writes them, at the
        times they would have been made: delivered at the first attempt, or failed after every
        retry (connection refused)."""
        from consent.core import outbound, outbox

        rows = outbox.deliveries(org_id, status="pending", limit=10 ** 6)
        rows = sorted((d for d in rows if d.id > since_id), key=lambda d: d.id)
        outcomes = [ok for _, ok in sorted(self.deliveries, key=lambda x: x[0])]
        times = sorted(at for at, _ in self.deliveries)
        done = {"delivered": 0, "failed": 0}
        for delivery, ok, at in zip(rows, outcomes, times):
            attempts = 1 if ok else outbox.POLICY.max_attempts
            t = at + dt.timedelta(seconds=1)
            for attempt in range(1, attempts + 1):
                answer = (outbound.Answer(200, None, '{"ok":true}') if ok else
                          outbound.Answer(None, "connection refused", None))
                with clock.frozen(min(t, self.today - dt.timedelta(microseconds=1))):
                    outbox.record_attempt(delivery, attempt, answer, self.rng.randrange(3, 40))
                t += dt.timedelta(seconds=outbox.POLICY.delay(attempt))
            done["delivered" if ok else "failed"] += 1
        return done


@contextlib.contextmanager
def _loops_held(app):
    """The app's background loops held still while the history is written: the requests would
    start them (a serving process's first request does), and the webhook sender, the Veriff
    sweeper or a checkpoint would act on the history half-written, at the real time, in an
    order no run repeats. A runner the requests started is stopped after."""
    runner = app.extensions.get("consent.background")
    loops = list(runner.loops) if runner is not None else []
    was_running = runner is not None and runner.running
    held = [(loop, loop.enabled) for loop in loops]
    quiet = logging.getLogger("consent.core.outbox")
    level = quiet.level
    for loop in loops:
        loop.enabled = False
    quiet.setLevel(logging.WARNING)      # the settled attempts are not news
    try:
        yield
    finally:
        quiet.setLevel(level)
        if runner is not None and runner.running and not was_running:
            runner.stop()
        for loop, enabled in held:
            loop.enabled = enabled


def generate(app, seed: dict, n: int, *, progress: bool = False) -> dict:
    """Write the history (see the module's docstring) into the demo organisation ``seed``
    (``seed_demo_data``'s answer names it and holds the credentials each provider's API is
    called with). Returns what was written: consent records per source, rights requests,
    webhook deliveries."""
    from consent.core import ledger, outbox

    if n < 1:
        raise ValueError("the sample needs at least one consent")
    seeded = ids.seeded()
    rng = random.Random(f"consent-sample:{seeded}" if seeded is not None else None)
    now = clock.real_utcnow()
    today = dt.datetime(now.year, now.month, now.day)
    org = ledger.get_org(seed["org"]["slug"])
    newest = outbox.deliveries(org.id, limit=1)
    since = newest[0].id if newest else 0
    sample = Sample(app, seed, n, rng, today)
    with _loops_held(app):
        sample.integration(org)
        sample.plan()
        sample.run(progress=progress)
        webhooks = sample.settle_webhooks(org.id, since)
    return {"consents": sample.records,
            "by_source": {k: v for k, v in sample.counts.items() if v},
            "people": sample.met, "rights_requests": sample.rights,
            "webhooks": webhooks,
            "from": (today - dt.timedelta(days=DAYS)).date().isoformat(),
            "to": (today - dt.timedelta(days=1)).date().isoformat()}
