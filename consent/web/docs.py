"""``/docs``: Swagger UI served from the service itself (the pinned ``flask-swagger-ui`` package
carries its assets), so the API reference works without internet access."""
from __future__ import annotations

from flask_swagger_ui import get_swaggerui_blueprint

DOCS_PATH = "/docs"


def init_app(app) -> None:
    app.register_blueprint(get_swaggerui_blueprint(
        DOCS_PATH, "/openapi.json", blueprint_name="docs",
        config={"app_name": "Consent Ledger API", "validatorUrl": None,
                "tryItOutEnabled": False, "displayRequestDuration": True}))
    # The page at /docs itself too, not only at /docs/ (its asset URLs are absolute).
    app.add_url_rule(DOCS_PATH, "docs.page", app.view_functions["docs.show"])
