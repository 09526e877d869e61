"""All settings, read from environment variables (see the table in README.md).

With nothing set, the platform runs on one machine: SQLite and an embedded broker under `var/`.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import dj_database_url

from config.env import (
    ConfigError,
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_optional,
    env_path,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DJANGO_ENV = env_choice("DJANGO_ENV", "development", ("development", "production", "test"))
PRODUCTION = DJANGO_ENV == "production"

VAR_DIR = env_path("VAR_DIR", BASE_DIR / "var", base=BASE_DIR)
if not PRODUCTION:
    VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    key = env_optional("SECRET_KEY")
    if key:
        if len(key) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters")
        return key
    if PRODUCTION:
        raise ConfigError("SECRET_KEY (or SECRET_KEY_FILE) is required when DJANGO_ENV=production")
    # Made once and kept, so sessions and signed values survive restarts in development.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret_key()
# Off unless asked for, `make run` included: an unhandled error then answers the API's JSON 500, not
# a page with the traceback and the settings for whoever can reach the port.
DEBUG = env_bool("DEBUG", False)
if PRODUCTION and DEBUG:
    raise ConfigError("DEBUG must be off when DJANGO_ENV=production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ConfigError("ALLOWED_HOSTS is required when DJANGO_ENV=production (comma-separated host names)")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "policies_app",
    "moderation_app",
    "training_worker",
]

MIDDLEWARE = [
    "config.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database() -> dict[str, Any]:
    url = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True))
    except ValueError as exc:
        raise ConfigError(f"DATABASE_URL is not a database URL ({exc})") from None
    engine = str(config.get("ENGINE", ""))
    if engine.endswith("sqlite3"):
        # Web and workers write from separate processes: WAL and a busy timeout avoid "database is locked".
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    elif "postgresql" in engine:
        config["ENGINE"] = "config.postgresql"  # Django's, with a health check that skips a round trip
    else:
        raise ConfigError(f"DATABASE_URL must be postgres:// or sqlite:// (got {url.split(':', 1)[0]}://)")
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# A Redis that does not answer a connection at all (a host gone, a firewall) must not hold a request
# for the operating system's TCP timeout of minutes: the cache's connections, and config/redis.py's.
REDIS_CONNECT_TIMEOUT_S = 2.0


def _cache() -> dict[str, Any]:
    url = env_optional("CACHE_URL")
    if url is None:
        return {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    if not url.startswith(("redis://", "rediss://")):
        raise ConfigError("CACHE_URL must be a redis:// URL")
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        "OPTIONS": {"socket_connect_timeout": REDIS_CONNECT_TIMEOUT_S},
    }


CACHES = {"default": _cache()}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
if not PRODUCTION:
    STATIC_ROOT.mkdir(exist_ok=True)
FRONTEND_DIST = BASE_DIR / "frontend" / "dist"
# The built single-page app's files (index.html, /assets/...) are served from the site root.
WHITENOISE_ROOT = FRONTEND_DIST if FRONTEND_DIST.is_dir() else None
WHITENOISE_USE_FINDERS = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Celery -----------------------------------------------------------------------------------
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if not CELERY_BROKER_URL.startswith(("filesystem://", "redis://", "rediss://", "amqp://", "sqla+")):
    raise ConfigError("CELERY_BROKER_URL must be redis://, amqp://, sqla+... or filesystem://")
EMBEDDED_BROKER = CELERY_BROKER_URL.startswith("filesystem://")
if EMBEDDED_BROKER:
    for folder in ("queue", "processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Exchange tables; the transport's default is ./control in the working directory.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # The transport polls its folder when it is empty. Every request waits about half of this
        # to reach a worker, and arrivals spread over it miss the guard's micro-batch: keep it short.
        "polling_interval": 0.01,
    }
    # kombu's own filesystem transport can hand a consumer a half-written message (see the module).
    CELERY_BROKER_TRANSPORT = "config.embedded_broker:Transport"
else:
    # A task taken by a worker that died (acks_late) goes back to the queue after this long.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("BROKER_VISIBILITY_TIMEOUT_S", 3600, minimum=1),
        # Redis: a worker takes from its queues in the order it lists them (`-Q guard,guard-bulk`),
        # not in turn, so a waiting caller's task goes first. Other brokers ignore it.
        "queue_order_strategy": "priority",
    }


def _result_backend() -> str:
    url = env_optional("CELERY_RESULT_BACKEND")
    if url:
        return url
    if EMBEDDED_BROKER:
        results = VAR_DIR / "celery-results"
        results.mkdir(parents=True, exist_ok=True)
        return f"file://{results}"
    if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return CELERY_BROKER_URL
    raise ConfigError("CELERY_RESULT_BACKEND is required when CELERY_BROKER_URL is not redis:// or embedded")


CELERY_RESULT_BACKEND = _result_backend()
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "default"
# The guard worker consumes two queues: `guard` for work someone waits on (synchronous calls, the
# playground, policy tests, readiness pings) and `guard-bulk` for work nobody waits on (async calls
# and batches, recovered decisions, backtests), so a backlog of the second never holds up the first.
GUARD_QUEUE = "guard"
GUARD_BULK_QUEUE = "guard-bulk"
# Webhook deliveries wait on other services' receivers: a worker of their own, so a slow or dead
# receiver never holds up the default queue's sweeps and schedules.
WEBHOOK_QUEUE = "webhooks"
CELERY_TASK_ROUTES = {
    "moderation_app.tasks.deliver_decision_webhook": {"queue": WEBHOOK_QUEUE},
    "moderation_app.tasks.deliver_due_webhooks": {"queue": WEBHOOK_QUEUE},
    "training_worker.tasks.guard.run_backtest": {"queue": GUARD_BULK_QUEUE},
    "training_worker.tasks.guard.*": {"queue": GUARD_QUEUE},
    # The scheduled check is a quick query: it must not wait behind a training run on the train queue.
    "training_worker.tasks.train.train_on_new_reviews": {"queue": "default"},
    "training_worker.tasks.train.*": {"queue": "train"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Results are read only by callers that wait for them (a synchronous moderation call, the
# playground, /readyz), within GUARD_TIMEOUT_S or so. A synchronous call's result holds its whole
# answer (about 1.5 KB), so they need not stay in the broker's Redis for long.
CELERY_RESULT_EXPIRES = 600
CELERY_TASK_TRACK_STARTED = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Celery's Django fixup closes every database connection before and after each task unless told to
# reuse them (then it closes them every this many tasks); reconnecting to PostgreSQL cost each task
# 6-15 ms (bench/worker_connections.py). config/celery.py retires connections by CONN_MAX_AGE and
# after errors, as Django does per request. 0 closes them around every task, as Celery's default does.
CELERY_DB_REUSE_MAX = env_int("WORKER_DB_REUSE_MAX", 1000, minimum=0)
CELERY_TIMEZONE = TIME_ZONE

# --- The guard --------------------------------------------------------------------------------
MODEL_STORE = env_path("MODEL_STORE", VAR_DIR / "models", base=BASE_DIR)
GUARD_BACKEND = env_choice("GUARD_BACKEND", "auto", ("auto", "vllm", "transformers"))
GUARD_TIMEOUT_S = env_float("GUARD_TIMEOUT_S", 30.0, minimum=0.1)
# A decision still pending this long, with nothing on the guard queue, lost its task and is queued again.
DECISION_RECOVER_AFTER_S = env_int("DECISION_RECOVER_AFTER_S", 120, minimum=10)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 12, minimum=1)
WEBHOOK_TIMEOUT_S = env_float("WEBHOOK_TIMEOUT_S", 10.0, minimum=0.1)
READYZ_GUARD_TIMEOUT_S = env_float("READYZ_GUARD_TIMEOUT_S", 2.0, minimum=0.1)
GUARD_MAX_BATCH = env_int("GUARD_MAX_BATCH", 8, minimum=1)
GUARD_MAX_WAIT_MS = env_float("GUARD_MAX_WAIT_MS", 20.0, minimum=0.0)
# Batches one guard worker may have in its model at once, for backends that take concurrent calls (vLLM).
# As many as the worker's task threads (GUARD_CONCURRENCY, 8): no task waits while the engine could take it.
GUARD_BATCHES_IN_FLIGHT = env_int("GUARD_BATCHES_IN_FLIGHT", 8, minimum=1)
GUARD_MAX_THINK_TOKENS = env_int("GUARD_MAX_THINK_TOKENS", 96, minimum=1)
GUARD_PRELOAD = env_bool("GUARD_PRELOAD", True)
# Published policies whose prompt prefix a guard worker computes as it loads a model, before it says
# it is ready, so that the first call under each does not pay for it. 0: none.
GUARD_WARMUP_POLICIES = env_int("GUARD_WARMUP_POLICIES", 8, minimum=0)
GUARD_MAX_CONTENT_TOKENS = env_int("GUARD_MAX_CONTENT_TOKENS", 2048, minimum=16)

# --- Training -----------------------------------------------------------------------------------
TRAIN_MIN_NEW_CASES = env_int("TRAIN_MIN_NEW_CASES", 50, minimum=1)
TRAIN_F1_MARGIN = env_float("TRAIN_F1_MARGIN", 0.01, minimum=0.0)
TRAIN_REPLAY_SIZE = env_int("TRAIN_REPLAY_SIZE", 200, minimum=0)
TRAIN_EVAL_SIZE = env_int("TRAIN_EVAL_SIZE", 500, minimum=1)
TRAIN_TIME_LIMIT_S = env_int("TRAIN_TIME_LIMIT_S", 6 * 3600, minimum=60)
TRAIN_STALE_AFTER_S = env_int("TRAIN_STALE_AFTER_S", 600, minimum=10)
TRAIN_QUEUED_TIMEOUT_S = env_int("TRAIN_QUEUED_TIMEOUT_S", 6 * 3600, minimum=60)

# --- API ----------------------------------------------------------------------------------------
API_KEY_DEFAULT_RATE_PER_MINUTE = env_int("API_KEY_DEFAULT_RATE_PER_MINUTE", 600, minimum=1)
# How long the shared cache may hold a key as authentication reads it (moderation_app/keycache.py).
API_KEY_CACHE_S = env_int("API_KEY_CACHE_S", 10, minimum=0)
# The decisions list counts the rows its filters match up to this many, then says "at least" (config/pagination.py).
DECISION_LIST_COUNT_CAP = env_int("DECISION_LIST_COUNT_CAP", 10_000, minimum=1)

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # The key class comes first so an anonymous request gets 401 with `WWW-Authenticate: Bearer`.
        "moderation_app.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["moderation_app.authentication.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"login": env_str("LOGIN_RATE", "30/min")},
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["config.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "config.schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "config.pagination.StrictLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Arbiter API",
    "DESCRIPTION": "Policy-as-code moderation with a reasoning guard model.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `status`; each set of choices gets its own name instead of a hash.
    "ENUM_NAME_OVERRIDES": {
        "DecisionStatusEnum": "moderation_app.models.Decision.Status",
        "GuardJobStatusEnum": "policies_app.models.GuardJob.Status",
        "ReviewItemStatusEnum": "moderation_app.models.ReviewItem.Status",
        "ModelVersionStatusEnum": "training_worker.models.ModelVersion.Status",
        "TrainingRunStatusEnum": "training_worker.models.TrainingRun.Status",
    },
    # Swagger UI from the installed package, not a CDN: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {
        "handlers": ["console"],
        "level": env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
    },
}

# --- Policies -----------------------------------------------------------------------------------
POLICY_MAX_SOURCE_BYTES = env_int("POLICY_MAX_SOURCE_BYTES", 64 * 1024, minimum=1024)
DEFAULT_POLICY_SLUG = "core-safety"

# --- Moderation ---------------------------------------------------------------------------------
# Bodies over this are refused with 413 before they are parsed (content limits are checked after).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BYTES", 2 * 1024 * 1024, minimum=1024)
MODERATION_MAX_CHARS = env_int("MODERATION_MAX_CHARS", 32_000, minimum=1)
# Each message costs the guard's prompt its markup as well as its content (docs/guard.md, "Long content").
MODERATION_MAX_MESSAGES = env_int("MODERATION_MAX_MESSAGES", 100, minimum=1)
MODERATION_MAX_BATCH = env_int("MODERATION_MAX_BATCH", 32, minimum=1)
MODERATION_MAX_METADATA_BYTES = env_int("MODERATION_MAX_METADATA_BYTES", 16_384, minimum=2)

# --- Review -------------------------------------------------------------------------------------
REVIEW_UNCERTAIN_LOW = env_float("REVIEW_UNCERTAIN_LOW", 0.35, minimum=0.0)
REVIEW_UNCERTAIN_HIGH = env_float("REVIEW_UNCERTAIN_HIGH", 0.5, minimum=0.0)
REVIEW_SAMPLE_RATE = env_float("REVIEW_SAMPLE_RATE", 0.02, minimum=0.0)
REVIEW_SECOND_OPINION_RATE = env_float("REVIEW_SECOND_OPINION_RATE", 0.1, minimum=0.0)
REVIEW_CLAIM_MINUTES = env_int("REVIEW_CLAIM_MINUTES", 15, minimum=1)
# How long an item a reviewer skipped stays out of that reviewer's queue (others can take it at once).
REVIEW_SKIP_MINUTES = env_int("REVIEW_SKIP_MINUTES", 60, minimum=0)
CASE_EVAL_PERCENT = env_int("CASE_EVAL_PERCENT", 20, minimum=0)
