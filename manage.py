#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "revops.settings")
    # manage.py is the developer's entry point: local development unless DEBUG says otherwise.
    # Servers start through revops.wsgi and Celery through revops.celery, where DEBUG
    # defaults to 0 and production settings apply.
    os.environ.setdefault("DEBUG", "1")
    import pghistory
    from django.core.management import execute_from_command_line

    # What a command changes is marked with its name in the audit log ("command:seed_demo").
    # Web requests of `runserver` run in threads of their own and carry their user instead.
    command = sys.argv[1] if len(sys.argv) > 1 else "help"
    with pghistory.context(source=f"command:{command}"):
        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
