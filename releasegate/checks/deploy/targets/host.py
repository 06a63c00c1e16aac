"""Host target: checks on a machine or container through testinfra backends.

Runbook::

    targets:
      - name: api-host
        kind: host
        url: docker://releasegate-demo-api-0      # local://, ssh://user@host, docker://[user@]container,
                                                  # kubectl://pod?namespace=ns&container=c
        options:
          deploy_command: "systemctl restart demo@{version}"   # optional: how this host deploys
          version_command: "cat /srv/demo/VERSION"            # optional: what version it runs

Both commands are shell command lines of the runbook's; the values put in them ({service},
{version}, {image}) are quoted with ``shlex.quote``, and a template where a quoted value could
still change the command (a placeholder inside quotes, for one) is refused when the runbook is
validated (``checks._support.shell``).

The checks (package installed, service running, port listening, process user, file mode and
owner) read ``/proc`` and use only coreutils where testinfra's own modules need tools that slim
images lack (``ss``, ``ps``): a port is listening when ``/proc/net/tcp{,6}`` has it in state LISTEN,
and a process's user is the real uid in ``/proc/<pid>/status``. A host that cannot be reached
gives an INCONCLUSIVE result, never a pass.
"""

from __future__ import annotations

import shlex
from typing import Any, Literal

from releasegate.checks import secrets
from releasegate.checks._support import hosts, shell
from releasegate.checks._support.hosts import LOCAL_SPEC, get_host
from releasegate.checks.deploy.record import DeploymentRecord
from releasegate.checks.deploy.targets.base import Target, http_version
from releasegate.checks.deploy.targets.containers import http_ok
from releasegate.checks.errors import NotInRunbook, TargetError, TargetUnreachable, describe_error
from releasegate.checks.result import CheckResult
from releasegate.checks.runbook.model import Runbook
from releasegate.checks.runbook.options import HostOptions

CommandKey = Literal["deploy_command", "version_command"]


def _run(host: Any, command: str) -> tuple[int, str, str]:
    done = hosts.run(host, command)
    return done.exit_code, done.stdout, done.stderr


def _checked(host: Any, command: str) -> str:
    rc, out, err = _run(host, command)
    if rc != 0:
        raise RuntimeError(err.strip() or f"{command!r} exited {rc}")
    return out


def _guard(name: str, spec: str, expected: str, fn: Any) -> CheckResult:
    try:
        _checked(get_host(spec), "true")  # an unreachable host must not read as "not installed"
        result: CheckResult = fn()
    except Exception as exc:  # each testinfra backend raises what its transport raises
        return CheckResult.unknown(name, f"could not check on {spec}: {secrets.redact(hosts.describe_host_error(exc))}",
                                   expected, evidence={"host": spec})
    result.evidence.setdefault("host", spec)
    return result


def package_installed(spec: str, package: str) -> CheckResult:
    name = f"package {package} on {spec}"

    def check() -> CheckResult:
        found = get_host(spec).package(package)
        installed = bool(found.is_installed)
        version = str(found.version) if installed else None
        return CheckResult.judge(name, installed, f"installed {version}" if installed else "not installed",
                                 "installed")

    return _guard(name, spec, "installed", check)


def service_running(spec: str, service: str) -> CheckResult:
    name = f"service {service} on {spec}"

    def check() -> CheckResult:
        found = get_host(spec).service(service)
        running = bool(found.is_running)
        return CheckResult.judge(name, running, "running" if running else "not running", "running")

    return _guard(name, spec, "running", check)


def listening_ports(host: Any) -> set[int]:
    out = _checked(host, "cat /proc/net/tcp; cat /proc/net/tcp6 2>/dev/null || true")
    ports: set[int] = set()
    for line in out.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == "0A" and ":" in fields[1]:  # 0A = LISTEN
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def port_listening(spec: str, port: int) -> CheckResult:
    name = f"port {port} listening on {spec}"

    def check() -> CheckResult:
        ports = listening_ports(get_host(spec))
        if not ports:
            return CheckResult.unknown(name, "could not read /proc/net/tcp", "listening")
        return CheckResult.judge(name, port in ports, "listening" if port in ports else "not listening",
                                 "listening", evidence={"listening": sorted(ports)})

    return _guard(name, spec, "listening", check)


_PROCESSES = (
    "for d in /proc/[0-9]*; do "
    "u=$(sed -n 's/^Uid:[[:space:]]*\\([0-9]*\\).*/\\1/p' $d/status 2>/dev/null); "
    "c=$(tr '\\000' ' ' < $d/cmdline 2>/dev/null); "
    "[ -n \"$c\" ] && echo \"${d#/proc/}|$u|$c\"; done; echo ===; cat /etc/passwd"
)


def processes(host: Any) -> list[dict[str, Any]]:
    """pid, uid, user and command line of every process, from /proc."""
    out = _checked(host, shlex.join(["sh", "-c", _PROCESSES]))
    listing, _, passwd = out.partition("===")
    users = {}
    for line in passwd.splitlines():
        parts = line.split(":")
        if len(parts) > 2:
            users[parts[2]] = parts[0]
    found = []
    for line in listing.strip().splitlines():
        pid, uid, command = [*line.split("|", 2), "", ""][:3]
        found.append({"pid": int(pid) if pid.isdigit() else pid, "uid": uid, "user": users.get(uid, uid),
                      "command": command.strip()})
    return found


def process_user(spec: str, pattern: str, user: str | None = None) -> CheckResult:
    """Processes whose command line contains ``pattern`` run as ``user`` (or any non-root user)."""
    wanted = f"as {user}" if user else "as a non-root user"
    name = f"process {pattern!r} on {spec}"
    expected = f"running {wanted}"

    def check() -> CheckResult:
        matching = [p for p in processes(get_host(spec)) if pattern in p["command"] and "/proc/[0-9]" not in
                    p["command"]]
        if not matching:
            return CheckResult.fail(name, "no such process", expected)
        users = sorted({str(p["user"]) for p in matching})
        ok = all(p["uid"] != "0" and (user is None or p["user"] == user) for p in matching)
        return CheckResult.judge(name, ok, f"running as {', '.join(users)}", expected,
                                 evidence={"processes": matching[:10]})

    return _guard(name, spec, expected, check)


def file_permissions(spec: str, path: str, mode: str | None = None, owner: str | None = None,
                     group: str | None = None) -> CheckResult:
    """``path`` exists with this octal mode (e.g. "640"), owner and group."""
    wanted = {k: v for k, v in {"mode": mode, "owner": owner, "group": group}.items() if v}
    name = f"file {path} on {spec}"

    def check() -> CheckResult:
        found = get_host(spec).file(path)
        if not found.exists:
            return CheckResult.fail(name, "missing", wanted or "exists")
        seen = {"mode": f"{int(found.mode):o}", "owner": str(found.user), "group": str(found.group)}
        observed = {k: seen[k] for k in wanted} or "exists"
        ok = all(seen[k] == (v.lstrip("0") or "0" if k == "mode" else v) for k, v in wanted.items())
        return CheckResult.judge(name, ok, observed, wanted or "exists", evidence={"file": seen})

    return _guard(name, spec, str(wanted or "exists"), check)


def host_spec(runbook: Runbook, name: str | None) -> str | CheckResult:
    """The testinfra spec of a host a step names: a spec as written (local://, ssh://..., docker://...), else the
    url of the target of that name; no name is the runbook's first target of kind host, else this machine."""
    if name is None:
        hosts = [t for t in runbook.targets if t.kind == "host"]
        return (hosts[0].url or LOCAL_SPEC) if hosts else LOCAL_SPEC
    if "://" in name:
        return name
    try:
        return runbook.lookup("targets", name).url or LOCAL_SPEC
    except NotInRunbook as exc:
        return CheckResult.unknown(f"host {name}", f"{exc}; name a target or write a testinfra spec such as"
                                   " ssh://user@host or docker://web", "a known host")


class HostTarget(Target):
    """A host reached through testinfra; deploys with the runbook's commands when it has them."""

    NAME = "host"

    @property
    def options(self) -> HostOptions:
        return self._options(HostOptions)

    @property
    def label(self) -> str:
        return f"host target {self.spec.name!r}"

    @property
    def host_spec(self) -> str:
        return self.spec.url or LOCAL_SPEC

    @property
    def host(self) -> Any:
        return get_host(self.host_spec)

    def check_reachable(self) -> None:
        try:
            rc, _, err = _run(self.host, "true")
        except Exception as exc:  # transport errors of the backend
            raise TargetUnreachable(f"host target {self.spec.name!r} ({self.host_spec}) is unreachable:"
                                    f" {describe_error(exc)}") from None
        if rc != 0:
            raise TargetUnreachable(f"host target {self.spec.name!r} ({self.host_spec}) is unreachable:"
                                    f" {secrets.redact(err.strip()[:200])}")

    def _command(self, key: CommandKey, service: str, version: str | None = None) -> str:
        """The runbook's template with the values quoted in (``_support.shell``): a value is one word, never code."""
        template = self.options.deploy_command if key == "deploy_command" else self.options.version_command
        if not template:
            raise TargetError(f"host target {self.spec.name!r} has no options.{key}; a host target only checks"
                              " hosts unless the runbook says how it deploys (deploy_command, version_command)")
        values: dict[str, str | None] = {"service": service}
        if key == "deploy_command":
            # an image reference is made (and its tag checked) only for a template that uses one
            image = self.image_ref(service, version) if version and "image" in shell.placeholders(template) else None
            values |= {"version": version, "image": image}
        try:
            return shell.fill(template, values)
        except shell.ShellTemplateError as exc:
            raise TargetError(f"host target {self.spec.name!r}: options.{key}: {exc}") from None

    def _run_command(self, key: CommandKey, service: str, version: str | None = None) -> str:
        command = self._command(key, service, version)
        rc, out, err = _run(self.host, command)
        if rc != 0:
            raise TargetError(f"host target {self.spec.name!r}: {key} exited {rc}:"
                              f" {secrets.redact((err or out).strip()[-200:])}")
        return out

    def deploy(self, service: str, version: str, *, strategy: str | None = None) -> DeploymentRecord:
        record = self.new_record(service, version, action="command", previous_version=self.serving_version(service))
        record.image = None
        self._run_command("deploy_command", service, version)
        health = self.health(service)
        record.details["health"] = health.as_dict()
        return record.finish("done" if health.passed else "failed")

    def serving_version(self, service: str) -> str | None:
        if self.options.version_command:
            try:
                return self._run_command("version_command", service).strip() or None
            except TargetError:
                return None
        return http_version(self.service(service))

    def health(self, service: str) -> CheckResult:
        spec = self.service(service)
        name = f"{service} healthy on {self.host_spec}"
        ok, status = http_ok(spec.base_url + spec.health)
        return CheckResult.judge(name, ok, f"{spec.health} {status}", f"{spec.health} 2xx")

    def image_exists(self, service: str, version: str) -> CheckResult:
        return CheckResult.unknown(f"image of {service} {version}", "a host target deploys with commands, not images",
                                   "image present")
