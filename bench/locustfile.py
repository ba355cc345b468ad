"""Simulated people for `make bench-load` (run by `manage.py bench_load`, not by hand).

Each simulated user is one person with their own session cookie and API token, who opens one
of the endpoints, thinks for 1–3 s, and opens another. The endpoints, their weights and the
credentials come from the environment the bench command sets:

- BENCH_ENDPOINTS: JSON list of {"name", "path", "auth": "session"|"token", "weight"}
- BENCH_SESSIONS / BENCH_TOKENS: comma-separated session ids and API keys, one per user

Anything but a 200 counts as an error (a redirect to the login page included).
"""

from __future__ import annotations

import itertools
import json
import os
import random

from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

ENDPOINTS = json.loads(os.environ.get("BENCH_ENDPOINTS", "[]"))
WEIGHTS = [endpoint["weight"] for endpoint in ENDPOINTS]
SESSIONS = os.environ.get("BENCH_SESSIONS", "").split(",")
TOKENS = os.environ.get("BENCH_TOKENS", "").split(",")
_numbers = itertools.count()


class Person(FastHttpUser):
    wait_time = between(1, 3)

    def on_start(self) -> None:
        number = next(_numbers)
        self.session_headers = {"Cookie": f"sessionid={SESSIONS[number % len(SESSIONS)]}"}
        self.token_headers = {"Authorization": f"Token {TOKENS[number % len(TOKENS)]}"}

    @task
    def open_something(self) -> None:
        endpoint = random.choices(ENDPOINTS, weights=WEIGHTS)[0]  # noqa: S311 - not crypto
        headers = self.session_headers if endpoint["auth"] == "session" else self.token_headers
        with self.client.get(
            endpoint["path"],
            headers=headers,
            name=endpoint["name"],
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} from {endpoint['path']}")
