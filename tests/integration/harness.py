# SPDX-License-Identifier: Apache-2.0
"""Helpers for the integration suite: the real lanyardd on a temp socket, a Python gRPC client
built from our own workload.proto, and independent verifiers (openssl, cryptography, PyJWT).

Every case gets a CaseDir (a fresh temp directory); everything it starts is registered there and
killed by CaseDir.cleanup(), which the runner calls even when the case failed.
"""
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import grpc

SECURITY_HEADER = "workload.spiffe.io"
MD = ((SECURITY_HEADER, "true"),)
TRUST_DOMAIN = "example.org"
TD_ID = "spiffe://" + TRUST_DOMAIN


class Failure(Exception):
    """A failed expectation; the message becomes the TAP diagnostic."""


def check(condition, message):
    if not condition:
        raise Failure(message)


def source_dir():
    env = os.environ.get("LANYARD_SOURCE_DIR")
    if env:
        return env
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def daemon_path():
    env = os.environ.get("LANYARD_DAEMON")
    if env:
        return env
    return os.path.join(source_dir(), "build", "daemon", "lanyardd")


def python_path():
    return os.environ.get("LANYARD_PYTHON", "/usr/bin/python3")


# --- generated stubs (once per run) ---------------------------------------------------------

class Stubs:
    """workload_pb2 / workload_pb2_grpc generated from workload_api/workload.proto into the
    run's temp dir (never committed). The dir is world-readable so a client running as
    another uid can import it too."""

    def __init__(self, run_root):
        self.dir = os.path.join(run_root, "stubs")
        os.mkdir(self.dir)
        proto_dir = os.path.join(source_dir(), "workload_api")
        result = subprocess.run(
            [python_path(), "-m", "grpc_tools.protoc", "-I", proto_dir,
             "--python_out=" + self.dir, "--grpc_python_out=" + self.dir,
             os.path.join(proto_dir, "workload.proto")],
            capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError("grpc_tools.protoc failed: " + result.stderr.strip())
        os.chmod(self.dir, 0o755)
        for name in os.listdir(self.dir):
            os.chmod(os.path.join(self.dir, name), 0o644)
        sys.path.insert(0, self.dir)
        import workload_pb2  # noqa: E402 (generated above)
        import workload_pb2_grpc  # noqa: E402
        self.pb = workload_pb2
        self.grpc = workload_pb2_grpc


# --- the daemon ----------------------------------------------------------------------------

_LIVE = set()  # every lanyardd Popen not yet reaped, for the last-resort kill


def kill_all_daemons():
    for proc in list(_LIVE):
        if proc.poll() is None:
            proc.kill()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        _LIVE.discard(proc)


ERROR_LINE = re.compile(r"^(error|critical)\b|^lanyardd: fatal|\"level\":\s*\"(error|critical)\"")


class Daemon:
    """One lanyardd process; stdout and stderr go to a log file in the case dir."""

    def __init__(self, config_path, socket_path, log_path, extra_args=(), log_level="debug"):
        """`log_level` is passed as --log-level (which overrides the file's, also across
        reloads); None leaves the file in charge."""
        self.config_path = config_path
        self.socket_path = socket_path
        self.log_path = log_path
        self._log = open(log_path, "ab")
        level = ["--log-level", log_level] if log_level else []
        args = [daemon_path(), "--config", config_path, *level, *extra_args]
        # --pdeathsig: the daemon dies with the runner even if the runner itself is killed.
        if shutil.which("setpriv"):
            args = ["setpriv", "--pdeathsig", "KILL", *args]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        _LIVE.add(self.proc)

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        with open(self.log_path, "r", encoding="utf-8", errors="replace") as f:
            return f.read()

    def error_lines(self):
        return [line for line in self.log().splitlines() if ERROR_LINE.search(line)]

    def wait_serving(self, timeout=10.0):
        """Polls until the socket accepts connections; fails if the daemon exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Failure("lanyardd exited with %d before serving:\n%s"
                              % (self.proc.returncode, self.log()))
            if socket_accepts(self.socket_path):
                return
            time.sleep(0.02)
        raise Failure("lanyardd did not serve %s within %.0f s" % (self.socket_path, timeout))

    def signal(self, signum):
        self.proc.send_signal(signum)

    def kill(self):
        """SIGKILL, as a crash would (leaves the socket file behind)."""
        self.proc.kill()
        self.proc.wait(timeout=5)
        _LIVE.discard(self.proc)

    def stop(self, allowed_errors=None):
        """SIGTERM; expects exit code 0 within 10 s and no error lines in the log except those
        matching the `allowed_errors` regex."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            raise Failure("lanyardd did not exit within 10 s of SIGTERM")
        finally:
            _LIVE.discard(self.proc)
            self._log.close()
        check(rc == 0, "lanyardd exited with %d after SIGTERM, want 0; log:\n%s" % (rc, self.log()))
        errors = [line for line in self.error_lines()
                  if not (allowed_errors and re.search(allowed_errors, line))]
        check(not errors, "unexpected error lines in the daemon log:\n" + "\n".join(errors))


def socket_accepts(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(0.5)
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


# --- configuration -------------------------------------------------------------------------

def config_yaml(socket_path, data_dir, entries, extra=""):
    """A configuration file. entries: list of (spiffe_id, [selectors]). `extra` is YAML
    added at top level (e.g. "x509_svid_ttl: 6s\n"). Without a `health:` section in `extra`
    the health listener takes a free port (127.0.0.1:0)."""
    lines = ["trust_domain: " + TRUST_DOMAIN,
             "socket_path: " + json.dumps(socket_path),
             "data_dir: " + json.dumps(data_dir)]
    lines += [line for line in extra.splitlines() if line]
    if not any(line.startswith("health:") for line in extra.splitlines()):
        # Never the default 127.0.0.1:8089: daemons of parallel runs would fight over it.
        lines += ["health:", "  listen: 127.0.0.1:0"]
    if entries:
        lines.append("entries:")
        for spiffe_id, selectors in entries:
            lines.append("  - spiffe_id: " + json.dumps(spiffe_id))
            lines.append("    selectors: [" + ", ".join(json.dumps(s) for s in selectors) + "]")
    return "\n".join(lines) + "\n"


def write_atomically(path, text):
    """Writes a new file and renames it over `path`, as editors do."""
    tmp = path + ".new"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# --- the client ----------------------------------------------------------------------------

class StreamEnded(Exception):
    def __init__(self, code, details):
        super().__init__("stream ended with %s: %s" % (code, details))
        self.code = code
        self.details = details


class Stream:
    """A server stream read by a background thread into a queue, so the test can wait for
    messages with deadlines and see how (and whether) the stream ended."""

    def __init__(self, call):
        self.call = call
        self.opened = time.monotonic()
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self):
        try:
            for message in self.call:
                self._queue.put(("message", message, time.monotonic()))
            self._queue.put(("end", (grpc.StatusCode.OK, ""), time.monotonic()))
        except grpc.RpcError as e:
            self._queue.put(("end", (e.code(), e.details()), time.monotonic()))

    def next(self, timeout, what="a message"):
        """The next message (with its arrival time), or Failure after `timeout` seconds;
        raises StreamEnded when the stream ends."""
        try:
            kind, value, at = self._queue.get(timeout=max(0.0, timeout))
        except queue.Empty:
            raise Failure("no %s on the stream within %.1f s" % (what, timeout))
        if kind == "end":
            self._queue.put((kind, value, at))  # stays ended
            raise StreamEnded(*value)
        return value, at

    def wait_for(self, predicate, timeout, what):
        """Skips messages until one satisfies `predicate`; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            message, _ = self.next(deadline - time.monotonic(), what)
            if predicate(message):
                return message

    def expect_end(self, timeout):
        """Waits for the end of the stream; returns (code, details)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.next(deadline - time.monotonic(), "end of stream")
            except StreamEnded as e:
                return e.code, e.details

    def drain(self):
        """Messages already received (does not wait); raises StreamEnded if it ended."""
        out = []
        while True:
            try:
                kind, value, at = self._queue.get_nowait()
            except queue.Empty:
                return out
            if kind == "end":
                self._queue.put((kind, value, at))
                raise StreamEnded(*value)
            out.append(value)

    def cancel(self):
        self.call.cancel()
        self._thread.join(timeout=5)


class Client:
    """A Workload API client on one channel; calls carry the security header unless
    `metadata` says otherwise."""

    def __init__(self, stubs, socket_path):
        self.pb = stubs.pb
        # A local subchannel pool: a new Client opens its own connection instead of reusing
        # another channel's (which may still point at a daemon that was stopped).
        self.channel = grpc.insecure_channel("unix:" + socket_path,
                                             options=[("grpc.use_local_subchannel_pool", 1)])
        self.stub = stubs.grpc.SpiffeWorkloadAPIStub(self.channel)
        self.streams = []

    def close(self):
        for s in self.streams:
            s.cancel()
        self.channel.close()

    def stream(self, method, metadata=MD, request=None):
        """Opens a server stream: method is "FetchX509SVID", "FetchX509Bundles",
        "FetchJWTBundles", "FetchWITSVID" or "FetchWITBundles"."""
        requests = {
            "FetchX509SVID": self.pb.X509SVIDRequest,
            "FetchX509Bundles": self.pb.X509BundlesRequest,
            "FetchJWTBundles": self.pb.JWTBundlesRequest,
            "FetchWITSVID": self.pb.WITSVIDRequest,
            "FetchWITBundles": self.pb.WITBundlesRequest,
        }
        call = getattr(self.stub, method)(request or requests[method](), metadata=metadata,
                                          timeout=60)
        s = Stream(call)
        self.streams.append(s)
        return s

    def first(self, method, metadata=MD, timeout=5.0):
        """The first message of a stream (the stream is then cancelled)."""
        s = self.stream(method, metadata)
        try:
            message, _ = s.next(timeout, "first %s message" % method)
            return message
        finally:
            s.cancel()
            self.streams.remove(s)

    def jwt_svid(self, audience, spiffe_id="", metadata=MD):
        return self.stub.FetchJWTSVID(
            self.pb.JWTSVIDRequest(audience=audience, spiffe_id=spiffe_id),
            metadata=metadata, timeout=10)

    def validate(self, audience, svid, metadata=MD):
        return self.stub.ValidateJWTSVID(
            self.pb.ValidateJWTSVIDRequest(audience=audience, svid=svid),
            metadata=metadata, timeout=10)


def rpc_code(fn, *args, **kwargs):
    """Runs a call and returns (code, details, result): code OK with the result on success."""
    try:
        result = fn(*args, **kwargs)
        return grpc.StatusCode.OK, "", result
    except StreamEnded as e:
        return e.code, e.details, None
    except grpc.RpcError as e:
        return e.code(), e.details(), None


def expect_code(want, what, fn, *args, **kwargs):
    code, details, _ = rpc_code(fn, *args, **kwargs)
    check(code == want, "%s: got %s (%s), want %s" % (what, code, details, want))
    return details


# --- per-case directory --------------------------------------------------------------------

class CaseDir:
    """A fresh temp dir (mode 0755: a client running as another uid reaches the socket) and
    everything a case starts in it."""

    def __init__(self, run_root, stubs, index):
        self.dir = tempfile.mkdtemp(prefix="case%02d-" % index, dir=run_root)
        os.chmod(self.dir, 0o755)
        self.stubs = stubs
        self.daemons = []
        self.clients = []
        self.socket_path = self.path("agent.sock")
        self.data_dir = self.path("data")
        self.config_path = self.path("lanyard.yaml")

    def path(self, name):
        return os.path.join(self.dir, name)

    def config(self, entries, extra="", socket_path=None, data_dir=None):
        return config_yaml(socket_path or self.socket_path, data_dir or self.data_dir,
                           entries, extra)

    def start_daemon(self, config_text, config_path=None, socket_path=None, log_level="debug"):
        """Writes the config and starts lanyardd on it; returns once the socket serves."""
        config_path = config_path or self.config_path
        write_atomically(config_path, config_text)
        log_path = self.path("lanyardd-%d.log" % len(self.daemons))
        d = Daemon(config_path, socket_path or self.socket_path, log_path, log_level=log_level)
        self.daemons.append(d)
        d.wait_serving()
        return d

    def client(self, socket_path=None):
        c = Client(self.stubs, socket_path or self.socket_path)
        self.clients.append(c)
        return c

    def log_tails(self, lines=15):
        out = []
        for d in self.daemons:
            try:
                tail = d.log().splitlines()[-lines:]
            except OSError:
                continue
            out.append("%s (pid %d), last lines:" % (os.path.basename(d.log_path), d.pid))
            out += ["  " + line for line in tail]
        return out

    def cleanup(self):
        for c in self.clients:
            try:
                c.close()
            except Exception:  # noqa: BLE001 (cleanup must go on)
                pass
        for d in self.daemons:
            if d.proc.poll() is None:
                d.proc.kill()
            try:
                d.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            _LIVE.discard(d.proc)
            if not d._log.closed:
                d._log.close()


def wait_until(predicate, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise Failure("timed out after %.1f s waiting for %s" % (timeout, what))
