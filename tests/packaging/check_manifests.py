#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Checks the Kubernetes manifests (packaging/kubernetes/), the example workload
(docs/examples/kubernetes-workload.yaml) and the container file against each other and against
the real lanyardd: the ConfigMap's configuration loads and starts the daemon, and the socket
directory, data directory, health port, probe paths, config path, RBAC and image tag agree.

    check_manifests.py --reporter tap [CASE-SUBSTRING...]

Environment: LANYARD_DAEMON (the lanyardd binary), LANYARD_SOURCE_DIR (the source tree).
Prints TAP like tests/integration/run.py: `# <case>`, then `ok N - <case>` or
`not ok N - <case>` with the reason on `#\t` lines, then the plan.
"""
import argparse
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
import urllib.error
import urllib.request

try:
    import yaml
except ImportError as e:  # a laptop without python3-yaml: skipped (STYLE.md §9)
    print("1..0 # SKIP missing Python module: %s" % e.name)
    sys.exit(0)

SOURCE = os.environ.get("LANYARD_SOURCE_DIR",
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
K8S_DIR = os.path.join(SOURCE, "packaging", "kubernetes")
WORKLOAD = os.path.join(SOURCE, "docs", "examples", "kubernetes-workload.yaml")
CONTAINERFILE = os.path.join(SOURCE, "packaging", "container", "Containerfile")
DAEMON = os.environ.get("LANYARD_DAEMON", os.path.join(SOURCE, "build", "daemon", "lanyardd"))

# The health listener's paths (docs/configuration.md, `health`): fixed in the daemon.
LIVE_PATH, READY_PATH = "/live", "/ready"
# What the kubelet attestor reads: GET /pods on the kubelet is authorised as nodes/proxy.
RBAC_NEEDED = {"pods", "nodes", "nodes/proxy"}
READ_VERBS = {"get", "list", "watch"}


class Failure(Exception):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


def load_all(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def manifests():
    """Every object in packaging/kubernetes/*.yaml except the kustomization, by (kind, name)."""
    objects = {}
    for name in sorted(os.listdir(K8S_DIR)):
        if not name.endswith(".yaml") or name == "kustomization.yaml":
            continue
        for doc in load_all(os.path.join(K8S_DIR, name)):
            key = (doc.get("kind"), doc.get("metadata", {}).get("name"))
            check(key not in objects, "%s: %s/%s defined twice" % (name, key[0], key[1]))
            objects[key] = doc
    return objects


def one(objects, kind):
    found = [doc for (k, _), doc in objects.items() if k == kind]
    check(len(found) == 1, "want exactly one %s in packaging/kubernetes, found %d" %
          (kind, len(found)))
    return found[0]


def daemonset(objects):
    return one(objects, "DaemonSet")


def agent_container(objects):
    containers = daemonset(objects)["spec"]["template"]["spec"]["containers"]
    found = [c for c in containers if c["name"] == "lanyardd"]
    check(len(found) == 1, "the DaemonSet has no container named lanyardd")
    return found[0]


def arg_value(args, flag):
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(flag + "="):
            return a[len(flag) + 1:]
    return None


def config_path(objects):
    """The --config path the DaemonSet passes, and the ConfigMap key it must come from."""
    c = agent_container(objects)
    path = arg_value(c.get("args", []) + c.get("command", []), "--config")
    check(path is not None, "the lanyardd container passes no --config")
    return path


def config_text(objects):
    cm = one(objects, "ConfigMap")
    key = os.path.basename(config_path(objects))
    check(key in cm.get("data", {}), "ConfigMap %s has no key %s (the file --config names)" %
          (cm["metadata"]["name"], key))
    return cm["data"][key]


def print_config(text, tmp):
    """lanyardd --print-config of `text`, parsed: the configuration as the daemon reads it."""
    path = os.path.join(tmp, "lanyardd.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    p = subprocess.run([DAEMON, "--print-config", "--config", path], capture_output=True,
                       text=True, timeout=30)
    check(p.returncode == 0, "lanyardd --print-config refused it: %s" % p.stderr.strip())
    return yaml.safe_load(p.stdout)


def effective_config(objects):
    tmp = tempfile.mkdtemp(prefix="lanyard-manifests-")
    try:
        return print_config(config_text(objects), tmp)
    finally:
        shutil.rmtree(tmp)


def daemon_defaults():
    tmp = tempfile.mkdtemp(prefix="lanyard-defaults-")
    try:
        return print_config("trust_domain: example.org\n", tmp)
    finally:
        shutil.rmtree(tmp)


def host_path_mount(pod_spec, container, path):
    """The hostPath volume mounted at `path` in `container`: (host path, mount)."""
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    for m in container.get("volumeMounts", []):
        if m["mountPath"].rstrip("/") == path.rstrip("/"):
            v = volumes.get(m["name"])
            check(v is not None, "volumeMount %s names no volume" % m["name"])
            check("hostPath" in v, "volume %s mounted at %s is not a hostPath" % (v["name"], path))
            return v["hostPath"]["path"], m
    raise Failure("nothing is mounted at %s in container %s" % (path, container["name"]))


def split_listen(listen):
    m = re.fullmatch(r"\[?([^\]]*)\]?:(\d+)", listen)
    check(m is not None, "health.listen %r is not host:port" % listen)
    return m.group(1), int(m.group(2))


def port_number(container, port):
    if isinstance(port, int):
        return port
    for p in container.get("ports", []):
        if p.get("name") == port:
            return p["containerPort"]
    raise Failure("probe port %r names no port of container %s" % (port, container["name"]))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(port, path, deadline):
    """The status of GET path on 127.0.0.1:port, retried until `deadline` while it is not 200."""
    status = None
    while True:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=2) as r:
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        except OSError as e:
            status = "no answer (%s)" % e
        if status == 200 or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


CASES = []


def case(name):
    def register(fn):
        CASES.append((name, fn))
        return fn
    return register


# --- cases -----------------------------------------------------------------------------------

@case("every manifest parses, and each object has apiVersion, kind and metadata.name")
def all_parse():
    files = [os.path.join(K8S_DIR, n) for n in sorted(os.listdir(K8S_DIR)) if n.endswith(".yaml")]
    check(len(files) >= 5, "expected at least 5 manifests in %s, found %d" % (K8S_DIR, len(files)))
    for path in files + [WORKLOAD]:
        docs = load_all(path)
        check(docs, "%s holds no object" % path)
        for d in docs:
            check(isinstance(d, dict), "%s: an object is not a map" % path)
            if d.get("kind") == "Kustomization":
                continue
            for key in ("apiVersion", "kind"):
                check(d.get(key), "%s: an object has no %s" % (path, key))
            check(d.get("metadata", {}).get("name"), "%s: a %s has no metadata.name" %
                  (path, d["kind"]))


@case("kustomization.yaml lists every manifest of packaging/kubernetes, and only those")
def kustomization_complete():
    k = load_all(os.path.join(K8S_DIR, "kustomization.yaml"))[0]
    present = {n for n in os.listdir(K8S_DIR) if n.endswith(".yaml")} - {"kustomization.yaml"}
    listed = set(k.get("resources", []))
    check(listed == present, "resources %s, files %s" % (sorted(listed), sorted(present)))


@case("namespaced objects are all in the Namespace the manifests create")
def namespaces_agree():
    objects = manifests()
    ns = one(objects, "Namespace")["metadata"]["name"]
    for (kind, name), d in objects.items():
        if kind in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            continue
        got = d["metadata"].get("namespace")
        check(got == ns, "%s/%s is in namespace %r, not %r" % (kind, name, got, ns))


@case("the ConfigMap's lanyardd.yaml loads (lanyardd --print-config) with the daemon's default "
      "socket_path and data_dir")
def configmap_loads():
    objects = manifests()
    got, want = effective_config(objects), daemon_defaults()
    for key in ("socket_path", "data_dir"):
        check(got[key] == want[key], "%s is %r, the daemon's default is %r" %
              (key, got[key], want[key]))


@case("the ConfigMap's configuration starts lanyardd (every attestor it names exists), with "
      "its socket, data dir and health listener moved to a temp dir, and the DaemonSet's "
      "liveness and readiness probe paths answer 200 there")
def configmap_starts_daemon():
    objects = manifests()
    config = yaml.safe_load(config_text(objects))
    tmp = tempfile.mkdtemp(prefix="lanyard-manifests-")
    proc = None
    try:
        config["socket_path"] = os.path.join(tmp, "agent.sock")
        config["data_dir"] = os.path.join(tmp, "data")
        port = free_port()
        config.setdefault("health", {})["listen"] = "127.0.0.1:%d" % port
        path = os.path.join(tmp, "lanyardd.yaml")
        with open(path, "w", encoding="utf-8") as f:
            yaml.safe_dump(config, f)
        log = open(os.path.join(tmp, "lanyardd.log"), "w+", encoding="utf-8")
        proc = subprocess.Popen([DAEMON, "--config", path], stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while not os.path.exists(config["socket_path"]):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise Failure("lanyardd %s before its socket appeared: %s" % (
                    "exited %s" % proc.returncode if proc.returncode is not None
                    else "timed out", log.read().strip()[-2000:]))
            time.sleep(0.05)
        # The DaemonSet's probes, as the kubelet sends them, answer 200 (ready once serving).
        c = agent_container(objects)
        for probe in ("livenessProbe", "readinessProbe"):
            path = c[probe]["httpGet"]["path"]
            status = http_status(port, path, deadline)
            check(status == 200, "%s GET %s answered %s, want 200" % (probe, path, status))
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=20)
        check(rc == 0, "lanyardd exited %d on SIGTERM" % rc)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


@case("the DaemonSet shares the node's PID namespace (hostPID: true) and runs as its "
      "service account")
def host_pid():
    objects = manifests()
    spec = daemonset(objects)["spec"]["template"]["spec"]
    check(spec.get("hostPID") is True, "hostPID is %r: attestation reads /proc/<pid> of callers "
          "in other pods" % spec.get("hostPID"))
    sa = one(objects, "ServiceAccount")["metadata"]["name"]
    check(spec.get("serviceAccountName") == sa, "serviceAccountName %r, ServiceAccount %r" %
          (spec.get("serviceAccountName"), sa))


@case("the socket's directory is a hostPath mounted at the same path, and the example workload "
      "mounts that hostPath and points SPIFFE_ENDPOINT_SOCKET at the socket")
def socket_dir_shared():
    objects = manifests()
    socket = effective_config(objects)["socket_path"]
    sock_dir = os.path.dirname(socket)
    spec = daemonset(objects)["spec"]["template"]["spec"]
    host, mount = host_path_mount(spec, agent_container(objects), sock_dir)
    check(host.rstrip("/") == sock_dir, "hostPath %s is mounted at %s: workloads would look for "
          "the socket on the node at %s" % (host, sock_dir, host))
    check(not mount.get("readOnly"), "the agent mounts the socket directory read-only")
    pods = [d for d in load_all(WORKLOAD) if d.get("kind") == "Pod"]
    check(len(pods) == 1, "want one Pod in %s" % WORKLOAD)
    pod = pods[0]["spec"]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for c in pod["containers"]:
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        endpoint = env.get("SPIFFE_ENDPOINT_SOCKET")
        check(endpoint is not None, "workload container %s sets no SPIFFE_ENDPOINT_SOCKET" %
              c["name"])
        check(endpoint.startswith("unix://"), "SPIFFE_ENDPOINT_SOCKET %r is not unix://" %
              endpoint)
        inside = endpoint[len("unix://"):]
        mounts = [m for m in c.get("volumeMounts", [])
                  if m["mountPath"].rstrip("/") == os.path.dirname(inside)]
        check(mounts, "nothing is mounted at %s in workload container %s" %
              (os.path.dirname(inside), c["name"]))
        v = volumes[mounts[0]["name"]]
        check(v.get("hostPath", {}).get("path", "").rstrip("/") == host.rstrip("/"),
              "workload volume %s is not the hostPath %s" % (v["name"], host))
        check(os.path.basename(inside) == os.path.basename(socket),
              "the workload's socket is %s, the agent's %s" % (inside, socket))


@case("data_dir is a hostPath at the same path, so the CA and trust bundle survive restarts")
def data_dir_host_path():
    objects = manifests()
    data_dir = effective_config(objects)["data_dir"]
    spec = daemonset(objects)["spec"]["template"]["spec"]
    host, mount = host_path_mount(spec, agent_container(objects), data_dir)
    check(host.rstrip("/") == data_dir.rstrip("/"), "hostPath %s mounted at %s" % (host, data_dir))
    check(not mount.get("readOnly"), "data_dir is mounted read-only")


@case("the container's --config names a key of the ConfigMap mounted read-only at its directory")
def config_mounted():
    objects = manifests()
    path = config_path(objects)
    spec = daemonset(objects)["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    mounts = [m for m in agent_container(objects).get("volumeMounts", [])
              if m["mountPath"].rstrip("/") == os.path.dirname(path)]
    check(mounts, "nothing is mounted at %s" % os.path.dirname(path))
    v = volumes.get(mounts[0]["name"], {})
    cm = one(objects, "ConfigMap")["metadata"]["name"]
    check(v.get("configMap", {}).get("name") == cm, "the volume at %s is not ConfigMap %s" %
          (os.path.dirname(path), cm))
    check(mounts[0].get("readOnly") is True, "the ConfigMap is mounted writable")
    config_text(objects)  # the key exists


@case("readiness probes GET /ready and liveness GET /live on health.listen's port, which "
      "listens beyond loopback (the kubelet connects to the pod IP)")
def probes():
    objects = manifests()
    host, port = split_listen(effective_config(objects)["health"]["listen"])
    default_port = split_listen(daemon_defaults()["health"]["listen"])[1]
    check(port == default_port, "health port %d, the daemon's default is %d" %
          (port, default_port))
    check(host in ("0.0.0.0", "::", ""), "health.listen host %r: the kubelet probes the pod IP, "
          "so it must listen on every address of the pod" % host)
    c = agent_container(objects)
    for probe, path in (("readinessProbe", READY_PATH), ("livenessProbe", LIVE_PATH)):
        p = c.get(probe)
        check(p is not None and "httpGet" in p, "%s is not an httpGet probe" % probe)
        got_path = p["httpGet"].get("path")
        check(got_path == path, "%s path %r, want %r" % (probe, got_path, path))
        got_port = port_number(c, p["httpGet"]["port"])
        check(got_port == port, "%s port %s, health.listen port %d" % (probe, got_port, port))


@case("RBAC: the ClusterRole grants get on pods, nodes and nodes/proxy and only read verbs; "
      "the binding gives it to the DaemonSet's service account")
def rbac():
    objects = manifests()
    role = one(objects, "ClusterRole")
    granted = set()
    for rule in role["rules"]:
        verbs = set(rule.get("verbs", []))
        check(verbs <= READ_VERBS, "rule %s grants %s beyond read" % (rule, verbs - READ_VERBS))
        if "" in rule.get("apiGroups", []) and "get" in verbs:
            granted |= set(rule.get("resources", []))
    check(RBAC_NEEDED <= granted, "get is missing on %s" % sorted(RBAC_NEEDED - granted))
    binding = one(objects, "ClusterRoleBinding")
    check(binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                 "name": role["metadata"]["name"]},
          "roleRef %s does not name ClusterRole %s" % (binding["roleRef"],
                                                       role["metadata"]["name"]))
    sa = one(objects, "ServiceAccount")["metadata"]
    check({"kind": "ServiceAccount", "name": sa["name"], "namespace": sa["namespace"]}
          in binding["subjects"], "the binding's subjects do not include ServiceAccount %s/%s" %
          (sa["namespace"], sa["name"]))


@case("the ConfigMap's k8s attestor reads the kubelet's address and the node name from "
      "variables the DaemonSet sets from the downward API (status.hostIP, spec.nodeName), and "
      "its service account mounts the token and CA it reads")
def k8s_attestor_env():
    objects = manifests()
    config = yaml.safe_load(config_text(objects))
    k8s = (config.get("attestors") or {}).get("k8s")
    check(isinstance(k8s, dict), "the ConfigMap does not enable the k8s attestor")
    env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
           for e in agent_container(objects).get("env", [])}
    for key, field in (("kubelet_host_env", "status.hostIP"), ("node_name_env", "spec.nodeName")):
        name = k8s.get(key)
        check(name, "attestors.k8s.%s is not set" % key)
        check(env.get(name) == field, "attestors.k8s.%s names %r, which the DaemonSet sets from %r, "
              "want %s" % (key, name, env.get(name), field))
    spec = daemonset(objects)["spec"]["template"]["spec"]
    check(spec.get("automountServiceAccountToken", True) is not False,
          "automountServiceAccountToken is false: the token and CA the attestor reads are absent")
    for key in ("token_path", "kubelet_ca_path"):
        check(str(k8s.get(key, "/var/run/secrets/kubernetes.io/serviceaccount/")).startswith(
            "/var/run/secrets/kubernetes.io/serviceaccount/"),
            "attestors.k8s.%s is %r, not in the service account's mount" % (key, k8s.get(key)))


@case("the image tag is the project's version, and the Containerfile is multi-stage: a Debian 12 "
      "build stage, a debian:12-slim runtime with lanyardd as its entrypoint")
def image_and_containerfile():
    with open(os.path.join(SOURCE, "meson.build"), encoding="utf-8") as f:
        version = re.search(r"version\s*:\s*'([^']+)'", f.read()).group(1)
    objects = manifests()
    image = agent_container(objects)["image"]
    check(image.rsplit(":", 1)[-1] == version, "image %s, project version %s" % (image, version))
    k = load_all(os.path.join(K8S_DIR, "kustomization.yaml"))[0]
    tags = [i.get("newTag") for i in k.get("images", [])]
    check(tags in ([], [version]), "kustomization sets tag %s, project version %s" % (tags, version))
    with open(CONTAINERFILE, encoding="utf-8") as f:
        lines = [l.strip() for l in f if l.strip() and not l.lstrip().startswith("#")]
    froms = [l.split()[1] for l in lines if l.upper().startswith("FROM ")]
    check(len(froms) >= 2, "want a build and a runtime stage, found FROM %s" % froms)
    check(froms[0].startswith("debian:12") or froms[0].startswith("docker.io/library/debian:12"),
          "build stage is FROM %s" % froms[0])
    check(froms[-1].split("/")[-1] == "debian:12-slim", "runtime stage is FROM %s" % froms[-1])
    runtime = lines[max(i for i, l in enumerate(lines) if l.upper().startswith("FROM ")):]
    check(any(l.upper().startswith("COPY --FROM=") for l in runtime),
          "the runtime stage copies nothing from the build stage")
    entry = [l for l in runtime if l.upper().startswith("ENTRYPOINT")]
    check(entry and "lanyardd" in entry[-1], "the runtime stage's ENTRYPOINT is not lanyardd")
    check(any("-Dtests=disabled" in l for l in lines), "the build stage builds the tests too")
    users = [l.split()[1] for l in runtime if l.upper().startswith("USER ")]
    check(users and users[-1].split(":")[0] not in ("0", "root"),
          "the image's default user is root (USER %s): only the agent needs root" % users)


@case("the agent's securityContext: explicitly uid 0 (the image's default user is not), not "
      "privileged, no privilege escalation, read-only root, all capabilities dropped but "
      "SYS_PTRACE and DAC_READ_SEARCH")
def agent_security_context():
    sc = agent_container(manifests()).get("securityContext", {})
    check(sc.get("runAsUser") == 0, "runAsUser is %r, want 0" % sc.get("runAsUser"))
    check(sc.get("privileged") is not True, "the agent is privileged")
    check(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation is not false")
    check(sc.get("readOnlyRootFilesystem") is True, "the root filesystem is writable")
    caps = sc.get("capabilities", {})
    check(caps.get("drop") == ["ALL"], "capabilities.drop is %r, want [ALL]" % caps.get("drop"))
    check(set(caps.get("add", [])) <= {"SYS_PTRACE", "DAC_READ_SEARCH"},
          "capabilities.add %r goes beyond SYS_PTRACE and DAC_READ_SEARCH" % caps.get("add"))


# --- runner ----------------------------------------------------------------------------------

def run(selected):
    failed = 0
    for n, (name, fn) in enumerate(selected, 1):
        print("# " + name, flush=True)
        try:
            fn()
        except Exception as e:  # noqa: BLE001 (a crash is that case's failure)
            failed += 1
            print("not ok %d - %s" % (n, name))
            text = str(e) if isinstance(e, Failure) else traceback.format_exc()
            for line in text.splitlines():
                print("#\t" + line)
        else:
            print("ok %d - %s" % (n, name))
        sys.stdout.flush()
    print("1..%d" % len(selected))
    return failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reporter", choices=["tap"], default="tap")
    parser.add_argument("cases", nargs="*", help="run the cases whose name contains one of these")
    args = parser.parse_args()
    if not os.access(DAEMON, os.X_OK):
        print("Bail out! no lanyardd at %s (set LANYARD_DAEMON)" % DAEMON)
        return 1
    selected = [c for c in CASES if not args.cases or any(s in c[0] for s in args.cases)]
    return 1 if run(selected) else 0


if __name__ == "__main__":
    sys.exit(main())
