"""Request bodies as Avacy reads them: JSON, or a form encoded the way PHP's ``http_build_query``
encodes nested arrays, which is what Avacy's WordPress plugin sends (``wp_remote_request`` with an
array body: ``consent_data%5B0%5D%5Blabel%5D=email&consent_data%5B0%5D%5Bvalue%5D=...&
consent_features%5B0%5D=privacy_policy``, ``Content-Type: application/x-www-form-urlencoded``).

A form body is read as PHP reads it into ``$_POST`` (the bracketed keys rebuilt by qs-codec, a
port of the ``qs`` library): ``a[x][y]=v`` nests, ``a[]=v`` appends, a repeated key keeps its
last value, ``+`` is a space. Where PHP is lenient this is strict, so bad input is refused rather
than half-read: more than 1,000 variables (PHP's ``max_input_vars``) or nesting deeper than 64
(``max_input_nesting_level``) is an error, and so is a percent-encoded byte sequence that is not
UTF-8 (or Latin-1 when the Content-Type says so), lone surrogates included. The JSON side is the
service's strict JSON (:mod:`consent.web.jsonio`).

:class:`AvacyBlueprint` reads ``location="json_or_form"`` arguments this way and documents both
media types for the operation's request body.
"""
from __future__ import annotations

from copy import deepcopy
from urllib.parse import unquote_to_bytes

from flask_smorest import abort
from qs_codec import Charset, DecodeOptions, Duplicates, decode
from webargs import core

from consent.web import jsonio
from consent.web.blueprint import DialectBlueprint
from consent.web.jsonio import StrictParser

FORM = "application/x-www-form-urlencoded"
MAX_VARS = 1000
MAX_DEPTH = 64
LATIN1 = {"iso-8859-1", "latin1", "latin-1", "iso8859-1", "windows-1252", "cp1252"}


class FormError(ValueError):
    """The form body cannot be read; ``str(error)`` says why."""


def _decoder(encoding: str):
    """Percent-decoding of one key or value: ``+`` is a space, the bytes must be text in the
    body's charset."""
    def decoder(string, charset=None, kind=None):
        if string is None:
            return None
        raw = unquote_to_bytes(string.encode(encoding).replace(b"+", b" "))
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            raise FormError(f"a form field is not valid {encoding.upper()} once "
                            "percent-decoded") from None
    return decoder


def parse_form(body: bytes, charset: str | None = None) -> dict:
    """A form body as PHP builds ``$_POST`` from it. Raises :class:`FormError`."""
    encoding = "latin-1" if (charset or "").lower() in LATIN1 else "utf-8"
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError:
        raise FormError("the body is not valid UTF-8") from None
    if sum(1 for part in text.split("&") if part) > MAX_VARS:
        raise FormError(f"more than {MAX_VARS} form variables")
    options = DecodeOptions(
        depth=MAX_DEPTH, strict_depth=True, parameter_limit=MAX_VARS, list_limit=MAX_VARS,
        duplicates=Duplicates.LAST,
        charset=Charset.LATIN1 if encoding == "latin-1" else Charset.UTF8,
        decoder=_decoder(encoding))
    try:
        value = decode(text, options)
    except FormError:
        raise
    except IndexError:
        raise FormError(f"nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, RecursionError) as exc:
        raise FormError(str(exc) or "the form cannot be read") from None
    try:
        jsonio.check(value)  # lone surrogates (from Latin-1 they cannot come), depth
    except jsonio.JSONError as exc:
        raise FormError(str(exc)) from None
    return value


class AvacyParser(StrictParser):
    """``json_or_form``: strict JSON, or a PHP-style form (by the request's Content-Type)."""

    def load_json_or_form(self, req, schema):
        if req.mimetype != FORM:
            return self.load_json(req, schema)
        data = req.get_data(cache=True)
        if not data:
            return core.missing
        try:
            return parse_form(data, req.mimetype_params.get("charset"))
        except FormError as exc:
            abort(400, messages={"form": [str(exc)]}, exc=exc)


FORM_HELP = ("The same fields, form-encoded as PHP's http_build_query encodes nested arrays "
             "(what Avacy's WordPress plugin sends): a[0][b]=c, booleans as 1/0")


class AvacyBlueprint(DialectBlueprint):
    """A DialectBlueprint whose ``json_or_form`` bodies are read by :class:`AvacyParser` and
    documented as ``application/json`` and ``application/x-www-form-urlencoded``."""

    ARGUMENTS_PARSER = AvacyParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **DialectBlueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "json_or_form": "application/json"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(self._document_form_body)

    @staticmethod
    def _document_form_body(doc, doc_info, **kwargs):
        content = doc.get("requestBody", {}).get("content", {})
        if "application/json" in content and FORM not in content:
            content[FORM] = deepcopy(content["application/json"])
            doc["requestBody"].setdefault("description", FORM_HELP)
        return doc
