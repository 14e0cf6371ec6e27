#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The Debian package test (make package-test): builds lanyard_*.deb (packaging/build-deb.sh),
checks its contents and lintian, installs it with dpkg -i, starts the installed lanyardd on the
installed /etc/lanyard/lanyardd.yaml, fetches an X.509-SVID with the installed lanyard and
verifies it with openssl, then removes and purges the package. Needs root (dpkg -i); PID 1
need not be systemd: the daemon is started directly, as the unit would.

    test-deb.py [--deb FILE] [--tap FILE]

Prints TAP (and writes it to --tap, default build-deb/package-test.tap, which .ci/count.py
reads): `# <case>`, `ok N - <case>` or `not ok N - <case>` with reasons on `#\t` lines. A case
that cannot run because an earlier one failed is `not ok` too, so the count stays complete.
"""
import argparse
import glob
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFFILE = "/etc/lanyard/lanyardd.yaml"
SOCKET = "/run/lanyard/agent.sock"
DATA_DIR = "/var/lib/lanyard"
RUN_DIR = "/run/lanyard"
USER = "_lanyard"
CAPS = "+sys_ptrace,+dac_read_search"
HEALTH_URL = "http://127.0.0.1:8089"  # health.listen in the shipped configuration
ROOT_ID = "spiffe://example.org/host/root"
# What the package must ship (paths inside the .deb, without the leading ./).
SHIPPED = [
    "usr/sbin/lanyardd",
    "usr/bin/lanyard",
    "etc/lanyard/lanyardd.yaml",
    "lib/systemd/system/lanyardd.service",
    "lib/systemd/system/lanyardd.socket",
    "usr/lib/sysusers.d/lanyard.conf",
    "usr/lib/tmpfiles.d/lanyard.conf",
    "usr/share/man/man8/lanyardd.8.gz",
    "usr/share/man/man1/lanyard.1.gz",
    "usr/share/doc/lanyard/copyright",
]


class Failure(Exception):
    pass


def http_status(url, deadline):
    """The status of GET url, retried until `deadline` while it is not 200."""
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        except OSError as e:
            status = "no answer (%s)" % e
        if status == 200 or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def check(cond, message):
    if not cond:
        raise Failure(message)


def sh(args, timeout=120, ok=True, **kw):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)
    if ok and p.returncode != 0:
        raise Failure("%s exited %d: %s" % (" ".join(args), p.returncode,
                                            (p.stdout + p.stderr).strip()[-3000:]))
    return p


class Run:
    def __init__(self, tap_path):
        self.n = 0
        self.failed = 0
        self.lines = []
        self.tap_path = tap_path
        self.blocked = None  # why later cases cannot run
        if os.path.exists(tap_path):
            os.unlink(tap_path)  # a stale file must not count for this run

    def emit(self, line):
        print(line, flush=True)
        self.lines.append(line)

    def case(self, name, fn, needs_previous=True):
        self.n += 1
        self.emit("# " + name)
        if needs_previous and self.blocked:
            self.failed += 1
            self.emit("not ok %d - %s" % (self.n, name))
            self.emit("#\tnot run: " + self.blocked)
            return
        start = time.monotonic()
        try:
            notes = fn() or []
        except Exception as e:  # noqa: BLE001 (a crash is that case's failure)
            self.failed += 1
            self.emit("not ok %d - %s" % (self.n, name))
            for line in str(e).splitlines() or [repr(e)]:
                self.emit("#\t" + line)
            if needs_previous:
                self.blocked = "case %d (%s) failed" % (self.n, name)
            return
        self.emit("ok %d - %s" % (self.n, name))
        for note in notes:
            self.emit("#\t" + note)
        self.emit("#\ttook %.1f s" % (time.monotonic() - start))

    def finish(self):
        self.emit("1..%d" % self.n)
        os.makedirs(os.path.dirname(self.tap_path), exist_ok=True)
        with open(self.tap_path, "w", encoding="utf-8") as f:
            f.write("\n".join(self.lines) + "\n")
        return 1 if self.failed else 0


class PackageTest:
    def __init__(self, deb, out_dir):
        self.deb = deb
        self.out_dir = out_dir
        self.daemon = None
        self.tmp = tempfile.mkdtemp(prefix="lanyard-deb-test-")

    def build(self):
        if self.deb:
            return ["using " + self.deb]
        start = time.monotonic()
        sh([os.path.join(ROOT, "packaging", "build-deb.sh"), self.out_dir], timeout=3600)
        debs = glob.glob(os.path.join(self.out_dir, "lanyard_*.deb"))
        check(len(debs) == 1, "want one lanyard_*.deb in %s, found %s" % (self.out_dir, debs))
        self.deb = debs[0]
        return ["%s built in %.0f s" % (os.path.basename(self.deb), time.monotonic() - start)]

    def contents(self):
        listing = sh(["dpkg-deb", "--contents", self.deb]).stdout
        paths = {line.split()[5].lstrip("./").split(" -> ")[0] for line in listing.splitlines()}
        missing = [p for p in SHIPPED if p not in paths]
        check(not missing, "missing from the .deb: %s" % ", ".join(missing))
        ctrl = os.path.join(self.tmp, "control")
        sh(["dpkg-deb", "--control", self.deb, ctrl])
        with open(os.path.join(ctrl, "conffiles"), encoding="utf-8") as f:
            listed = f.read().split()
        check(CONFFILE in listed, "%s is not a conffile (conffiles: %s)" % (CONFFILE, listed))
        depends = sh(["dpkg-deb", "--field", self.deb, "Depends"]).stdout.strip()
        return ["Depends: " + depends]

    def lintian(self):
        p = sh(["lintian", "--no-tag-display-limit", self.deb], ok=False, timeout=600)
        tags = [l for l in p.stdout.splitlines() if l[:2] in ("E:", "W:", "I:", "N:")]
        errors = [l for l in tags if l.startswith("E:")]
        check(not errors, "lintian errors:\n" + "\n".join(errors))
        check(p.returncode in (0, 1, 2) and "E:" not in p.stderr,
              "lintian exited %d: %s" % (p.returncode, p.stderr.strip()))
        warnings = [l for l in tags if l.startswith("W:")]
        return ["lintian: no errors, %d warnings" % len(warnings)] + warnings

    def install(self):
        check(os.geteuid() == 0, "dpkg -i needs root (run make package-test as root)")
        if sh(["dpkg-query", "-W", "-f=${Status}", "lanyard"], ok=False).stdout.strip():
            sh(["dpkg", "--purge", "lanyard"])
        # Stale state from an earlier, interrupted run would hide what the package does.
        check(not os.path.exists(DATA_DIR), "%s exists before the install" % DATA_DIR)
        sh(["dpkg", "-i", self.deb], timeout=300)
        for path in ("/usr/sbin/lanyardd", "/usr/bin/lanyard"):
            check(os.access(path, os.X_OK), path + " is not installed")
        try:
            pwd.getpwnam(USER)
        except KeyError:
            raise Failure("the install created no %s user" % USER)
        user = pwd.getpwnam(USER)
        for path, mode in ((DATA_DIR, 0o700), (RUN_DIR, 0o755)):
            check(os.path.isdir(path), path + " was not created")
            st = os.stat(path)
            check(stat.S_IMODE(st.st_mode) == mode, "%s has mode %o, want %o" %
                  (path, stat.S_IMODE(st.st_mode), mode))
            check(st.st_uid == user.pw_uid and st.st_gid == user.pw_gid,
                  "%s is owned by %d:%d, not %s" % (path, st.st_uid, st.st_gid, USER))
        out = sh(["/usr/bin/lanyard", "config", "check", CONFFILE]).stdout
        return [l for l in out.splitlines()]

    def start(self):
        check(not os.path.exists(SOCKET), "%s exists before lanyardd starts" % SOCKET)
        self.log = open(os.path.join(self.tmp, "lanyardd.log"), "w+", encoding="utf-8")
        # As lanyardd.service runs it: the _lanyard user with exactly CAP_SYS_PTRACE and
        # CAP_DAC_READ_SEARCH (ambient), so attesting root's lanyard (unix:path needs
        # /proc/<pid>/exe of another uid) tests the capability set too.
        self.daemon = subprocess.Popen(
            ["setpriv", "--reuid", USER, "--regid", USER, "--init-groups",
             "--inh-caps", "-all," + CAPS, "--ambient-caps", CAPS,
             "--bounding-set", "-all," + CAPS,
             "/usr/sbin/lanyardd", "--config", CONFFILE],
            stdout=self.log, stderr=self.log, cwd="/")
        deadline = time.monotonic() + 30
        while not os.path.exists(SOCKET):
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                raise Failure("lanyardd %s before %s appeared:\n%s" % (
                    "exited %s" % self.daemon.returncode if self.daemon.returncode is not None
                    else "timed out", SOCKET, self.log.read()[-3000:]))
            time.sleep(0.05)
        sh(["/usr/bin/lanyard", "healthcheck", "--socket", "unix://" + SOCKET], timeout=30)
        # The shipped health.listen: what a monitoring check or the unit's operator would ask.
        for path in ("/live", "/ready"):
            status = http_status(HEALTH_URL + path, time.monotonic() + 10)
            check(status == 200, "GET %s%s answered %s, want 200" % (HEALTH_URL, path, status))
        return ["lanyardd pid %d serving %s; %s/live and /ready answer 200" %
                (self.daemon.pid, SOCKET, HEALTH_URL)]

    def fetch(self):
        out_dir = os.path.join(self.tmp, "svid")
        p = sh(["/usr/bin/lanyard", "api", "fetch", "x509", "--socket", "unix://" + SOCKET,
                "--write", out_dir], timeout=30)
        check(ROOT_ID in p.stdout, "the output does not name %s:\n%s" % (ROOT_ID, p.stdout))
        chain = os.path.join(out_dir, "svid.0.pem")
        bundle = os.path.join(out_dir, "bundle.0.pem")
        key = os.path.join(out_dir, "svid.0.key")
        for f in (chain, bundle, key):
            check(os.path.exists(f), f + " was not written")
        leaf = os.path.join(self.tmp, "leaf.pem")
        sh(["openssl", "x509", "-in", chain, "-out", leaf])  # the first certificate
        sh(["openssl", "verify", "-CAfile", bundle, "-untrusted", chain, leaf])
        san = sh(["openssl", "x509", "-in", leaf, "-noout", "-ext", "subjectAltName"]).stdout
        check("URI:" + ROOT_ID in san, "the leaf's SAN is %r, want URI:%s" % (san.strip(), ROOT_ID))
        # The key is the leaf's (X509-4).
        pub_leaf = sh(["openssl", "x509", "-in", leaf, "-noout", "-pubkey"]).stdout
        pub_key = sh(["openssl", "pkey", "-in", key, "-pubout"]).stdout
        check(pub_leaf == pub_key, "svid.0.key is not the leaf's key")
        return ["openssl verify: OK, URI SAN " + ROOT_ID]

    def stop(self):
        check(self.daemon is not None, "no daemon")
        self.daemon.send_signal(signal.SIGTERM)
        try:
            rc = self.daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            raise Failure("lanyardd did not stop within 20 s of SIGTERM")
        check(rc == 0, "lanyardd exited %d on SIGTERM" % rc)
        ca = os.listdir(DATA_DIR)
        check(ca, "%s is empty after a run: where did the CA go?" % DATA_DIR)
        uid = pwd.getpwnam(USER).pw_uid
        for name in ca:
            st = os.lstat(os.path.join(DATA_DIR, name))
            check(st.st_uid == uid, "%s/%s is owned by uid %d, not %s" %
                  (DATA_DIR, name, st.st_uid, USER))
        return ["CA state: " + ", ".join(sorted(ca))]

    def installed(self):
        status = sh(["dpkg-query", "-W", "-f=${Status}", "lanyard"], ok=False).stdout
        return "ok installed" in status

    def remove(self):
        check(self.installed(), "lanyard is not installed")
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.kill()  # an earlier case failed: removal is still worth checking
            self.daemon.wait()
        sh(["dpkg", "-r", "lanyard"], timeout=300)
        for path in ("/usr/sbin/lanyardd", "/usr/bin/lanyard"):
            check(not os.path.exists(path), path + " is still there after dpkg -r")
        check(os.path.exists(CONFFILE), "dpkg -r removed the conffile (only purge may)")
        check(os.listdir(DATA_DIR), "dpkg -r removed the CA state (only purge may)")

    def purge(self):
        status = sh(["dpkg-query", "-W", "-f=${Status}", "lanyard"], ok=False).stdout
        check("config-files" in status, "lanyard is not in config-files state: %r" % status)
        sh(["dpkg", "--purge", "lanyard"], timeout=300)
        for path in (CONFFILE, "/etc/lanyard", DATA_DIR):
            check(not os.path.exists(path), path + " is still there after dpkg --purge")
        status = sh(["dpkg-query", "-W", "-f=${Status}", "lanyard"], ok=False).stdout
        check("installed" not in status or "not-installed" in status,
              "dpkg still lists lanyard: %s" % status)
        pwd.getpwnam(USER)  # stays, as Debian leaves system users in place
        return ["%s stays (Debian leaves system users in place)" % USER]

    def cleanup(self):
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.kill()
            self.daemon.wait()
        # Never leave the package on the machine, whatever failed.
        if sh(["dpkg-query", "-W", "-f=${Status}", "lanyard"], ok=False).stdout.strip():
            sh(["dpkg", "--purge", "lanyard"], ok=False, timeout=300)
        shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deb", help="test this .deb instead of building one")
    parser.add_argument("--out", default=os.path.join(ROOT, "build-deb"),
                        help="where build-deb.sh puts the package (default build-deb/)")
    parser.add_argument("--tap", help="also write the TAP here "
                        "(default OUT/package-test.tap)")
    args = parser.parse_args()
    run = Run(args.tap or os.path.join(args.out, "package-test.tap"))
    t = PackageTest(args.deb, args.out)
    try:
        run.case("dpkg-buildpackage -us -uc -b builds lanyard_*.deb", t.build)
        run.case("the .deb holds both programs, the systemd units, the sysusers file, the man "
                 "pages and /etc/lanyard/lanyardd.yaml as a conffile", t.contents)
        run.case("lintian reports no errors", t.lintian)
        run.case("dpkg -i installs it: the _lanyard user, /var/lib/lanyard 0700 and /run/lanyard "
                 "owned by it, and the installed config passes lanyard config check", t.install)
        run.case("the installed lanyardd, run as _lanyard with the unit's two capabilities, "
                 "starts on /etc/lanyard/lanyardd.yaml and serves /run/lanyard/agent.sock "
                 "(lanyard healthcheck) and /live and /ready on 127.0.0.1:8089", t.start)
        run.case("the installed lanyard fetches root's X.509-SVID, which openssl verifies "
                 "against the bundle", t.fetch)
        run.case("lanyardd stops on SIGTERM with exit 0 and keeps its CA, owned by _lanyard, in "
                 "/var/lib/lanyard", t.stop)
        # These two run even when a case before them failed, as long as the install worked.
        run.case("dpkg -r removes the programs and keeps the conffile and the CA", t.remove,
                 needs_previous=False)
        run.case("dpkg --purge removes the conffile, /etc/lanyard and the CA state", t.purge,
                 needs_previous=False)
    finally:
        t.cleanup()
    return run.finish()


if __name__ == "__main__":
    sys.exit(main())
