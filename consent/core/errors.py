"""Domain errors. No HTTP in them: each dialect maps them to its own wire format."""


class DomainError(Exception):
    """Base class. ``code`` is a stable machine name; ``message`` is for people."""

    code = "error"

    def __init__(self, message: str = "", **details):
        super().__init__(message or self.code)
        self.message = message or self.code
        self.details = details


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class Gone(DomainError):
    code = "gone"


class Invalid(DomainError):
    code = "invalid"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class RateLimited(DomainError):
    code = "rate_limited"


class Unavailable(DomainError):
    """The service cannot answer now (its database is away, or its schema is not this code's):
    503, with ``retry_after`` seconds."""

    code = "unavailable"

    def __init__(self, message: str = "", retry_after: int = 5, **details):
        super().__init__(message, **details)
        self.retry_after = retry_after
