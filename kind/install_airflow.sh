#!/usr/bin/env bash
# `make kind-up`: the workbench on a local Kind cluster. Safe to run again: every step
# creates what is missing and updates what exists; the lake (./lake on the host) is
# never touched. Needs docker, kind, kubectl and helm ($HELM, which make builds).
# Optional, in the environment:
#   GIT_SYNC_REPO      HTTPS URL of this repository: git-sync pulls dags/ from it instead
#                      of the image's (values-git-sync.yaml), with GIT_SYNC_USERNAME and
#                      GIT_SYNC_PASSWORD (a read-only token) and GIT_SYNC_BRANCH (main)
#   DATABRICKS_HOST and DATABRICKS_TOKEN, for target databricks
#
# `install_airflow.sh template CHART.tgz` and `install_airflow.sh lint CHART.tgz` render
# or lint that chart package with the very values and flags an install gives, plus
# kind/s3.yaml, with no cluster: `make test` checks what they print.
# `install_airflow.sh password | ui | down`: the UI's password, a port-forward to the UI,
# the cluster deleted (the lake stays).
set -euo pipefail

CLUSTER=stackexchange
NAMESPACE=airflow
RELEASE=airflow
IMAGE=stackexchange-airflow:local
CHART_VERSION=1.22.0
HELM="${HELM:-helm}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"

fail() {
  echo "error: $*" >&2
  exit 1
}

# What every helm command of this script gives the chart. The scheduler pod runs the tasks
# (LocalExecutor): with these local settings it imports the providers before it forks them.
chart_flags=(--namespace "$NAMESPACE" --values "$HERE/values-override.yaml"
  --set-file "airflowLocalSettings=$ROOT/env/airflow_config/airflow_local_settings.py")
if [[ -n "${GIT_SYNC_REPO:-}" ]]; then
  branch=${GIT_SYNC_BRANCH:-main}
  # ref and branch both: the chart sets git-sync's GITSYNC_REF (default v2-2-stable)
  # from one and the deprecated GIT_SYNC_BRANCH from the other.
  chart_flags+=(--values "$HERE/values-git-sync.yaml"
    --set-string "dags.gitSync.repo=$GIT_SYNC_REPO"
    --set-string "dags.gitSync.ref=$branch" --set-string "dags.gitSync.branch=$branch")
fi

render_without_cluster() {
  local mode=$1 chart=${2:-} version kubernetes
  [[ -f "$chart" ]] || fail "install_airflow.sh $mode needs the chart package: install_airflow.sh $mode path/to/airflow-$CHART_VERSION.tgz"
  version=$("$HELM" show chart "$chart" | sed -n 's/^version: //p')
  [[ "$version" == "$CHART_VERSION" ]] || fail "$chart is chart $version; the install uses $CHART_VERSION: render that one, or change CHART_VERSION in kind/install_airflow.sh"
  # The Kubernetes of the node image cluster.yaml pins.
  kubernetes=$(sed -n 's|.*image: kindest/node:v\([0-9.]*\)@sha256:.*|\1|p' "$HERE/cluster.yaml")
  [[ -n "$kubernetes" ]] || fail "kind/cluster.yaml pins no node image (image: kindest/node:vX.Y.Z@sha256:...): pin the one of your kind release"
  case "$mode" in
    template)
      cat "$HERE/s3.yaml"
      echo "---"
      "$HELM" template "$RELEASE" "$chart" "${chart_flags[@]}" --kube-version "$kubernetes"
      ;;
    lint) "$HELM" lint "$chart" "${chart_flags[@]}" --kube-version "$kubernetes" --strict ;;
  esac
}

case "${1:-install}" in
  template | lint)
    render_without_cluster "$@"
    exit
    ;;
  password)
    # SimpleAuthManager writes it in the API server pod once: a new pod makes a new one.
    exec kubectl exec "deploy/$RELEASE-api-server" --namespace "$NAMESPACE" --container api-server \
      -- cat /opt/airflow/simple_auth_manager_passwords.json.generated
    ;;
  ui) exec kubectl port-forward "svc/$RELEASE-api-server" 8080:8080 --namespace "$NAMESPACE" ;;
  down) exec kind delete cluster --name "$CLUSTER" ;;
  install) ;;
  *) fail "unknown command $1: install_airflow.sh [install | template CHART.tgz | lint CHART.tgz | password | ui | down]" ;;
esac

# Everything is checked before anything changes.
declare -A HOW_TO_GET=(
  [docker]="https://docs.docker.com/engine/install/"
  [kind]="go install sigs.k8s.io/kind@v0.30.0 (or https://kind.sigs.k8s.io/docs/user/quick-start/)"
  [kubectl]="https://kubernetes.io/docs/tasks/tools/"
)
for tool in docker kind kubectl; do
  command -v "$tool" >/dev/null || fail "$tool is not installed; get it: ${HOW_TO_GET[$tool]}"
done
command -v "$HELM" >/dev/null || fail "$HELM is not installed; \`make kind-up\` builds it (make helm)"
if [[ -n "${GIT_SYNC_REPO:-}" ]]; then
  for variable in GIT_SYNC_USERNAME GIT_SYNC_PASSWORD; do
    [[ -n "${!variable:-}" ]] || fail "$variable is not set: git-sync needs it for GIT_SYNC_REPO (a user and a read-only token), or unset GIT_SYNC_REPO to use the image's DAGs"
  done
fi
[[ -d "$ROOT/.cache/jars" ]] || fail "the Spark jars are not cached yet; run \`make setup\` first"
docker info >/dev/null 2>&1 || fail "docker is installed but its daemon does not answer"

cd "$ROOT"
mkdir -p lake

if kind get clusters | grep -qx "$CLUSTER"; then
  echo "cluster $CLUSTER exists"
else
  kind create cluster --config "$HERE/cluster.yaml"
fi
kubectl config use-context "kind-$CLUSTER" >/dev/null

# The image records the commit it holds (its DAGs and their packages), -dirty if changed.
docker build --file "$HERE/Dockerfile" --tag "$IMAGE" \
  --label "org.opencontainers.image.revision=$(git describe --always --dirty 2>/dev/null || echo unknown)" "$ROOT"
kind load docker-image "$IMAGE" --name "$CLUSTER"

kubectl create namespace "$NAMESPACE" --dry-run=client --output yaml | kubectl apply --filename -

# Secrets from the environment: nothing secret is written to a file.
if [[ -n "${GIT_SYNC_REPO:-}" ]]; then
  kubectl create secret generic git-credentials --namespace "$NAMESPACE" \
    --from-literal=GITSYNC_USERNAME="$GIT_SYNC_USERNAME" \
    --from-literal=GITSYNC_PASSWORD="$GIT_SYNC_PASSWORD" \
    --from-literal=GIT_SYNC_USERNAME="$GIT_SYNC_USERNAME" \
    --from-literal=GIT_SYNC_PASSWORD="$GIT_SYNC_PASSWORD" \
    --dry-run=client --output yaml | kubectl apply --filename -
fi

# The metadata database's password: made once, then read back, since the database keeps
# the one it started with.
password=$(kubectl get secret airflow-postgresql-credentials --namespace "$NAMESPACE" \
  --output 'jsonpath={.data.postgres-password}' 2>/dev/null | base64 --decode || true)
if [[ -z "$password" ]]; then
  if kubectl get pvc "data-$RELEASE-postgresql-0" --namespace "$NAMESPACE" >/dev/null 2>&1; then
    fail "the metadata database exists but its password Secret does not (a cluster made before it): make kind-down, then make kind-up (./lake stays)"
  fi
  password=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
fi
kubectl create secret generic airflow-postgresql-credentials --namespace "$NAMESPACE" \
  --from-literal=postgres-password="$password" \
  --dry-run=client --output yaml | kubectl apply --filename -
kubectl create secret generic airflow-metadata-connection --namespace "$NAMESPACE" \
  --from-literal=connection="postgresql://postgres:$password@$RELEASE-postgresql.$NAMESPACE:5432/postgres?sslmode=disable" \
  --dry-run=client --output yaml | kubectl apply --filename -

# The in-cluster S3 server takes any credentials (as LocalStack does); these are the
# emulator's fixed test keys.
aws_conn='{"conn_type": "aws", "login": "test", "password": "test", "extra": {"endpoint_url": "http://s3.airflow.svc.cluster.local:4566", "region_name": "us-east-1"}}'
connection_literals=(--from-literal=AIRFLOW_CONN_AWS_CONN="$aws_conn"
  --from-literal=AIRFLOW_VAR_LAKEHOUSE_TARGET=local)
if [[ -n "${DATABRICKS_HOST:-}" && -n "${DATABRICKS_TOKEN:-}" ]]; then
  databricks_conn="{\"conn_type\": \"databricks\", \"host\": \"$DATABRICKS_HOST\", \"password\": \"$DATABRICKS_TOKEN\"}"
  connection_literals+=(--from-literal=AIRFLOW_CONN_DATABRICKS_CONN="$databricks_conn")
fi
kubectl create secret generic airflow-connections --namespace "$NAMESPACE" \
  "${connection_literals[@]}" --dry-run=client --output yaml | kubectl apply --filename -

kubectl apply --filename "$HERE/s3.yaml"
kubectl rollout status deployment/s3 --namespace "$NAMESPACE" --timeout=180s

"$HELM" repo add apache-airflow https://airflow.apache.org >/dev/null 2>&1 || true
"$HELM" repo update apache-airflow >/dev/null
"$HELM" upgrade --install "$RELEASE" apache-airflow/airflow --version "$CHART_VERSION" \
  "${chart_flags[@]}" --wait --timeout 15m

cat <<DONE
Airflow is up on Kind (cluster $CLUSTER, namespace $NAMESPACE).
  UI:        http://localhost:8088, or make kind-ui and http://localhost:8080
             user admin; its password: make kind-password (a new one if the pod restarts)
  S3 (lake): http://localhost:4567 from the host (the same ./lake as make local-run)
  Remove:    make kind-down (the lake in ./lake stays)
DONE
