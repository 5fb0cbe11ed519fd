"""The crash test and the concurrency test (see the package's docstring)."""
from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

from consent.testing import Sent, admin_headers, declarations

from .client import Http, Load, next_marker, send
from .database import Database
from .report import OUT, ConcurrencyReport, Report
from .supervision import Instance


def kinds() -> list:
    """Every registered dialect's crash kinds (``consent.testing.CrashKind`` subclasses)."""
    return [kind for declared in declarations() for kind in declared.crash]


# -- the crash test -------------------------------------------------------------------------

class CrashTest:
    def __init__(self, url: str, instances: int = 1, workers: int = 2, clients: int = 8,
                 cycles: int = 20, seed: int | None = None, log_dir: Path = OUT,
                 progress: bool = False, label: str | None = None,
                 kill_window: tuple[float, float] = (0.3, 1.5), cli_every_cycle: bool = True):
        self.url, self.cycles, self.clients = url, cycles, clients
        # verify with the CLI after every crash, or (quicker: no interpreter to start) with
        # GET /ledger/v1/audit/verify, the CLI then running after the last cycle only
        self.cli_every_cycle = cli_every_cycle
        self.kill_window = kill_window  # seconds of load before each instance's SIGKILL
        self.rnd = random.Random(seed)
        log_dir.mkdir(parents=True, exist_ok=True)
        label = label or ("postgres" if url.startswith("postgres") else "sqlite")
        self.servers = [Instance(url, workers, log_dir / f"crash-{label}-{i}.log")
                        for i in range(instances)]
        for s in self.servers:
            s.log.write_bytes(b"")
        self.report = Report(label, instances)
        self.progress = progress
        self.acked: list[Sent] = []
        self.expected: dict[str, tuple] = {}

    def violation(self, text: str) -> None:
        self.report.violations.append(text)

    def run(self) -> Report:
        started = time.monotonic()
        first = self.servers[0]
        self.seed = json.loads(first.flask("seed-demo", "--json").stdout)
        self.kinds = [k(self.seed) for k in kinds()]
        self.by_name = {k.name: k for k in self.kinds}
        try:
            for s in self.servers:
                s.spawn()
            for s in self.servers:
                s.wait_ready()
            self.calibrate()
            bar = None
            if self.progress:
                from tqdm import tqdm
                bar = tqdm(total=self.cycles, desc=f"crash {self.report.database} "
                           f"x{len(self.servers)}", unit="cycle", file=sys.stderr)
            for _ in range(self.cycles):
                self.cycle()
                if bar:
                    bar.update()
                    bar.set_postfix(acked=len(self.acked), violations=len(self.report.violations))
            if bar:
                bar.close()
            self.check_all()
            for s in self.servers:
                s.stop()
            self.verify("after the last cycle")
        finally:
            for s in self.servers:
                s.kill()
        for s in self.servers:
            self.scan_log(s)
        self.report.acknowledged = len(self.acked)
        for sent in self.acked:
            self.report.by_kind[sent.kind] = self.report.by_kind.get(sent.kind, 0) + 1
        self.report.seconds = time.monotonic() - started
        return self.report

    def calibrate(self) -> None:
        """One write of each kind, to learn the rows a whole write leaves."""
        with Database(self.url) as db:
            for kind in self.kinds:
                sent = send(self.servers[0].port, kind, kind.build(next_marker()))
                if not sent.acked:
                    raise RuntimeError(f"{kind.name}: {sent.status} {sent.error}")
                counts = kind.counts(db, sent)
                if 0 in counts:
                    raise RuntimeError(f"{kind.name}: rows {counts}")
                self.expected[kind.name] = counts
                self.acked.append(sent)
                self.report.sent += 1

    def cycle(self) -> None:
        self.report.cycles += 1
        kill_at = [self.rnd.uniform(*self.kill_window) for _ in self.servers]
        with Load(self.servers, self.kinds, self.clients) as load:
            start = time.monotonic()
            for index in sorted(range(len(self.servers)), key=kill_at.__getitem__):
                time.sleep(max(0.0, start + kill_at[index] - time.monotonic()))
                self.servers[index].kill()
            time.sleep(0.1)  # a few requests meet the dead ports too
        for s in self.servers:
            s.spawn()  # restart; verify meanwhile (what the crash left is all it can see)
        if self.cli_every_cycle:
            self.verify(f"after crash {self.report.cycles}")
        for s in self.servers:
            s.wait_ready()
        if not self.cli_every_cycle:
            self.verify_http(f"after crash {self.report.cycles}")
        self.check_cycle(load.sent)

    def verify(self, when: str) -> None:
        result = self.servers[0].flask("audit", "verify", check=False)
        if result.returncode != 0:
            self.violation(f"audit verify {when}: {result.stdout}{result.stderr}")
        else:
            self.report.verified += 1

    def verify_http(self, when: str) -> None:
        headers = admin_headers(self.seed)
        for _ in range(100):  # a pass may take several calls on a large ledger
            status, body = Http(self.servers[-1].port).get("/ledger/v1/audit/verify", headers)
            if status != 200 or (body["complete"] and not body["ok"]):
                self.violation(f"GET /ledger/v1/audit/verify {when}: {status} {body}")
                return
            if body["complete"]:
                self.report.verified += 1
                return
        self.violation(f"GET /ledger/v1/audit/verify {when}: never complete")

    def check_cycle(self, sent_list: list[Sent]) -> None:
        self.report.sent += len(sent_list)
        port = self.servers[0].port
        cache: dict = {}
        retry: list[Sent] = []
        with Database(self.url) as db:
            for sent in sent_list:
                kind = self.by_name[sent.kind]
                counts = kind.counts(db, sent)
                expected = self.expected[kind.name]
                if sent.acked:
                    self.acked.append(sent)
                    if counts != expected:
                        self.violation(f"acknowledged {sent.kind} {sent.marker} {sent.ids}: rows "
                                       f"{counts}, expected {expected}")
                    problem = kind.read_back(Http(port), sent, cache)
                    if problem:
                        self.violation(f"acknowledged {sent.kind} {sent.marker}: {problem}")
                else:
                    if sent.status is not None:
                        self.violation(f"{sent.kind} {sent.marker} answered {sent.status}: "
                                       f"{sent.error}")
                    self.report.unacknowledged += 1
                    if "Refused" not in sent.error:
                        self.report.in_flight += 1
                    if counts == expected:
                        self.report.unacknowledged_committed += 1
                    elif any(counts):
                        self.violation(f"unacknowledged {sent.kind} {sent.marker} half-written:"
                                       f" rows {counts}, whole is {expected}")
                # retried: every write in flight at a kill, some refused, some acknowledged
                in_flight = not sent.acked and "Refused" not in sent.error
                if kind.keyed and (in_flight or self.rnd.random() < 0.1):
                    retry.append(sent)
            for sent in retry:
                self.retry(db, sent)

    def retry(self, db: Database, original: Sent) -> None:
        """The same request (same idempotency key) again, to a random instance."""
        kind = self.by_name[original.kind]
        again = Sent(original.kind, original.marker, original.method, original.path,
                     original.headers, original.body, retried=True)
        send(self.rnd.choice(self.servers).port, kind, again)
        self.report.retries += 1
        if not again.acked:
            self.violation(f"retry of {original.kind} {original.marker} -> {again.status} "
                           f"{again.error}")
            return
        if original.acked and again.ids != original.ids:
            self.violation(f"retry of {original.kind} {original.marker} gave {again.ids}, "
                           f"first answer {original.ids}")
        counts = kind.counts(db, again)
        if counts != self.expected[kind.name]:
            self.violation(f"after retry of {original.kind} {original.marker}: rows {counts}")
        if not original.acked:
            self.report.acknowledged_on_retry += 1
            self.acked.append(again)  # acknowledged now: checked again at the end

    def check_all(self) -> None:
        """Every acknowledged write, again, after all the crashes."""
        cache: dict = {}
        port = self.servers[-1].port
        with Database(self.url) as db:
            for sent in self.acked:
                kind = self.by_name[sent.kind]
                counts = kind.counts(db, sent)
                if counts != self.expected[kind.name]:
                    self.violation(f"at the end, acknowledged {sent.kind} {sent.marker}: rows "
                                   f"{counts}")
                problem = kind.read_back(Http(port), sent, cache)
                if problem:
                    self.violation(f"at the end, acknowledged {sent.kind} {sent.marker}: "
                                   f"{problem}")
            for org_id, count, low, high in db.rows(
                    "SELECT org_id, COUNT(*), MIN(seq), MAX(seq) FROM audit_event GROUP BY org_id"):
                if (low, high) != (1, count):
                    self.violation(f"audit chain of {org_id}: {count} events, seqs {low}..{high}")
            orphans = db.value("SELECT COUNT(*) FROM consent c LEFT JOIN audit_event a ON "
                               "a.org_id = c.org_id AND a.seq = c.audit_seq WHERE a.id IS NULL")
            if orphans:
                self.violation(f"{orphans} consents without their audit event")

    def scan_log(self, server: Instance) -> None:
        text = server.log.read_text(errors="replace")
        for needle in ("database is locked", "Traceback"):
            if needle in text:
                self.violation(f"{server.log.name}: {needle!r} in the server log")


# -- concurrency ----------------------------------------------------------------------------

def concurrency(url: str, instances: int = 1, workers: int = 4, connections: int = 32,
                requests: int = 640, log_dir: Path = OUT, label: str | None = None
                ) -> ConcurrencyReport:
    """``connections`` clients sending ``requests`` writes (every dialect) to ``instances``
    gunicorn servers of ``workers`` sync workers on one database, all to the demo organisation:
    no 5xx, no "database is locked", one valid audit chain numbered 1..n."""
    label = label or ("postgres" if url.startswith("postgres") else "sqlite")
    report = ConcurrencyReport(label, instances, workers, connections)
    log_dir.mkdir(parents=True, exist_ok=True)
    servers = [Instance(url, workers, log_dir / f"concurrency-{label}-{i}.log")
               for i in range(instances)]
    started = time.monotonic()
    try:
        for s in servers:
            s.log.write_bytes(b"")
        seed = json.loads(servers[0].flask("seed-demo", "--json").stdout)
        for s in servers:
            s.start()
        load = Load(servers, [k(seed) for k in kinds()], connections, limit=requests)
        with load:
            load.join(timeout=180)
        for sent in load.sent:
            key = str(sent.status) if sent.status is not None else "no answer"
            report.statuses[key] = report.statuses.get(key, 0) + 1
            if not sent.acked:  # a 5xx, a 4xx, or no answer; the error holds the response
                report.violations.append(f"{sent.kind}: {sent.status} {sent.error}")
            if "database is locked" in sent.error:
                report.locked += 1
        report.requests = len(load.sent)
        for s in servers:
            s.stop()
        result = servers[0].flask("audit", "verify", check=False)
        if result.returncode != 0:
            report.violations.append(f"audit verify: {result.stdout}{result.stderr}")
        with Database(url) as db:
            rows = db.rows("SELECT e.seq FROM audit_event e JOIN organisation o ON o.id = e.org_id"
                           " WHERE o.slug = 'demo' ORDER BY e.seq")
        seqs = [r[0] for r in rows]
        report.events = len(seqs)
        if seqs != list(range(1, len(seqs) + 1)):
            report.violations.append(f"audit seqs are not 1..{len(seqs)}")
    finally:
        for s in servers:
            s.kill()
    for s in servers:
        text = s.log.read_text(errors="replace")
        for needle in ("database is locked", "Traceback", "[CRITICAL]", "WORKER TIMEOUT"):
            if needle in text:
                report.violations.append(f"{s.log.name}: {needle!r} in the server log")
    report.seconds = time.monotonic() - started
    return report
