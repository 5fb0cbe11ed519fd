"""The audit chain's public rules, free of the service: how an event is hashed, how a checkpoint
is signed, and a standalone verifier of an export against checkpoints.

This package imports nothing but the standard library and ``cryptography`` (for Ed25519), never
Flask, peewee or a database driver, so anyone can verify an export of the chain with it alone
(``python -m auditchain --help``). The service computes every hash with the very same functions
(``consent.core.audit`` and ``consent.core.storage`` import :mod:`auditchain.hashing`), so the
service and the verifier cannot drift apart.

* :mod:`auditchain.hashing`: canonical JSON, the content an event's hash covers, SHA-256;
* :mod:`auditchain.checkpoint`: the signed checkpoint (its message, key ids, signing, checking);
* :mod:`auditchain.verifier`: the standalone verifier (``python -m auditchain``).
"""
