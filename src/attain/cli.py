"""The `attain` command: one entry point for running, loading and operating Attain.

`attain <subcommand> [options]`; each subcommand is a Django management command, so
`attain help <subcommand>` and `attain <subcommand> --help` explain its options.
"""

from __future__ import annotations

import os
import sys

# Subcommands shown first in `attain --help`, in the order a newcomer needs them.
ATTAIN_COMMANDS = {
    "demo": "Migrate, load the demo organisation (once) and serve on http://127.0.0.1:8000.",
    "serve": "Serve the web app (and a background task worker).",
    "migrate": "Create or upgrade the database tables.",
    "generate": "Generate an organisation: --scale tiny|demo|large|<number of reps>.",
    "createuser": "Create a login with a role (rep, manager, ops, finance, executive).",
    "calc": "Run a calculation (e.g. bookings per person and period) and store its results.",
    "import": "Import a CSV/XLSX export: FILE --mapping NAME [--dry-run] (--list-mappings).",
    "forecast": "Forecast now (`run`) or backtest the forecast methods (`backtest`).",
    "comp": "Compensation: `plan-import FILE`, `run --period 2026-Q3`, `statement PERSON PERIOD`.",
    "quality": "Run the data-quality checks and print the scores (findings on /quality/).",
    "db_worker": "Run queued background tasks (imports, calculation runs).",
}


def usage() -> str:
    width = max(len(name) for name in ATTAIN_COMMANDS)
    lines = [
        "usage: attain <command> [options]",
        "",
        "Attain — self-hosted sales operations.",
        "",
        "Commands:",
        *(f"  {name.ljust(width)}  {text}" for name, text in ATTAIN_COMMANDS.items()),
        "",
        "`attain <command> --help` explains a command's options; `attain help --commands`",
        "lists every administrative command (Django's included).",
        "Configuration comes from environment variables: DATABASE_URL, ATTAIN_SECRET_KEY,",
        "ATTAIN_ALLOWED_HOSTS, ATTAIN_DEBUG, ATTAIN_VAR_DIR (see README).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "attain.settings")
    if len(argv) < 2 or argv[1] in {"-h", "--help"} or argv[1:] == ["help"]:
        print(usage())
        return
    from django.core.management import execute_from_command_line

    from attain.settings import VAR_DIR

    VAR_DIR.mkdir(parents=True, exist_ok=True)
    execute_from_command_line(["attain", *argv[1:]])


if __name__ == "__main__":
    main()
