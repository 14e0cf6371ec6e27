#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""TPM node attestation end to end (docs/tpm.md): the real lanyardd with `node_attestors.tpm`
on a software TPM (swtpm, manufactured by swtpm_setup with EK certificates from a local CA),
checked against what tpm2-tools and the openssl CLI report about the same TPM.

    tpm_test.py --reporter tap [CASE-SUBSTRING...]

Environment: LANYARD_DAEMON, LANYARD_SOURCE_DIR. Needs swtpm, swtpm_setup and tpm2-tools
(packaging/deps.sh installs them): missing, the suite is skipped on a laptop and fails under
CI=true. Prints TAP as run.py does.
"""
import argparse
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

try:
    import grpc  # noqa: F401 (harness needs it)
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
import verify  # noqa: E402
from harness import CaseDir, Failure, StreamEnded, check, expect_code, wait_until  # noqa: E402

UID = os.getuid()
MEASURED_ID = "spiffe://example.org/measured"
PLAIN_ID = "spiffe://example.org/plain"
PLAIN_ENTRY = (PLAIN_ID, ["unix:uid:%d" % UID])
PCRS = [0, 7, 16]

CASES = []


def case(name):
    def register(fn):
        CASES.append((name, fn))
        return fn
    return register


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_pair():
    """A port P with P + 1 free too: tss2's swtpm TCTI finds the control port at P + 1."""
    for _ in range(100):
        p = free_port()
        with socket.socket() as a, socket.socket() as b:
            try:
                a.bind(("127.0.0.1", p))
                b.bind(("127.0.0.1", p + 1))
            except OSError:
                continue
        return p
    raise Failure("no two adjacent free ports on 127.0.0.1")


class Swtpm:
    """A software TPM 2.0 on loopback, manufactured with EK certificates signed by a local CA
    that lives in `root`/ca."""

    def __init__(self, root):
        self.root = root
        self.state = os.path.join(root, "state")
        self.ca_dir = os.path.join(root, "ca")
        os.makedirs(self.state)
        os.makedirs(self.ca_dir)
        localca = os.path.join(root, "localca.conf")
        with open(localca, "w") as f:
            f.write("statedir = %s\nsigningkey = %s/signkey.pem\nissuercert = %s/issuercert.pem\n"
                    "certserial = %s/certserial\n" % ((self.ca_dir,) * 4))
        setup = os.path.join(root, "swtpm_setup.conf")
        with open(setup, "w") as f:
            f.write("create_certs_tool = /usr/bin/swtpm_localca\n"
                    "create_certs_tool_config = %s\n"
                    "create_certs_tool_options = /etc/swtpm-localca.options\n"
                    "active_pcr_banks = sha256\n" % localca)
        out = subprocess.run(["swtpm_setup", "--tpm2", "--tpmstate", self.state,
                              "--create-ek-cert", "--config", setup, "--overwrite"],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise Failure("swtpm_setup failed:\n" + out.stdout + out.stderr)
        # The EK certificate's chain: swtpm_localca's root and its intermediate.
        self.ca_bundle = os.path.join(root, "ek-ca-bundle.pem")
        with open(self.ca_bundle, "w") as f:
            for name in ("swtpm-localca-rootca-cert.pem", "issuercert.pem"):
                with open(os.path.join(self.ca_dir, name)) as part:
                    f.write(part.read())
        self.port = free_port_pair()
        self.ctrl = self.port + 1
        self.tcti = "swtpm:host=127.0.0.1,port=%d" % self.port
        self.log = open(os.path.join(root, "swtpm.log"), "w")
        self.proc = subprocess.Popen(
            ["swtpm", "socket", "--tpm2", "--tpmstate", "dir=" + self.state,
             "--server", "type=tcp,port=%d,bindaddr=127.0.0.1" % self.port,
             "--ctrl", "type=tcp,port=%d,bindaddr=127.0.0.1" % self.ctrl,
             "--flags", "not-need-init,startup-clear"],
            stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: self.tool_ok("tpm2_getcap", "properties-fixed"), 10,
                       "swtpm to answer tpm2_getcap")
        except Failure:
            self.stop()
            raise

    def env(self):
        e = dict(os.environ)
        e["TPM2TOOLS_TCTI"] = self.tcti
        return e

    def tool_ok(self, *args):
        if self.proc.poll() is not None:
            raise Failure("swtpm exited with %d" % self.proc.returncode)
        return subprocess.run(list(args), env=self.env(), capture_output=True,
                              timeout=30).returncode == 0

    def tool(self, *args):
        out = subprocess.run(list(args), env=self.env(), capture_output=True, text=True,
                             timeout=30)
        if out.returncode != 0:
            raise Failure("%s failed (%d):\n%s" % (" ".join(args), out.returncode,
                                                   out.stdout + out.stderr))
        return out.stdout

    def pcr(self, index):
        """PCR `index` of the SHA-256 bank as tpm2_pcrread prints it (lowercase hex)."""
        text = self.tool("tpm2_pcrread", "sha256:%d" % index)
        for line in text.splitlines():
            key, _, value = line.strip().partition(":")
            if key.strip() == str(index):
                return value.strip().lower().removeprefix("0x")
        raise Failure("no PCR %d in tpm2_pcrread's output:\n%s" % (index, text))

    def extend(self, index):
        data = hashlib.sha256(os.urandom(16)).hexdigest()
        self.tool("tpm2_pcrextend", "%d:sha256=%s" % (index, data))

    def ek_pubhash(self, workdir):
        der = os.path.join(workdir, "ek.der")
        self.tool("tpm2_readpublic", "-c", "0x81010001", "-f", "der", "-o", der)
        with open(der, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    def ek_cert(self, workdir):
        der = os.path.join(workdir, "ek-cert.der")
        self.tool("tpm2_nvread", "0x01c00002", "-o", der)
        return der

    def transient_handles(self):
        return [line for line in self.tool("tpm2_getcap", "handles-transient").splitlines()
                if line.strip()]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def tpm_config(tpm, interval="1s", bundle=None, tcti=None):
    lines = ["node_attestors:", "  tpm:", "    tcti: " + (tcti or tpm.tcti),
             "    pcrs: [%s]" % ", ".join(str(p) for p in PCRS),
             "    remeasure_interval: " + interval]
    if bundle:
        lines.append("    ek_ca_bundle: " + bundle)
    return "\n".join(lines) + "\n"


def ids_of(response):
    return sorted(s.spiffe_id for s in response.svids)


def logged_selectors(d):
    """The selectors of the last `TPM measured:` line lanyardd logged."""
    lines = [line for line in d.log().splitlines() if "TPM measured: tpm:" in line]
    check(lines, "lanyardd logged no TPM measurement")
    return sorted(lines[-1].split("TPM measured: ", 1)[1].strip().split(", "))


# --- cases -----------------------------------------------------------------------------------

@case("the tpm selectors are the EK hash tpm2_readpublic reports, the PCR values tpm2_pcrread "
      "reports and the EK certificate's issuer; an entry that needs them is served, one with "
      "another PCR value is not")
def selectors_match_tools(t, tpm):
    ekhash = tpm.ek_pubhash(t.dir)
    pcr = {i: tpm.pcr(i) for i in PCRS}
    measured = ["unix:uid:%d" % UID, "tpm:ek_pubhash:" + ekhash, "tpm:pcr:0:" + pcr[0],
                "tpm:pcr:16:" + pcr[16]]
    other = ["unix:uid:%d" % UID, "tpm:pcr:16:" + "ab" * 32]
    d = t.start_daemon(t.config([(MEASURED_ID, measured),
                                 ("spiffe://example.org/other-pcr", other)],
                                extra=tpm_config(tpm, interval="1h", bundle=tpm.ca_bundle)))
    want = sorted(["tpm:ek_pubhash:" + ekhash, "tpm:ek_cert_issuer:swtpm-localca",
                   "tpm:ek_cert_verified:true"] +
                  ["tpm:pcr:%d:%s" % (i, pcr[i]) for i in PCRS])
    got = logged_selectors(d)
    check(got == want, "logged selectors %s, want %s" % (got, want))
    response = t.client().first("FetchX509SVID")
    check(ids_of(response) == [MEASURED_ID], "SVIDs %s, want only %s" % (ids_of(response),
                                                                        MEASURED_ID))


@case("tpm2_pcrextend on a required PCR withdraws the identity from an open FetchX509SVID "
      "stream within the re-measure interval (1 s), the change is logged, and FetchJWTSVID "
      "for it is then PERMISSION_DENIED")
def pcr_extend_withdraws(t, tpm):
    measured = ["unix:uid:%d" % UID, "tpm:pcr:16:" + tpm.pcr(16)]
    d = t.start_daemon(t.config([(MEASURED_ID, measured), PLAIN_ENTRY],
                                extra=tpm_config(tpm, interval="1s")))
    c = t.client()
    stream = c.stream("FetchX509SVID")
    first, _ = stream.next(5, "the first X.509 message")
    check(ids_of(first) == sorted([MEASURED_ID, PLAIN_ID]), "first message has %s"
          % ids_of(first))
    c.jwt_svid(["aud"], spiffe_id=MEASURED_ID)  # served before the extend
    extended = time.monotonic()
    tpm.extend(16)
    message = stream.wait_for(lambda m: ids_of(m) == [PLAIN_ID], 5,
                              "a message without %s" % MEASURED_ID)
    took = time.monotonic() - extended
    check(message.svids[0].spiffe_id == PLAIN_ID, "default SVID %s" % message.svids[0].spiffe_id)
    check(took < 3.5, "the stream lost the identity %.1f s after the extend (interval 1 s)"
          % took)
    check("TPM measurement changed: -tpm:pcr:16:" in d.log(),
          "no 'TPM measurement changed' warning in the log")
    expect_code(grpc.StatusCode.PERMISSION_DENIED, "FetchJWTSVID for the withdrawn identity",
                c.jwt_svid, ["aud"], spiffe_id=MEASURED_ID)


@case("SIGHUP re-measures at once: with a 1 h interval, a PCR extended and SIGHUP withdraw "
      "the identity; a stream whose only identity goes ends with PERMISSION_DENIED")
def sighup_remeasures(t, tpm):
    measured = ["unix:uid:%d" % UID, "tpm:pcr:16:" + tpm.pcr(16)]
    d = t.start_daemon(t.config([(MEASURED_ID, measured)], extra=tpm_config(tpm, interval="1h")))
    stream = t.client().stream("FetchX509SVID")
    first, _ = stream.next(5, "the first X.509 message")
    check(ids_of(first) == [MEASURED_ID], "first message has %s" % ids_of(first))
    tpm.extend(16)
    time.sleep(1.5)
    check(not stream.drain(), "the stream changed before SIGHUP (interval is 1 h)")
    d.signal(signal.SIGHUP)
    code, details = stream.expect_end(5)
    check(code == grpc.StatusCode.PERMISSION_DENIED,
          "the stream ended with %s (%s), want PERMISSION_DENIED" % (code, details))


@case("the EK certificate: openssl verifies it with swtpm's CA bundle and not with another CA; "
      "lanyardd gives tpm:ek_cert_verified:true only with the right bundle, the issuer either "
      "way")
def ek_certificate(t, tpm):
    cert = tpm.ek_cert(t.dir)
    ok = subprocess.run(["openssl", "verify", "-CAfile", tpm.ca_bundle, cert],
                        capture_output=True, text=True)
    check(ok.returncode == 0, "openssl verify with swtpm's CA failed: " + ok.stdout + ok.stderr)
    wrong = t.path("wrong-ca.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", t.path("wrong-ca.key"),
                    "-out", wrong, "-subj", "/CN=swtpm-localca", "-days", "1"],
                   check=True, capture_output=True)
    bad = subprocess.run(["openssl", "verify", "-CAfile", wrong, cert], capture_output=True,
                         text=True)
    check(bad.returncode != 0, "openssl verify accepted the EK certificate with another CA")

    verified = (MEASURED_ID, ["unix:uid:%d" % UID, "tpm:ek_cert_verified:true"])
    issuer = (PLAIN_ID, ["unix:uid:%d" % UID, "tpm:ek_cert_issuer:swtpm-localca"])
    d = t.start_daemon(t.config([verified, issuer], extra=tpm_config(tpm, interval="1h",
                                                                     bundle=wrong)))
    got = ids_of(t.client().first("FetchX509SVID"))
    check(got == [PLAIN_ID], "with the wrong CA bundle: SVIDs %s, want only %s" % (got, PLAIN_ID))
    check("does not chain to the EK CA bundle" in d.log(), "no warning about the EK chain")
    d.stop()

    t.start_daemon(t.config([verified, issuer], extra=tpm_config(tpm, interval="1h",
                                                                 bundle=tpm.ca_bundle)),
                   config_path=t.path("right.yaml"))
    got = ids_of(t.client().first("FetchX509SVID"))
    check(got == sorted([MEASURED_ID, PLAIN_ID]), "with swtpm's CA bundle: SVIDs %s" % got)


@case("no TPM at the configured TCTI: lanyardd starts, logs the reason at error level, serves "
      "the entries that need no tpm selector and not the others")
def no_tpm(t, tpm):
    closed = "swtpm:host=127.0.0.1,port=%d" % free_port_pair()
    measured = (MEASURED_ID, ["unix:uid:%d" % UID, "tpm:pcr:16:" + tpm.pcr(16)])
    d = t.start_daemon(t.config([measured, PLAIN_ENTRY],
                                extra=tpm_config(tpm, interval="1h", tcti=closed)))
    got = ids_of(t.client().first("FetchX509SVID"))
    check(got == [PLAIN_ID], "SVIDs %s, want only %s" % (got, PLAIN_ID))
    errors = [line for line in d.log().splitlines() if "TPM measurement failed" in line]
    check(errors and errors[0].startswith("error "),
          "no error-level 'TPM measurement failed' line: %s" % errors)
    d.stop(allowed_errors="TPM measurement failed")


@case("measurements leave no transient object in the TPM (an AK and a session per quote are "
      "flushed), after a daemon measured a dozen times")
def no_leaked_handles(t, tpm):
    d = t.start_daemon(t.config([PLAIN_ENTRY], extra=tpm_config(tpm, interval="1s")))
    for _ in range(11):
        d.signal(signal.SIGHUP)
        time.sleep(0.25)
    wait_until(lambda: d.log().count("TPM measured") >= 1, 5, "a measurement")
    d.stop()
    handles = tpm.transient_handles()
    check(not handles, "transient handles left in the TPM: %s" % handles)


@case("after a restart the same EK gives the same selectors and the bundle is unchanged")
def restart_same(t, tpm):
    config = t.config([PLAIN_ENTRY], extra=tpm_config(tpm, interval="1h"))
    d = t.start_daemon(config)
    before = logged_selectors(d)
    bundle = t.client().first("FetchX509Bundles").bundles
    d.stop()
    d2 = t.start_daemon(config)
    check(logged_selectors(d2) == before, "selectors differ after a restart")
    check(t.client().first("FetchX509Bundles").bundles == bundle, "the bundle changed")


# --- the TPM-resident CA key (authority.upstream: tpm) ---------------------------------------

FIXED_TPM = 0x00000002
FIXED_PARENT = 0x00000010
SENSITIVE_DATA_ORIGIN = 0x00000020


def tpm_authority(tcti, issuing_ttl=None):
    text = "authority:\n  upstream: tpm\n  tpm:\n    tcti: %s\n" % tcti
    if issuing_ttl:
        text += "    issuing_ttl: %s\n" % issuing_ttl
    return text


def public_der(key):
    from cryptography.hazmat.primitives import serialization
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def jwt_bundle(t):
    return t.client().first("FetchJWTBundles").bundles


def public_area(blob_path, out_path):
    """Writes the TPM2B_PUBLIC at the start of a key blob to `out_path`; returns its
    objectAttributes (TPM 2.0 Part 2 §12.2.4: size, type, nameAlg, objectAttributes...)."""
    with open(blob_path, "rb") as f:
        blob = f.read()
    size = int.from_bytes(blob[:2], "big")
    check(4 + size <= len(blob), "the key blob is shorter than its TPM2B_PUBLIC")
    with open(out_path, "wb") as f:
        f.write(blob[:2 + size])
    return int.from_bytes(blob[6:10], "big")


def svid_chain(t, workdir):
    response = t.client().first("FetchX509SVID")
    check(len(response.svids) == 1, "%d SVIDs, want 1" % len(response.svids))
    leaf, chain, bundle = verify.check_x509_svid(response.svids[0], workdir)
    return chain, bundle


@case("authority.upstream: tpm: the root CA key is made in the TPM and only its TPM-wrapped "
      "blob is on disk (0600; fixedTPM and fixedParent as tpm2_print reads them); SVIDs chain "
      "leaf → issuing CA → the TPM root (openssl verify -x509_strict, Python cryptography); the "
      "issuing CA lives issuing_ttl (default 2h) with pathLenConstraint 0, and neither its key "
      "nor the root's is in any file of data_dir (only the JWT keys are)")
def tpm_ca_key(t, tpm):
    t.start_daemon(t.config([PLAIN_ENTRY], extra=tpm_authority(tpm.tcti)))
    blob = os.path.join(t.data_dir, "tpm-ca.tpmkey")
    root_pem = os.path.join(t.data_dir, "tpm-ca.pem")
    check(os.path.exists(blob) and os.path.exists(root_pem), "no tpm-ca.tpmkey / tpm-ca.pem in "
          "data_dir: %s" % sorted(os.listdir(t.data_dir)))
    mode = os.stat(blob).st_mode & 0o777
    check(mode == 0o600, "tpm-ca.tpmkey has mode %o, want 600" % mode)
    attrs = public_area(blob, t.path("pub.bin"))
    check(attrs & FIXED_TPM and attrs & FIXED_PARENT and attrs & SENSITIVE_DATA_ORIGIN,
          "the key's objectAttributes 0x%08x lack fixedTPM, fixedParent or sensitiveDataOrigin"
          % attrs)
    printed = tpm.tool("tpm2_print", "-t", "TPM2B_PUBLIC", t.path("pub.bin"))
    for word in ("fixedtpm", "fixedparent", "sensitivedataorigin", "sign"):
        check(word in printed, "tpm2_print does not show %s:\n%s" % (word, printed))
    for form in ("PEM", "DER"):
        r = subprocess.run(["openssl", "pkey", "-inform", form, "-in", blob, "-noout"],
                           capture_output=True)
        check(r.returncode != 0, "openssl read the TPM key blob as a %s private key" % form)

    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import serialization
    with open(root_pem, "rb") as f:
        root = cx509.load_pem_x509_certificate(f.read())
    chain, bundle = svid_chain(t, t.dir)
    check(len(chain) == 2, "x509_svid has %d certificates, want leaf + issuing CA" % len(chain))
    check([c.subject for c in bundle] == [root.subject] and bundle[0] == root,
          "the X.509 bundle is not exactly tpm-ca.pem")
    issuing = chain[1]
    lifetime = issuing.not_valid_after - issuing.not_valid_before
    check(lifetime.total_seconds() == 2 * 3600 + 10,
          "the issuing CA is valid %s, want 2h (and 10 s of clock skew)" % lifetime)
    constraints = issuing.extensions.get_extension_for_class(cx509.BasicConstraints).value
    check(constraints.ca and constraints.path_length == 0,
          "the issuing CA's basicConstraints are %s, want CA with pathLenConstraint 0"
          % constraints)

    # Every private key in data_dir: JWT keys only, none of them a CA's.
    ca_keys = {public_der(root.public_key()): "the TPM root",
               public_der(issuing.public_key()): "the issuing CA"}
    key_files = []
    for name in sorted(os.listdir(t.data_dir)):
        with open(os.path.join(t.data_dir, name), "rb") as f:
            data = f.read()
        if b"PRIVATE KEY" not in data:
            continue
        key_files.append(name)
        pub = public_der(serialization.load_pem_private_key(data, None).public_key())
        check(pub not in ca_keys, "%s in data_dir holds %s's private key"
              % (name, ca_keys.get(pub)))
    check(key_files and all(n.startswith("jwt-") for n in key_files),
          "private keys in data_dir: %s, want the JWT keys alone" % key_files)


@case("authority.upstream: tpm: a restart makes a new in-memory issuing CA, signed by the same "
      "TPM key, and keeps the X.509 and JWT bundles; so does a restart with the JWT generations "
      "removed for the X.509 bundle; a blob from another TPM is refused at startup, naming the "
      "problem")
def tpm_ca_restart(t, tpm):
    config = t.config([PLAIN_ENTRY], extra=tpm_authority(tpm.tcti))
    d = t.start_daemon(config)
    chain1, bundle1 = svid_chain(t, t.dir)
    jwt1 = jwt_bundle(t)
    d.stop()
    d = t.start_daemon(config)
    chain2, bundle2 = svid_chain(t, t.dir)
    check(bundle2 == bundle1, "the X.509 bundle changed across a restart")
    check(jwt_bundle(t) == jwt1, "the JWT bundle changed across a restart")
    check(chain2[1] != chain1[1] and chain2[1].issuer == chain1[1].issuer,
          "a restart did not make a new issuing CA under the same root (its key is never "
          "written, so it cannot be reused)")
    d.stop()
    for name in os.listdir(t.data_dir):  # the issuing CA generations, not the TPM root
        if name.startswith(("ca-", "jwt-")) or name == "authority.json":
            os.remove(os.path.join(t.data_dir, name))
    d = t.start_daemon(config)
    chain3, bundle3 = svid_chain(t, t.dir)
    check(chain3[1] != chain1[1], "no new issuing CA after its state was removed")
    check(bundle3 == bundle1, "the X.509 bundle changed with a new issuing CA")
    d.stop()

    other = Swtpm(t.path("other-tpm"))
    try:
        path = t.path("other.yaml")
        harness.write_atomically(path, t.config([PLAIN_ENTRY], extra=tpm_authority(other.tcti)))
        r = subprocess.run([harness.daemon_path(), "--config", path], capture_output=True,
                           text=True, timeout=30)
        output = r.stdout + r.stderr
        check(r.returncode != 0, "lanyardd started with another TPM's key blob")
        check("loading the TPM upstream CA key" in output and "TPM" in output,
              "the refusal does not say what failed:\n" + output)
    finally:
        other.stop()


@case("authority.upstream: tpm: the TPM key signs a new issuing CA at half of issuing_ttl "
      "(1m here) while the daemon runs; open streams get SVIDs from it, the bundle unchanged")
def tpm_issuing_renewal(t, tpm):
    d = t.start_daemon(t.config([PLAIN_ENTRY], extra="x509_svid_ttl: 30s\n" +
                                tpm_authority(tpm.tcti, issuing_ttl="1m")))
    stream = t.client().stream("FetchX509SVID")
    first, _ = stream.next(5, "the first X.509 message")
    _, chain1, bundle1 = verify.check_x509_svid(first.svids[0], t.dir)
    def issuing_der(message):
        return verify.split_der(message.svids[0].x509_svid, "x509_svid")[1]

    # SVIDs renew at about half their 30 s life: one from the new issuing CA comes at the
    # first renewal after 30 s.
    renewed = stream.wait_for(lambda m: issuing_der(m) != issuing_der(first), 60,
                              "an SVID from a new issuing CA")
    _, chain2, bundle2 = verify.check_x509_svid(renewed.svids[0], t.dir)
    check(bundle2 == bundle1, "the X.509 bundle changed with the issuing CA")
    started = chain2[1].not_valid_before - chain1[1].not_valid_before
    check(25 <= started.total_seconds() <= 40,
          "the new issuing CA started %s after the first, want about 30 s (half of 1m)" % started)
    check("new in-memory X.509 issuing CA signed by the tpm upstream key" in d.log(),
          "the renewal is not logged")


@case("authority.tpm.cert_file: `lanyardd --tpm-csr` writes a request signed by the TPM key "
      "(openssl req -verify); an operator CA made with the openssl CLI signs it; SVIDs then chain "
      "leaf → issuing CA → the TPM intermediate and the bundle is the operator's root (openssl "
      "verify -x509_strict); a certificate for another key, one that is not a CA and one from "
      "another CA (with and without bundle_file) are refused at startup, naming the file")
def tpm_ca_operator_issued(t, tpm):
    csr = t.path("tpm.csr")
    harness.write_atomically(t.config_path, t.config([PLAIN_ENTRY]))
    r = subprocess.run([harness.daemon_path(), "--config", t.config_path, "--tpm-csr", csr],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 1 and "authority.upstream is self_signed, not tpm" in r.stderr
          and not os.path.exists(csr), "--tpm-csr without upstream: tpm: rc %d, %s"
          % (r.returncode, r.stderr))
    harness.write_atomically(t.config_path, t.config([PLAIN_ENTRY],
                                                     extra=tpm_authority(tpm.tcti)))
    r = subprocess.run([harness.daemon_path(), "--config", t.config_path, "--tpm-csr", csr],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "lanyardd --tpm-csr failed (rc %d): %s" % (r.returncode, r.stderr))
    check("authority.tpm.cert_file" in r.stderr, "--tpm-csr does not say what to do next:\n"
          + r.stderr)
    check(os.path.exists(os.path.join(t.data_dir, "tpm-ca.tpmkey")),
          "--tpm-csr did not create the TPM key")
    shown = openssl("req", "-in", csr, "-verify", "-noout", "-text")
    for want in ("verify OK", "CN = lanyard tpm ca", "CA:TRUE", "Certificate Sign",
                 "URI:spiffe://example.org", "ecdsa-with-SHA256"):
        check(want in shown, "openssl req -text of the request lacks %r:\n%s" % (want, shown))

    # The operator's CA, made with the openssl CLI alone.
    root_key, root_pem = t.path("corp-root.key"), t.path("corp-root.pem")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", root_key, "-out", root_pem, "-subj", "/O=corp/CN=corp root", "-days", "30",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def issue(request, out, ca=True, ca_pem=root_pem, ca_key=root_key):
        ext = t.path("ext.cnf")
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:%s\n" % ("TRUE" if ca else "FALSE"))
            f.write("keyUsage=critical,%s\n" % ("keyCertSign,cRLSign,digitalSignature" if ca
                                                else "digitalSignature"))
            f.write("subjectAltName=URI:spiffe://example.org\n")
            f.write("subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
        openssl("x509", "-req", "-in", request, "-CA", ca_pem, "-CAkey", ca_key, "-set_serial",
                str(int.from_bytes(os.urandom(8), "big")), "-days", "7", "-extfile", ext,
                "-out", out)
        return out

    issued = issue(csr, t.path("tpm-ca-issued.pem"))
    extra = tpm_authority(tpm.tcti) + "    cert_file: %s\n    bundle_file: %s\n" % (issued,
                                                                                   root_pem)
    d = t.start_daemon(t.config([PLAIN_ENTRY], extra=extra))
    chain, bundle = svid_chain(t, t.dir)
    from cryptography import x509 as cx509
    with open(issued, "rb") as f:
        intermediate = cx509.load_pem_x509_certificate(f.read())
    with open(root_pem, "rb") as f:
        root = cx509.load_pem_x509_certificate(f.read())
    check(len(chain) == 3 and chain[2] == intermediate,
          "x509_svid is not leaf, issuing CA, the TPM intermediate (%d certificates)" % len(chain))
    check(bundle == [root], "the X.509 bundle is not exactly the operator's root")
    check("the TPM CA key is an intermediate" in d.log(), "the intermediate is not logged")
    d.stop()

    def refused(cert, want, bundle=None):
        path = t.path("refused.yaml")
        extra = tpm_authority(tpm.tcti) + "    cert_file: %s\n" % cert
        if bundle:
            extra += "    bundle_file: %s\n" % bundle
        harness.write_atomically(path, t.config([PLAIN_ENTRY], extra=extra))
        r = subprocess.run([harness.daemon_path(), "--config", path], capture_output=True,
                           text=True, timeout=30)
        output = r.stdout + r.stderr
        check(r.returncode != 0, "lanyardd started with %s" % cert)
        check(cert in output and want in output,
              "the refusal of %s does not say %r:\n%s" % (cert, want, output))

    other_key, other_csr = t.path("other.key"), t.path("other.csr")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", other_key, "-out", other_csr, "-subj", "/CN=not the tpm")
    refused(issue(other_csr, t.path("other-key.pem")), "it is not for the TPM key")
    refused(issue(csr, t.path("not-ca.pem"), ca=False), "is not a CA")
    stranger_key, stranger_pem = t.path("stranger.key"), t.path("stranger.pem")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", stranger_key, "-out", stranger_pem, "-subj", "/CN=stranger", "-days", "30",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    # Signed by a CA that is neither in the chain nor in the bundle: no root at all, or roots
    # that did not sign it.
    stranger_issued = issue(csr, t.path("stranger-issued.pem"), ca_pem=stranger_pem,
                            ca_key=stranger_key)
    refused(stranger_issued, "does not end in a self-signed root")
    refused(stranger_issued, "does not chain to the upstream roots", bundle=root_pem)


def openssl(*args):
    r = subprocess.run(["openssl"] + list(args), capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "openssl %s failed: %s" % (" ".join(args[:2]), r.stderr))
    return r.stdout + r.stderr


# --- driver ----------------------------------------------------------------------------------

def missing_requirement():
    for tool in ("swtpm", "swtpm_setup", "tpm2_pcrread", "tpm2_pcrextend", "tpm2_readpublic",
                 "tpm2_nvread", "tpm2_getcap", "tpm2_print", "openssl"):
        if shutil.which(tool) is None:
            return "%s is not installed (packaging/deps.sh installs swtpm and tpm2-tools)" % tool
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
        if os.environ.get("CI") == "true":
            print("not ok 1 - swtpm and tpm2-tools are installed\n#\t" + why)
            print("1..1")
            return 1
        print("1..0 # SKIP " + why)
        return 0
    if not os.access(harness.daemon_path(), os.X_OK):
        print("Bail out! no lanyardd at %s (set LANYARD_DAEMON)" % harness.daemon_path())
        return 1

    run_root = tempfile.mkdtemp(prefix="lanyard-tpm-")
    os.chmod(run_root, 0o755)
    failed = 0
    started = time.monotonic()
    tpm = None
    try:
        stubs = harness.Stubs(run_root)
        try:
            tpm = Swtpm(os.path.join(run_root, "swtpm"))
        except Failure as e:
            print("not ok 1 - swtpm_setup manufactures a TPM and swtpm serves it")
            for line in str(e).splitlines():
                print("#\t" + line)
            print("1..1")
            return 1
        for n, (name, fn) in enumerate(selected, 1):
            print("# " + name, flush=True)
            t = CaseDir(run_root, stubs, n)
            reason = []
            try:
                fn(t, tpm)
            except (Failure, StreamEnded) as e:
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
            sys.stdout.flush()
    finally:
        harness.kill_all_daemons()
        if tpm:
            tpm.stop()
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
