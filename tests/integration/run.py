#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Integration suite (STYLE.md §9): the real lanyardd on a temp socket, called with a Python
gRPC client built at test time from workload_api/workload.proto; what it serves is checked with
openssl, `cryptography` and PyJWT. Requirement IDs are those of spec/SPIFFE.md.

    run.py --reporter tap [CASE-SUBSTRING...]

Environment: LANYARD_DAEMON (the lanyardd binary), LANYARD_SOURCE_DIR (for the proto).
Prints TAP: `# <case name>`, then `ok N - <name>` or `not ok N - <name>` with the reason on
`#\t` lines (no `# ` there: .ci/count.py reads `# ` lines as case names), then the plan.
"""
import argparse
import base64
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import traceback

try:
    import grpc
    import jwt  # noqa: F401 (used by verify)
    from cryptography import x509  # noqa: F401
    from google.protobuf import json_format
except ImportError as e:  # a laptop without the Debian packages: skipped (STYLE.md §9)
    print("1..0 # SKIP missing Python module: %s" % e.name)
    sys.exit(0)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (TD_ID, CaseDir, Failure, StreamEnded, check, expect_code,  # noqa: E402
                     wait_until, write_atomically)
import verify  # noqa: E402

OK = grpc.StatusCode.OK
INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT
PERMISSION_DENIED = grpc.StatusCode.PERMISSION_DENIED
UNIMPLEMENTED = grpc.StatusCode.UNIMPLEMENTED

UID = os.getuid()
GID = os.getgid()
NOBODY = 65534
SELF_ID = "spiffe://example.org/self"
SELF_ENTRY = (SELF_ID, ["unix:uid:%d" % UID])
OTHER_UID = NOBODY if UID != NOBODY else NOBODY - 1
OTHER_ID = "spiffe://example.org/other"
OTHER_ENTRY = (OTHER_ID, ["unix:uid:%d" % OTHER_UID])

CASES = []


def case(name):
    def register(fn):
        CASES.append((name, fn))
        return fn
    return register


def x509_ids(response):
    return [s.spiffe_id for s in response.svids]


def leaf_of(response):
    return verify.certificates(response.svids[0].x509_svid, "x509_svid")[0]


# --- cases -----------------------------------------------------------------------------------

@case("FetchX509SVID's first message carries the caller's SVID: spiffe_id is the leaf URI SAN, "
      "the key is PKCS#8 DER of the leaf key, the DER chain verifies against the DER bundle "
      "(WAPI-8, WAPI-10, X509-1, X509-4, X509-5, X509-10, X509-13)")
def x509_svid_first_message(t):
    d = t.start_daemon(t.config([SELF_ENTRY]))
    response = t.client().first("FetchX509SVID")
    check(len(response.svids) >= 1, "no svids in the first message (WAPI-8)")
    svid = response.svids[0]
    check(svid.spiffe_id == SELF_ID, "spiffe_id %r, want %r" % (svid.spiffe_id, SELF_ID))
    for field in ("spiffe_id", "x509_svid", "x509_svid_key", "bundle"):
        check(getattr(svid, field), "X509SVID.%s is empty (WAPI-8)" % field)
    verify.check_x509_svid(svid, t.dir)
    check(not response.federated_bundles, "federated_bundles set with no federation (WAPI-11)")
    d.stop()


@case("FetchJWTSVID with two audiences gives a token that PyJWT validates against the "
      "FetchJWTBundles JWKS, and ValidateJWTSVID accepts it, refusing a wrong audience or a "
      "tampered token with INVALID_ARGUMENT (WAPI-13, WAPI-14, WAPI-5, JWT-4, JWT-6)")
def jwt_svid_round_trip(t):
    d = t.start_daemon(t.config([SELF_ENTRY]))
    c = t.client()
    response = c.jwt_svid(["svc-a", "svc-b"])
    check(len(response.svids) == 1, "%d JWT-SVIDs, want 1" % len(response.svids))
    svid = response.svids[0]
    check(svid.spiffe_id == SELF_ID, "spiffe_id %r, want %r" % (svid.spiffe_id, SELF_ID))
    bundles = c.first("FetchJWTBundles").bundles
    check(TD_ID in bundles, "FetchJWTBundles has no %s (WAPI-12): %s" % (TD_ID, list(bundles)))
    header, claims = verify.verify_jwt(svid.svid, bundles[TD_ID], "svc-b")
    check(set(header) <= {"alg", "kid", "typ"}, "JWT header %r has more than alg/kid/typ (JWT-3)"
          % header)
    check(0 < claims["exp"] - claims.get("iat", claims["exp"] - 300) <= 300,
          "exp - iat is not within the default jwt_svid_ttl of 5m (JWT-7, JWT-8)")
    check(claims["sub"] == svid.spiffe_id, "sub %r != spiffe_id %r (WAPI-13)"
          % (claims["sub"], svid.spiffe_id))
    aud = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    check(sorted(aud) == ["svc-a", "svc-b"], "aud %r, want both audiences (WAPI-13)" % aud)

    validated = c.validate("svc-a", svid.svid)
    check(validated.spiffe_id == SELF_ID, "ValidateJWTSVID spiffe_id %r" % validated.spiffe_id)
    got = json_format.MessageToDict(validated.claims)
    check(got.get("sub") == SELF_ID, "ValidateJWTSVID claims.sub %r (WAPI-14)" % got.get("sub"))
    check(sorted(got.get("aud", [])) == ["svc-a", "svc-b"],
          "ValidateJWTSVID claims.aud %r (WAPI-14)" % got.get("aud"))
    check(got.get("exp") == claims["exp"], "ValidateJWTSVID claims.exp %r, token exp %r"
          % (got.get("exp"), claims["exp"]))

    expect_code(INVALID_ARGUMENT, "ValidateJWTSVID, wrong audience", c.validate, "svc-c", svid.svid)
    expect_code(INVALID_ARGUMENT, "ValidateJWTSVID, claims changed under the signature",
                c.validate, "svc-a", verify.tamper_payload(svid.svid, sub="spiffe://example.org/evil"))
    expect_code(INVALID_ARGUMENT, "ValidateJWTSVID, signature flipped",
                c.validate, "svc-a", verify.tamper_signature(svid.svid))
    expect_code(INVALID_ARGUMENT, "ValidateJWTSVID, not a JWT", c.validate, "svc-a", "abc.def")
    for label, forged in verify.forged_tokens(svid.svid).items():
        expect_code(INVALID_ARGUMENT, "ValidateJWTSVID, " + label, c.validate, "svc-a", forged)
    d.stop()


@case("every Workload API call without the security header, with it set to \"false\" or "
      "\"True\", or with two values fails with INVALID_ARGUMENT (WAPI-4)")
def security_header(t):
    d = t.start_daemon(t.config([SELF_ENTRY]))
    c = t.client()
    token = c.jwt_svid(["svc-a"]).svids[0].svid
    variants = {
        "no header": (),
        "value \"false\"": (("workload.spiffe.io", "false"),),
        "value \"True\"": (("workload.spiffe.io", "True"),),
        "two values": (("workload.spiffe.io", "true"), ("workload.spiffe.io", "true")),
    }
    for label, metadata in variants.items():
        calls = {
            "FetchX509SVID": lambda: c.first("FetchX509SVID", metadata),
            "FetchX509Bundles": lambda: c.first("FetchX509Bundles", metadata),
            "FetchJWTBundles": lambda: c.first("FetchJWTBundles", metadata),
            "FetchJWTSVID": lambda: c.jwt_svid(["svc-a"], metadata=metadata),
            "ValidateJWTSVID": lambda: c.validate("svc-a", token, metadata=metadata),
        }
        for method, call in calls.items():
            expect_code(INVALID_ARGUMENT, "%s with %s" % (method, label), call)
    # The header as go-spiffe sends it still works on the same channel.
    check(x509_ids(c.first("FetchX509SVID")) == [SELF_ID], "FetchX509SVID with the header failed")
    d.stop()


@case("FetchJWTSVID refuses an empty audience and an invalid spiffe_id with INVALID_ARGUMENT "
      "and an identity the caller is not entitled to with PERMISSION_DENIED; ValidateJWTSVID "
      "refuses an empty audience or token (WAPI-5, WAPI-13)")
def jwt_svid_request_errors(t):
    d = t.start_daemon(t.config([SELF_ENTRY, ("spiffe://example.org/self2", ["unix:uid:%d" % UID]),
                                 OTHER_ENTRY]))
    c = t.client()
    expect_code(INVALID_ARGUMENT, "FetchJWTSVID audience [\"\"]", c.jwt_svid, [""])
    expect_code(INVALID_ARGUMENT, "FetchJWTSVID audience []", c.jwt_svid, [])
    for bad in ("not-a-spiffe-id", "spiffe://example.org/a/../b", "spiffe://Example.org/self",
                "https://example.org/self"):
        expect_code(INVALID_ARGUMENT, "FetchJWTSVID spiffe_id %r" % bad, c.jwt_svid, ["svc-a"], bad)
    expect_code(PERMISSION_DENIED, "FetchJWTSVID spiffe_id of another uid's entry",
                c.jwt_svid, ["svc-a"], OTHER_ID)
    expect_code(PERMISSION_DENIED, "FetchJWTSVID spiffe_id with no entry",
                c.jwt_svid, ["svc-a"], "spiffe://example.org/nobody")
    # Entitled: a chosen one gives exactly that one; none chosen gives all (WAPI-13).
    chosen = c.jwt_svid(["svc-a"], "spiffe://example.org/self2")
    check([s.spiffe_id for s in chosen.svids] == ["spiffe://example.org/self2"],
          "FetchJWTSVID for self2 gave %r" % [s.spiffe_id for s in chosen.svids])
    every = c.jwt_svid(["svc-a", ""])
    check(sorted(s.spiffe_id for s in every.svids) == [SELF_ID, "spiffe://example.org/self2"],
          "FetchJWTSVID without spiffe_id gave %r" % [s.spiffe_id for s in every.svids])
    token = every.svids[0].svid
    claims = json.loads(verify.b64url_decode(token.split(".")[1]))
    check(claims["aud"] in (["svc-a"], "svc-a"), "empty audience not dropped: aud %r (WAPI-13)"
          % claims["aud"])
    expect_code(INVALID_ARGUMENT, "ValidateJWTSVID audience \"\"", c.validate, "", token)
    expect_code(INVALID_ARGUMENT, "ValidateJWTSVID svid \"\"", c.validate, "svc-a", "")
    d.stop()


CHILD_CLIENT = r'''
import json, sys
sys.path.insert(0, sys.argv[2])
import grpc, workload_pb2 as pb, workload_pb2_grpc as g
stub = g.SpiffeWorkloadAPIStub(grpc.insecure_channel("unix:" + sys.argv[1]))
md = [("workload.spiffe.io", "true")]
def first(call):
    for message in call:
        return message
calls = {
    "FetchX509SVID": lambda: first(stub.FetchX509SVID(pb.X509SVIDRequest(), metadata=md, timeout=5)),
    "FetchX509Bundles": lambda: first(stub.FetchX509Bundles(pb.X509BundlesRequest(), metadata=md, timeout=5)),
    "FetchJWTBundles": lambda: first(stub.FetchJWTBundles(pb.JWTBundlesRequest(), metadata=md, timeout=5)),
    "FetchJWTSVID": lambda: stub.FetchJWTSVID(pb.JWTSVIDRequest(audience=["a"]), metadata=md, timeout=5),
}
out = {}
for name, call in calls.items():
    try:
        call()
        out[name] = "OK"
    except grpc.RpcError as e:
        out[name] = e.code().name
print(json.dumps(out))
'''


@case("a caller with no matching entry (another uid) gets PERMISSION_DENIED on FetchX509SVID, "
      "FetchJWTSVID, FetchX509Bundles and FetchJWTBundles while the matching caller gets its "
      "identity (WAPI-5, WAPI-8)")
def other_uid_denied(t):
    methods = ["FetchX509SVID", "FetchX509Bundles", "FetchJWTBundles", "FetchJWTSVID"]
    if UID == 0 and shutil.which("setpriv"):
        d = t.start_daemon(t.config([SELF_ENTRY]))
        script = t.path("client.py")
        with open(script, "w", encoding="utf-8") as f:
            f.write(CHILD_CLIENT)
        os.chmod(script, 0o644)
        r = subprocess.run(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                            "--clear-groups", harness.python_path(), script, t.socket_path,
                            t.stubs.dir],
                           capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
        check(r.returncode == 0, "client as uid %d failed (rc %d): %s"
              % (NOBODY, r.returncode, r.stderr.strip()[-2000:]))
        got = json.loads(r.stdout.strip().splitlines()[-1])
        for m in methods:
            check(got.get(m) == "PERMISSION_DENIED", "%s as uid %d: %s, want PERMISSION_DENIED"
                  % (m, NOBODY, got.get(m)))
        c = t.client()
        check(x509_ids(c.first("FetchX509SVID")) == [SELF_ID], "root caller lost its identity")
        check([s.spiffe_id for s in c.jwt_svid(["a"]).svids] == [SELF_ID], "root JWT-SVID")
        check(TD_ID in c.first("FetchX509Bundles").bundles, "root caller's X.509 bundles")
        check(TD_ID in c.first("FetchJWTBundles").bundles, "root caller's JWT bundles")
    else:
        # Not root: only an entry for another uid, and this process is the caller denied.
        d = t.start_daemon(t.config([OTHER_ENTRY]))
        c = t.client()
        for m, call in {
            "FetchX509SVID": lambda: c.first("FetchX509SVID"),
            "FetchX509Bundles": lambda: c.first("FetchX509Bundles"),
            "FetchJWTBundles": lambda: c.first("FetchJWTBundles"),
            "FetchJWTSVID": lambda: c.jwt_svid(["a"]),
        }.items():
            expect_code(PERMISSION_DENIED, "%s as uid %d (entry only for uid %d)"
                        % (m, UID, OTHER_UID), call)
    d.stop()


@case("FetchWITSVID and FetchWITBundles answer UNIMPLEMENTED (WAPI-2)")
def wit_unimplemented(t):
    d = t.start_daemon(t.config([SELF_ENTRY]))
    c = t.client()
    for method in ("FetchWITSVID", "FetchWITBundles"):
        expect_code(UNIMPLEMENTED, method, lambda: c.first(method))
    d.stop()


@case("with x509_svid_ttl 6s an open FetchX509SVID stream receives a renewed SVID (new serial, "
      "later notAfter) within 8 s without asking again (WAPI-6, X509-14)")
def x509_rotation_pushed(t):
    d = t.start_daemon(t.config([SELF_ENTRY], extra="x509_svid_ttl: 6s\n"))
    s = t.client().stream("FetchX509SVID")
    first, _ = s.next(5, "first FetchX509SVID message")
    old = leaf_of(first)
    lifetime = (old.not_valid_after - old.not_valid_before).total_seconds()
    check(lifetime <= 6 + 60, "leaf lives %.0f s with x509_svid_ttl 6s" % lifetime)
    second, at = s.next(8 - (time.monotonic() - s.opened), "renewed SVID")
    new = leaf_of(second)
    check(x509_ids(second) == [SELF_ID], "renewed message ids %r" % x509_ids(second))
    check(new.serial_number != old.serial_number, "renewed leaf has the same serial")
    check(new.not_valid_after > old.not_valid_after, "renewed leaf's notAfter %s is not after %s"
          % (new.not_valid_after, old.not_valid_after))
    verify.check_x509_svid(second.svids[0], t.dir)
    # Renewal at about half-life: not right away.
    check(at - s.opened >= 1.5, "renewed after %.1f s, want about half of 6 s" % (at - s.opened))
    d.stop()


@case("editing the entries (atomic rename, then SIGHUP) pushes the new SPIFFE ID to an open "
      "FetchX509SVID stream within 3 s, a broken file keeps the old identity and logs an error "
      "naming the file, and removing the caller's entry ends the stream with PERMISSION_DENIED "
      "(WAPI-5, WAPI-6)")
def reload_updates_streams(t):
    d = t.start_daemon(t.config([("spiffe://example.org/a", ["unix:uid:%d" % UID])]))
    s = t.client().stream("FetchX509SVID")
    first, _ = s.next(5, "first FetchX509SVID message")
    check(x509_ids(first) == ["spiffe://example.org/a"], "first ids %r" % x509_ids(first))

    def expect_id(spiffe_id, how):
        try:
            message = s.wait_for(lambda m: x509_ids(m) == [spiffe_id], 3,
                                 "message with %s after %s" % (spiffe_id, how))
        except StreamEnded as e:
            raise Failure("stream ended after %s: %s" % (how, e))
        check(uri_of(message) == spiffe_id, "leaf URI SAN %r, want %s" % (uri_of(message), spiffe_id))

    # An editor's save: a new file renamed over the old one (picked up by the file watch).
    write_atomically(d.config_path, t.config([("spiffe://example.org/b", ["unix:uid:%d" % UID])]))
    expect_id("spiffe://example.org/b", "an atomic rename")
    # SIGHUP.
    write_atomically(d.config_path, t.config([("spiffe://example.org/c", ["unix:uid:%d" % UID])]))
    d.signal(signal.SIGHUP)
    expect_id("spiffe://example.org/c", "SIGHUP")
    wait_until(lambda: "SIGHUP" in d.log(), 3, "the daemon to log the SIGHUP")

    # A broken file: an error naming the file, and the stream keeps its identity.
    write_atomically(d.config_path, t.config([("spiffe://example.org/d", ["unix uid"])]))
    wait_until(lambda: [l for l in d.error_lines() if d.config_path in l], 3,
               "an error line naming %s" % d.config_path)
    time.sleep(0.5)  # one more watch period: nothing may change
    try:
        changed = [x509_ids(m) for m in s.drain() if x509_ids(m) != ["spiffe://example.org/c"]]
    except StreamEnded as e:
        raise Failure("the stream ended after a broken config: %s" % e)
    check(not changed, "a broken config changed the identity: %r" % changed)
    logged = [l for l in d.error_lines() if d.config_path in l]
    check(len(logged) == 1, "the broken file was reported %d times, want once:\n%s"
          % (len(logged), "\n".join(logged)))
    check(x509_ids(t.client().first("FetchX509SVID")) == ["spiffe://example.org/c"],
          "a new caller does not get the old identity after a broken config")

    # The caller's only entry removed: the stream ends with PERMISSION_DENIED.
    write_atomically(d.config_path, t.config([OTHER_ENTRY]))
    code, details = s.expect_end(3)
    check(code == PERMISSION_DENIED, "stream ended with %s (%s), want PERMISSION_DENIED"
          % (code, details))
    expect_code(PERMISSION_DENIED, "a new FetchX509SVID after the entry was removed",
                t.client().first, "FetchX509SVID")
    d.stop(allowed_errors=r"reloading: .*" + d.config_path.replace(".", r"\."))


@case("logs: with log_format json every line is one JSON object (level, logger, msg); "
      "log_level raised from info to debug in the file takes effect on SIGHUP without a "
      "restart; even at debug no private key or JWT-SVID reaches the log")
def logging_json_and_reload(t):
    def config(level):
        return t.config([SELF_ENTRY], extra="log_format: json\nlog_level: %s\n" % level)

    d = t.start_daemon(config("info"), log_level=None)
    first = t.client().first("FetchX509SVID")
    time.sleep(0.3)
    check("attested pid" not in d.log(), "a debug line was logged at log_level info")

    write_atomically(d.config_path, config("debug"))
    d.signal(signal.SIGHUP)

    def debug_logged():
        t.client().first("FetchX509SVID")  # a new connection is attested afresh
        return "attested pid" in d.log()
    wait_until(debug_logged, 5, "a debug line after raising log_level to debug with SIGHUP")

    token = t.client().jwt_svid(["log-audience"]).svids[0].svid
    x509 = t.client().first("FetchX509SVID")
    time.sleep(0.3)
    text = d.log()
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            raise Failure("a log line is not JSON: %r" % line)
        check(isinstance(entry, dict) and {"level", "logger", "msg"} <= set(entry),
              "a JSON log line lacks level, logger or msg: %r" % line)
    secrets = {"the JWT-SVID": token, "the JWT-SVID's signature": token.split(".")[2]}
    for name, message in (("first", first), ("debug-time", x509)):
        key = message.svids[0].x509_svid_key
        secrets["the %s X.509-SVID key (base64)" % name] = base64.b64encode(key).decode()[40:80]
        secrets["the %s X.509-SVID key (hex)" % name] = key.hex()[80:160]
    for name, value in secrets.items():
        check(value not in text, "%s appears in the log" % name)
    check("PRIVATE KEY" not in text, "a PEM private key appears in the log")
    d.stop()


def uri_of(response):
    uris = verify.uri_sans(leaf_of(response))
    return uris[0] if uris else None


@case("restarting lanyardd on the same data_dir keeps the X.509 and JWT bundles byte-identical "
      "(BUNDLE, DESIGN §3)")
def restart_keeps_bundle(t):
    config = t.config([SELF_ENTRY])
    d = t.start_daemon(config)
    c = t.client()
    x509_before = dict(c.first("FetchX509Bundles").bundles)
    jwt_before = dict(c.first("FetchJWTBundles").bundles)
    c.close()
    d.stop()
    check(not harness.socket_accepts(t.socket_path), "socket still served after SIGTERM")
    d2 = t.start_daemon(config)
    c2 = t.client()
    x509_after = dict(c2.first("FetchX509Bundles").bundles)
    jwt_after = dict(c2.first("FetchJWTBundles").bundles)
    check(x509_before == x509_after, "X.509 bundles changed across a restart")
    # An SVID minted after the restart verifies against the bundle served before it.
    svid = c2.first("FetchX509SVID").svids[0]
    check(svid.bundle == x509_before[TD_ID], "the SVID's bundle is not the pre-restart bundle")
    verify.check_x509_svid(svid, t.dir)
    check(jwt_before == jwt_after, "JWT bundles changed across a restart:\n%r\n%r"
          % (jwt_before, jwt_after))
    d2.stop()


@case("a malformed config (bad trust_domain, unknown key, bad entry selector) makes lanyardd "
      "exit non-zero at once naming the file, the line and the key, with nothing listening")
def malformed_config_refused(t):
    base = "socket_path: %s\ndata_dir: %s\n" % (json.dumps(t.socket_path), json.dumps(t.data_dir))
    broken = [
        ("trust_domain: Example.org\n" + base, 1, "trust_domain"),
        ("trust_domain: example.org\n" + base + "sockett_path: x\n", 4, "sockett_path"),
        ("trust_domain: example.org\n" + base +
         "entries:\n  - spiffe_id: spiffe://example.org/a\n    selectors: [unix:uid:0, \"unix uid\"]\n",
         6, "entries[0].selectors[1]"),
    ]
    for n, (text, line, key) in enumerate(broken):
        path = t.path("broken%d.yaml" % n)
        write_atomically(path, text)
        started = time.monotonic()
        r = subprocess.run([harness.daemon_path(), "--config", path], capture_output=True,
                           text=True, timeout=10)
        took = time.monotonic() - started
        output = r.stdout + r.stderr
        check(r.returncode != 0, "%s: lanyardd exited 0" % key)
        check(took < 3, "%s: lanyardd took %.1f s to refuse the config" % (key, took))
        want = "%s:%d: %s:" % (path, line, key)
        check(want in output, "%s: output does not name %r:\n%s" % (key, want, output))
        check(not os.path.exists(t.socket_path), "%s: socket file left behind" % key)
        check(not os.path.exists(t.data_dir), "%s: data_dir created by a refused config" % key)


@case("FetchX509Bundles and FetchJWTBundles send the first message at once, keyed "
      "spiffe://<td>, and no second identical message while nothing changes (WAPI-12, WAPI-6)")
def bundle_streams(t):
    d = t.start_daemon(t.config([SELF_ENTRY]))
    c = t.client()
    streams = {m: c.stream(m) for m in ("FetchX509Bundles", "FetchJWTBundles")}
    firsts = {}
    for method, s in streams.items():
        message, at = s.next(2, "first %s message" % method)
        check(at - s.opened < 1.5, "%s: first message after %.2f s" % (method, at - s.opened))
        check(list(message.bundles) == [TD_ID], "%s keys %r, want [%r] (WAPI-12)"
              % (method, list(message.bundles), TD_ID))
        firsts[method] = message
    x509_bundle = verify.certificates(firsts["FetchX509Bundles"].bundles[TD_ID], "X.509 bundle")
    for n, cert in enumerate(x509_bundle):
        verify.check_ca_profile(cert, "X.509 bundle[%d]" % n)
    jwks = json.loads(firsts["FetchJWTBundles"].bundles[TD_ID])
    check(jwks.get("keys") and all(k.get("kid") and k.get("kty") for k in jwks["keys"]),
          "JWKS keys without kid or kty: %r" % jwks)
    check(all("x5c" not in k for k in jwks["keys"]), "JWT bundle carries X.509 keys (WAPI-12)")
    # The X.509 bundle stream and the SVID's bundle agree (WAPI-10).
    check(c.first("FetchX509SVID").svids[0].bundle == firsts["FetchX509Bundles"].bundles[TD_ID],
          "FetchX509SVID bundle differs from FetchX509Bundles")

    def stay_quiet(seconds, why):
        quiet_until = time.monotonic() + seconds
        while time.monotonic() < quiet_until:
            for method, s in streams.items():
                try:
                    extra = s.drain()
                except StreamEnded as e:
                    raise Failure("%s ended %s: %s" % (method, why, e))
                check(not extra, "%s sent %d identical message(s) %s (WAPI-6)"
                      % (method, len(extra), why))
            time.sleep(0.1)

    stay_quiet(2.0, "while nothing changed")
    # An entry change alters SVIDs, not bundles: the bundle streams stay quiet (SPIRE dedupe).
    svids = c.stream("FetchX509SVID")
    svids.next(5, "first FetchX509SVID message")
    write_atomically(d.config_path, t.config([("spiffe://example.org/renamed", SELF_ENTRY[1])]))
    svids.wait_for(lambda m: x509_ids(m) == ["spiffe://example.org/renamed"], 3,
                   "the renamed identity")
    stay_quiet(1.0, "after an entry change")
    d.stop()
    # Shutting down ends the streams, but never with OK (WAPI-6: clients would not retry).
    for method, s in list(streams.items()) + [("FetchX509SVID", svids)]:
        code, details = s.expect_end(5)
        check(code != OK, "%s ended with OK when lanyardd stopped (WAPI-6)" % method)


@case("a templated entry spiffe://example.org/uid/{unix:uid} with the presence-only selector "
      "unix:uid gives the caller spiffe://example.org/uid/<its uid>")
def templated_entry(t):
    d = t.start_daemon(t.config([("spiffe://example.org/uid/{unix:uid}", ["unix:uid"])]))
    c = t.client()
    want = "spiffe://example.org/uid/%d" % UID
    response = c.first("FetchX509SVID")
    check(x509_ids(response) == [want], "X.509 ids %r, want [%r]" % (x509_ids(response), want))
    verify.check_x509_svid(response.svids[0], t.dir)
    jwt_ids = [s.spiffe_id for s in c.jwt_svid(["svc-a"]).svids]
    check(jwt_ids == [want], "JWT ids %r, want [%r]" % (jwt_ids, want))
    d.stop()


@case("a stale socket left by a killed lanyardd is replaced on restart, and a second lanyardd "
      "on a socket that is being served exits non-zero with \"another process is serving\" (EP-6)")
def stale_socket(t):
    config = t.config([SELF_ENTRY])
    first = t.start_daemon(config)
    bundle_before = t.client().first("FetchX509Bundles").bundles[TD_ID]
    first.kill()
    check(os.path.exists(t.socket_path), "SIGKILL left no socket file (nothing to test)")
    check(not harness.socket_accepts(t.socket_path), "the dead daemon's socket still accepts")
    second = t.start_daemon(config)
    mode = stat.S_IMODE(os.lstat(t.socket_path).st_mode)
    check(stat.S_ISSOCK(os.lstat(t.socket_path).st_mode) and mode == 0o777,
          "socket mode %o, want a socket with mode 777 (EP-6)" % mode)
    check(x509_ids(t.client().first("FetchX509SVID")) == [SELF_ID], "restarted daemon's SVID")
    check(t.client().first("FetchX509Bundles").bundles[TD_ID] == bundle_before,
          "the bundle changed across a crash (SIGKILL) and restart (DESIGN §3)")
    # A third on the served socket (own data_dir and config, so only the socket clashes).
    other_config = t.path("other.yaml")
    write_atomically(other_config, t.config([SELF_ENTRY], data_dir=t.path("data2")))
    started = time.monotonic()
    r = subprocess.run([harness.daemon_path(), "--config", other_config], capture_output=True,
                       text=True, timeout=10)
    output = r.stdout + r.stderr
    check(r.returncode != 0, "a second lanyardd on a served socket exited 0")
    check(time.monotonic() - started < 5, "the second lanyardd took long to give up")
    check("another process is serving" in output, "second lanyardd's output: %s" % output)
    check(x509_ids(t.client().first("FetchX509SVID")) == [SELF_ID],
          "the running daemon stopped serving after a second one tried its socket")
    second.stop()
    check(not os.path.exists(t.socket_path), "socket file left after a clean stop")


@case("a second lanyardd on a data_dir in use exits non-zero naming it, and a socket path "
      "that is not a socket is refused before any CA state is written (DESIGN §6)")
def data_dir_in_use(t):
    first = t.start_daemon(t.config([SELF_ENTRY]))
    other_config = t.path("other.yaml")
    write_atomically(other_config, t.config([SELF_ENTRY], socket_path=t.path("other.sock")))
    r = subprocess.run([harness.daemon_path(), "--config", other_config], capture_output=True,
                       text=True, timeout=10)
    output = r.stdout + r.stderr
    check(r.returncode != 0, "a second lanyardd on the same data_dir exited 0")
    check("another lanyardd is using data_dir " + t.data_dir in output,
          "second lanyardd's output: %s" % output)
    check(not os.path.exists(t.path("other.sock")), "the refused daemon left a socket")
    check(x509_ids(t.client().first("FetchX509SVID")) == [SELF_ID],
          "the first daemon stopped serving")
    first.stop()

    # A regular file where the socket should be: refused, and nothing created in data_dir.
    fresh_data = t.path("fresh-data")
    blocked = t.path("blocked.sock")
    with open(blocked, "w") as f:
        f.write("not a socket")
    config = t.path("blocked.yaml")
    write_atomically(config, t.config([SELF_ENTRY], socket_path=blocked, data_dir=fresh_data))
    r = subprocess.run([harness.daemon_path(), "--config", config], capture_output=True,
                       text=True, timeout=10)
    output = r.stdout + r.stderr
    check(r.returncode != 0, "lanyardd exited 0 with a regular file at socket_path")
    check("exists and is not a socket" in output, "output: %s" % output)
    check(not os.path.exists(fresh_data), "data_dir was created by a daemon that did not start")
    with open(blocked) as f:
        check(f.read() == "not a socket", "the file at socket_path was changed")


# --- runner ----------------------------------------------------------------------------------

def run(selected, keep):
    run_root = tempfile.mkdtemp(prefix="lanyard-it-")
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
