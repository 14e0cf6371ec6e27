#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Health and metrics suite: the real lanyardd with its health listener on a free loopback port,
scraped over HTTP and parsed with an independent parser (Debian's python3-prometheus-client)
while real Workload API calls move the counters (docs/metrics.md).

    health_test.py --reporter tap [CASE-SUBSTRING...]

Environment: LANYARD_DAEMON (the lanyardd binary), LANYARD_CLI (the lanyard binary; default:
cli/lanyard beside the daemon's build dir), LANYARD_SOURCE_DIR (for the proto).
Prints TAP as run.py does: `# <case name>`, then `ok N` / `not ok N` with `#\t` reasons.
"""
import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

try:
    import grpc
    from prometheus_client.parser import text_string_to_metric_families
except ImportError as e:  # a laptop without the Debian packages: skipped (STYLE.md §9)
    print("1..0 # SKIP missing Python module: %s" % e.name)
    sys.exit(0)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import CaseDir, Failure, check, expect_code, wait_until  # noqa: E402

INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT
PERMISSION_DENIED = grpc.StatusCode.PERMISSION_DENIED

UID = os.getuid()
SELF_ID = "spiffe://example.org/self"
SELF_ENTRY = (SELF_ID, ["unix:uid:%d" % UID])
OTHER_UID = 65534 if UID != 65534 else 65533
OTHER_ID = "spiffe://example.org/other"
OTHER_ENTRY = (OTHER_ID, ["unix:uid:%d" % OTHER_UID])
HEALTH_ANY_PORT = "health:\n  listen: 127.0.0.1:0\n"

# Every family docs/metrics.md lists, with its type. The parser names a counter family without
# its _total suffix.
FAMILIES = {
    "lanyard_svids_issued": "counter",
    "lanyard_svid_renewals": "counter",
    "lanyard_ca_rotations": "counter",
    "lanyard_ca_rotation_failures": "counter",
    "lanyard_bundle_updates": "counter",
    "lanyard_config_reloads": "counter",
    "lanyard_attestor_errors": "counter",
    "lanyard_attestation_duration_seconds": "histogram",
    "lanyard_workload_calls_denied": "counter",
    "lanyard_workload_streams_open": "gauge",
    "lanyard_ca_expiry_seconds": "gauge",
    "lanyard_svid_expiry_seconds": "gauge",
    "lanyard_svids_cached": "gauge",
}

CASES = []


def case(name):
    def register(fn):
        CASES.append((name, fn))
        return fn
    return register


# --- helpers ---------------------------------------------------------------------------------

def cli_path():
    env = os.environ.get("LANYARD_CLI")
    if env:
        return env
    build = os.path.dirname(os.path.dirname(os.path.abspath(harness.daemon_path())))
    return os.path.join(build, "cli", "lanyard")


def health_address(d, timeout=5):
    """The address lanyardd logged for its health listener."""
    pattern = re.compile(r"serving /live, /ready and /metrics on http://(\S+)")

    def logged():
        m = pattern.search(d.log())
        return m.group(1) if m else None
    return wait_until(logged, timeout, "lanyardd to log its health listener's address")


def http_get(address, path, method="GET"):
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=5)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode("utf-8", "replace")
    finally:
        conn.close()


class Scrape:
    """One /metrics answer, parsed by prometheus_client (not by our code)."""

    def __init__(self, address):
        status, headers, body = http_get(address, "/metrics")
        check(status == 200, "/metrics answered %d: %s" % (status, body[:200]))
        ctype = headers.get("Content-Type", "")
        check(ctype.startswith("text/plain; version=0.0.4"),
              "/metrics Content-Type %r, want text/plain; version=0.0.4" % ctype)
        self.text = body
        try:
            families = list(text_string_to_metric_families(body))
        except Exception as e:  # noqa: BLE001 (any parse error fails the case)
            raise Failure("prometheus_client cannot parse /metrics: %r\n%s" % (e, body))
        self.types = {f.name: f.type for f in families}
        self.samples = {}
        for f in families:
            for s in f.samples:
                self.samples[(s.name, tuple(sorted(s.labels.items())))] = s.value

    def value(self, name, default=None, **labels):
        return self.samples.get((name, tuple(sorted(labels.items()))), default)


def start(t, entries=(SELF_ENTRY,), extra=HEALTH_ANY_PORT):
    d = t.start_daemon(t.config(list(entries), extra=extra))
    return d, health_address(d)


# --- cases -----------------------------------------------------------------------------------

@case("with health.listen on port 0 lanyardd logs the bound address; /live and /ready answer "
      "200, other paths 404, other methods 405, and /metrics parses with prometheus_client "
      "and lists every documented family with its type")
def routes_and_families(t):
    d, addr = start(t)
    status, _, body = http_get(addr, "/live")
    check(status == 200, "/live answered %d: %s" % (status, body))
    status, _, body = http_get(addr, "/ready")
    check(status == 200 and body.strip() == "ready", "/ready answered %d: %r" % (status, body))
    status, _, _ = http_get(addr, "/nope")
    check(status == 404, "/nope answered %d, want 404" % status)
    status, headers, _ = http_get(addr, "/metrics", method="POST")
    check(status == 405, "POST /metrics answered %d, want 405" % status)
    check(headers.get("Allow") == "GET", "405 without Allow: GET: %r" % headers)
    s = Scrape(addr)
    for name, kind in FAMILIES.items():
        check(s.types.get(name) == kind, "family %s: type %r, want %s\n%s"
              % (name, s.types.get(name), kind, s.text))
    for line in s.text.splitlines():
        if line.startswith("lanyard_") or line.startswith("# "):
            continue
        raise Failure("unexpected line in /metrics: %r" % line)
    # The default CA lives 24 h and was just made.
    ca = s.value("lanyard_ca_expiry_seconds")
    check(ca is not None and 23 * 3600 < ca <= 24 * 3600,
          "lanyard_ca_expiry_seconds %r, want about 24 h" % ca)
    for rpc in ("FetchX509SVID", "FetchX509Bundles", "FetchJWTBundles"):
        check(s.value("lanyard_workload_streams_open", rpc=rpc) == 0,
              "streams open for %s: %r, want 0" % (rpc, s.value("lanyard_workload_streams_open",
                                                                rpc=rpc)))
    check(s.value("lanyard_attestor_errors_total", attestor="unix") == 0,
          "attestor errors for unix: %r, want 0" % s.value("lanyard_attestor_errors_total",
                                                          attestor="unix"))
    d.stop()


@case("real Workload API calls move the counters: SVIDs issued by type, the attestation "
      "histogram, denied calls by reason and code, the cached-SVID expiry gauge")
def counters_move(t):
    d, addr = start(t, entries=(SELF_ENTRY, OTHER_ENTRY))
    c = t.client()
    before = Scrape(addr)
    check(before.value("lanyard_svid_expiry_seconds") is None,
          "lanyard_svid_expiry_seconds present before any SVID was minted")

    c.first("FetchX509SVID")
    token = c.jwt_svid(["svc-a"]).svids[0].svid
    c.jwt_svid(["svc-a"])  # the cached JWT-SVID: nothing new minted
    expect_code(INVALID_ARGUMENT, "FetchJWTSVID without the security header",
                c.jwt_svid, ["svc-a"], metadata=())
    expect_code(INVALID_ARGUMENT, "FetchX509SVID without the security header",
                lambda: c.first("FetchX509SVID", ()))
    expect_code(INVALID_ARGUMENT, "FetchJWTSVID with no audience", c.jwt_svid, [])
    expect_code(PERMISSION_DENIED, "FetchJWTSVID for another uid's identity",
                c.jwt_svid, ["svc-a"], OTHER_ID)
    expect_code(INVALID_ARGUMENT, "ValidateJWTSVID with a wrong audience",
                c.validate, "svc-other", token)

    after = Scrape(addr)

    def moved(name, **labels):
        return after.value(name, 0, **labels) - before.value(name, 0, **labels)
    check(moved("lanyard_svids_issued_total", type="x509") == 1,
          "x509 SVIDs issued moved by %r, want 1" % moved("lanyard_svids_issued_total",
                                                          type="x509"))
    check(moved("lanyard_svids_issued_total", type="jwt") == 1,
          "jwt SVIDs issued moved by %r, want 1 (the second call is cached)"
          % moved("lanyard_svids_issued_total", type="jwt"))
    want_denied = {
        ("security_header", "invalid_argument"): 2,
        ("invalid_request", "invalid_argument"): 1,
        ("no_identity", "permission_denied"): 1,
        ("invalid_token", "invalid_argument"): 1,
    }
    for (reason, code), n in want_denied.items():
        got = moved("lanyard_workload_calls_denied_total", reason=reason, code=code)
        check(got == n, "denied{reason=%s,code=%s} moved by %r, want %d\n%s"
              % (reason, code, got, n, after.text))
    attested = moved("lanyard_attestation_duration_seconds_count")
    check(attested >= 1, "the attestation histogram counted %r attestations" % attested)
    check(after.value("lanyard_attestation_duration_seconds_bucket", le="+Inf") ==
          after.value("lanyard_attestation_duration_seconds_count"),
          "the +Inf bucket differs from _count")
    check(after.value("lanyard_attestation_duration_seconds_sum") > 0,
          "attestation took no time at all?")
    svid = after.value("lanyard_svid_expiry_seconds")
    check(svid is not None and 3500 < svid <= 3600,
          "lanyard_svid_expiry_seconds %r, want about 1 h (x509_svid_ttl)" % svid)
    check(after.value("lanyard_svids_cached", type="x509") == 1,
          "lanyard_svids_cached{type=x509} %r" % after.value("lanyard_svids_cached", type="x509"))
    d.stop()


@case("the open-streams gauge counts an open FetchX509SVID stream by RPC and drops back to 0 "
      "when the client cancels it")
def streams_gauge(t):
    d, addr = start(t)
    c = t.client()
    s = c.stream("FetchX509SVID")
    s.next(5, "first FetchX509SVID message")
    b = c.stream("FetchJWTBundles")
    b.next(5, "first FetchJWTBundles message")
    now = Scrape(addr)
    check(now.value("lanyard_workload_streams_open", rpc="FetchX509SVID") == 1,
          "FetchX509SVID streams open: %r, want 1"
          % now.value("lanyard_workload_streams_open", rpc="FetchX509SVID"))
    check(now.value("lanyard_workload_streams_open", rpc="FetchJWTBundles") == 1,
          "FetchJWTBundles streams open: %r, want 1"
          % now.value("lanyard_workload_streams_open", rpc="FetchJWTBundles"))
    s.cancel()
    wait_until(lambda: Scrape(addr).value("lanyard_workload_streams_open",
                                          rpc="FetchX509SVID") == 0,
               5, "the FetchX509SVID gauge to drop to 0 after the cancel")
    check(Scrape(addr).value("lanyard_workload_streams_open", rpc="FetchJWTBundles") == 1,
          "cancelling one stream changed the other RPC's gauge")
    d.stop()


@case("SIGHUP counts a reload as ok; a broken file is counted as failed and keeps the "
      "running configuration")
def reload_counter(t):
    d, addr = start(t)
    check(Scrape(addr).value("lanyard_config_reloads_total", 0, result="ok") == 0,
          "a reload counted before any")
    d.signal(signal.SIGHUP)
    wait_until(lambda: Scrape(addr).value("lanyard_config_reloads_total", 0, result="ok") == 1,
               5, "lanyard_config_reloads_total{result=ok} to reach 1 after SIGHUP")
    harness.write_atomically(d.config_path, "trust_domain: [broken\n")
    d.signal(signal.SIGHUP)
    wait_until(lambda: Scrape(addr).value("lanyard_config_reloads_total", 0,
                                          result="failed") >= 1,
               5, "lanyard_config_reloads_total{result=failed} after a broken file")
    check(Scrape(addr).value("lanyard_config_reloads_total", 0, result="ok") == 1,
          "a broken file was counted as an ok reload")
    status, _, _ = http_get(addr, "/ready")
    check(status == 200, "/ready answered %d after a refused reload; it keeps serving" % status)
    d.stop(allowed_errors=r"reloading")


@case("/ready answers 503 naming the socket once the socket file is removed while /live stays "
      "200; lanyard healthcheck --http exits 0 before and 1 after")
def ready_follows_socket(t):
    d, addr = start(t)
    cli = cli_path()
    check(os.access(cli, os.X_OK), "no lanyard CLI at %s (set LANYARD_CLI)" % cli)
    ok = subprocess.run([cli, "healthcheck", "--http", addr], capture_output=True, text=True,
                        timeout=30)
    check(ok.returncode == 0, "healthcheck --http exited %d while ready: %s"
          % (ok.returncode, ok.stderr))
    check(ok.stdout.strip() == "http://%s/ready: ready" % addr, "healthcheck said %r" % ok.stdout)
    os.unlink(t.socket_path)
    status, _, body = http_get(addr, "/ready")
    check(status == 503, "/ready answered %d with the socket file gone, want 503" % status)
    check(t.socket_path in body, "/ready's reason %r does not name the socket" % body)
    status, _, _ = http_get(addr, "/live")
    check(status == 200, "/live answered %d, want 200 (the daemon is alive)" % status)
    bad = subprocess.run([cli, "healthcheck", "--http", addr], capture_output=True, text=True,
                         timeout=30)
    check(bad.returncode == 1, "healthcheck --http exited %d while not ready" % bad.returncode)
    check("status 503" in bad.stderr and "is gone" in bad.stderr,
          "healthcheck --http's message %r" % bad.stderr)
    # Nothing listening at all: exit 1 too, with the address in the message.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = "127.0.0.1:%d" % s.getsockname()[1]
    down = subprocess.run([cli, "healthcheck", "--http", free, "--timeout", "2s"],
                          capture_output=True, text=True, timeout=30)
    check(down.returncode == 1 and free in down.stderr,
          "healthcheck --http on a closed port: exit %d, %r" % (down.returncode, down.stderr))
    d.stop()


@case("a health.listen port already in use stops lanyardd at startup: exit 1, one error line "
      "naming the address, no socket left behind")
def port_in_use(t):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        addr = "127.0.0.1:%d" % taken.getsockname()[1]
        harness.write_atomically(t.config_path, t.config(
            [SELF_ENTRY], extra="health:\n  listen: %s\n" % addr))
        d = harness.Daemon(t.config_path, t.socket_path, t.path("lanyardd-0.log"))
        t.daemons.append(d)
        try:
            rc = d.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            raise Failure("lanyardd still runs with its health port taken")
    check(rc == 1, "lanyardd exited with %d, want 1" % rc)
    errors = d.error_lines()
    check(len(errors) == 1, "want one error line, got:\n" + "\n".join(errors))
    check("starting the health listener on " + addr in errors[0] and "in use" in errors[0],
          "the error does not name the address and the cause: %r" % errors[0])
    check(not os.path.exists(t.socket_path), "a socket was left at %s" % t.socket_path)


@case("health.listen: off starts no listener and says so")
def listener_off(t):
    d = t.start_daemon(t.config([SELF_ENTRY], extra="health:\n  listen: \"off\"\n"))
    wait_until(lambda: "health listener disabled" in d.log(), 5,
               "lanyardd to log that the health listener is off")
    check("serving /live" not in d.log(), "a health listener started with listen: off")
    d.stop()


# --- runner (as run.py) ----------------------------------------------------------------------

def run(selected, keep):
    run_root = tempfile.mkdtemp(prefix="lanyard-health-")
    os.chmod(run_root, 0o755)
    stubs = harness.Stubs(run_root)
    failed = 0
    started = time.monotonic()
    try:
        for n, (name, fn) in enumerate(selected, 1):
            print("# " + name, flush=True)
            t = CaseDir(run_root, stubs, n)
            reason = []
            case_started = time.monotonic()
            try:
                fn(t)
            except Failure as e:
                reason = str(e).splitlines()
            except Exception:  # noqa: BLE001 (any error fails the case, not the run)
                reason = traceback.format_exc().splitlines()
            finally:
                t.cleanup()
            took = time.monotonic() - case_started
            if reason:
                failed += 1
                reason += t.log_tails()
                print("not ok %d - %s" % (n, name))
                for line in reason:
                    print("#\t" + line)
            else:
                print("ok %d - %s" % (n, name))
            print("case %d took %.1f s" % (n, took), file=sys.stderr)
            sys.stdout.flush()
    finally:
        harness.kill_all_daemons()
        if keep or failed:
            print("temp files kept in " + run_root, file=sys.stderr)
        else:
            shutil.rmtree(run_root, ignore_errors=True)
    print("1..%d" % len(selected))
    print("%d of %d cases failed; the suite took %.1f s"
          % (failed, len(selected), time.monotonic() - started), file=sys.stderr)
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reporter", choices=["tap"], default="tap")
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs")
    parser.add_argument("filters", nargs="*", help="run only cases whose name contains one")
    args = parser.parse_args()
    selected = [c for c in CASES if not args.filters or any(f in c[0] for f in args.filters)]

    def terminated(signum, frame):  # meson's timeout: kill the daemons on the way out
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, terminated)
    if not os.access(harness.daemon_path(), os.X_OK):
        print("Bail out! no lanyardd at %s (set LANYARD_DAEMON)" % harness.daemon_path())
        return 1
    return run(selected, args.keep)


if __name__ == "__main__":
    sys.exit(main())
