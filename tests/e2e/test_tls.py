"""TLS to QuickSight, for real: the poller binary (local mode, one poll) talks HTTPS to a TLS
front of the QuickSight emulator whose certificate a test CA signed. Every other test talks plain
HTTP, so this is where the shared HTTPS client and TRUST_STORE are proven:
- `system` (the default) trusts what the platform store holds, here the test CA via SSL_CERT_FILE;
- `amazon` trusts only the bundled Amazon Trust Services roots, so it must refuse the test CA.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness.definition import job_reference
from harness.env import ACCOUNT, EMULATOR_BIN, POLLER_BIN, REGION, base_env
from harness.services import http_json
from harness.stack import start_emulator

from conftest import require_binaries


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca_and_server_cert(directory: Path) -> tuple[Path, Path, Path]:
    """A test CA and a 127.0.0.1 server certificate it signed: (ca.pem, server.pem, server.key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder()
          .subject_name(_name("poller e2e test CA")).issuer_name(_name("poller e2e test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    server = (x509.CertificateBuilder()
              .subject_name(_name("127.0.0.1")).issuer_name(ca.subject)
              .public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(hours=1))
              .not_valid_after(now + datetime.timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName(
                  [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                             critical=False)
              .sign(ca_key, hashes.SHA256()))
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


class TlsFront:
    """Terminates TLS on 127.0.0.1 and pipes the plain bytes to the emulator. Records the
    handshakes that the client broke off, with the alert it sent."""

    def __init__(self, upstream_port: int, cert: Path, key: Path):
        self.upstream_port = upstream_port
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.handshakes = 0
        self.refused: list[str] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket):
        try:
            conn = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            with self.lock:
                self.refused.append(str(exc))
            raw.close()
            return
        with self.lock:
            self.handshakes += 1
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))

        def pipe(src, dst):
            with contextlib.suppress(OSError):
                while data := src.recv(65536):
                    dst.sendall(data)
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

        back = threading.Thread(target=pipe, args=(upstream, conn), daemon=True)
        back.start()
        pipe(conn, upstream)
        back.join(10)
        conn.close()
        upstream.close()

    def close(self):
        self.listener.close()


@pytest.fixture(scope="module")
def tls_stack(tmp_path_factory, log_dir):
    require_binaries(POLLER_BIN, EMULATOR_BIN)
    emulator, emulator_url = start_emulator(log_dir)
    ca, cert, key = make_ca_and_server_cert(tmp_path_factory.mktemp("tls"))
    front = TlsFront(int(emulator_url.rsplit(":", 1)[1]), cert, key)
    yield {"emulator": emulator_url, "front": front, "ca": ca}
    front.close()
    emulator.stop()


def poll_once(tls_stack, job_id: str, **env_overrides: str) -> tuple[int, dict, str]:
    """Seeds a RUNNING job, polls it once over HTTPS: (exit code, stdout JSON, stderr)."""
    http_json("POST", tls_stack["emulator"] + "/_emulator/reset", {})
    http_json("POST", tls_stack["emulator"] + "/_emulator/jobs", {
        "awsAccountId": ACCOUNT, "dashboardId": "dash-tls", "snapshotJobId": job_id,
        "queuedPolls": 0, "runningPolls": 5, "outcome": "COMPLETED"})
    env = base_env()
    env.update({
        "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL_QUICKSIGHT": f"https://127.0.0.1:{tls_stack['front'].port}",
        "AWS_ENDPOINT_URL_SNS": "http://127.0.0.1:9",  # never reached: the job is running
        "SNS_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:tls-test",
        "SSL_CERT_FILE": str(tls_stack["ca"]),
        "SDK_MAX_ATTEMPTS": "1",
        **env_overrides,
    })
    done = subprocess.run([str(POLLER_BIN)], input=json.dumps(job_reference(job_id, "dash-tls")),
                          capture_output=True, text=True, env=env, timeout=60)
    return done.returncode, json.loads(done.stdout or "null"), done.stderr


def quicksight_calls(tls_stack) -> int:
    return http_json("GET", tls_stack["emulator"] + "/_emulator/calls")["total"]


def test_system_trust_store_polls_over_tls_when_the_platform_trusts_its_ca(tls_stack):
    code, output, stderr = poll_once(tls_stack, "tls-system")
    assert code == 0, stderr
    assert output["status"] == "IN_PROGRESS" and output["jobStatus"] == "RUNNING", output
    assert tls_stack["front"].handshakes >= 1
    assert quicksight_calls(tls_stack) == 1


def test_amazon_trust_store_refuses_an_endpoint_whose_certificate_another_ca_issued(tls_stack):
    refused_before = len(tls_stack["front"].refused)
    code, output, stderr = poll_once(tls_stack, "tls-amazon", TRUST_STORE="amazon")
    assert code == 1, stderr
    assert output["errorType"] == "QuickSightUnavailable", output
    assert "certificate" in output["errorMessage"].lower(), output
    # The poller itself broke the handshake off (an "unknown CA" alert); nothing reached QuickSight.
    # The front records the alert on its own thread, which may finish after the poller exits.
    deadline = time.monotonic() + 5
    while len(tls_stack["front"].refused) <= refused_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(tls_stack["front"].refused) > refused_before
    assert "unknown ca" in tls_stack["front"].refused[-1].lower(), tls_stack["front"].refused
    assert quicksight_calls(tls_stack) == 0


def test_an_unknown_trust_store_stops_the_cold_start_with_invalid_configuration(tls_stack):
    code, output, stderr = poll_once(tls_stack, "tls-bogus", TRUST_STORE="mozilla")
    assert code == 2, stderr
    assert stderr.startswith("InvalidConfiguration:") and "TRUST_STORE" in stderr, stderr
    assert quicksight_calls(tls_stack) == 0


def test_the_emulator_serves_https_itself_with_a_certificate_chain(tls_stack, tmp_path):
    """`--tls-cert`/`--tls-key` (benches/tls_cold.py's endpoint): the poller polls it over TLS."""
    ca, cert, key = make_ca_and_server_cert(tmp_path)
    jobs = tmp_path / "jobs.json"
    jobs.write_text(json.dumps([{"awsAccountId": ACCOUNT, "dashboardId": "dash-tls",
                                 "snapshotJobId": "tls-native", "queuedPolls": 0,
                                 "runningPolls": 5, "outcome": "COMPLETED"}]))
    emulator = subprocess.Popen(
        [str(EMULATOR_BIN), "--port", "0", "--tls-cert", str(cert), "--tls-key", str(key),
         "--jobs", str(jobs)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = emulator.stdout.readline().strip()
        assert line.startswith("listening on https://127.0.0.1:"), line
        env = base_env()
        env.update({"AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
                    "AWS_ENDPOINT_URL_QUICKSIGHT": line.removeprefix("listening on "),
                    "SSL_CERT_FILE": str(ca), "SDK_MAX_ATTEMPTS": "1"})
        done = subprocess.run([str(POLLER_BIN), "--no-notify"],
                              input=json.dumps(job_reference("tls-native", "dash-tls")),
                              capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["jobStatus"] == "RUNNING"
    finally:
        emulator.kill()
        emulator.wait()
