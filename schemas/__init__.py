"""marshmallow schemas, one module per API dialect, plus ``common``."""
