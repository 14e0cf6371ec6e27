#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Docs that cannot drift: the configuration reference covers every key the loader accepts,
the complete example uses every key and loads, and the quick start's commands run as written.

    docs_test.py --reporter tap [CASE-SUBSTRING...]

Environment: LANYARD_SOURCE_DIR, LANYARD_BUILD_DIR (meson's), LANYARD_DAEMON, LANYARD_CLI.
Prints TAP like tests/integration/run.py: `# <case>`, `ok`/`not ok`, reasons on `#\t` lines.
"""
import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

SOURCE = os.environ.get("LANYARD_SOURCE_DIR",
                        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.environ.get("LANYARD_BUILD_DIR", os.path.join(SOURCE, "build"))
CLI = os.environ.get("LANYARD_CLI", os.path.join(BUILD, "cli", "lanyard"))
DAEMON = os.environ.get("LANYARD_DAEMON", os.path.join(BUILD, "daemon", "lanyardd"))

CASES = []


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def case(name):
    def register(fn):
        CASES.append((name, fn))
        return fn
    return register


def read(rel):
    with open(os.path.join(SOURCE, rel), encoding="utf-8") as f:
        return f.read()


# --- the keys the loader accepts, asked of the loader itself --------------------------------

# Each level of the configuration, as YAML with the marker key `zz_probe` placed in it. The
# loader's "unknown key" error lists the keys it knows there, so a key added to the code and not
# to the docs fails this suite without anyone updating a list here.
LEVELS = {
    "": "trust_domain: example.org\nzz_probe: 1\n",
    "authority": "trust_domain: example.org\nauthority:\n  zz_probe: 1\n",
    "authority.disk": ("trust_domain: example.org\nauthority:\n  upstream: disk\n"
                       "  disk:\n    zz_probe: 1\n"),
    "authority.tpm": ("trust_domain: example.org\nauthority:\n  upstream: tpm\n"
                      "  tpm:\n    zz_probe: 1\n"),
    "health": "trust_domain: example.org\nhealth:\n  zz_probe: 1\n",
    "entries[]": ("trust_domain: example.org\nentries:\n"
                  "  - spiffe_id: spiffe://example.org/a\n    selectors: [unix:uid:1]\n"
                  "    zz_probe: 1\n"),
    "attestors.unix": "trust_domain: example.org\nattestors:\n  unix:\n    zz_probe: 1\n",
    "attestors.k8s": "trust_domain: example.org\nattestors:\n  k8s:\n    zz_probe: 1\n",
    "attestors.docker": "trust_domain: example.org\nattestors:\n  docker:\n    zz_probe: 1\n",
    "attestors.systemd": "trust_domain: example.org\nattestors:\n  systemd:\n    zz_probe: 1\n",
    "node_attestors": "trust_domain: example.org\nnode_attestors:\n  zz_probe: 1\n",
    "node_attestors.tpm": ("trust_domain: example.org\nnode_attestors:\n  tpm:\n"
                           "    zz_probe: 1\n"),
}
KNOWN = re.compile(r"\(known(?: keys here)?: ([^)]*)\)")


def known_keys(tmp):
    """{level: [keys]} from `lanyard config check` on each probe file."""
    out = {}
    for level, text in LEVELS.items():
        path = os.path.join(tmp, "probe.yaml")
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([CLI, "config", "check", path], capture_output=True, text=True,
                           timeout=30)
        m = KNOWN.search(r.stderr + r.stdout)
        check(r.returncode != 0 and m and "zz_probe" in (r.stderr + r.stdout),
              "config check of a file with an unknown key at %r did not list the known keys "
              "(exit %d): %s" % (level or "top level", r.returncode, (r.stderr + r.stdout).strip()))
        out[level] = [k.strip() for k in m.group(1).split(",") if k.strip()]
        check(out[level], "no keys listed at %r" % level)
    return out


def reference_rows(markdown):
    """{key: [cells]} for every table row of the form | `key` | type | default | meaning |."""
    rows = {}
    for line in markdown.splitlines():
        m = re.match(r"^\|\s*`([a-z0-9_]+)`\s*\|(.*)\|\s*$", line)
        if m:
            rows.setdefault(m.group(1), []).append([c.strip() for c in m.group(2).split("|")])
    return rows


@case("docs/configuration.md has a table row with type, default and meaning for every key "
      "the loader accepts, at every level (top, authority, authority.disk, health, entries, "
      "attestors.unix, attestors.k8s)")
def reference_covers_every_key(tmp):
    keys = known_keys(tmp)
    rows = reference_rows(read("docs/configuration.md"))
    missing, empty = [], []
    for level, names in keys.items():
        for k in names:
            if k not in rows:
                missing.append("%s%s" % (level + "." if level else "", k))
            elif not any(len(r) >= 3 and all(r[:3]) for r in rows[k]):
                empty.append(k)
    check(not missing, "keys missing from docs/configuration.md: " + ", ".join(missing))
    check(not empty, "rows without type, default and meaning: " + ", ".join(empty))


@case("docs/examples/lanyard.yaml (the complete example) shows every key and passes "
      "`lanyard config check`")
def example_shows_every_key(tmp):
    keys = known_keys(tmp)
    example = read("docs/examples/lanyard.yaml")
    # A key counts when it is written as a key, commented out or not ("#   cert_file: x").
    written = set(re.findall(r"^[#\s-]*([a-z0-9_]+):", example, re.M))
    missing = ["%s%s" % (level + "." if level else "", k)
               for level, names in keys.items() for k in names if k not in written]
    check(not missing, "keys missing from docs/examples/lanyard.yaml: " + ", ".join(missing))
    r = subprocess.run([CLI, "config", "check", os.path.join(SOURCE, "docs/examples/lanyard.yaml")],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "config check of the example failed: " + r.stderr.strip())


# --- the quick start ------------------------------------------------------------------------

def sh_commands(markdown):
    """The command lines of the ```sh blocks, comments and blank lines dropped."""
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", markdown, re.M | re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


class QuickStart:
    """Runs quick start commands the way a newcomer does: `make run` in one terminal, the rest
    in another, in a fresh $HOME so the embedded default puts everything in a temp dir."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.home = os.path.join(tmp, "home")
        for d in ("home", "home/run", "home/data", "svid"):
            os.makedirs(os.path.join(tmp, d), mode=0o700, exist_ok=True)
        self.env = dict(os.environ, HOME=self.home, XDG_RUNTIME_DIR=os.path.join(self.home, "run"),
                        XDG_DATA_HOME=os.path.join(self.home, "data"))
        self.env.pop("SPIFFE_ENDPOINT_SOCKET", None)
        # The docs say ./build; this suite runs in whichever build dir meson tests.
        self.build_rel = os.path.relpath(BUILD, SOURCE)
        self.daemon = None
        self.log = os.path.join(tmp, "make-run.log")

    def rewrite(self, command):
        command = re.sub(r"(^|\s)\./build/", r"\1./%s/" % self.build_rel, command)
        command = command.replace("/tmp/svid", os.path.join(self.tmp, "svid"))
        if command == "make run":
            command = "make run BUILD=%s" % self.build_rel
        return command

    def start_agent(self, command):
        log = open(self.log, "w")
        self.daemon = subprocess.Popen(command, shell=True, cwd=SOURCE, env=self.env, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120  # `make` checks the packages and the build first
        while time.monotonic() < deadline:
            with open(self.log) as f:
                if "serving the Workload API on" in f.read():
                    return
            check(self.daemon.poll() is None, "`%s` exited %s:\n%s"
                  % (command, self.daemon.returncode, self.tail()))
            time.sleep(0.1)
        raise Failure("`%s` did not serve within 120 s:\n%s" % (command, self.tail()))

    def tail(self):
        with open(self.log) as f:
            return "".join(f.readlines()[-15:])

    def run(self, command, original):
        if original.endswith(" api watch"):
            # Runs until Ctrl-C: wait for its first line, then interrupt it as the page says.
            # No shell in between: Ctrl-C must reach `lanyard` itself.
            p = subprocess.Popen(shlex.split(command), cwd=SOURCE, env=self.env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            first = p.stdout.readline()
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=10)
            check(p.returncode == 0 and "spiffe://" in first,
                  "`%s`: exit %s, first line %r, stderr %r" % (original, p.returncode, first, err))
            return first
        r = subprocess.run(command, shell=True, cwd=SOURCE, env=self.env, capture_output=True,
                           text=True, timeout=60)
        check(r.returncode == 0, "`%s` exited %d:\n%s%s" % (original, r.returncode, r.stdout,
                                                            r.stderr))
        return r.stdout

    def stop(self):
        if self.daemon and self.daemon.poll() is None:
            os.killpg(self.daemon.pid, signal.SIGINT)  # Ctrl-C in that terminal
            try:
                self.daemon.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.daemon.pid, signal.SIGKILL)
                self.daemon.wait()
                raise Failure("lanyardd did not stop on Ctrl-C within 15 s")


def run_quick_start(tmp, markdown, where):
    commands = sh_commands(markdown)
    check(commands, "%s has no ```sh commands" % where)
    qs = QuickStart(tmp)
    uid = os.getuid()
    ran = []
    try:
        for original in commands:
            if original == "make test":
                continue  # this suite is part of what `make test` runs
            command = qs.rewrite(original)
            if original.startswith("make run"):
                qs.start_agent(command)
                ran.append(original)
                continue
            check(qs.daemon is not None, "`%s` comes before `make run` in %s" % (original, where))
            out = qs.run(command, original)
            ran.append(original)
            if original.endswith("api fetch x509"):
                check("spiffe://example.org/uid/%d" % uid in out,
                      "`%s` did not print spiffe://example.org/uid/%d:\n%s" % (original, uid, out))
            if "--write /tmp/svid" in original:
                d = os.path.join(tmp, "svid")
                mode = os.stat(os.path.join(d, "svid.0.key")).st_mode & 0o777
                check(mode == 0o600, "svid.0.key has mode %o, not 600" % mode)
                # The check the page tells the reader to run, by the openssl CLI.
                r = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(d, "bundle.0.pem"),
                                    os.path.join(d, "svid.0.pem")], capture_output=True, text=True)
                check(r.returncode == 0, "openssl verify of the written SVID: " + r.stdout + r.stderr)
            if " api fetch jwt " in original:
                check(out.count(".") >= 2, "`%s` printed no token:\n%s" % (original, out))
    finally:
        qs.stop()
    check(any(c.startswith("make run") for c in ran), "%s never runs `make run`" % where)
    return ran


@case("README.md's quick start runs as written: `make run` serves the invoking user, and the "
      "second terminal's lanyard commands succeed (X.509 with the uid's ID, --write with a 0600 "
      "key that openssl verifies, JWT, watch until Ctrl-C)")
def readme_quick_start(tmp):
    run_quick_start(tmp, read("README.md"), "README.md")


@case("docs/quickstart.md runs as written, including its config check of the complete example")
def docs_quick_start(tmp):
    ran = run_quick_start(tmp, read("docs/quickstart.md"), "docs/quickstart.md")
    check(any("config check" in c for c in ran), "docs/quickstart.md no longer checks a config")


# --- runner (the same TAP shape as tests/integration/run.py) --------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reporter", choices=["tap"], default="tap")
    parser.add_argument("filters", nargs="*")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda s, f: (_ for _ in ()).throw(SystemExit(128 + s)))
    selected = [c for c in CASES if not args.filters or any(f in c[0] for f in args.filters)]
    failed = 0
    for n, (name, fn) in enumerate(selected, 1):
        print("# " + name, flush=True)
        tmp = tempfile.mkdtemp(prefix="lanyard-docs-")
        reason = []
        try:
            fn(tmp)
        except Failure as e:
            reason = str(e).splitlines()
        except Exception:  # noqa: BLE001
            reason = traceback.format_exc().splitlines()
        if reason:
            failed += 1
            print("not ok %d - %s" % (n, name))
            for line in reason:
                print("#\t" + line)
            print("temp files kept in " + tmp, file=sys.stderr)
        else:
            print("ok %d - %s" % (n, name))
            shutil.rmtree(tmp, ignore_errors=True)
        sys.stdout.flush()
    print("1..%d" % len(selected))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
