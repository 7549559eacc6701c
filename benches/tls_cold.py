"""Cold start as Lambda runs it: over TLS, at the CPU share of 128 MB and 256 MB functions.

The QuickSight emulator serves HTTPS itself (rustls) with a certificate that chains leaf ->
intermediate -> root, as AWS endpoints' do, and the functions trust the root through one CA bundle file
(`SSL_CERT_FILE`: this machine's bundle plus the test root), as on AL2023. For each function:
  - cold start (process start to first answer) at full CPU and under a cgroup-v1 CPU quota of
    7.2 % (128 MB: 1,769 MB is one vCPU), 14.5 % (256 MB) and 28.9 % (512 MB) of one core;
  - CPU time (user + system) of init plus the first poll, from wait4's rusage;
  - instructions of the same (valgrind --tool=callgrind), which do not move with the load;
  - the warm p50 over the kept-alive TLS connection.
The floor is benches/hello's tls-floor: lambda_runtime plus one HTTPS GET on rustls + ring.
Run by benches/run.sh (root for the quotas; without them the shares are skipped). Figures, not
tests.
"""

from __future__ import annotations

import argparse
import json
import datetime
import ipaddress
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import RuntimeApi, Subject, describe_path, warm  # noqa: E402

ACCOUNT = "123456789012"
CGROUP = Path("/sys/fs/cgroup/cpu")
PERIOD_US = 100_000
# Quota per 100 ms period: a function's share of one core is its memory / 1,769 MB.
SHARES = {"128 MB": 7_236, "256 MB": 14_472, "512 MB": 28_943}
SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _cert(subject, issuer, key, signer, ca: bool, san=None):
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(signer, hashes.SHA256())


def make_chain(directory: Path) -> tuple[Path, Path, Path]:
    """root -> intermediate -> 127.0.0.1 leaf: (bundle with the root, chain.pem, leaf.key)."""
    root_key, mid_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _cert("bench root", "bench root", root_key, root_key, ca=True)
    mid = _cert("bench intermediate", "bench root", mid_key, root_key, ca=True)
    leaf = _cert("127.0.0.1", "bench intermediate", leaf_key, mid_key, ca=False,
                 san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)  # noqa: E731
    bundle = directory / "bundle.pem"
    system = SYSTEM_BUNDLE.read_bytes() if SYSTEM_BUNDLE.exists() else b""
    bundle.write_bytes(system + pem(root))
    chain = directory / "chain.pem"
    chain.write_bytes(pem(leaf) + pem(mid))
    key = directory / "leaf.key"
    key.write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return bundle, chain, key


def start_tls_emulator(binary: str, chain: Path, key: Path, workdir: Path,
                       job: dict) -> tuple[subprocess.Popen, str]:
    """The QuickSight emulator itself serving HTTPS (rustls) with the chain, holding `job` as a
    job that stays RUNNING: (its process, its https:// URL)."""
    jobs = workdir / "jobs.json"
    jobs.write_text(json.dumps([{
        "awsAccountId": job["AwsAccountId"], "dashboardId": job["DashboardId"],
        "snapshotJobId": job["SnapshotJobId"], "queuedPolls": 0, "runningPolls": 1,
        "outcome": "NEVER"}]))
    proc = subprocess.Popen([binary, "--port", "0", "--tls-cert", str(chain), "--tls-key",
                             str(key), "--jobs", str(jobs)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on https://"):
        proc.kill()
        raise RuntimeError(f"the TLS emulator said {line!r}")
    return proc, line.removeprefix("listening on ")


def quota_preexec(share: str | None):
    """Moves the child into the share's cgroup before it executes the function."""
    if share is None:
        return None
    procs = CGROUP / f"qsp-bench-{share.split()[0]}" / "cgroup.procs"
    return lambda: procs.write_text(str(os.getpid()))


def setup_cgroups() -> bool:
    try:
        for share, quota in SHARES.items():
            group = CGROUP / f"qsp-bench-{share.split()[0]}"
            group.mkdir(exist_ok=True)
            (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (group / "cpu.cfs_quota_us").write_text(str(quota))
        return True
    except OSError as exc:
        print(f"(no CPU quotas: {exc}; shares skipped)", file=sys.stderr)
        return False


def cold_once(subject: Subject, event: dict, share: str | None,
              wrapper: list[str] | None = None) -> tuple[float, float, subprocess.Popen]:
    """One cold start: (wall ms to the first answer, CPU ms until then, the process)."""
    api = RuntimeApi()
    request_id = api.push(event)
    env = dict(subject.env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{api.port}")
    start = time.perf_counter()
    proc = subprocess.Popen([*(wrapper or []), *subject.argv], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=quota_preexec(share))
    answered, code, body = api.wait(request_id, timeout=300)
    if code:
        raise RuntimeError(f"{subject.name} failed: {body[:300]!r}")
    wall = (answered - start) * 1000
    proc.send_signal(signal.SIGTERM if wrapper else signal.SIGKILL)
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    api.close()
    return wall, (usage.ru_utime + usage.ru_stime) * 1000, proc


def instructions(subject: Subject, event: dict, workdir: Path) -> float | None:
    """Instructions of init plus the first poll (callgrind), in millions."""
    if shutil.which("valgrind") is None:
        return None
    out = workdir / f"callgrind.{subject.name.replace(' ', '_')}"
    cold_once(subject, event, None,
              wrapper=["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"])
    for line in out.read_text(errors="replace").splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1]) / 1e6
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--emulator-bin", required=True, help="the QuickSight emulator binary")
    parser.add_argument("--poller", required=True)
    parser.add_argument("--compare-poller", help="another build of the poller, e.g. on aws-lc")
    parser.add_argument("--sdk-floor", required=True)
    parser.add_argument("--tls-floor", required=True)
    parser.add_argument("--hello", required=True)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--share-runs", type=int, default=5)
    parser.add_argument("--warm-runs", type=int, default=200)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="tls-cold-"))
    bundle, chain, key = make_chain(workdir)
    running = {"AwsAccountId": ACCOUNT, "DashboardId": "bench-dashboard",
               "SnapshotJobId": "tls-running"}
    emulator, https = start_tls_emulator(args.emulator_bin, chain, key, workdir, running)

    env = {
        "PATH": os.environ["PATH"], "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench", "AWS_ENDPOINT_URL_QUICKSIGHT": https,
        "AWS_ENDPOINT_URL_SNS": "https://127.0.0.1:9",
        "SNS_TOPIC_ARN": f"arn:aws:sns:us-east-1:{ACCOUNT}:bench",
        "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_EC2_METADATA_DISABLED": "true",
        "SSL_CERT_FILE": str(bundle), "SSL_CERT_DIR": str(workdir / "no-dir"),
    }
    subjects = {
        "floor": Subject("floor: hello-world + one HTTPS GET (rustls, ring)", [args.tls_floor],
                         dict(env, FLOOR_GET_URL=https + describe_path(running))),
        "poller": Subject("the poller (rustls, ring)", [args.poller], env),
        "sdk": Subject("the SDK alone, one describe", [args.sdk_floor], env),
        "hello": Subject("hello-world lambda_runtime (no call)", [args.hello], env),
    }
    if args.compare_poller:
        subjects["compare"] = Subject("the poller before (rustls, aws-lc)", [args.compare_poller], env)

    shares = [None, *SHARES] if setup_cgroups() else [None]
    rows = {}
    for key_, subject in subjects.items():
        row = {}
        for share in shares:
            runs = args.runs if share is None else args.share_runs
            results = [cold_once(subject, running, share) for _ in range(runs)]
            row[share] = statistics.median(w for w, _, _ in results)
            if share is None:
                row["cpu"] = statistics.median(c for _, c, _ in results)
        row["ir"] = instructions(subject, running, workdir)
        rows[key_] = row

    floor = rows["floor"]
    print(f"\n### Cold start over TLS (leaf, intermediate, root; one CA bundle file), median of "
          f"{args.runs} at full CPU, {args.share_runs} under each quota\n")
    heads = ["full CPU ms"] + [f"{s} share ms" for s in shares[1:]]
    print("| function | " + " | ".join(heads) + " | CPU ms, init + first poll | "
          "instructions, millions | vs floor (128 MB / CPU / instructions) |")
    # The 128 MB column is the first quota; the ratios use it.
    print("|---|" + "---|" * (len(heads) + 3))
    for key_, subject in subjects.items():
        row = rows[key_]
        cells = [f"{row[s]:.1f}" for s in shares]
        ir = f"{row['ir']:.1f}" if row["ir"] else "-"
        last = shares[1] if len(shares) > 1 else None
        ratio = (f"{row[last] / floor[last]:.2f}x / {row['cpu'] / floor['cpu']:.2f}x / "
                 + (f"{row['ir'] / floor['ir']:.2f}x" if row["ir"] and floor["ir"] else "-"))
        print(f"| {subject.name} | " + " | ".join(cells) + f" | {row['cpu']:.1f} | {ir} | {ratio} |")

    print(f"\n### Warm over TLS (kept-alive connection, {args.warm_runs} invocations)\n")
    print("| function | p50 ms | vs floor | peak RSS MB |\n|---|---|---|---|")
    floor_times, _ = warm(subjects["floor"], running, args.warm_runs)
    floor_p50 = statistics.median(floor_times)
    print(f"| {subjects['floor'].name} | {floor_p50:.2f} | 1.00x | - |")
    for key_ in [k for k in subjects if k not in ("hello", "floor")]:
        times, rss = warm(subjects[key_], running, args.warm_runs)
        p50 = statistics.median(times)
        print(f"| {subjects[key_].name} | {p50:.2f} | {p50 / floor_p50:.2f}x | {rss / 1024:.1f} |")
    emulator.kill()
    emulator.wait()
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
