"""Cold start as Lambda runs it: over TLS, at the CPU share of 128, 256 and 512 MB functions.

The QuickSight emulator serves HTTPS itself (rustls) with a certificate that chains leaf ->
intermediate -> root, as AWS endpoints' do, and the functions trust the root through one CA bundle
file (`SSL_CERT_FILE`: this machine's bundle plus the test root), as on AL2023. For each function:
  - cold start (process start to first answer) at full CPU and under cgroup-v1 CPU quotas of
    7.2 %, 14.5 % and 28.9 % of one core (128, 256, 512 MB; 1,769 MB is one vCPU), each run with
    a refilled budget, the functions interleaved;
  - CPU time (user + system) of init plus the first poll, from wait4's rusage;
  - instructions of the same and of each warm poll (valgrind --tool=callgrind), which do not
    move with the load;
  - the warm p50 over the kept-alive TLS connection, at full CPU and at each share;
  - from those, the poller's cost per 1,000 polls at each memory size.
The floor is benches/hello's tls-floor: lambda_runtime plus one HTTPS GET on rustls + ring.
Run by benches/run.sh (root for the quotas; without them the shares are skipped). Figures, not
tests.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
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
# A function's share of one core is its memory / 1,769 MB. AWS does not publish the period over
# which Lambda enforces it, so two are measured: the share spread over 20 ms periods (steady:
# every millisecond of CPU costs about 1 / share of waiting) and the 100 ms period (7.2 ms
# of CPU at once, then a wait: a process that needs less is hardly slowed).
MEMORY_MB = (128, 256, 512)
STEADY_US, BURST_US = 20_000, 100_000
# Lambda's price in us-east-1 (aws.amazon.com/lambda/pricing): per GB-second and per request.
PRICE_GB_S = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
PRICE_REQUEST = 0.20 / 1_000_000
SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# The job every function polls: it stays RUNNING.
RUNNING = {"AwsAccountId": ACCOUNT, "DashboardId": "bench-dashboard",
           "SnapshotJobId": "tls-running"}


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


def make_chain(directory: Path) -> tuple[Path, Path, Path, Path]:
    """root -> intermediate -> 127.0.0.1 leaf: (the system bundle plus the root, the root alone,
    chain.pem, leaf.key)."""
    root_key, mid_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _cert("bench root", "bench root", root_key, root_key, ca=True)
    mid = _cert("bench intermediate", "bench root", mid_key, root_key, ca=True)
    leaf = _cert("127.0.0.1", "bench intermediate", leaf_key, mid_key, ca=False,
                 san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)  # noqa: E731
    bundle = directory / "bundle.pem"
    system = SYSTEM_BUNDLE.read_bytes() if SYSTEM_BUNDLE.exists() else b""
    bundle.write_bytes(system + pem(root))
    one_root = directory / "one-root.pem"
    one_root.write_bytes(pem(root))
    chain = directory / "chain.pem"
    chain.write_bytes(pem(leaf) + pem(mid))
    key = directory / "leaf.key"
    key.write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return bundle, one_root, chain, key


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


class Quota:
    """A cgroup-v1 CPU quota of `memory_mb`'s share over `period_us` periods."""

    def __init__(self, memory_mb: int, period_us: int, init_free: bool = False):
        # init_free: the process runs at full CPU until it first asks for an event, then at
        # the share, as public measurements describe Lambda's init phase (not documented).
        self.memory_mb, self.period_us, self.init_free = memory_mb, period_us, init_free
        self.quota_us = round(period_us * memory_mb / 1769)
        self.group = CGROUP / f"qsp-bench-{memory_mb}-{period_us}{'-init' * init_free}"
        self.group.mkdir(exist_ok=True)
        (self.group / "cpu.cfs_period_us").write_text(str(period_us))
        self.refill()

    def refill(self):
        """Writing the quota refills the budget, so every cold start begins with a whole
        period's share instead of whatever its predecessor left."""
        (self.group / "cpu.cfs_quota_us").write_text(str(self.quota_us))

    def preexec(self):
        return lambda: self.admit(os.getpid())

    def admit(self, pid: int):
        (self.group / "cgroup.procs").write_text(str(pid))

    @property
    def label(self) -> str:
        return f"{self.memory_mb} MB / {self.period_us // 1000} ms"


def quotas() -> dict[str, Quota]:
    """Steady shares for each memory size, and 128 MB over the issue's 100 ms period; empty
    without root (the tables then show full CPU only)."""
    try:
        found = {f"{mb} MB": Quota(mb, STEADY_US) for mb in MEMORY_MB}
        found["128 MB, 100 ms"] = Quota(128, BURST_US)
        found["128 MB, init at full CPU"] = Quota(128, STEADY_US, init_free=True)
        return found
    except OSError as exc:
        print(f"(no CPU quotas: {exc}; shares skipped)", file=sys.stderr)
        return {}


def cold_once(subject: Subject, event: dict, quota: Quota | None,
              wrapper: list[str] | None = None) -> tuple[float, float, float]:
    """One cold start: (wall ms to the first answer, CPU ms until then, wall ms of init)."""
    api = RuntimeApi()
    request_id = api.push(event)
    if quota:
        quota.refill()
    start = time.perf_counter()
    preexec = quota.preexec() if quota and not quota.init_free else None
    started = threading.Event()
    if quota and quota.init_free:
        # Set before the process starts, so its first request cannot miss it.
        api.on_first_next = lambda: started.wait(5) and quota.admit(proc.pid)
    proc = subject.start(api, preexec, wrapper)
    started.set()
    answered, code, body = api.wait(request_id, timeout=300)
    if code:
        raise RuntimeError(f"{subject.name} failed: {body[:300]!r}")
    wall = (answered - start) * 1000
    proc.send_signal(signal.SIGTERM if wrapper else signal.SIGKILL)
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    api.close()
    return wall, (usage.ru_utime + usage.ru_stime) * 1000, (api.first_next - start) * 1000


def callgrind_total(out: Path) -> float | None:
    for line in out.read_text(errors="replace").splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1]) / 1e6
    return None


def instructions(subject: Subject, event: dict, workdir: Path, warm_runs: int):
    """Millions of instructions (callgrind): init plus the first poll, and each warm poll (the
    difference between a process that answers 1 + warm_runs events and one that answers 1)."""
    if shutil.which("valgrind") is None:
        return None, None
    name = subject.name.replace(" ", "_").replace("/", "_")
    cold, warm_out = workdir / f"callgrind.{name}.cold", workdir / f"callgrind.{name}.warm"
    cold_once(subject, event, None,
              ["valgrind", "--tool=callgrind", f"--callgrind-out-file={cold}"])
    # warm() skips its first five answers; the cold file has one, so the difference is
    # warm_runs + 4 answers.
    warm(subject, event, warm_runs, None,
         ["valgrind", "--tool=callgrind", f"--callgrind-out-file={warm_out}"])
    first, more = callgrind_total(cold), callgrind_total(warm_out)
    per_poll = (more - first) / (warm_runs + 4) if first and more else None
    return first, per_poll


def lambda_env(https: str, bundle: Path, workdir: Path) -> dict[str, str]:
    """A function's environment as Lambda sets it, its QuickSight at `https`, trusting `bundle`."""
    return {
        "PATH": os.environ["PATH"], "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench", "AWS_ENDPOINT_URL_QUICKSIGHT": https,
        "AWS_ENDPOINT_URL_SNS": "https://127.0.0.1:9",
        "SNS_TOPIC_ARN": f"arn:aws:sns:us-east-1:{ACCOUNT}:bench",
        "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_EC2_METADATA_DISABLED": "true",
        "SSL_CERT_FILE": str(bundle), "SSL_CERT_DIR": str(workdir / "no-dir"),
    }


def cost(ms: float, memory_mb: int, arch: str) -> float:
    """USD per 1,000 invocations of `ms` each: billed by the started millisecond."""
    return 1000 * (math.ceil(ms) * memory_mb / 1024 / 1000 * PRICE_GB_S[arch] + PRICE_REQUEST)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--emulator-bin", required=True, help="the QuickSight emulator binary")
    parser.add_argument("--poller", required=True)
    parser.add_argument("--compare-poller", help="another build of the poller, e.g. on aws-lc")
    parser.add_argument("--sdk-floor", required=True)
    parser.add_argument("--tls-floor", required=True)
    parser.add_argument("--hello", required=True)
    parser.add_argument("--runs", type=int, default=15, help="cold starts per setting")
    parser.add_argument("--warm-runs", type=int, default=200)
    parser.add_argument("--instruction-runs", type=int, default=50,
                        help="warm polls under callgrind")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="tls-cold-"))
    bundle, one_root, chain, key = make_chain(workdir)
    running = RUNNING
    emulator, https = start_tls_emulator(args.emulator_bin, chain, key, workdir, running)

    env = lambda_env(https, bundle, workdir)
    subjects = {
        "floor": Subject("floor: hello-world + one HTTPS GET (rustls, ring)", [args.tls_floor],
                         dict(env, FLOOR_GET_URL=https + describe_path(running))),
        "poller": Subject("the poller (rustls, ring)", [args.poller], env),
        "one-root": Subject("the poller, a bundle of one root (what parsing the store costs)",
                            [args.poller], dict(env, SSL_CERT_FILE=str(one_root))),
        "sdk": Subject("the SDK alone, one describe", [args.sdk_floor], env),
        "hello": Subject("hello-world lambda_runtime (no call)", [args.hello], env),
    }
    if args.compare_poller:
        subjects["compare"] = Subject("the poller before (rustls, aws-lc)", [args.compare_poller],
                                      env)

    shares = quotas()
    rows = {}
    # Interleaved: each round measures every function once per setting, so a change in the
    # machine's load falls on all of them alike.
    samples = {k: {s: [] for s in [None, *shares]} for k in subjects}
    for _ in range(args.runs):
        for key_, subject in subjects.items():
            for share in [None, *shares]:
                samples[key_][share].append(cold_once(subject, running, shares.get(share)))
    for key_, subject in subjects.items():
        row = {s: statistics.median(w for w, _, _ in samples[key_][s]) for s in [None, *shares]}
        row["cpu"] = statistics.median(c for _, c, _ in samples[key_][None])
        row["init"] = statistics.median(i for _, _, i in samples[key_][None])
        row["ir"], row["ir_warm"] = instructions(subject, running, workdir, args.instruction_runs)
        rows[key_] = row

    floor = rows["floor"]
    ratio = lambda a, b: f"{a / b:.2f}x" if a and b else "-"  # noqa: E731
    print(f"\n### Cold start over TLS (leaf, intermediate, root; one CA bundle file), median of "
          f"{args.runs}, interleaved\n")
    heads = ["full CPU ms", "its init ms", *(f"{s} ms" for s in shares)]
    print("| function | " + " | ".join(heads) + " | CPU ms, init + first poll | "
          "instructions (M) | vs floor: 128 MB / 128 MB, init at full CPU / CPU / instructions |")
    print("|---|" + "---|" * (len(heads) + 3))
    for key_, subject in subjects.items():
        row = rows[key_]
        cells = [f"{row[None]:.1f}", f"{row['init']:.1f}", *(f"{row[s]:.1f}" for s in shares)]
        ir = f"{row['ir']:.2f}" if row["ir"] else "-"
        vs = " / ".join([ratio(row.get("128 MB"), floor.get("128 MB")),
                         ratio(row.get("128 MB, init at full CPU"),
                               floor.get("128 MB, init at full CPU")),
                         ratio(row["cpu"], floor["cpu"]), ratio(row["ir"], floor["ir"])])
        print(f"| {subject.name} | " + " | ".join(cells) + f" | {row['cpu']:.2f} | {ir} | {vs} |")

    print(f"\n### Warm over TLS (kept-alive connection, {args.warm_runs} invocations; "
          f"instructions per poll from {args.instruction_runs} under callgrind)\n")
    steady = [s for s in shares if s.endswith(" MB")]
    print("| function | p50 ms | " + "".join(f"p50 at {s} ms | " for s in steady)
          + "vs floor | instructions per poll (M) | vs floor | peak RSS MB |")
    print("|---|---|" + "---|" * len(steady) + "---|---|---|---|")
    warm_rows = {}
    for key_ in [k for k in subjects if k != "hello"]:
        times, rss = warm(subjects[key_], running, args.warm_runs)
        at = [statistics.median(warm(subjects[key_], running, max(args.warm_runs // 4, 20),
                                     shares[s].preexec())[0]) for s in steady]
        warm_rows[key_] = (statistics.median(times), at, rss)
    floor_p50 = warm_rows["floor"][0]
    for key_, (p50, at, rss) in warm_rows.items():
        print(f"| {subjects[key_].name} | {p50:.2f} | " + "".join(f"{a:.2f} | " for a in at)
              + f"{p50 / floor_p50:.2f}x | {rows[key_]['ir_warm'] or 0:.3f} | "
              + f"{ratio(rows[key_]['ir_warm'], floor['ir_warm'])} | {rss / 1024:.1f} |")

    if steady:
        poller, (p50, at, _) = rows["poller"], warm_rows["poller"]
        print("\n### Memory: the poller's cold start and cost at each size (this machine, "
              "local endpoints; a real QuickSight answer adds its own latency, billed at the "
              "same rate)\n")
        print("| memory | cold start ms | warm poll ms | USD per 1,000 warm polls (arm64 / x86_64) "
              "| USD per 1,000 cold starts (arm64 / x86_64) | each 100 ms QuickSight takes to "
              "answer adds per 1,000 polls (arm64) |\n|---|---|---|---|---|---|")
        for share, warm_ms in zip(steady, at, strict=True):
            mb = shares[share].memory_mb
            print(f"| {mb} MB | {poller[share]:.1f} | {warm_ms:.2f} | "
                  f"{cost(warm_ms, mb, 'arm64'):.6f} / {cost(warm_ms, mb, 'x86_64'):.6f} | "
                  f"{cost(poller[share], mb, 'arm64'):.6f} / "
                  f"{cost(poller[share], mb, 'x86_64'):.6f} | "
                  f"{1000 * 0.1 * mb / 1024 * PRICE_GB_S['arm64']:.6f} |")
    emulator.kill()
    emulator.wait()
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
