"""Make the upgrade fixtures: databases written by older versions of the service, with their
own code.

    .venv/bin/python tests/upgrade/make_fixtures.py [--postgres URL] [COMMIT ...]
    .venv/bin/python tests/upgrade/make_fixtures.py --scan      # which commits changed the schema

For each commit of :data:`COMMITS` (or those named) it extracts that commit's tree from this
repository's history (``git archive``), runs ``writer.py`` in it with the shared virtualenv
(that version's own ``seed-demo`` and APIs write a record of every kind it has), and keeps:

* ``fixtures/<commit>.sqlite3.gz``: the SQLite file it wrote (checkpointed, so whole);
* ``fixtures/<commit>.postgresql.sql.gz``: the same written on PostgreSQL (a database of its own
  on the server at ``--postgres``, default ``$CONSENT_TEST_DATABASE_URL``), dumped with
  ``pg_dump --no-owner --no-privileges`` (plain SQL);
* ``fixtures/<commit>.<backend>.json.gz``: what that version answered about every record
  (``writer.py``'s output), which tests/test_upgrade.py compares with what the newest code
  answers after ``flask --app app migrate``;
* an entry in ``manifest.json``: the commit, its schema (tables) and how it differs from its
  parent's, and per backend the files, the head hash of each organisation's chain from that
  version's own ``audit verify``, and the links it handed out.

``--scan`` creates each commit's tables on a fresh SQLite file (its own ``init-db``) and prints
the commits whose ``sqlite_master`` differs from their first parent's: how :data:`COMMITS` was
chosen.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FIXTURES = HERE / "fixtures"
MANIFEST = HERE / "manifest.json"
PYTHON = ROOT / ".venv" / "bin" / "python"
SECRET_KEY = "upgrade-fixture-secret-key"
PUBLIC_URL = "http://consent.test"

# The oldest commit (every core table), then every commit whose schema differs from its first
# parent's (``--scan``), on main and on the branches merged into it; and the last commit before
# versioned migrations (the version a running service most likely has). 767bba8 shares
# d68ac46's schema: the issue reproduced the failure on it.
COMMITS = [
    ("7f4ea4a", "the first commit: the core's tables"),
    ("3c3e414", "Veriff's tables"),
    ("a681209", "truConsent's tables"),
    ("eb623b5", "redundant indexes dropped"),
    ("2f7568b", "Veriff sessions get a url (token hash)"),
    ("943af3b", "the webhook outbox"),
    ("b66afb2", "consent and audit indexes for flat reads"),
    ("221c0c9", "consent indexes without the org column"),
    ("cd8167d", "consent terms and uses (may I process?)"),
    ("8b642fa", "Avacy's tables (branch avacy)"),
    ("b992753", "Veriff session lifecycle (branch veriff)"),
    ("80f255b", "verification passes kept in the database"),
    ("a563e2f", "Attestr's tables (branch attestr)"),
    ("8eb766b", "Avacy entries keep their webspace's number (branch avacy)"),
    ("b3a33fb", "merge of avacy"),
    ("d68ac46", "merge of attestr"),
    ("767bba8", "d68ac46's schema; the version the issue reproduced the failure on"),
    ("328c342", "consent.audit_seq instead of a 'recorded' consent event"),
    ("70dec66", "merge of veriff"),
    ("1d841ff", "the last commit before versioned migrations"),
]


def git(*args) -> str:
    return subprocess.check_output(["git", "-C", str(ROOT), *args], text=True).strip()


def extract(commit: str, into: Path) -> None:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)


def schema_rows(path: Path) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return sorted(con.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchall())
    finally:
        con.close()


def fresh_schema(commit: str) -> list[tuple]:
    """The tables a commit's own ``init-db`` creates on a fresh SQLite file."""
    with tempfile.TemporaryDirectory(prefix="upgrade-scan-") as tmp:
        tree = Path(tmp)
        extract(commit, tree)
        env = dict(os.environ, CONSENT_DATABASE_URL=f"sqlite:///{tree / 's.sqlite3'}",
                   CONSENT_SECRET_KEY=SECRET_KEY)
        subprocess.run([str(PYTHON), "-m", "flask", "--app", "app", "init-db"], cwd=tree,
                       env=env, check=True, capture_output=True, timeout=300)
        return schema_rows(tree / "s.sqlite3")


def describe_change(before: list[tuple], after: list[tuple]) -> dict:
    old = {(t, n): sql for t, n, _, sql in before}
    new = {(t, n): sql for t, n, _, sql in after}
    out: dict = {}
    for kind, plural in (("table", "tables"), ("index", "indexes")):
        added = sorted(n for t, n in new.keys() - old.keys() if t == kind)
        dropped = sorted(n for t, n in old.keys() - new.keys() if t == kind)
        changed = sorted(n for (t, n) in new.keys() & old.keys()
                         if t == kind and new[(t, n)] != old[(t, n)])
        for label, names in (("added", added), ("dropped", dropped), ("changed", changed)):
            if names:
                out[f"{plural}_{label}"] = names
    return out


def scan() -> None:
    previous: dict[str, list] = {}
    for line in git("log", "--reverse", "--format=%h %p").splitlines():
        commit, *parents = line.split()
        rows = fresh_schema(commit)
        previous[commit] = rows
        base = previous.get(parents[0]) if parents else None
        if base is None or base != rows:
            change = describe_change(base or [], rows)
            print(commit, git("log", "-1", "--format=%s", commit)[:70], json.dumps(change))


# -- PostgreSQL -----------------------------------------------------------------------------------

def pg_admin(url: str, sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def pg_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


# -- writing --------------------------------------------------------------------------------------

def write(commit: str, tree: Path, database_url: str) -> dict:
    out = tree / f"records-{uuid.uuid4().hex}.json"
    env = dict(os.environ, CONSENT_DATABASE_URL=database_url, CONSENT_SECRET_KEY=SECRET_KEY,
               CONSENT_PUBLIC_URL=PUBLIC_URL)
    shutil.copy(HERE / "writer.py", tree / "_upgrade_writer.py")
    result = subprocess.run([str(PYTHON), "_upgrade_writer.py", str(out)], cwd=tree, env=env,
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise SystemExit(f"{commit}: the writer failed\n{result.stdout}\n{result.stderr[-4000:]}")
    return json.loads(out.read_text())


def gzip_to(data: bytes, path: Path) -> None:
    # mtime=0: the same bytes give the same file
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                                compresslevel=9) as f:
        f.write(data)


def summary(records: dict, files: dict) -> dict:
    """What the manifest says of one fixture on one backend."""
    out = {**files, "written_at": records["written_at"],
           "head_hashes": {slug: org["verify"]["head_hash"]
                           for slug, org in records["orgs"].items()},
           "events": {slug: org["verify"]["events"] for slug, org in records["orgs"].items()},
           "consents": {slug: len(org["consent_ids"]) for slug, org in records["orgs"].items()}}
    if "truconsent" in records:
        out["consent_link"] = records["truconsent"]["links"][1]["consent_link"]
    if "veriff" in records and records["veriff"]["sessions"][1].get("url"):
        out["veriff_session_url"] = records["veriff"]["sessions"][1]["url"]
    if records.get("avacy", {}).get("archive_url"):
        out["avacy_archive_url"] = records["avacy"]["archive_url"]
    if "webhooks" in records:
        out["webhook_deliveries"] = len(records["webhooks"])
    return out


def make(commit: str, why: str, pg_url: str | None) -> dict:
    full = git("rev-parse", commit)
    entry = {"commit": commit, "full": full, "why": why,
             "date": git("log", "-1", "--format=%cI", commit),
             "subject": git("log", "-1", "--format=%s", commit)[:120]}
    parents = git("log", "-1", "--format=%P", commit).split()
    with tempfile.TemporaryDirectory(prefix=f"upgrade-{commit}-") as tmp:
        tree = Path(tmp)
        extract(commit, tree)
        path = tree / "fixture.sqlite3"
        records = write(commit, tree, f"sqlite:///{path}")
        con = sqlite3.connect(path)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        rows = schema_rows(path)
        entry["tables"] = sorted(n for t, n, _, _ in rows if t == "table")
        entry["dialects"] = sorted(k for k in ("truconsent", "veriff", "avacy", "attestr")
                                   if k in records)
        entry["schema_change"] = describe_change(
            fresh_schema(parents[0]) if parents else [], rows)
        gzip_to(path.read_bytes(), FIXTURES / f"{commit}.sqlite3.gz")
        gzip_to(json.dumps(records, sort_keys=True).encode(),
                FIXTURES / f"{commit}.sqlite3.json.gz")
        entry["sqlite"] = summary(records, {"database": f"{commit}.sqlite3.gz",
                                            "records": f"{commit}.sqlite3.json.gz"})
        print(f"{commit}: SQLite {path.stat().st_size} bytes", flush=True)
        if pg_url:
            name = f"upgrade_{commit}_{uuid.uuid4().hex[:8]}"
            pg_admin(pg_url, f'CREATE DATABASE "{name}"')
            try:
                url = pg_database(pg_url, name)
                records = write(commit, tree, url)
                dump = subprocess.run(["pg_dump", "--no-owner", "--no-privileges",
                                       "--dbname", url], check=True, capture_output=True).stdout
            finally:
                pg_admin(pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            gzip_to(dump, FIXTURES / f"{commit}.postgresql.sql.gz")
            gzip_to(json.dumps(records, sort_keys=True).encode(),
                    FIXTURES / f"{commit}.postgresql.json.gz")
            entry["postgresql"] = summary(records, {
                "database": f"{commit}.postgresql.sql.gz",
                "records": f"{commit}.postgresql.json.gz"})
            print(f"{commit}: PostgreSQL dump {len(dump)} bytes", flush=True)
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("commits", nargs="*", help="only these (of COMMITS)")
    parser.add_argument("--postgres", default=os.environ.get("CONSENT_TEST_DATABASE_URL"),
                        help="a PostgreSQL server's URL (a database is made and dropped there)")
    parser.add_argument("--scan", action="store_true", help="list the commits that changed "
                                                             "the schema, and stop")
    args = parser.parse_args()
    if args.scan:
        scan()
        return
    if not args.postgres:
        print("no --postgres (nor CONSENT_TEST_DATABASE_URL): SQLite fixtures only",
              file=sys.stderr)
    FIXTURES.mkdir(exist_ok=True)
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {"fixtures": []}
    known = {f["commit"]: f for f in manifest["fixtures"]}
    wanted = [c for c in COMMITS if not args.commits or c[0] in args.commits]
    for commit, why in wanted:
        entry = make(commit, why, args.postgres)
        if not args.postgres and "postgresql" in known.get(commit, {}):
            entry["postgresql"] = known[commit]["postgresql"]   # kept; only SQLite was remade
        known[commit] = entry
    order = [c for c, _ in COMMITS]
    manifest = {
        "about": "Databases written by older versions of the service with their own code; "
                 "made by tests/upgrade/make_fixtures.py, read by tests/test_upgrade.py.",
        "secret_key": SECRET_KEY, "public_url": PUBLIC_URL,
        "fixtures": sorted(known.values(), key=lambda f: order.index(f["commit"])),
    }
    MANIFEST.write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
