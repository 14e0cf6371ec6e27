#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Container integration suite (STYLE.md §9): the real lanyardd with the docker attestor, asked
from inside real containers run by a private dockerd and by podman (with runc), through the
Docker Engine API and podman's Docker-compatible `podman system service`.

    container_test.py --reporter tap [CASE-SUBSTRING...]

The image is built here from the busybox-static binary (`docker import` / `podman import` of a
local tarball, never a registry). Containers run the host's `lanyard` CLI, mounted read-only
with the host's /usr, /lib and /lib64, against the agent socket mounted from the case dir.
dockerd runs with its own data-root, exec-root and socket in a temp dir
(--iptables=false --bridge=none); podman with its own root, runroot and a containers.conf that
selects runc (crun fails on hybrid cgroup hosts) and low ulimits (no CAP_SYS_RESOURCE here).

Environment: LANYARD_DAEMON (the lanyardd binary), LANYARD_CLI (the lanyard binary; default:
cli/lanyard beside the daemon's build dir), LANYARD_SOURCE_DIR. Needs root, dockerd, podman,
runc and busybox-static (packaging/deps.sh containers): without them the suite is skipped on a
laptop and fails under CI=true.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import CaseDir, Failure, check, wait_until  # noqa: E402

IMAGE = "lanyard-test/busybox:local"
WORKLOAD_UID = 4321
LABEL = "lanyard.test/app"
WEB_ID = "spiffe://example.org/docker/web"
POD_ID = "spiffe://example.org/podman/web"
BATCH_ID = "spiffe://example.org/docker/batch"
HOST_ID = "spiffe://example.org/host/4321"
BUSYBOX = "/bin/busybox"

CASES = []


def case(name):
    def register(fn):
        CASES.append((name, fn))
        return fn
    return register


def cli_path():
    env = os.environ.get("LANYARD_CLI")
    if env:
        return env
    build = os.path.dirname(os.path.dirname(os.path.abspath(harness.daemon_path())))
    return os.path.join(build, "cli", "lanyard")


def run(args, timeout=60, check_rc=True, **kwargs):
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL, **kwargs)
    if check_rc and r.returncode != 0:
        raise Failure("%s exited %d:\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


# --- the container runtimes ------------------------------------------------------------------

class Runtimes:
    """A private dockerd and a private podman storage, set up once for the whole suite."""

    def __init__(self, root):
        self.root = root
        self.docker_sock = os.path.join(root, "docker.sock")
        self.podman_sock = os.path.join(root, "podman.sock")
        self.conf = os.path.join(root, "containers.conf")
        self.dockerd = None
        self.podman_service = None
        self.logs = []

    def docker(self, *args, **kwargs):
        return run(["docker", "-H", "unix://" + self.docker_sock, *args], **kwargs)

    def podman(self, *args, **kwargs):
        env = dict(os.environ, CONTAINERS_CONF=self.conf)
        return run(["podman", "--root", os.path.join(self.root, "podman-root"),
                    "--runroot", os.path.join(self.root, "podman-run"),
                    "--tmpdir", os.path.join(self.root, "podman-tmp"),
                    "--storage-driver", "vfs", *args], env=env, **kwargs)

    def start(self):
        started = time.monotonic()
        log = open(os.path.join(self.root, "dockerd.log"), "ab")
        self.logs.append(log)
        self.dockerd = subprocess.Popen(
            ["dockerd", "--iptables=false", "--ip6tables=false", "--bridge=none",
             "--data-root", os.path.join(self.root, "docker-data"),
             "--exec-root", os.path.join(self.root, "dx"),
             "--pidfile", os.path.join(self.root, "docker.pid"),
             "-H", "unix://" + self.docker_sock, "--log-level", "warn"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        with open(self.conf, "w") as f:
            # runc: crun fails on hybrid cgroups. Low ulimits: without CAP_SYS_RESOURCE runc
            # cannot raise them to podman's defaults (and --ulimit host still asks for those).
            f.write('[containers]\nnetns = "none"\n'
                    'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'
                    '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n'
                    'events_logger = "file"\n')
        svc_log = open(os.path.join(self.root, "podman-service.log"), "ab")
        self.logs.append(svc_log)
        env = dict(os.environ, CONTAINERS_CONF=self.conf)
        self.podman_service = subprocess.Popen(
            ["podman", "--root", os.path.join(self.root, "podman-root"),
             "--runroot", os.path.join(self.root, "podman-run"),
             "--tmpdir", os.path.join(self.root, "podman-tmp"), "--storage-driver", "vfs",
             "system", "service", "--time=0", "unix://" + self.podman_sock],
            stdin=subprocess.DEVNULL, stdout=svc_log, stderr=subprocess.STDOUT, env=env)
        wait_until(lambda: harness.socket_accepts(self.docker_sock), 30, "dockerd's socket")
        wait_until(lambda: harness.socket_accepts(self.podman_sock), 30, "podman's socket")
        tarball = os.path.join(self.root, "busybox.tar")
        image_dir = os.path.join(self.root, "image")
        os.makedirs(image_dir)
        shutil.copy(BUSYBOX, os.path.join(image_dir, "busybox"))
        run(["tar", "-C", image_dir, "-cf", tarball, "busybox"])
        for tool in (self.docker, self.podman):
            tool("import", "-c", 'ENTRYPOINT ["/busybox"]', tarball, IMAGE)
        print("runtimes ready in %.1f s" % (time.monotonic() - started), file=sys.stderr)

    def stop(self):
        for tool in (self.docker, self.podman):
            try:
                ids = tool("ps", "-aq", check_rc=False).stdout.split()
                if ids:
                    tool("rm", "-f", *ids, check_rc=False)
            except Exception:  # noqa: BLE001 (cleanup goes on)
                pass
        for proc in (self.podman_service, self.dockerd):
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
        for log in self.logs:
            log.close()


RUNTIMES = None


def workload_run(tool, t, name, labels=(), env=(), uid=WORKLOAD_UID, cli_args=None):
    """Runs the lanyard CLI in a new container (removed afterwards); returns the result."""
    args = ["run", "--rm", "--network", "none", "--name", name, "--user", "%d:%d" % (uid, uid),
            "-v", "/usr:/usr:ro", "-v", "/lib:/lib:ro", "-v", "/lib64:/lib64:ro",
            "-v", t.cli + ":/lanyard:ro", "-v", t.dir + ":/agent"]
    for label in labels:
        args += ["--label", label]
    # An ASan build's CLI: LeakSanitizer stops the process with ptrace, which containers may
    # refuse; the agent side (where leaks matter) runs on the host with leak checks on.
    for e in (*env, "ASAN_OPTIONS=detect_leaks=0"):
        args += ["-e", e]
    args += ["--entrypoint", "/lanyard", IMAGE]
    args += cli_args or ["api", "fetch", "x509", "--socket", "unix:///agent/agent.sock",
                         "--output", "json"]
    return tool(*args, check_rc=False, timeout=60)


def issued_ids(result):
    check(result.returncode == 0, "the CLI failed (%d): %s%s"
          % (result.returncode, result.stdout, result.stderr))
    return sorted(s["spiffe_id"] for s in json.loads(result.stdout)["svids"])


def denied(result):
    return result.returncode != 0 and "permission denied" in result.stderr


def start_agent(t, entries):
    extra = ("attestors:\n  unix: {}\n  docker:\n"
             "    docker_socket_path: unix://%s\n    podman_socket_path: unix://%s\n"
             % (RUNTIMES.docker_sock, RUNTIMES.podman_sock))
    return t.start_daemon(t.config(entries, extra=extra))


def prepare(t):
    # The CLI as a file of its own, readable by the workload uid, to mount into containers.
    t.cli = t.path("lanyard")
    shutil.copy(cli_path(), t.cli)
    os.chmod(t.cli, 0o755)


ENTRIES = [
    (WEB_ID, ["docker:label:%s:web" % LABEL, "unix:uid:%d" % WORKLOAD_UID]),
    (POD_ID, ["docker:label:%s:podweb" % LABEL, "unix:uid:%d" % WORKLOAD_UID]),
]


# --- cases -----------------------------------------------------------------------------------

@case("a Docker container with the entry's label gets its SPIFFE ID, one without gets "
      "PERMISSION_DENIED")
def docker_label(t):
    prepare(t)
    start_agent(t, ENTRIES)
    got = workload_run(RUNTIMES.docker, t, "lanyard-it-web", labels=["%s=web" % LABEL])
    check(issued_ids(got) == [WEB_ID], "issued %s, want [%s]" % (issued_ids(got), WEB_ID))
    other = workload_run(RUNTIMES.docker, t, "lanyard-it-plain", labels=["%s=other" % LABEL])
    check(denied(other), "a container without the label was not denied: %d %s%s"
          % (other.returncode, other.stdout, other.stderr))


@case("a host process with the container's uid gets the host entry, never the container's")
def host_same_uid(t):
    prepare(t)
    host_entry = (HOST_ID, ["unix:uid:%d" % WORKLOAD_UID, "unix:path:" + t.cli])
    start_agent(t, ENTRIES + [host_entry])
    args = [t.cli, "api", "fetch", "x509", "--socket", "unix://" + t.socket_path,
            "--output", "json"]
    host = run(["setpriv", "--reuid", str(WORKLOAD_UID), "--regid", str(WORKLOAD_UID),
                "--clear-groups", *args], check_rc=False)
    check(issued_ids(host) == [HOST_ID], "the host process got %s, want [%s]"
          % (issued_ids(host), HOST_ID))
    inside = workload_run(RUNTIMES.docker, t, "lanyard-it-web2", labels=["%s=web" % LABEL])
    check(issued_ids(inside) == [WEB_ID], "the container got %s, want [%s]"
          % (issued_ids(inside), WEB_ID))


@case("docker:env, docker:image_id and container:name select a Docker container")
def docker_env_image_name(t):
    prepare(t)
    entries = [(BATCH_ID, ["docker:env:LANYARD_ROLE=batch", "docker:image_id:" + IMAGE,
                           "container:name:lanyard-it-batch"])]
    start_agent(t, entries)
    got = workload_run(RUNTIMES.docker, t, "lanyard-it-batch", env=["LANYARD_ROLE=batch"])
    check(issued_ids(got) == [BATCH_ID], "issued %s, want [%s]" % (issued_ids(got), BATCH_ID))
    renamed = workload_run(RUNTIMES.docker, t, "lanyard-it-batch2", env=["LANYARD_ROLE=batch"])
    check(denied(renamed), "another container name was not denied: %d %s%s"
          % (renamed.returncode, renamed.stdout, renamed.stderr))


@case("a podman container is attested through podman's Docker-compatible API with the same "
      "attestor")
def podman_label(t):
    prepare(t)
    start_agent(t, ENTRIES)
    got = workload_run(RUNTIMES.podman, t, "lanyard-it-podweb", labels=["%s=podweb" % LABEL])
    check(issued_ids(got) == [POD_ID], "issued %s, want [%s]" % (issued_ids(got), POD_ID))
    other = workload_run(RUNTIMES.podman, t, "lanyard-it-podplain", labels=["%s=web-" % LABEL])
    check(denied(other), "a podman container without the label was not denied: %d %s%s"
          % (other.returncode, other.stdout, other.stderr))


@case("with the engine unreachable a container gets no container identity (the docker "
      "attestor fails closed) and the agent keeps serving")
def engine_unreachable(t):
    prepare(t)
    extra = ("attestors:\n  unix: {}\n  docker:\n"
             "    docker_socket_path: unix://%s\n" % t.path("no-docker.sock"))
    d = t.start_daemon(t.config(ENTRIES, extra=extra))
    got = workload_run(RUNTIMES.docker, t, "lanyard-it-nodocker", labels=["%s=web" % LABEL])
    check(denied(got), "a container was not denied with the engine down: %d %s%s"
          % (got.returncode, got.stdout, got.stderr))
    check("attestation failed" in d.log() and "no-docker.sock" in d.log(),
          "the daemon did not log the docker attestor's failure")


# --- runner ----------------------------------------------------------------------------------

def missing_components():
    missing = [tool for tool in ("dockerd", "docker", "podman", "runc", "setpriv")
               if shutil.which(tool) is None]
    if not os.path.exists(BUSYBOX):
        missing.append("busybox-static")
    if os.geteuid() != 0:
        missing.append("root")
    return missing


def main():
    global RUNTIMES
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reporter", choices=["tap"], default="tap")
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs")
    parser.add_argument("filters", nargs="*", help="run only cases whose name contains one")
    args = parser.parse_args()
    selected = [c for c in CASES if not args.filters or any(f in c[0] for f in args.filters)]

    missing = missing_components()
    if missing:
        if os.environ.get("CI") == "true":  # STYLE.md §9: CI installs them; missing is a failure
            print("Bail out! missing under CI: %s (packaging/deps.sh containers)"
                  % ", ".join(missing))
            return 1
        print("1..0 # SKIP missing: %s (packaging/deps.sh containers)" % ", ".join(missing))
        return 0
    if not os.access(harness.daemon_path(), os.X_OK) or not os.access(cli_path(), os.X_OK):
        print("Bail out! no lanyardd or lanyard CLI (set LANYARD_DAEMON, LANYARD_CLI)")
        return 1

    def terminated(signum, frame):  # meson's timeout: clean up on the way out
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, terminated)

    run_root = tempfile.mkdtemp(prefix="lanyard-ct-")
    os.chmod(run_root, 0o755)
    stubs = None  # the cases call the agent with the lanyard CLI, not the Python stubs
    RUNTIMES = Runtimes(run_root)
    failed = 0
    started = time.monotonic()
    try:
        try:
            RUNTIMES.start()
        except Exception:  # noqa: BLE001
            print("Bail out! starting dockerd and podman failed:")
            for line in traceback.format_exc().splitlines():
                print("#\t" + line)
            return 1
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
            if reason:
                failed += 1
                reason += t.log_tails()
                print("not ok %d - %s" % (n, name))
                for line in reason:
                    print("#\t" + line)
            else:
                print("ok %d - %s" % (n, name))
            print("case %d took %.1f s" % (n, time.monotonic() - case_started), file=sys.stderr)
            sys.stdout.flush()
    finally:
        harness.kill_all_daemons()
        RUNTIMES.stop()
        if args.keep or failed:
            print("temp files kept in " + run_root, file=sys.stderr)
        else:
            shutil.rmtree(run_root, ignore_errors=True)
    print("1..%d" % len(selected))
    print("%d of %d cases failed; the suite took %.1f s"
          % (failed, len(selected), time.monotonic() - started), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
