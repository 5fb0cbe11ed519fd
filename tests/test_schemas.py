"""The rows the write paths return are the rows a read returns (so a response dumped from either is
the same), datetimes are written one way, and every stored hash is computed over the same
canonical JSON."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from consent.core import ledger
from consent.core.storage import canonical_json
from schemas.common import UTCDateTime, iso
from schemas.ledger import ConsentSchema


@pytest.mark.parametrize("value", [
    None,
    dt.datetime(2026, 1, 2, 3, 4, 5),
    dt.datetime(2026, 1, 2, 3, 4, 5, 678901),
    dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
])
def test_iso_writes_what_the_schema_field_writes(value):
    assert iso(value) == UTCDateTime().serialize("at", {"at": value})
    if value is not None:
        assert iso(value).endswith("+00:00")


def test_written_rows_equal_rows_read_back(app, org):
    plain = ledger.record_one(org.org.id, ledger.Decision(subject="wire", purpose="mkt",
                                                       status="granted"))
    full = ledger.record_one(org.org.id, ledger.Decision(
        subject="wire", purpose="mkt", status="denied", purpose_version="3",
        notice_version="n-7", valid_from=dt.datetime(2026, 1, 1),
        valid_until=dt.datetime(2027, 1, 1, 12, 30), evidence={"ip": "127.0.0.1", "n": [1, 2]}))
    withdrawn = ledger.withdraw(org.org.id, ledger.record_one(org.org.id, ledger.Decision(
        subject="wire", purpose="sms", status="granted")).id, evidence={"why": "asked"})
    schema = ConsentSchema()
    for consent in (plain, full, withdrawn):
        read = ledger.get_consent(org.org.id, consent.id)
        assert consent == read
        assert schema.dump(consent) == schema.dump(read)
        assert list(schema.dump(consent)) == list(schema.dump(read))  # same key order


def test_the_compiled_export_dump_equals_the_schema(app, org):
    from consent.dialects.ledger.export import dump

    ledger.record_one(org.org.id, ledger.Decision(subject="x", purpose="p", status="granted"))
    full = ledger.record_one(org.org.id, ledger.Decision(
        subject="y", purpose="q", status="denied", purpose_version="3", notice_version="n-7",
        valid_from=dt.datetime(2026, 1, 1), valid_until=dt.datetime(2027, 1, 1, 12, 30),
        evidence={"ip": "127.0.0.1", "n": [1, 2]}))
    ledger.withdraw(org.org.id, ledger.record_one(org.org.id, ledger.Decision(
        subject="y", purpose="s", status="granted")).id, evidence={"why": "asked"})
    rows = list(ledger.export_rows(org.org.id))
    assert len(rows) == 4 and full in rows
    for row in rows:
        assert dump(row) == ConsentSchema().dump(row)
        assert list(dump(row)) == list(ConsentSchema().dump(row))


def test_compile_dump_reproduces_marshmallow_on_every_field_kind(app, org):
    from marshmallow import Schema, fields

    from schemas.common import UTCDateTime, compile_dump

    class Inner(Schema):
        a = fields.String()
        b = fields.Integer(attribute="n.value")

    class Outer(Schema):
        text = fields.String()
        number = fields.Integer(data_key="num")
        flag = fields.Boolean()
        when = UTCDateTime()
        mapping = fields.Dict(keys=fields.String(), values=fields.Integer())
        raw = fields.Raw()
        listed = fields.List(fields.String())
        one = fields.Nested(Inner)
        many = fields.List(fields.Nested(Inner))
        nested_many = fields.Nested(Inner, many=True)
        computed = fields.Function(lambda obj: len(obj["text"]))
        absent = fields.String()
        defaulted = fields.String(dump_default="d")
        nothing = fields.Nested(Inner, allow_none=True)

    obj = {"text": "héllo", "number": "7", "flag": 1, "when": dt.datetime(2026, 1, 2, 3, 4, 5),
           "mapping": {1: "2"}, "raw": {"x": [1, None]}, "listed": ["a", 2],
           "one": {"a": "x", "n": {"value": "3"}}, "many": [{"a": "y", "n": {"value": 4}}],
           "nested_many": [{"a": None, "n": {}}], "nothing": None}
    for schema in (Outer(), Outer(many=True)):
        value = [obj, obj] if schema.many else obj
        assert compile_dump(schema)(value) == schema.dump(value)
        assert list(compile_dump(Outer())(obj)) == list(Outer().dump(obj))


def test_canonical_json_is_sorted_compact_and_utf8():
    value = {"b": [1, "é", None], "a": {"z": dt.datetime(2026, 1, 1)}, "c": True}
    assert canonical_json(value) == json.dumps(value, sort_keys=True, separators=(",", ":"),
                                               ensure_ascii=False, default=str)
    assert canonical_json(value) == '{"a":{"z":"2026-01-01 00:00:00"},"b":[1,"é",null],"c":true}'


# -- dump hooks: the compiled dump refuses them where the route is declared -------------------

def _hooked_schemas():
    from marshmallow import Schema, fields, post_dump, pre_dump

    class Shouting(Schema):
        name = fields.String()

        @post_dump
        def shout(self, data, **kwargs):
            return {k: v.upper() for k, v in data.items()}

    class Prepared(Schema):
        name = fields.String()

        @pre_dump
        def prepare(self, obj, **kwargs):
            return {"name": obj["name"] + "!"}

    class Outer(Schema):
        inner = fields.List(fields.Nested(Shouting))

    return Shouting, Prepared, Outer


def _blueprint():
    from consent.web.blueprint import DialectBlueprint
    from consent.web.dialect import SERVICE_ERRORS

    return DialectBlueprint("hooks_test", __name__, errors=SERVICE_ERRORS)


@pytest.mark.parametrize("which,message", [
    (0, "Shouting has @post_dump (shout)"),
    (1, "Prepared has @pre_dump (prepare)"),
    (2, "Outer.inner has @post_dump (shout)"),
])
def test_a_schema_with_dump_hooks_is_refused_where_its_route_is_declared(which, message):
    schema = _hooked_schemas()[which]
    with pytest.raises(TypeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _blueprint().response(200, schema)


def test_a_hooked_schema_dumped_by_marshmallow_answers_with_its_hooks():
    """``fast=False``: the route answers what marshmallow dumps, hooks and all."""
    from flask import Flask
    from flask.views import MethodView
    from flask_smorest import Api

    Shouting, _, _ = _hooked_schemas()
    blp = _blueprint()

    @blp.route("/shout")
    class Shout(MethodView):
        @blp.response(200, Shouting, fast=False)
        def get(self):
            return {"name": "quiet"}

    app = Flask(__name__)
    app.config.update(API_TITLE="t", API_VERSION="1", OPENAPI_VERSION="3.0.3")
    Api(app).register_blueprint(blp)
    response = app.test_client().get("/shout")
    assert response.status_code == 200 and response.json == {"name": "QUIET"}


def test_a_pluck_field_is_dumped_as_marshmallow_dumps_it():
    from marshmallow import Schema, fields

    from schemas.common import compile_dump

    class Person(Schema):
        name = fields.String()

    class Team(Schema):
        lead = fields.Pluck(Person, "name")
        members = fields.Pluck(Person, "name", many=True)

    team = {"lead": {"name": "a"}, "members": [{"name": "b"}, {"name": "c"}]}
    assert compile_dump(Team())(team) == Team().dump(team) == {"lead": "a", "members": ["b", "c"]}
