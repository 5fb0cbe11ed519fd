# Copy to instance/config.py (git-ignored) to configure this installation.
# Environment variables (CONSENT_*) override what is set here.

# CONSENT_DATABASE_URL = "postgresql://consent:secret@127.0.0.1:5432/consent"
# CONSENT_PUBLIC_URL = "https://consent.example.org"
# CONSENT_SMTP_URL = "smtp://user:password@smtp.example.org:587"
# CONSENT_MAIL_FROM = "consent@example.org"
# CONSENT_SQLITE_SYNCHRONOUS = "FULL"
# MAX_CONTENT_LENGTH = 1024 * 1024
# Signed checkpoints of the audit chain: where the signing key lives (instances sharing one
# database share it), and a witness to send them to (a URL and/or a file outside this folder).
# CONSENT_CHECKPOINT_KEY_DIR = "/etc/consent/checkpoint-keys"
# CONSENT_CHECKPOINT_WITNESS_URL = "https://witness.example.org/checkpoints"
# CONSENT_CHECKPOINT_WITNESS_FILE = "/var/backups/consent/checkpoints.jsonl"
# CONSENT_CHECKPOINT_EVERY_EVENTS = 1000
# CONSENT_CHECKPOINT_EVERY_MINUTES = 60
