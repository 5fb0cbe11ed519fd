"""The ledger export: every consent of an organisation, oldest first, as JSON Lines or CSV, each
line the consent as the ledger API returns it. Streams in constant memory (API and CLI)."""
from __future__ import annotations

import csv
import io
import json

from consent.core import ledger
from schemas.common import compile_dump
from schemas.ledger import ConsentSchema

MIMETYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv"}
_SCHEMA = ConsentSchema()
FIELDS = tuple(_SCHEMA.fields)
# ConsentSchema's dump, compiled once: marshmallow's per-field machinery is three quarters of an
# export's time; tests/test_schemas.py checks the two are equal.
dump = compile_dump(_SCHEMA)
# One encoder for every line (json.dumps with options builds a new one per call).
encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": ")).encode


def lines(org, fmt: str):
    """Yield the export as text chunks."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=FIELDS)
        writer.writeheader()
        for c in ledger.export_rows(org.id):
            row = dump(c)
            row["evidence"] = "" if row["evidence"] is None else encode(row["evidence"])
            writer.writerow(row)
            if buffer.tell() > 16384:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()
    else:
        for c in ledger.export_rows(org.id):
            yield encode(dump(c)) + "\n"
