"""The Lambda front: an HTTP front for moto's Step Functions executor (stdlib only).

moto's Step Functions executor calls Lambda Invoke (and sns:Publish, ...) at
http://localhost:$MOTO_PORT, i.e. moto itself, whose Lambda needs Docker. Start moto on another
port with MOTO_PORT set to this front's port (`python -m harness.front --moto HOST:PORT ...`,
from the repository's root), and the front, one job per module:

* invoke.py       routes Lambda Invoke calls to cargo-lambda's runtime emulator (`cargo lambda
                  watch`) and answers as the real Invoke API does (function errors, a runtime
                  that is down);
* runtime_api.py  serves the Runtime API side (`/.rt/...`) for a function process started
                  outside cargo-lambda, with real deadlines;
* publish.py      records the SNS Publish calls that pass it and fails them on request, in the
                  harness's fault dialect (harness/faults.py);
* events.py       passes EventBridge PutEvents calls to moto, failing them on request (an
                  entry EventBridge did not take, among others) in the same dialect;
* control.py      the control API for tests (`/_lambda_front/...`);
* proxy.py        the HTTP plumbing, and everything else proxied verbatim: QuickSight
                  snapshot-job calls (with `--quicksight HOST:PORT`) to that QuickSight
                  emulator, the rest to moto;
* server.py       the server that holds them together, and the command line.

It prints `listening on http://HOST:PORT` as its first stdout line (`--port 0` picks a port).
"""
