# Copy to instance/config.py (git-ignored) to configure this installation.
# Environment variables (CONSENT_*) override what is set here.

# CONSENT_DATABASE_URL = "postgresql://consent:secret@127.0.0.1:5432/consent"
# CONSENT_PUBLIC_URL = "https://consent.example.org"
# CONSENT_SMTP_URL = "smtp://user:password@smtp.example.org:587"
# CONSENT_MAIL_FROM = "consent@example.org"
# CONSENT_SQLITE_SYNCHRONOUS = "FULL"
# MAX_CONTENT_LENGTH = 1024 * 1024
