"""The WSGI application, warmed before it serves: every gunicorn worker loads the template
engine, compiles the templates each page is assembled from and fills the URL resolver at
start-up instead of on the first request that needs them. A worker that has only ever served
the cached scorecard would otherwise pay about 30 ms for them on its first request after a
publish (revops.warmup)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "revops.settings")
application = get_wsgi_application()

from revops.warmup import process_warm  # noqa: E402  (needs the apps loaded)

process_warm()
