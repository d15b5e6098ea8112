"""Which certificates this process trusts for HTTPS: the system's, plus the CA bundle the heroku CLI trusts.

Its own module (standard library only) because the anonymising engine that
runs in a one-off dyno downloads the backup with it, and takes nothing of the
library's dependencies there (see :mod:`heroku_tools.anonymise.zipapp`).
"""
from __future__ import annotations

import os
import ssl


def ssl_context(environ: dict | None = None) -> ssl.SSLContext:
    """The system's trust store plus the extra CA bundle the heroku CLI trusts.

    ``NODE_EXTRA_CA_CERTS`` is how a company proxy's CA (or a local Heroku)
    is trusted by the CLI; reading it here keeps Python's view of Heroku's
    hosts — the API, signed backup URLs — the same as the CLI's.
    """
    environ = os.environ if environ is None else environ
    context = ssl.create_default_context()
    extra = environ.get("NODE_EXTRA_CA_CERTS")
    if extra and os.path.exists(extra):
        context.load_verify_locations(cafile=extra)
    return context
