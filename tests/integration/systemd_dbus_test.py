#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The systemd attestor end to end (docs/selectors.md, "systemd"): the real lanyardd with
`attestors: {unix: {}, systemd: {dbus: <address>}}` on a private dbus-daemon, where a STAND-IN
FOR SYSTEMD (tests/attestors/systemd/fake_systemd1.py; PID 1 here is not systemd) answers
GetUnitByPIDFD/GetUnitByPID with the unit it derives from the caller's real /proc/<pid>/cgroup.
Callers are Python gRPC clients that first move themselves into a unit's cgroup
(lanyard-it-<n>.slice/lanyard-it-<n>.service, made by this script in the name=systemd or
unified hierarchy), so the daemon's cgroup-derived systemd:id and the stand-in agree.

    systemd_dbus_test.py --reporter tap [CASE-SUBSTRING...]

Environment: LANYARD_DAEMON, LANYARD_SOURCE_DIR. Needs root (to make cgroups), dbus-daemon and
python3-dbus/python3-gi: missing, the suite is skipped on a laptop and fails under CI=true
(STYLE.md §9). Prints TAP as run.py does.
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

try:
    import grpc  # noqa: F401 (the harness needs it)
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

FRAGMENT_ID = "spiffe://example.org/systemd/fragment"
UNIT_ID = "spiffe://example.org/systemd/unit"

CASES = []


def case(name):
    def register(fn):
        CASES.append((name, fn))
        return fn
    return register


def missing_requirement():
    if os.geteuid() != 0:
        return "needs root (to place callers in unit cgroups)"
    if not shutil.which("dbus-daemon"):
        return "no dbus-daemon (packaging/deps.sh installs dbus-daemon)"
    r = subprocess.run([harness.python_path(), "-c", "import dbus, gi.repository.GLib"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return "no python3-dbus/python3-gi for the stand-in systemd: " + r.stderr.strip()
    if systemd_hierarchy() is None:
        return "no writable cgroup hierarchy (name=systemd or cgroup2) mounted"
    return None


def systemd_hierarchy():
    """The mount point of the hierarchy the attestor reads the unit from: name=systemd when
    this process has such a line (v1 and hybrid hosts), else the unified cgroup2 one."""
    with open("/proc/self/cgroup") as f:
        named = any(line.split(":")[1] == "name=systemd" for line in f if line.count(":") >= 2)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype, options = fields[sep + 1], fields[sep + 3]
            if named and fstype == "cgroup" and "name=systemd" in options.split(","):
                return fields[4]
            if not named and fstype == "cgroup2":
                return fields[4]
    return None


class UnitCgroup:
    """lanyard-it-<n>.slice/lanyard-it-<n>.service in the systemd hierarchy: a fake unit's
    cgroup that callers move themselves into."""

    def __init__(self, n):
        stem = "lanyard-it-%d-%d" % (os.getpid(), n)
        self.unit = stem + ".service"
        self.slice_dir = os.path.join(systemd_hierarchy(), stem + ".slice")
        self.dir = os.path.join(self.slice_dir, self.unit)
        os.makedirs(self.dir)

    def remove(self):
        for d in (self.dir, self.slice_dir):
            for _ in range(50):  # a caller that just exited may still be listed for a moment
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def start(t, argv, name):
    """A child of this case whose stdout is read line by line and stderr goes to name.log;
    killed by the case's cleanup."""
    log = open(t.path(name + ".log"), "wb")
    if shutil.which("setpriv"):
        argv = ["setpriv", "--pdeathsig", "KILL", *argv]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
    t.children.append(proc)
    return proc


def first_line(proc, what, timeout=10.0):
    """The child's first stdout line, within `timeout` (a hung child fails the case)."""
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout):
        raise Failure("%s printed nothing within %.0f s" % (what, timeout))
    return proc.stdout.readline().decode().strip()


class World:
    """One case: a private bus, optionally the stand-in systemd on it, a unit cgroup, and
    lanyardd asking that bus."""

    def __init__(self, t, stand_in_args=None, dbus_setting=None):
        self.t = t
        t.children = []
        self.cgroup = UnitCgroup(len(CASES_RUN))
        CASES_RUN.append(self)
        self.address = "unix:path=" + t.path("bus")
        with open(t.path("bus.conf"), "w") as f:
            f.write(BUS_CONF % self.address)
        bus = start(t, ["dbus-daemon", "--config-file=" + t.path("bus.conf"), "--nofork",
                        "--print-address"], "dbus-daemon")
        check(first_line(bus, "dbus-daemon").startswith(self.address),
              "dbus-daemon did not listen at " + self.address)
        self.calls = t.path("calls")
        if stand_in_args is not None:
            stand_in = start(t, [harness.python_path(),
                                 os.path.join(harness.source_dir(),
                                              "tests/attestors/systemd/fake_systemd1.py"),
                                 "--address", self.address, "--calls", self.calls,
                                 *stand_in_args], "fake_systemd1")
            check(first_line(stand_in, "the stand-in systemd", 20) == "ready",
                  "the stand-in systemd did not start: " + self.log("fake_systemd1"))
        entries = [(FRAGMENT_ID, ["systemd:id:" + self.cgroup.unit,
                                  "systemd:fragment_path:" + self.fragment()]),
                   (UNIT_ID, ["systemd:id:" + self.cgroup.unit])]
        extra = "attestors:\n  unix: {}\n  systemd:\n    dbus: %s\n" % json.dumps(
            dbus_setting or self.address)
        self.client_py = t.path("client.py")
        with open(self.client_py, "w") as f:
            f.write(CLIENT)
        self.daemon = t.start_daemon(t.config(entries, extra))

    def fragment(self):
        return "/etc/systemd/system/" + self.cgroup.unit

    def log(self, name):
        with open(self.t.path(name + ".log"), errors="replace") as f:
            return f.read()

    def fetch(self):
        """FetchX509SVID from a new process, first moved into the unit's cgroup:
        (code name, [spiffe ids], its pid)."""
        procs = os.path.join(self.cgroup.dir, "cgroup.procs")
        argv = ["sh", "-c", 'echo $$ > "$1" && exec "$2" "$3" "$4" "$5"', "sh", procs,
                harness.python_path(), self.client_py, self.t.socket_path, self.t.stubs.dir]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise Failure("the client did not finish within 30 s")
        check(proc.returncode == 0, "client failed: %s%s" % (out.decode(), err.decode()))
        result = json.loads(out.decode().strip().splitlines()[-1])
        check(result["unit"] == self.cgroup.unit,
              "the client ran in %r, not in %s" % (result["unit"], self.cgroup.unit))
        return result["code"], result["ids"], proc.pid

    def calls_made(self):
        try:
            with open(self.calls) as f:
                return f.read().split("\n")[:-1]
        except FileNotFoundError:
            return []

    def close(self):
        self.daemon.stop(allowed_errors=r"attestor")


CASES_RUN = []

CLIENT = r'''
import json, re, sys
sys.path.insert(0, sys.argv[2])
import grpc, workload_pb2 as pb, workload_pb2_grpc as g
with open("/proc/self/cgroup") as f:
    units = re.findall(r"/(lanyard-it-[0-9-]+\.service)", f.read())
out = {"unit": units[0] if units else ""}
stub = g.SpiffeWorkloadAPIStub(grpc.insecure_channel("unix:" + sys.argv[1]))
try:
    for message in stub.FetchX509SVID(pb.X509SVIDRequest(), timeout=20,
                                      metadata=[("workload.spiffe.io", "true")]):
        out.update(code="OK", ids=sorted(s.spiffe_id for s in message.svids))
        break
except grpc.RpcError as e:
    out.update(code=e.code().name, ids=[], details=e.details())
print(json.dumps(out))
'''


def world_case(name, **world_args):
    def register(fn):
        def run(t):
            w = World(t, **world_args)
            fn(w)
            w.close()
        CASES.append((name, run))
        return fn
    return register


@world_case("a caller in a unit with a unit file gets the entry that requires "
            "systemd:fragment_path (asked by pidfd, the unit from its real cgroup)",
            stand_in_args=["--unit-from-cgroup"])
def fragment_path_served(w):
    code, ids, pid = w.fetch()
    check(code == "OK" and ids == sorted([FRAGMENT_ID, UNIT_ID]),
          "got %s %s, want both entries" % (code, ids))
    check(w.calls_made() == ["GetUnitByPIDFD %d" % pid],
          "the stand-in saw %s, want one GetUnitByPIDFD for pid %d" % (w.calls_made(), pid))


@world_case("a transient unit (empty FragmentPath) gets only the systemd:id entry",
            stand_in_args=["--unit-from-cgroup", "--fragment", ""])
def transient_unit(w):
    code, ids, _ = w.fetch()
    check(code == "OK" and ids == [UNIT_ID], "got %s %s, want only %s" % (code, ids, UNIT_ID))
    check(len(w.calls_made()) == 1, "the stand-in was not asked: %s" % w.calls_made())


@world_case("no systemd on the bus: the cgroup's systemd:id still serves, logged once at info",
            stand_in_args=None)
def no_systemd_on_bus(w):
    for _ in range(2):
        code, ids, _ = w.fetch()
        check(code == "OK" and ids == [UNIT_ID], "got %s %s, want only %s" % (code, ids, UNIT_ID))
    lines = [line for line in w.daemon.log().splitlines()
             if line.startswith("info") and "fragment_path is left out" in line]
    check(len(lines) == 1, "want one info line about the outage, got:\n" + "\n".join(lines))


@world_case("systemd naming another unit than the caller's cgroup: no systemd selectors at all",
            stand_in_args=["--unit", "other.service"])
def unit_mismatch(w):
    code, ids, _ = w.fetch()
    check(code == "PERMISSION_DENIED" and ids == [],
          "got %s %s, want PERMISSION_DENIED (no entry)" % (code, ids))
    check('systemd says it is in "other.service"' in w.daemon.log(),
          "the daemon did not log the mismatch:\n" + w.daemon.log()[-2000:])


@world_case("dbus: off never asks systemd: only the systemd:id entry",
            stand_in_args=["--unit-from-cgroup"], dbus_setting="off")
def dbus_off(w):
    code, ids, _ = w.fetch()
    check(code == "OK" and ids == [UNIT_ID], "got %s %s, want only %s" % (code, ids, UNIT_ID))
    check(w.calls_made() == [], "systemd was asked: %s" % w.calls_made())


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
            print("not ok 1 - the suite's requirements are there\n#\t" + why)
            print("1..1")
            return 1
        print("1..0 # SKIP " + why)
        return 0
    if not os.access(harness.daemon_path(), os.X_OK):
        print("Bail out! no lanyardd at %s (set LANYARD_DAEMON)" % harness.daemon_path())
        return 1

    run_root = tempfile.mkdtemp(prefix="lanyard-systemd-dbus-")
    os.chmod(run_root, 0o755)
    failed = 0
    try:
        stubs = harness.Stubs(run_root)
        for n, (name, fn) in enumerate(selected, 1):
            print("# " + name, flush=True)
            t = CaseDir(run_root, stubs, n)
            t.children = []
            reason = []
            try:
                fn(t)
            except Failure as e:
                reason = str(e).splitlines()
            except Exception:  # noqa: BLE001 (any error fails the case, not the run)
                reason = traceback.format_exc().splitlines()
            finally:
                t.cleanup()
                for proc in t.children:
                    proc.kill()
                    proc.wait(timeout=5)
                for w in CASES_RUN:
                    w.cgroup.remove()
                CASES_RUN.clear()
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
        if args.keep or failed:
            print("temp files kept in " + run_root, file=sys.stderr)
        else:
            shutil.rmtree(run_root, ignore_errors=True)
    print("1..%d" % len(selected))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
