"""The user class the overhead benchmark gives plain `locust --headless`: the same as a one-endpoint profile."""

from __future__ import annotations

from locust import FastHttpUser, constant, task


class PlainUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def index(self) -> None:
        self.client.request("GET", "/", name="GET /")
