#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "revops.settings")
    # manage.py is the developer's entry point: local development unless DEBUG says otherwise.
    # Servers start through revops.wsgi and Celery through revops.celery, where DEBUG
    # defaults to 0 and production settings apply.
    os.environ.setdefault("DEBUG", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
