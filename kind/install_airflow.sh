#!/usr/bin/env bash
# `make kind-up`: the workbench on a local Kind cluster. Safe to run again: every step
# creates what is missing and updates what exists; the lake (./lake on the host) is
# never touched. Needs docker, kind, kubectl and helm, and in the environment:
#   GIT_SYNC_REPO      HTTPS URL of this repository (git-sync pulls dags/ from it)
#   GIT_SYNC_USERNAME  and GIT_SYNC_PASSWORD (a read-only token) for that repository
# Optional: GIT_SYNC_BRANCH (main), DATABRICKS_HOST and DATABRICKS_TOKEN.
set -euo pipefail

CLUSTER=stackexchange
NAMESPACE=airflow
IMAGE=stackexchange-airflow:local
CHART_VERSION=1.22.0
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"

fail() {
  echo "error: $*" >&2
  exit 1
}

# Everything is checked before anything changes.
declare -A HOW_TO_GET=(
  [docker]="https://docs.docker.com/engine/install/"
  [kind]="go install sigs.k8s.io/kind@v0.30.0 (or https://kind.sigs.k8s.io/docs/user/quick-start/)"
  [kubectl]="https://kubernetes.io/docs/tasks/tools/"
  [helm]="https://helm.sh/docs/intro/install/"
)
for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || fail "$tool is not installed; get it: ${HOW_TO_GET[$tool]}"
done
for variable in GIT_SYNC_REPO GIT_SYNC_USERNAME GIT_SYNC_PASSWORD; do
  [[ -n "${!variable:-}" ]] || fail "$variable is not set (see kind/git-sync-secret.yaml.example)"
done
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

docker build --file "$HERE/Dockerfile" --tag "$IMAGE" "$ROOT"
kind load docker-image "$IMAGE" --name "$CLUSTER"

kubectl create namespace "$NAMESPACE" --dry-run=client --output yaml | kubectl apply --filename -

# Secrets from the environment: nothing secret is written to a file.
kubectl create secret generic git-credentials --namespace "$NAMESPACE" \
  --from-literal=GITSYNC_USERNAME="$GIT_SYNC_USERNAME" \
  --from-literal=GITSYNC_PASSWORD="$GIT_SYNC_PASSWORD" \
  --from-literal=GIT_SYNC_USERNAME="$GIT_SYNC_USERNAME" \
  --from-literal=GIT_SYNC_PASSWORD="$GIT_SYNC_PASSWORD" \
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

helm repo add apache-airflow https://airflow.apache.org >/dev/null 2>&1 || true
helm repo update apache-airflow >/dev/null
helm upgrade --install airflow apache-airflow/airflow --version "$CHART_VERSION" \
  --namespace "$NAMESPACE" --values "$HERE/values-override.yaml" \
  --set dags.gitSync.repo="$GIT_SYNC_REPO" \
  --set dags.gitSync.branch="${GIT_SYNC_BRANCH:-main}" \
  --wait --timeout 15m

cat <<DONE
Airflow is up on Kind (cluster $CLUSTER, namespace $NAMESPACE).
  UI:        http://localhost:8088, or make kind-ui and http://localhost:8080
  S3 (lake): http://localhost:4567 from the host (the same ./lake as make local-run)
  Remove:    make kind-down (the lake in ./lake stays)
DONE
