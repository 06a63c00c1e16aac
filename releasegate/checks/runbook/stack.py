"""The runbook's ``stack:`` section: a stack the suite starts itself (today one kind, ``local``).

Only the shape is checked here; what the values mean (which demo builds exist, where the data
root is) belongs to the stack's own package (``releasegate.localstack``), which the library never
imports. An empty or absent section means "no stack": the environment is not ours to start.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


class _StackModel(BaseModel):
    # numbers given for passwords (superuser_password: 12345) are read as the text they look like
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


class StackPostgres(_StackModel):
    port: int | None = Field(default=None, ge=1, le=65535, description="default: the port of database.dsn")
    superuser_password: str | None = Field(default=None, repr=False)
    readonly_password: str | None = Field(default=None, repr=False, description="of database.readonly_role")


class LocalStack(_StackModel):
    """dockerd, PostgreSQL, Prometheus and nginx on 127.0.0.1, and the demo's images."""

    kind: Literal["local"] = "local"
    root: str = Field(default=".stack", description="data folder; relative paths are relative to the repository")
    postgres: StackPostgres = Field(default_factory=StackPostgres)
    instance_ports: tuple[int, ...] | None = Field(
        default=None, description="ports Prometheus scrapes demo containers on: '18001-18019' or a list"
    )
    images: list[str] | None = Field(default=None, description="demo builds to build (default: all)")
    prometheus_port: int | None = Field(default=None, ge=1, le=65535, description="default: the port of prometheus.url")
    router_listen: str | None = Field(default=None, description="host:port; default: deploy.router.url's")

    @field_validator("instance_ports", mode="before")
    @classmethod
    def _ports(cls, value: Any) -> Any:
        if value is None:
            return None
        match = _RANGE.match(value) if isinstance(value, str) else None
        if match:
            ports: tuple[int, ...] = tuple(range(int(match.group(1)), int(match.group(2)) + 1))
        elif isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            ports = tuple(value)
        else:
            raise ValueError(f"expected a range such as '18001-18019' or a list of ports, got {value!r}")
        if not ports or any(not 1 <= p <= 65535 for p in ports):
            raise ValueError(f"ports must be between 1 and 65535, got {value!r}")
        return ports


def _no_stack_when_empty(value: Any) -> Any:
    return None if value in (None, {}) else value


StackSection = Annotated[LocalStack | None, BeforeValidator(_no_stack_when_empty)]
"""The type of ``Runbook.stack``: None when the runbook starts no stack."""
