"""`attain serve`: the web app under gunicorn plus one background task worker, stopped together."""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve Attain (gunicorn) with a background task worker. Ctrl-C stops both."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=2, help="Web worker processes")
        parser.add_argument("--no-task-worker", action="store_true",
                            help="Do not start the background task worker")

    def handle(self, *args: Any, **options: Any) -> None:
        python = sys.executable
        worker = None
        if not options["no_task_worker"]:
            worker = subprocess.Popen([python, "-m", "attain.cli", "db_worker"])
        bind = f"{options['host']}:{options['port']}"
        self.stdout.write(f"Attain is serving on http://{bind}/  (Ctrl-C to stop)")
        self.stdout.flush()
        web = subprocess.Popen([
            python, "-m", "gunicorn", "attain.wsgi:application", "--bind", bind,
            "--workers", str(options["workers"]), "--access-logfile", "-", "--log-level", "warning",
        ])
        try:
            web.wait()
        except KeyboardInterrupt:
            pass
        finally:
            for process in (web, worker):
                if process is not None and process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    try:
                        process.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        process.kill()
