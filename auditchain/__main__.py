"""``python -m auditchain``: the standalone verifier (see :mod:`auditchain.verifier`)."""
import sys

from .verifier import main

sys.exit(main())
