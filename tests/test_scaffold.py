"""``flask --app app dialect new NAME`` (consent/scaffold/): a fifth dialect edits no shared file
but the registry line.

The fast tests check the command's refusals and the files it writes. The slow one does what a
developer does, in a copy of this tree: runs the command, adds the one line to ``REGISTRY``, and
runs the new dialect's own test and the shared tests that must now cover it (the tenant-isolation
matrix, the fuzzing, the query plans, the contract, the OpenAPI checks, the crash test's short
run), then checks each of them did cover it, and that the matrix fails when the new dialect leaks
a record to another organisation.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from consent import scaffold

ROOT = Path(__file__).resolve().parent.parent
NAME = "zeta"
REGISTRY_FILE = "consent/dialects/__init__.py"
# What a copy of the tree leaves out: version control, the environment, local state, caches.
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "instance", ".hypothesis", "__pycache__",
                                    ".pytest_cache", "node_modules", "*.sqlite3*", "*.pyc")
PG = bool(os.environ.get("CONSENT_TEST_DATABASE_URL"))


def written_files(name: str) -> set[str]:
    return {target.format(name=name) for target in scaffold.FILES.values()}


def files_under(root: Path) -> dict[str, str]:
    """Every file of a tree (relative path -> content hash), caches and the instance's own
    files (its secret key, made by the first app) left out."""
    out = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if path.is_file() and not {"__pycache__", ".venv", "instance"} & set(rel.parts):
            out[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


# -- the command ------------------------------------------------------------------------------

@pytest.fixture
def out(tmp_path):
    """An empty directory to scaffold into (tmp_path also holds the app's database)."""
    path = tmp_path / "out"
    path.mkdir()
    return path


@pytest.mark.parametrize("name, message", [
    ("Zeta", "'Zeta' is not a dialect name: 2 to 24 lower-case letters and digits, starting "
             "with a letter"),
    ("9lives", "'9lives' is not a dialect name"),
    ("z", "'z' is not a dialect name"),
    ("my-api", "'my-api' is not a dialect name"),
    ("../zeta", "'../zeta' is not a dialect name"),
    ("a" * 25, f"{'a' * 25!r} is not a dialect name"),
    ("class", "'class' is not a dialect name"),
    ("veriff", "'veriff' is already a registered dialect"),
    ("ledger", "'ledger' is already a registered dialect"),
    ("core", "'core' is reserved"),
    ("docs", "'docs' is reserved"),
    ("audit", "'audit' is taken: `flask --app app audit` is already a command"),
    ("webhooks", "'webhooks' is taken: `flask --app app webhooks` is already a command"),
    ("banners", "'banners' is taken: dialect truconsent answers URLs under /banners/"),
])
def test_a_bad_or_taken_name_is_refused_and_nothing_written(runner, out, name, message):
    result = runner.invoke(args=["dialect", "new", name, "--root", str(out)])
    assert result.exit_code == 1, result.output
    assert f"Error: {message}" in result.output, result.output
    assert list(out.iterdir()) == []


def test_the_package_is_written_with_the_readmes_files(runner, out):
    result = runner.invoke(args=["dialect", "new", NAME, "--root", str(out)])
    assert result.exit_code == 0, result.output
    expected = {
        f"consent/dialects/{NAME}/{module}.py"
        for module in ("__init__", "models", "queries", "service", "errors", "routes", "cli",
                       "testing")} | {f"schemas/{NAME}.py", f"tests/test_{NAME}.py"}
    assert set(files_under(out)) == expected == written_files(NAME)
    for rel in sorted(expected):
        assert f"wrote {rel}\n" in result.output
        text = (out / rel).read_text()
        compile(text, rel, "exec")   # every template substituted into valid Python
    assert f'add "consent.dialects.{NAME}" to REGISTRY in consent/dialects/__init__.py' \
        in result.output
    # The README's walkthrough names each of them.
    readme = (ROOT / "README.md").read_text()
    walkthrough = readme[readme.index("### Adding a dialect"):readme.index("## Tests")]
    for rel in expected:
        shown = rel.replace(f"/{NAME}", "/<name>").replace(f"_{NAME}", "_<name>")
        assert f"`{shown}`" in walkthrough or f"`{Path(rel).name}`" in walkthrough, rel


def test_existing_files_are_never_overwritten(runner, out):
    assert runner.invoke(args=["dialect", "new", NAME, "--root", str(out)]).exit_code == 0
    mine = out / "consent" / "dialects" / NAME / "service.py"
    mine.write_text("# my work\n")
    result = runner.invoke(args=["dialect", "new", NAME, "--root", str(out)])
    assert result.exit_code == 1
    assert (f"Error: consent/dialects/{NAME}/ already exists (remove it, or pick another name)"
            in result.output)
    assert mine.read_text() == "# my work\n"
    # a stray test or schema module of that name is refused too, and left as it was
    shutil.rmtree(out / "consent")
    (out / "schemas" / f"{NAME}.py").write_text("# mine\n")
    result = runner.invoke(args=["dialect", "new", NAME, "--root", str(out)])
    assert result.exit_code == 1
    assert (f"Error: schemas/{NAME}.py, tests/test_{NAME}.py already exist (remove them, or "
            "pick another name)") in result.output
    assert not (out / "consent").exists()
    assert (out / "schemas" / f"{NAME}.py").read_text() == "# mine\n"


# -- a new dialect, end to end, in a copy of this tree ---------------------------------------

def run(args, cwd, timeout=600):
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def outcomes(junit: Path) -> dict[str, str]:
    """``file::test[id]`` -> passed / failed / skipped, from pytest's JUnit XML."""
    out = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        path = case.get("classname", "").replace(".", "/")
        name = f"{path}.py::{case.get('name')}"
        state = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                state = "failed"
            elif child.tag == "skipped":
                state = "skipped"
        out[name] = state
    return out


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A copy of this tree with the new dialect scaffolded and registered (one line)."""
    copy = tmp_path_factory.mktemp("tree") / "repo"
    shutil.copytree(ROOT, copy, ignore=NOT_COPIED)
    before = files_under(copy)
    made = run(["-m", "flask", "--app", "app", "dialect", "new", NAME], copy, timeout=120)
    assert made.returncode == 0, made.stdout + made.stderr
    registry = copy / REGISTRY_FILE
    text = registry.read_text()
    last = re.findall(r'^    "consent\.dialects\.\w+",\n', text, re.M)[-1]
    registry.write_text(text.replace(last, last + f'    "consent.dialects.{NAME}",\n', 1))
    after = files_under(copy)
    changed = {rel for rel in before if after.get(rel) != before[rel]}
    assert changed == {REGISTRY_FILE}
    assert set(after) - set(before) == written_files(NAME)
    return copy


SHARED = [
    f"tests/test_{NAME}.py",
    "tests/test_tenant_isolation.py",
    "tests/test_fuzz.py::test_fuzz_every_operation_in_process",
    "tests/core/test_query_plans.py",
    "tests/test_dialect_contract.py",
    "tests/test_openapi.py",
    "tests/test_crash.py::test_crash_sqlite",
]


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_registered_scaffold_passes_its_test_and_every_shared_test_covers_it(tree):
    junit = tree / "junit.xml"
    done = run(["-m", "pytest", "-q", "-p", "no:randomly", f"--junitxml={junit}", *SHARED],
               tree, timeout=1100)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    results = outcomes(junit)
    own = {k: v for k, v in results.items() if k.startswith(f"tests/test_{NAME}.py::")}
    assert len(own) == 7 and set(own.values()) == {"passed"}, own
    assert results["tests/test_tenant_isolation.py::test_every_route_is_in_the_matrix"] \
        == "passed"
    assert results["tests/test_fuzz.py::test_fuzz_every_operation_in_process"] == "passed"
    assert results[f"tests/test_dialect_contract.py::test_each_entry_declares_what_its_package_"
                   f"defines[{NAME}]"] == "passed"
    if not PG:   # SQLite's planner, and the crash test's SQLite run
        assert results[f"tests/core/test_query_plans.py::test_the_dialects_reads[{NAME}]"] \
            == "passed"
        assert results["tests/test_crash.py::test_crash_sqlite"] == "passed"

    # Each shared test and the bench see the new dialect's declarations (nothing else named it).
    probe = run(["-c", PROBE], tree, timeout=120)
    assert probe.returncode == 0, probe.stdout + probe.stderr
    assert probe.stdout.splitlines() == [
        f"testing|{NAME}",
        f"isolation|{NAME}.ConsentById:GET|{NAME}.Consents:POST|{NAME}_key",
        "fuzz|headers|known",
        f"bench|{NAME} consent POST|^/{NAME}/v1/consents$",
        f"crash|{NAME}",
        "plans|consent of org",
        f"openapi|/{NAME}/v1/consents|/{NAME}/v1/consents/{{consent_id}}",
    ]


PROBE = f"""
from consent import create_app
from consent.testing import declarations
from bench import dialects as bench
from bench.crash.run import kinds


def out(*words):
    print(*words, sep="|")


d = [x for x in declarations() if x.name == {NAME!r}]
out("testing", d[0].name)
out("isolation", *sorted(f"{{e}}:{{m}}" for e, m in d[0].isolation.routes),
      *[k.name for k in d[0].isolation.kinds])
out("fuzz", *[n for n in ("headers", "known") if getattr(d[0].fuzz, n)])
seed = {{{NAME!r}: {{"org_id": "acme", "api_key": "k"}}}}
out("bench", *[s.name for s in d[0].bench.writes(seed)],
      *[r.pattern for r in bench.floor_routes() if {NAME!r} in r.pattern])
out("crash", *[k.name for k in kinds() if k.name == {NAME!r}])
out("plans", *[p.name for p in d[0].plans("org")])
app = create_app({{"TESTING": True, "CONSENT_DATABASE_URL": "sqlite:///:memory:"}})
paths = app.test_client().get("/openapi.json").json["paths"]
out("openapi", *sorted(p for p in paths if p.startswith("/{NAME}/")))
"""


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_matrix_catches_the_new_dialect_leaking_a_record(tree, tmp_path):
    """Proof that the isolation matrix really exercises the new dialect: make its read ignore
    the organisation, and the matrix names the route."""
    leaky = tmp_path / "repo"
    shutil.copytree(tree, leaky, ignore=NOT_COPIED)
    service = leaky / "consent" / "dialects" / NAME / "service.py"
    text = service.read_text()
    leaks = {"queries.CONSENT_OF_ORG.one((org.id, consent_id))":
             "queries.CONSENT.where('t.\"id\" = ?').one((consent_id,))",
             "ledger.get_consent(org.id, row.consent_id)":
             "ledger.get_consent(row.org_id, row.consent_id)"}
    for scoped, unscoped in leaks.items():
        assert scoped in text
        text = text.replace(scoped, unscoped)
    service.write_text(text)
    done = run(["-m", "pytest", "-q", "-p", "no:randomly", "tests/test_tenant_isolation.py::"
                "test_other_org_reaching_for_this_orgs_records"], leaky, timeout=500)
    assert done.returncode == 1, done.stdout[-4000:] + done.stderr[-2000:]
    assert f"GET {NAME}.ConsentById: " in done.stdout, done.stdout[-4000:]
