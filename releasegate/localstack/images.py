"""Container images for the local stack, built without a registry.

    base     releasegate-base:bookworm   Debian bookworm minbase from debootstrap (python3, python3-venv,
                                         ca-certificates, a system user ``appuser``), ``docker import``-ed
    demo     releasegate-demo:<tag>      FROM the base: a venv with the demo's wheels installed with
                                         ``pip install --no-index``, the service code and the migrations
                                         of that build; runs as ``appuser``; has a HEALTHCHECK

The wheels are downloaded on the host (``pip download``, cp311 manylinux) into
``.stack/images/wheels``; a container never reaches a package index.

Every image carries the label ``org.releasegate.input-hash``: a SHA-256 over everything that goes
into it (for the demo images: the base's hash, requirements, wheels, code, migrations, Dockerfile).
A build whose image already exists with the same hash is skipped, so a second run rebuilds nothing
that did not change. ``build_all()`` is what ``scripts/local-stack images`` and ``scripts/setup`` run.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from releasegate.checks._support.docker import docker_client
from releasegate.checks._support.paths import REPO_ROOT
from releasegate.checks.errors import CheckError

DEMO_DIR = REPO_ROOT / "demo"
IMAGES_DIR = REPO_ROOT / ".stack" / "images"
WHEELS_DIR = IMAGES_DIR / "wheels"

HASH_LABEL = "org.releasegate.input-hash"
BUILD_TIMEOUT_S = 600  # the Docker client's: a demo build installs its wheels within one request
BASE_IMAGE = "releasegate-base:bookworm"
DEMO_REPOSITORY = "releasegate-demo"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
SUITE = "bookworm"
PYTHON_TAGS = ("--python-version", "3.11", "--implementation", "cp", "--abi", "cp311")
PLATFORMS = ("manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_34_x86_64")

# The builds of the demo, and the migrations each ships: the newest revision is the one it needs.
GOOD_MIGRATIONS = ("0001_create_items.py", "0002_items_created_by_version.py", "0003_items_description.py")
DEMO_BUILDS: dict[str, tuple[str, ...]] = {
    "1.0.0": GOOD_MIGRATIONS[:2],
    "1.1.0": GOOD_MIGRATIONS,
    "1.1.0-errors": GOOD_MIGRATIONS,
    "1.1.0-slow": GOOD_MIGRATIONS,
    "1.1.0-crash": GOOD_MIGRATIONS,
    "1.1.0-badmigration": (*GOOD_MIGRATIONS[:2], "faulty/0003_items_description.py"),
}

DOCKERFILE = """\
FROM {base}
COPY requirements.txt /tmp/build/requirements.txt
COPY wheels/ /tmp/build/wheels/
RUN python3 -m venv /opt/venv \\
 && /opt/venv/bin/pip install --no-index --no-cache-dir --disable-pip-version-check \\
      --find-links /tmp/build/wheels -r /tmp/build/requirements.txt \\
 && rm -rf /tmp/build
COPY --chown=appuser:appuser app/ /app/
WORKDIR /app
ENV PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \\
    PORT=8000 APP_VERSION={version}
USER appuser
HEALTHCHECK --interval=2s --timeout=3s --start-period=3s --retries=3 \\
    CMD ["/opt/venv/bin/python", "-m", "demo_service", "healthcheck"]
LABEL {label}="{input_hash}" org.releasegate.version="{version}" org.opencontainers.image.version="{version}"
ENTRYPOINT ["/opt/venv/bin/python", "-m", "demo_service"]
CMD ["serve"]
"""

Log = Callable[[str], None]


def _say(message: str) -> None:
    print(f"releasegate images: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class BuildOutcome:
    image: str
    input_hash: str
    built: bool  # False: an image with the same input hash existed, nothing was done


def demo_image(version: str) -> str:
    return f"{DEMO_REPOSITORY}:{version}"


def image_hash(client: Any, image: str) -> str | None:
    """The input-hash label of ``image``, or None when the image does not exist."""
    import docker.errors

    try:
        labels = client.images.get(image).labels or {}
    except docker.errors.ImageNotFound:
        return None
    return str(labels.get(HASH_LABEL, "")) or None


def _digest(parts: Iterable[tuple[str, bytes]]) -> str:
    h = hashlib.sha256()
    for name, data in parts:
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (deb822 or one-line sources)."""
    candidates = [*sorted(Path("/etc/apt/sources.list.d").glob("*.sources")), Path("/etc/apt/sources.list")]
    for path in candidates:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        blocks = text.split("\n\n") if path.suffix == ".sources" else text.splitlines()
        for block in blocks:
            if path.suffix == ".sources":
                fields = dict(
                    line.split(":", 1) for line in block.splitlines() if ":" in line and not line.startswith("#")
                )
                uris = fields.get("URIs", "").split()
                suites = fields.get("Suites", "").split()
                if uris and SUITE in suites:
                    return uris[0]
            else:
                words = block.split()
                if len(words) >= 3 and words[0] == "deb" and SUITE in words:
                    return next(w for w in words[1:] if "://" in w)
    return "http://deb.debian.org/debian"


# --------------------------------------------------------------------------- base image


def base_input_hash() -> str:
    recipe = {"suite": SUITE, "variant": "minbase", "packages": BASE_PACKAGES, "user": "appuser", "recipe": 1}
    return _digest([("recipe", json.dumps(recipe, sort_keys=True).encode()), ("mirror", debian_mirror().encode())])


def build_base(client: Any, *, force: bool = False, log: Log = _say) -> BuildOutcome:
    wanted = base_input_hash()
    if not force and image_hash(client, BASE_IMAGE) == wanted:
        return BuildOutcome(BASE_IMAGE, wanted, built=False)
    for tool in ("debootstrap", "chroot"):
        if shutil.which(tool) is None:
            raise CheckError(f"{tool} not found: install Debian's debootstrap package (scripts/setup does)")
    if os.geteuid() != 0:
        raise CheckError("building the base image needs root (debootstrap); run scripts/setup as root")
    IMAGES_DIR.mkdir(parents=True, exist_ok=True)
    rootfs = IMAGES_DIR / f"rootfs-{wanted[:12]}"
    cache = IMAGES_DIR / "debcache"
    cache.mkdir(exist_ok=True)
    if not (rootfs / ".releasegate-complete").is_file():
        shutil.rmtree(rootfs, ignore_errors=True)
        log(f"debootstrap {SUITE} minbase into {rootfs} (takes a few minutes the first time)")
        _run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(BASE_PACKAGES)}",
                f"--cache-dir={cache}",
                SUITE,
                str(rootfs),
                debian_mirror(),
            ],
            timeout=1800,
        )
        (rootfs / ".releasegate-complete").write_text(wanted)
    _run(["chroot", str(rootfs), "sh", "-c", "getent group appuser || groupadd -r appuser"])
    _run(
        [
            "chroot",
            str(rootfs),
            "sh",
            "-c",
            "getent passwd appuser || useradd -r -g appuser -d /app -s /usr/sbin/nologin appuser",
        ]
    )
    for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for entry in (rootfs / junk).glob("*"):
            if entry.is_file():
                entry.unlink()
    log(f"importing {rootfs} as {BASE_IMAGE}")
    with tempfile.TemporaryDirectory(dir=IMAGES_DIR) as tmp:
        archive = Path(tmp) / "rootfs.tar"
        _run(["tar", "-C", str(rootfs), "--exclude=./.releasegate-complete", "-cf", str(archive), "."], timeout=600)
        repository, tag = BASE_IMAGE.split(":")
        client.api.import_image_from_file(
            str(archive),
            repository=repository,
            tag=tag,
            changes=[f'LABEL {HASH_LABEL}="{wanted}"', 'CMD ["/bin/bash"]', "ENV LANG=C.UTF-8"],
        )
    shutil.rmtree(rootfs, ignore_errors=True)
    if image_hash(client, BASE_IMAGE) != wanted:
        raise CheckError(f"docker import did not produce {BASE_IMAGE} with input hash {wanted[:12]}")
    return BuildOutcome(BASE_IMAGE, wanted, built=True)


# --------------------------------------------------------------------------- wheels


def ensure_wheels(*, log: Log = _say) -> Path:
    """Download the demo's wheels (cp311 manylinux) once per requirements.txt content."""
    requirements = DEMO_DIR / "requirements.txt"
    stamp = WHEELS_DIR / ".requirements.sha256"
    wanted = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if stamp.is_file() and stamp.read_text().strip() == wanted:
        return WHEELS_DIR
    WHEELS_DIR.mkdir(parents=True, exist_ok=True)
    log(f"pip download of {requirements.relative_to(REPO_ROOT)} into {WHEELS_DIR.relative_to(REPO_ROOT)}")
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--only-binary=:all:",
            *PYTHON_TAGS,
            *platforms,
            "-d",
            str(WHEELS_DIR),
            "-r",
            str(requirements),
        ],
        timeout=900,
    )
    stamp.write_text(wanted + "\n")
    return WHEELS_DIR


def _wheel_files() -> list[Path]:
    return sorted(WHEELS_DIR.glob("*.whl"))


# --------------------------------------------------------------------------- demo images


def _demo_files(version: str) -> list[tuple[str, Path]]:
    """(path in the build context, source file) for the app folder of one build."""
    if version not in DEMO_BUILDS:
        raise CheckError(f"unknown demo build {version!r}; known: {', '.join(DEMO_BUILDS)}")
    files: list[tuple[str, Path]] = []
    for source in sorted((DEMO_DIR / "demo_service").glob("*.py")):
        files.append((f"app/demo_service/{source.name}", source))
    migrations = DEMO_DIR / "migrations"
    files.append(("app/migrations/env.py", migrations / "env.py"))
    files.append(("app/migrations/script.py.mako", migrations / "script.py.mako"))
    for name in DEMO_BUILDS[version]:
        source = migrations / ("versions/" + name if "/" not in name else name)
        files.append((f"app/migrations/versions/{Path(name).name}", source))
    return files


def demo_input_hash(version: str, base_hash: str) -> str:
    parts: list[tuple[str, bytes]] = [
        ("base", base_hash.encode()),
        ("version", version.encode()),
        ("dockerfile", DOCKERFILE.encode()),
        ("requirements.txt", (DEMO_DIR / "requirements.txt").read_bytes()),
    ]
    parts += [(f"wheels/{w.name}", w.name.encode()) for w in _wheel_files()]
    parts += [(arcname, source.read_bytes()) for arcname, source in _demo_files(version)]
    return _digest(parts)


def _context(version: str, input_hash: str) -> io.BytesIO:
    """The build context as an in-memory tar (the docker SDK sends it to the engine as is)."""
    buffer = io.BytesIO()
    dockerfile = DOCKERFILE.format(base=BASE_IMAGE, version=version, label=HASH_LABEL, input_hash=input_hash)
    with tarfile.open(fileobj=buffer, mode="w") as tar:

        def add_bytes(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))

        add_bytes("Dockerfile", dockerfile.encode())
        add_bytes("requirements.txt", (DEMO_DIR / "requirements.txt").read_bytes())
        for wheel in _wheel_files():
            tar.add(str(wheel), arcname=f"wheels/{wheel.name}")
        for arcname, source in _demo_files(version):
            add_bytes(arcname, source.read_bytes())
    buffer.seek(0)
    return buffer


def build_demo(client: Any, version: str, base_hash: str, *, force: bool = False, log: Log = _say) -> BuildOutcome:
    image = demo_image(version)
    wanted = demo_input_hash(version, base_hash)
    if not force and image_hash(client, image) == wanted:
        return BuildOutcome(image, wanted, built=False)
    log(f"building {image}")
    try:
        client.images.build(fileobj=_context(version, wanted), custom_context=True, tag=image, rm=True, forcerm=True)
    except Exception as exc:
        detail = getattr(exc, "msg", None) or str(exc)
        raise CheckError(f"docker build of {image} failed: {str(detail)[-800:]}") from None
    if image_hash(client, image) != wanted:
        raise CheckError(f"docker build did not label {image} with input hash {wanted[:12]}")
    return BuildOutcome(image, wanted, built=True)


def build_all(
    versions: Iterable[str] | None = None, *, client: Any = None, force: bool = False, log: Log = _say
) -> list[BuildOutcome]:
    """Build whatever is missing or stale: the base, the wheels, every demo build (or ``versions``)."""
    client = client or docker_client(timeout=BUILD_TIMEOUT_S)
    base = build_base(client, force=force, log=log)
    ensure_wheels(log=log)
    outcomes = [base]
    for version in versions or DEMO_BUILDS:
        outcomes.append(build_demo(client, version, base.input_hash, force=force, log=log))
    return outcomes


def missing_images(client: Any) -> list[str]:
    """Images that do not exist or whose input hash no longer matches their inputs."""
    stale: list[str] = []
    base_hash = base_input_hash()
    if image_hash(client, BASE_IMAGE) != base_hash:
        stale.append(BASE_IMAGE)
    wheels_ready = (WHEELS_DIR / ".requirements.sha256").is_file()
    for version in DEMO_BUILDS:
        if not wheels_ready or image_hash(client, demo_image(version)) != demo_input_hash(version, base_hash):
            stale.append(demo_image(version))
    return stale


def _run(command: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CheckError(f"{command[0]} did not finish within {timeout:g}s") from None
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip()[-800:]
        raise CheckError(f"{' '.join(command[:3])} ... failed (exit {result.returncode}): {tail}")
    return result
