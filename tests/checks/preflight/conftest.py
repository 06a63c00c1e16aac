"""Real things on 127.0.0.1 for the preflight checks: HTTP(S) servers, certificates, PostgreSQL, Docker."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from support import docker_engine
from support.preflight_servers import Behaviour, Route, RunningServer, serve

from releasegate.localstack.postgres import PostgresCluster

# Under xdist every worker gets its own pair of clusters (ports 56000-56049 belong to this area).
WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
WORK_DIR = Path("/tmp/releasegate-preflight") / f"w{WORKER}"
PG_SSL_PORT = 56000 + 2 * WORKER
PG_PLAIN_PORT = PG_SSL_PORT + 1


@pytest.fixture
def http_server() -> Iterator[RunningServer]:
    """A stdlib HTTP server on 127.0.0.1:<ephemeral> answering what ``server.behaviour`` says."""
    yield from serve(Behaviour())


# --- certificates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pem:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Certificates:
    ca: Path
    valid: Pem
    expired: Pem
    wrong_host: Pem
    short_lived: Pem


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write(folder: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Pem:
    cert_path, key_path = folder / f"{stem}.crt", folder / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return Pem(cert_path, key_path)


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A test CA and leaf certificates: valid 90 days, expired, for another host, expiring in 5 days."""
    folder = tmp_path_factory.mktemp("certs")
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("releasegate test CA"))
        .issuer_name(_name("releasegate test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=400))
        .not_valid_after(now + dt.timedelta(days=400))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = folder / "ca.crt"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))

    def leaf(stem: str, names: list[x509.GeneralName], start: dt.datetime, end: dt.datetime) -> Pem:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(stem))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        return _write(folder, stem, cert, key)

    local = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    return Certificates(
        ca=ca_path,
        valid=leaf("valid", local, now - dt.timedelta(days=1), now + dt.timedelta(days=90)),
        expired=leaf("expired", local, now - dt.timedelta(days=100), now - dt.timedelta(days=10)),
        wrong_host=leaf("wrong-host", [x509.DNSName("api.other.test")], now - dt.timedelta(days=1),
                        now + dt.timedelta(days=90)),
        short_lived=leaf("short-lived", local, now - dt.timedelta(days=1), now + dt.timedelta(days=5)),
    )


@pytest.fixture
def https_server() -> Iterator[Callable[[Pem], RunningServer]]:
    """Start an HTTPS server presenting the given certificate; stopped after the test."""
    started: list[Iterator[RunningServer]] = []

    def start(pem: Pem, behaviour: Behaviour | None = None) -> RunningServer:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pem.cert, pem.key)
        running = serve(behaviour or Behaviour(routes={"/health": Route(200, {"status": "healthy"})}), context)
        started.append(running)
        return next(running)

    yield start
    for running in started:
        for _ in running:  # runs the server's finally block
            pass


# --- PostgreSQL ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clusters:
    ssl: PostgresCluster
    plain: PostgresCluster


@pytest.fixture(scope="session")
def pg_clusters() -> Iterator[Clusters]:
    """Two real clusters: one with SSL on (port 56000), one without (56001)."""
    if shutil.which("runuser") is None and not Path("/usr/lib/postgresql").is_dir():
        pytest.fail("PostgreSQL is not installed: run scripts/setup (Debian's postgresql package)")
    clusters = Clusters(
        ssl=PostgresCluster(WORK_DIR / "pg-ssl", PG_SSL_PORT, password="pg-ssl-Secret-1", ssl=True),
        plain=PostgresCluster(WORK_DIR / "pg-plain", PG_PLAIN_PORT, password="pg-plain-Secret-2"),
    )
    for cluster in (clusters.ssl, clusters.plain):
        cluster.destroy()
        cluster.start()
    yield clusters
    for cluster in (clusters.ssl, clusters.plain):
        cluster.destroy()


# --- Docker -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def docker_daemon() -> None:
    """The local Docker engine, started if nothing runs it yet (it is never stopped: others share it)."""
    docker_engine.ensure_running()


@pytest.fixture(scope="session")
def probe_container(docker_daemon: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real running container for testinfra's docker backend, from an image built here.

    No registry is reachable, so the image is a tiny root file system made of this machine's
    own dash, coreutils and libc (enough for ``sh -c``, nproc, df, cat and sleep), pinned to one
    CPU so that a check that really ran inside it can be told apart from one run on the host.
    """
    root = tmp_path_factory.mktemp("rootfs")
    for folder in ("bin", "lib/x86_64-linux-gnu", "lib64", "proc", "sys", "dev", "etc", "tmp"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    libraries = subprocess.run(["ldd", "/bin/dash", "/usr/bin/nproc", "/usr/bin/df"], capture_output=True,
                               text=True, check=True).stdout
    for library in sorted({word for word in libraries.split() if word.startswith("/") and Path(word).is_file()}):
        target = root / library.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(library, target)
    shutil.copy2("/bin/dash", root / "bin" / "sh")
    for program in ("nproc", "df", "cat", "sleep"):
        shutil.copy2(shutil.which(program) or f"/usr/bin/{program}", root / "bin" / program)
    tarball = root.parent / "rootfs.tar"
    subprocess.run(["tar", "-C", str(root), "-cf", str(tarball), "."], check=True)
    image = f"releasegate-preflight-probe:w{WORKER}"
    name = f"releasegate-preflight-probe-{os.getpid()}"
    subprocess.run(["docker", "import", "-c", "ENV PATH=/bin", str(tarball), image], capture_output=True, check=True)
    subprocess.run(["docker", "run", "-d", "--rm", "--cpuset-cpus=0", "--name", name, image, "sleep", "600"],
                   capture_output=True, check=True)
    yield name
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    subprocess.run(["docker", "rmi", image], capture_output=True)
