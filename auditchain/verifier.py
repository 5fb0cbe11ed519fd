"""The standalone verifier: an export of an organisation's audit chain, checked against signed
checkpoints and the installation's public key(s), without the service or its database.

    python -m auditchain --export audit-acme.jsonl \\
        --checkpoint witness.jsonl --checkpoint cp-2025-01-31.json \\
        --public-key checkpoint-keys.pem

* ``--export``: JSON Lines, one event per line with every field its hash covers and the hash
  (``flask --app app audit export --org SLUG -o FILE`` writes it), oldest first from seq 1;
* ``--checkpoint``: files with one checkpoint (a JSON object) or JSON Lines of them (a witness
  file), as many as given;
* ``--sealed-seq``: the seq up to which the chain was written before the installation made
  personal data erasable (``flask --app app audit sealed --org SLUG`` prints it): an event up to
  it whose payload an erasure redacted is taken as stored (see :mod:`auditchain.hashing`);
* ``--public-key``: PEM files of Ed25519 public keys, one or several blocks each
  (``flask --app app audit key show --all`` prints every key the installation has had).

It recomputes every event's hash with :mod:`auditchain.hashing` (the very functions the service
hashes with), checks ``seq`` counts 1, 2, 3... and each ``prev_hash`` is its predecessor's hash;
then, for each checkpoint, its signature under the known keys and that the export's chain extends
it (:func:`auditchain.checkpoint.judge`). It prints one line per finding and exits 0 when the
chain verifies and extends every checkpoint, 1 when anything fails (naming the checkpoint, or the
first bad event), 2 when a file cannot be read or the arguments are wrong.
"""
from __future__ import annotations

import argparse
import json
import sys

from . import checkpoint, hashing

RECORD_FIELDS = (*hashing.CONTENT_FIELDS, "hash")


class ChainResult:
    def __init__(self):
        self.org: str | None = None
        self.count = 0               # events verified
        self.head_hash = hashing.GENESIS
        self.broken_at: int | None = None
        self.reason: str | None = None
        self.event_id: str | None = None
        self.hashes: dict[int, str] = {}
        self.redacted = 0            # events of the sealed prefix taken as stored


def verify_export(lines, wanted_seqs: set[int], sealed_seq: int = 0) -> ChainResult:
    """Walk an export's lines; keep the hashes of the wanted seqs (constant memory otherwise).
    Events up to ``sealed_seq`` whose payload an erasure redacted are taken as stored."""
    result = ChainResult()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        expected = result.count + 1
        result.event_id = None
        try:
            record = json.loads(line)
        except ValueError as exc:
            return _broken(result, expected, f"line {number} is not JSON: {exc}")
        if not isinstance(record, dict) or any(name not in record for name in RECORD_FIELDS):
            return _broken(result, expected, f"line {number} is not an exported event "
                                             f"(fields: {', '.join(RECORD_FIELDS)})")
        result.event_id = record["event_id"]
        if result.org is None:
            result.org = record["org"]
        if record["org"] != result.org:
            return _broken(result, expected, f"event of another organisation ({record['org']})")
        if record["seq"] != expected:
            return _broken(result, expected,
                           f"sequence gap: expected {expected}, found {record['seq']}")
        if record["prev_hash"] != result.head_hash:
            return _broken(result, expected, "prev_hash does not match the previous event's hash")
        try:
            digest = hashing.event_hash(record)
        except (TypeError, ValueError, AttributeError) as exc:
            return _broken(result, expected, f"cannot hash the event: {exc}")
        if digest != record["hash"]:
            if not (expected <= sealed_seq and hashing.is_redacted(record["payload"])):
                return _broken(result, expected, "stored hash does not match the event's content")
            result.redacted += 1   # an erasure's redaction of the sealed prefix: as stored
            digest = record["hash"]
        result.count, result.head_hash = expected, digest
        if expected in wanted_seqs:
            result.hashes[expected] = digest
    return result


def _broken(result: ChainResult, seq: int, reason: str) -> ChainResult:
    result.broken_at, result.reason = seq, reason
    return result


def main(argv=None, out=None) -> int:
    out = out or sys.stdout
    parser = argparse.ArgumentParser(
        prog="python -m auditchain",
        description="Verify an export of a consent ledger's audit chain against signed "
                    "checkpoints, without the service or its database.")
    parser.add_argument("--export", required=True, metavar="FILE",
                        help="the chain's export (JSON Lines, flask --app app audit export)")
    parser.add_argument("--checkpoint", action="extend", nargs="+", default=[], metavar="FILE",
                        help="a checkpoint (JSON) or JSON Lines of them; repeat for several")
    parser.add_argument("--public-key", action="append", default=[], metavar="FILE",
                        help="PEM file of the installation's public key(s); repeat for several")
    parser.add_argument("--sealed-seq", type=int, default=0, metavar="N",
                        help="the chain's sealed prefix (flask --app app audit sealed): events up "
                             "to N that an erasure redacted are taken as stored")
    args = parser.parse_args(argv)
    if args.checkpoint and not args.public_key:
        parser.error("--public-key is needed to check checkpoints")

    def say(text: str) -> None:
        print(text, file=out)

    try:
        keys: dict = {}
        for path in args.public_key:
            with open(path, encoding="utf-8") as fh:
                keys.update(checkpoint.load_public_keys(fh.read()))
        entries = [entry for path in args.checkpoint for entry in checkpoint.read_file(path)]
        with open(args.export, encoding="utf-8") as fh:
            wanted = {cp.seq for _, cp in entries if isinstance(cp, checkpoint.Checkpoint)}
            chain = verify_export(fh, wanted, args.sealed_seq)
    except (OSError, ValueError) as exc:
        say(f"ERROR: {exc}")
        return 2

    failed = 0
    if chain.broken_at is None:
        say(f"OK: export {args.export}: {chain.count} events of organisation {chain.org} "
            f"verify; head seq {chain.count} hash {chain.head_hash}")
        if chain.redacted:
            say(f"NOTE: {chain.redacted} events of the sealed prefix (up to seq "
                f"{args.sealed_seq}) were redacted by erasures: taken as stored, bound by "
                "their neighbours' prev_hash")
    else:
        failed += 1
        say(f"BROKEN: export {args.export}: event seq {chain.broken_at}"
            + (f" ({chain.event_id})" if chain.event_id else "") + f": {chain.reason}")
    for where, cp in entries:
        if isinstance(cp, str):
            failed += 1
            say(f"REFUSED: checkpoint {where}: {cp}")
            continue
        refused = checkpoint.check_signature(cp, keys)
        reason = refused or checkpoint.judge(cp, keys, org=chain.org, head_seq=chain.count,
                                             hash_at=chain.hashes.get, broken_at=chain.broken_at)
        if refused:
            failed += 1
            say(f"REFUSED: checkpoint {where} ({cp.describe()}): {refused}")
        elif reason:
            failed += 1
            say(f"BROKEN: checkpoint {where} ({cp.describe()}): {reason}")
        else:
            say(f"OK: checkpoint {where} ({cp.describe()}): the chain extends it")
    say("VERIFIED" if not failed else f"FAILED: {failed} finding(s)")
    return 1 if failed else 0
