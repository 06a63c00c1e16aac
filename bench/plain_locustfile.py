"""The user class the overhead benchmark gives plain `locust --headless`: the same as a one-endpoint profile."""

from __future__ import annotations

import os

from locust import FastHttpUser, constant, task

PATH = os.environ.get("BENCH_PATH", "/")


class PlainUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def index(self) -> None:
        self.client.request("GET", PATH, name=f"GET {PATH}")
