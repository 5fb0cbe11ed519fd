"""Entry point: ``flask --app app ...`` and ``gunicorn app:app``."""
from consent import create_app

app = create_app()
