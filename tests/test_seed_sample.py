"""``seed-demo --sample N`` (consent.sample): a history of N consent records across every
provider's API and the ledger's, over the last 30 days, written through the service itself (the
chain verifies, the console's daily counts add up), deterministic with CONSENT_SEED."""
from __future__ import annotations

import datetime as dt
import json

from consent import create_app
from consent.console import overview
from consent.console.models import ConsoleDay
from consent.core import clock, ids, ledger, storage
from consent.core.storage import Consent, RightsRequest, WebhookAttempt, WebhookDelivery
from peewee import fn

N = 300
SOURCES = {"api": "truconsent", "veriff": "veriff", "avacy": "avacy", "attestr": "attestr",
           "ledger": "ledger"}


def invoke(runner, *args):
    return runner.invoke(args=list(args), catch_exceptions=False)


def test_seed_demo_sample_writes_a_month_of_history_that_verifies(runner, app):
    result = invoke(runner, "seed-demo", "--sample", str(N))
    assert result.exit_code == 0, result.output
    assert "Sample history: 300 consent records" in result.output
    assert "Keys are shown once" in result.output          # the usual output is all there
    org = ledger.get_org("demo")
    consents = list(Consent.select().where(Consent.org == org.id).order_by(Consent.seq))
    assert len(consents) == N
    per_source = {}
    for c in consents:
        per_source[c.source] = per_source.get(c.source, 0) + 1
    assert set(per_source) == set(SOURCES), per_source          # every provider, and the API
    assert all(n > 0 for n in per_source.values())
    assert {c.status for c in consents} == {"granted", "denied", "withdrawn"}
    # spread over the last 30 days, all in the past, in the chain's order
    now = clock.utcnow()
    days = {c.created_at.date() for c in consents}
    assert len(days) > 20
    assert all(now - dt.timedelta(days=30) < c.created_at < now for c in consents)
    times = [c.created_at for c in consents]
    assert times == sorted(times)
    # the console's daily counts (the consent.recorded hook) add up to the consents
    counted = ConsoleDay.select(fn.SUM(ConsoleDay.count)).where(
        ConsoleDay.org == org.id).scalar()
    assert counted == N
    summary = overview.summary(org.id)
    assert summary["total"] == N
    assert sum(summary["by_status"].totals) == N
    # rights requests, a few overdue; webhook deliveries, delivered and failed
    requests = list(RightsRequest.select().where(RightsRequest.org == org.id))
    assert len(requests) >= 3
    assert sum(r.status in ("received", "in_progress") and r.due_at < now
               for r in requests) >= 2
    assert summary["rights"]["overdue"] >= 2
    deliveries = list(WebhookDelivery.select().where(WebhookDelivery.org == org.id))
    statuses = {d.status for d in deliveries}
    assert statuses == {"delivered", "failed"}, statuses
    failed = [d for d in deliveries if d.status == "failed"]
    assert all(WebhookAttempt.select().where(WebhookAttempt.delivery == d.id).count()
               == d.attempts == 8 for d in failed)
    assert all(a.at < now for a in WebhookAttempt.select())
    # an identity mapping happened (an anonymous visitor signed up)
    assert storage.SubjectLink.select().where(storage.SubjectLink.org == org.id).count() > 0
    verdict = invoke(runner, "audit", "verify")
    assert verdict.exit_code == 0, verdict.output
    assert all(json.loads(line)["ok"] for line in verdict.output.strip().splitlines())


def test_seed_demo_json_carries_the_sample_and_bad_sizes_are_refused(runner):
    result = invoke(runner, "seed-demo", "--json", "--sample", "5")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["sample"]["consents"] == 5
    assert sum(data["sample"]["by_source"].values()) == 5
    for bad in ("0", "-3", "lots"):
        refused = runner.invoke(args=["seed-demo", "--sample", bad])
        assert refused.exit_code == 2 and "--sample" in refused.output


def _sampled_ids(tmp_path, seed: str) -> list:
    tmp_path.mkdir()
    app = create_app({"TESTING": True,
                      "CONSENT_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
                      "CONSENT_CHECKPOINT_KEY_DIR": str(tmp_path / "keys"),
                      "CONSENT_SECRET_KEY": "sample-test-secret", "CONSENT_SEED": seed})
    try:
        result = app.test_cli_runner().invoke(args=["seed-demo", "--sample", str(N)],
                                              catch_exceptions=False)
        assert result.exit_code == 0, result.output
        with app.app_context():
            # the record hashes too: the subjects' secrets come from the seed
            return [(c.id, c.source, c.status, c.created_at.isoformat(), c.record_hash)
                    for c in Consent.select().order_by(Consent.seq)]
    finally:
        app.extensions["consent.background"].stop()
        storage.db.close()
        ids.seed(None)


def test_the_same_seed_gives_the_same_history(tmp_path):
    first = _sampled_ids(tmp_path / "a", "11")
    second = _sampled_ids(tmp_path / "b", "11")
    assert len(first) == N and first == second
    other = _sampled_ids(tmp_path / "c", "12")
    assert [c[0] for c in other] != [c[0] for c in first]
