"""The receiver's WSGI entry point for gunicorn: `gunicorn webhooks.wsgi:app`.

Logging is configured here, not in create_app(), so tests keep their own
handlers: JSON lines through the secret filter, like the workers.
"""

from connector import logs
from connector.settings import load_settings
from webhooks.app import create_app

settings = load_settings()
logs.configure(settings)
app = create_app(settings)
# Once at boot, never failing it (bounded like /readyz): the imports and
# connections are made now, not by the first delivery after a (re)start.
app.extensions["ifs_shipbob_readiness"].check()
