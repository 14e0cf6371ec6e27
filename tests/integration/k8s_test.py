#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Kubernetes attestor suite: the real lanyardd with `attestors: k8s`, asked over its socket by
processes in real containers that dockerd placed in kubepods cgroups (--cgroup-parent, the
layouts of the kubelet's cgroupfs and systemd drivers), while a STAND-IN FOR THE KUBELET (no
kubelet is installable here: DESIGN.md §8) serves /pods on loopback, describing those
containers by their real IDs. Templated entries are checked end to end.

    k8s_test.py --reporter tap [CASE-SUBSTRING...]

Environment: LANYARD_DAEMON (the lanyardd binary), LANYARD_SOURCE_DIR (for the proto),
LANYARD_DOCKER_HOST (use that dockerd instead of starting one). Needs root, dockerd
(docker.io) and a static busybox (busybox-static): missing, the suite is skipped on a laptop
and fails under CI=true (STYLE.md §9). Prints TAP as run.py does.
"""
import argparse
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid

try:
    import grpc
except ImportError as e:  # a laptop without the Debian packages (STYLE.md §9)
    if os.environ.get("CI") == "true":
        print("not ok 1 - the Python modules the suite needs are installed\n#\tmissing %s"
              % e.name)
        print("1..1")
        sys.exit(1)
    print("1..0 # SKIP missing Python module: %s" % e.name)
    sys.exit(0)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import CaseDir, Failure, check  # noqa: E402

TEMPLATE_ID = "spiffe://example.org/ns/{k8s:ns}/sa/{k8s:sa}"
WEB_ID = "spiffe://example.org/prod/web-container"
IMAGE = "lanyard-k8s-test/busybox:local"

CASES = []


def case(name):
    def register(fn):
        CASES.append((name, fn))
        return fn
    return register


# --- the kubelet stand-in --------------------------------------------------------------------

class KubeletStandIn:
    """NOT a kubelet: a loopback HTTP server answering GET /pods (the read-only port's API)
    with a v1 PodList built from the pods the test registers. Counts the requests."""

    def __init__(self):
        self.pods = {}  # uid -> pod object
        self.requests = 0
        self.lock = threading.Lock()
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                if self.path != "/pods":
                    self.send_error(404)
                    return
                with stand_in.lock:
                    stand_in.requests += 1
                    body = json.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": {},
                                       "items": list(stand_in.pods.values())}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add(self, pod):
        with self.lock:
            self.pods[pod["metadata"]["uid"]] = pod

    def request_count(self):
        with self.lock:
            return self.requests

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def pod_object(uid, ns, sa, name, containers, labels=None):
    """A pod as the kubelet lists it; containers: [(name, Container)]."""
    statuses = [{"name": cname, "state": {"running": {}}, "ready": True, "restartCount": 0,
                 "image": IMAGE, "imageID": "docker-pullable://" + c.image_id,
                 "containerID": "docker://" + c.id, "started": True}
                for cname, c in containers]
    return {
        "metadata": {"name": name, "namespace": ns, "uid": uid, "labels": labels or {},
                     "annotations": {"kubernetes.io/config.source": "stand-in"}},
        "spec": {"serviceAccountName": sa, "nodeName": "node-1",
                 "containers": [{"name": cname, "image": IMAGE} for cname, _ in containers]},
        "status": {"phase": "Running", "qosClass": "BestEffort", "containerStatuses": statuses},
    }


# --- dockerd and containers -------------------------------------------------------------------

class Docker:
    """A dockerd of the suite's own (unless LANYARD_DOCKER_HOST names one): no iptables, no
    bridge, state in a temp dir; an image made from the static busybox with /usr of the host
    mounted at run time, so that /usr/bin/python3 and python3-grpcio run inside."""

    def __init__(self, root):
        self.root = root
        self.proc = None
        host = os.environ.get("LANYARD_DOCKER_HOST")
        if host:
            self.host = host
        else:
            sock = os.path.join(root, "docker.sock")
            self.host = "unix://" + sock
            self.log = open(os.path.join(root, "dockerd.log"), "w")
            self.proc = subprocess.Popen(
                ["dockerd", "--iptables=false", "--ip6tables=false", "--bridge=none",
                 "--data-root", os.path.join(root, "data"),
                 "--exec-root", os.path.join(root, "exec"),
                 "--pidfile", os.path.join(root, "docker.pid"), "-H", self.host,
                 "--containerd-namespace", "lanyard-k8s-test", "--log-level", "warn"],
                stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
            harness.wait_until(lambda: self.proc.poll() is not None or self._answers(), 60,
                               "dockerd to answer on " + sock)
            check(self.proc.poll() is None, "dockerd exited %s: %s" % (
                self.proc.returncode, open(os.path.join(root, "dockerd.log")).read()[-2000:]))
        self.containers = []
        self._image()

    def _answers(self):
        return subprocess.run(["docker", "-H", self.host, "version"], capture_output=True,
                              timeout=30).returncode == 0

    def run(self, *args, check_rc=True, timeout=120):
        r = subprocess.run(["docker", "-H", self.host, *args], capture_output=True, text=True,
                           timeout=timeout)
        if check_rc:
            check(r.returncode == 0, "docker %s: %s" % (" ".join(args), r.stderr.strip()))
        return r

    def _image(self):
        rootfs = os.path.join(self.root, "rootfs")
        os.makedirs(os.path.join(rootfs, "bin"))
        shutil.copy2(busybox_path(), os.path.join(rootfs, "bin", "busybox"))
        for applet in ("sh", "sleep"):
            os.symlink("busybox", os.path.join(rootfs, "bin", applet))
        for d in ("usr", "tmp", "proc", "sys", "dev", "etc"):
            os.makedirs(os.path.join(rootfs, d), exist_ok=True)
        for link in ("lib", "lib64"):  # Debian's merged /usr, mounted from the host
            os.symlink("usr/" + link, os.path.join(rootfs, link))
        tar = subprocess.run(["tar", "-C", rootfs, "-c", "."], capture_output=True, check=True)
        r = subprocess.run(["docker", "-H", self.host, "import", "-", IMAGE], input=tar.stdout,
                           capture_output=True, timeout=120)
        check(r.returncode == 0, "docker import: %s" % r.stderr.decode().strip())

    def start(self, cgroup_parent, t):
        """A container running `sleep` under `cgroup_parent`, with /usr, the case dir (the
        socket and the client) and the generated stubs mounted at their host paths."""
        r = self.run("run", "-d", "--network", "none", "--cgroup-parent", cgroup_parent,
                     "-v", "/usr:/usr:ro", "-v", "%s:%s" % (t.dir, t.dir),
                     "-v", "%s:%s:ro" % (t.stubs.dir, t.stubs.dir),
                     IMAGE, "/bin/sleep", "600")
        c = Container(self, r.stdout.strip())
        self.containers.append(c)
        return c

    def stop(self):
        for c in self.containers:
            self.run("rm", "-f", c.id, check_rc=False)
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            self.log.close()


class Container:
    def __init__(self, docker, cid):
        self.docker = docker
        self.id = cid
        info = json.loads(docker.run("inspect", cid).stdout)[0]
        self.image_id = info["Image"]
        self.pid = info["State"]["Pid"]

    def cgroup(self):
        with open("/proc/%d/cgroup" % self.pid) as f:
            return f.read()

    def fetch(self, t, timeout=30):
        """FetchX509SVID from a process in this container: (code name, [spiffe ids])."""
        r = self.docker.run("exec", self.id, "/usr/bin/python3", t.client_py, t.socket_path,
                            t.stubs.dir, check_rc=False, timeout=timeout)
        check(r.returncode == 0, "client in container %s failed: %s%s"
              % (self.id[:12], r.stdout, r.stderr))
        out = json.loads(r.stdout.strip().splitlines()[-1])
        return out["code"], out["ids"]


CLIENT = r'''
import json, sys
sys.path.insert(0, sys.argv[2])
import grpc, workload_pb2 as pb, workload_pb2_grpc as g
stub = g.SpiffeWorkloadAPIStub(grpc.insecure_channel("unix:" + sys.argv[1]))
try:
    for message in stub.FetchX509SVID(pb.X509SVIDRequest(), timeout=20,
                                      metadata=[("workload.spiffe.io", "true")]):
        print(json.dumps({"code": "OK", "ids": sorted(s.spiffe_id for s in message.svids)}))
        break
except grpc.RpcError as e:
    print(json.dumps({"code": e.code().name, "ids": [], "details": e.details()}))
'''


def host_fetch(t):
    try:
        message = t.client().first("FetchX509SVID", timeout=20)
        return "OK", sorted(s.spiffe_id for s in message.svids)
    except harness.StreamEnded as e:
        return e.code.name, []
    except grpc.RpcError as e:
        return e.code().name, []


def pod_uid():
    return str(uuid.uuid4())


def cgroupfs_parent(uid, qos="besteffort"):
    return "/kubepods/%s/pod%s" % (qos, uid)


def systemd_parent(uid, qos="burstable"):
    # The systemd driver's names (dockerd's cgroupfs driver takes them as plain paths).
    u = uid.replace("-", "_")
    return "/kubepods.slice/kubepods-%s.slice/kubepods-%s-pod%s.slice" % (qos, qos, u)


# --- the per-case world -----------------------------------------------------------------------

class World:
    """One case: a stand-in kubelet, lanyardd with the k8s attestor pointed at it, and the
    client script in the shared dir."""

    def __init__(self, t, docker, attestor_extra=""):
        self.t = t
        self.docker = docker
        self.kubelet = KubeletStandIn()
        t.client_py = t.path("client.py")
        with open(t.client_py, "w") as f:
            f.write(CLIENT)
        entries = [(TEMPLATE_ID, ["k8s:ns", "k8s:sa"]),
                   (WEB_ID, ["k8s:ns:prod", "k8s:pod-label:app.kubernetes.io/name:web",
                             "k8s:container-name:web"])]
        extra = ("attestors:\n  k8s:\n    kubelet_read_only_port: %d\n"
                 "    poll_retry_interval: 200ms\n    max_poll_attempts: 20\n%s"
                 % (self.kubelet.port, attestor_extra))
        self.daemon = t.start_daemon(t.config(entries, extra))

    def stop(self):
        self.kubelet.stop()


def with_world(fn):
    def wrapped(t, docker):
        w = World(t, docker)
        try:
            fn(w)
            w.daemon.stop(allowed_errors=r"attestor")
        finally:
            w.stop()
    return wrapped


@case("a process in a container under /kubepods/besteffort/pod<uid>/ (the cgroupfs driver) gets "
      "spiffe://example.org/ns/prod/sa/web from the templated entry, and the label and "
      "container-name entry")
@with_world
def cgroupfs_pod(w):
    uid = pod_uid()
    c = w.docker.start(cgroupfs_parent(uid), w.t)
    check("/kubepods/besteffort/pod%s/%s" % (uid, c.id) in c.cgroup(),
          "container not in the kubepods cgroup: %s" % c.cgroup())
    w.kubelet.add(pod_object(uid, "prod", "web", "web-1", [("web", c)],
                             labels={"app.kubernetes.io/name": "web", "tier": "front"}))
    code, ids = c.fetch(w.t)
    check(code == "OK", "FetchX509SVID from the container: %s" % code)
    check(ids == sorted(["spiffe://example.org/ns/prod/sa/web", WEB_ID]),
          "ids %r, want ns/prod/sa/web and %s" % (ids, WEB_ID))


@case("containers of two pods (cgroupfs and systemd driver layouts) each get their own pod's "
      "identity; a second container of the same pod, not named web, gets only the template's")
@with_world
def two_pods(w):
    uid_a, uid_b = pod_uid(), pod_uid()
    a = w.docker.start(cgroupfs_parent(uid_a, "guaranteed"), w.t)
    a2 = w.docker.start(cgroupfs_parent(uid_a, "guaranteed"), w.t)
    b = w.docker.start(systemd_parent(uid_b), w.t)
    check("kubepods-burstable-pod%s.slice/%s" % (uid_b.replace("-", "_"), b.id) in b.cgroup(),
          "container not in the systemd-style pod cgroup: %s" % b.cgroup())
    labels = {"app.kubernetes.io/name": "web"}
    w.kubelet.add(pod_object(uid_a, "prod", "web", "web-1", [("web", a), ("sidecar", a2)],
                             labels))
    w.kubelet.add(pod_object(uid_b, "dev", "api", "api-1", [("api", b)], labels))
    got = {name: c.fetch(w.t) for name, c in (("a", a), ("a2", a2), ("b", b))}
    check(got["a"] == ("OK", sorted(["spiffe://example.org/ns/prod/sa/web", WEB_ID])),
          "pod A's web container got %r" % (got["a"],))
    check(got["a2"] == ("OK", ["spiffe://example.org/ns/prod/sa/web"]),
          "pod A's sidecar got %r" % (got["a2"],))
    check(got["b"] == ("OK", ["spiffe://example.org/ns/dev/sa/api"]),
          "pod B got %r" % (got["b"],))


@case("a process in a pod the stand-in does not list gets no identity: UNAVAILABLE after the "
      "retries, never another pod's ID")
@with_world
def unlisted_pod(w):
    listed, unlisted = pod_uid(), pod_uid()
    a = w.docker.start(cgroupfs_parent(listed), w.t)
    x = w.docker.start(cgroupfs_parent(unlisted), w.t)
    w.kubelet.add(pod_object(listed, "prod", "web", "web-1", [("web", a)]))
    before = w.kubelet.request_count()
    started = time.monotonic()
    code, ids = x.fetch(w.t)
    took = time.monotonic() - started
    check(code == "UNAVAILABLE" and not ids, "the unlisted pod got %s %r, want UNAVAILABLE"
          % (code, ids))
    check(w.kubelet.request_count() - before >= 2,
          "the pod list was not fetched again for the unlisted pod (%d requests)"
          % (w.kubelet.request_count() - before))
    check(took < 15, "the refusal took %.1f s (the attestation deadline is 5 s)" % took)
    # The same container ID listed under another pod's UID is not trusted either.
    forged = pod_object(listed, "prod", "web", "web-1", [("web", a), ("web", x)])
    w.kubelet.add(forged)
    code, ids = x.fetch(w.t)
    check(code == "UNAVAILABLE" and not ids,
          "a container listed under another pod got %s %r" % (code, ids))


@case("a pod the kubelet lists only after the first call is found by the retries within the "
      "attestation deadline")
@with_world
def late_pod(w):
    uid = pod_uid()
    c = w.docker.start(cgroupfs_parent(uid, "burstable"), w.t)
    timer = threading.Timer(1.0, lambda: w.kubelet.add(
        pod_object(uid, "late", "slow", "late-1", [("app", c)])))
    timer.start()
    try:
        code, ids = c.fetch(w.t)
    finally:
        timer.cancel()
    check((code, ids) == ("OK", ["spiffe://example.org/ns/late/sa/slow"]),
          "the late pod got %s %r" % (code, ids))


@case("the host process (in no pod) gets none of the k8s identities and the kubelet is not asked")
@with_world
def host_process(w):
    uid = pod_uid()
    c = w.docker.start(cgroupfs_parent(uid), w.t)
    w.kubelet.add(pod_object(uid, "prod", "web", "web-1", [("web", c)]))
    before = w.kubelet.request_count()
    code, ids = host_fetch(w.t)
    check(code == "PERMISSION_DENIED" and not ids,
          "the host process got %s %r, want PERMISSION_DENIED" % (code, ids))
    check(w.kubelet.request_count() == before, "the kubelet was asked about a host process")


# --- runner -----------------------------------------------------------------------------------

def busybox_path():
    for p in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.exists(p):
            r = subprocess.run(["ldd", p], capture_output=True, text=True)
            if "not a dynamic executable" in (r.stdout + r.stderr):
                return p
    return None


def missing_requirement():
    if os.geteuid() != 0:
        return "not root (dockerd and --cgroup-parent need root)"
    if not os.environ.get("LANYARD_DOCKER_HOST"):
        if not shutil.which("dockerd"):
            return "no dockerd (Debian package docker.io)"
    if not shutil.which("docker"):
        return "no docker client (Debian package docker.io)"
    if busybox_path() is None:
        return "no static busybox (Debian package busybox-static)"
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reporter", choices=["tap"], default="tap")
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs")
    parser.add_argument("filters", nargs="*", help="run only cases whose name contains one")
    args = parser.parse_args()
    selected = [c for c in CASES if not args.filters or any(f in c[0] for f in args.filters)]

    def terminated(signum, frame):  # meson's timeout: clean up on the way out
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, terminated)

    why = missing_requirement()
    if why:
        if os.environ.get("CI") == "true":  # CI installs all of it: missing is a failure
            print("not ok 1 - the container runtime the suite needs is there\n#\t" + why)
            print("1..1")
            return 1
        print("1..0 # SKIP " + why)
        return 0
    if not os.access(harness.daemon_path(), os.X_OK):
        print("Bail out! no lanyardd at %s (set LANYARD_DAEMON)" % harness.daemon_path())
        return 1

    run_root = tempfile.mkdtemp(prefix="lanyard-k8s-")
    os.chmod(run_root, 0o755)
    failed = 0
    docker = None
    try:
        stubs = harness.Stubs(run_root)
        docker_root = os.path.join(run_root, "docker")
        os.mkdir(docker_root)
        try:
            docker = Docker(docker_root)
        except Failure as e:
            print("not ok 1 - dockerd starts and imports the busybox image")
            for line in str(e).splitlines():
                print("#\t" + line)
            print("1..1")
            return 1
        for n, (name, fn) in enumerate(selected, 1):
            print("# " + name, flush=True)
            t = CaseDir(run_root, stubs, n)
            reason = []
            try:
                fn(t, docker)
            except Failure as e:
                reason = str(e).splitlines()
            except Exception:  # noqa: BLE001 (any error fails the case, not the run)
                reason = traceback.format_exc().splitlines()
            finally:
                t.cleanup()
                for c in docker.containers:
                    docker.run("rm", "-f", c.id, check_rc=False)
                docker.containers = []
            if reason:
                failed += 1
                reason += t.log_tails()
                print("not ok %d - %s" % (n, name))
                for line in reason:
                    print("#\t" + line)
            else:
                print("ok %d - %s" % (n, name))
            sys.stdout.flush()
    finally:
        harness.kill_all_daemons()
        if docker is not None:
            docker.stop()
        if args.keep or failed:
            print("temp files kept in " + run_root, file=sys.stderr)
        else:
            shutil.rmtree(run_root, ignore_errors=True)
    print("1..%d" % len(selected))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
