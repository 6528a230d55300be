"""Django settings for Attain, configured from environment variables (README, "Configuration")."""

import os
import warnings
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("ATTAIN_VAR_DIR", Path.cwd() / "var")).resolve()


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = _flag("ATTAIN_DEBUG", False)
SECRET_KEY = os.environ.get("ATTAIN_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and _flag("ATTAIN_REQUIRE_SECRET_KEY", False):
        raise RuntimeError("ATTAIN_SECRET_KEY must be set in production.")
    SECRET_KEY = "attain-insecure-development-key-change-me"  # documented in README
ALLOWED_HOSTS = [h.strip() for h in os.environ.get(
    "ATTAIN_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get(
    "ATTAIN_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "attain.core",
    "attain.people",
    "attain.crm",
    "attain.ingest",
    "attain.pipeline",
    "attain.performance",
    "attain.forecasting",
    "attain.compensation",
    "attain.web",
    "attain.api",
    "attain.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "attain.people.visibility.RememberReportingLines",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "attain.urls"
WSGI_APPLICATION = "attain.wsgi.application"
ASGI_APPLICATION = "attain.asgi.application"

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
                "attain.web.context.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'attain.sqlite3'}"),
        conn_max_age=int(os.environ.get("ATTAIN_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
# The company's time zone: business dates (close dates, booking dates) are read in it.
TIME_ZONE = os.environ.get("ATTAIN_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Without `collectstatic`, WhiteNoise serves the apps' static files straight from the package
# (finders) and would warn on every start that STATIC_ROOT does not exist yet: that is expected.
WHITENOISE_USE_FINDERS = True
warnings.filterwarnings("ignore", message="No directory at: ", category=UserWarning)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

TASKS = {
    "default": {"BACKEND": os.environ.get(
        "ATTAIN_TASKS_BACKEND", "django_tasks_db.DatabaseBackend")}
}

# Company-wide settings that have no page yet.
ATTAIN_COMPANY_CURRENCY = os.environ.get("ATTAIN_COMPANY_CURRENCY", "USD")
ATTAIN_ENGINE_BACKEND = os.environ.get("ATTAIN_ENGINE_BACKEND", "duckdb")
# Imports: uploaded files, problem reports and progress live under MEDIA_ROOT (never served
# publicly: downloads go through the import pages, which check the role).
MEDIA_ROOT = VAR_DIR / "uploads"
ATTAIN_IMPORT_MAX_BYTES = int(os.environ.get("ATTAIN_IMPORT_MAX_MB", "512")) * 1024 * 1024
# Forecasts: re-run by the task worker when the latest is older than this many hours (0: only
# after imports and on request); processes statsforecast may use (0: every core).
ATTAIN_FORECAST_EVERY_HOURS = float(os.environ.get("ATTAIN_FORECAST_EVERY_HOURS", "24"))
ATTAIN_FORECAST_JOBS = int(os.environ.get("ATTAIN_FORECAST_JOBS", "0"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("ATTAIN_LOG_LEVEL", "WARNING")},
}
