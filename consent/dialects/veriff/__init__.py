"""The veriff dialect (in progress)."""


def init_app(app, api):
    pass
