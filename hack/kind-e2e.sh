#!/usr/bin/env bash
# End to end on a throwaway kind cluster, for machines with Docker: build both images, install the chart (two
# operator replicas, `helm test`, the metrics API through its APIService), run a single-broker Kafka in the
# cluster, apply a pipeline, send a few requests and check every one is answered. test/real-node proves the same
# (and more) on a real node without Docker.
# The cluster is deleted on exit, whatever happened (KEEP_CLUSTER=true keeps it to look around).
#
#   hack/kind-e2e.sh
#
# Needs docker, kind and kubectl on PATH; helm too, or Go and the npm dependencies to build it (hack/helm.ts).
# Environment: KIND_CLUSTER (default kubesentiment-e2e), KEEP_CLUSTER (default false).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cluster=${KIND_CLUSTER:-kubesentiment-e2e}
context=kind-$cluster
tag=e2e
namespace=kubesentiment-system
kafka_image=$(sed -n 's/^ *image: *\(apache\/kafka:.*\)$/\1/p' hack/kind/kafka.yaml)
bootstrap=kafka.kafka.svc:9092

log() { echo "kind-e2e: $*" >&2; }
fail() {
  log "FAILED: $*"
  exit 1
}
need() { command -v "$1" >/dev/null 2>&1 || fail "'$1' is not on PATH: $2"; }

need docker "install Docker (kind runs the cluster in containers)"
need kind "install kind"
need kubectl "install kubectl"
helm=$(command -v helm || true)
if [ -z "$helm" ]; then
  log "no helm on PATH: building it from hack/helm/go.mod"
  helm=$(node --import tsx hack/helm.ts build)
fi

# Every command names the context, so nothing here can touch another cluster.
k() { kubectl --context "$context" "$@"; }
h() { "$helm" --kube-context "$context" "$@"; }

cleanup() {
  local status=$?
  if [ "$status" -ne 0 ]; then
    log "state at failure:"
    k get pods -A -o wide >&2 || true
    k describe sentimentpipeline e2e >&2 || true
    k -n "$namespace" logs deployment/kubesentiment-operator --tail=50 >&2 || true
  fi
  if [ "${KEEP_CLUSTER:-false}" = true ]; then
    log "keeping cluster $cluster (kind delete cluster --name $cluster)"
  else
    kind delete cluster --name "$cluster" >&2 || true
  fi
  exit "$status"
}
trap cleanup EXIT

log "creating cluster $cluster"
kind create cluster --name "$cluster" --wait 180s

log "building images (context: the repository root)"
docker build --target operator -t "kubesentiment/operator:$tag" .
docker build --target worker -t "kubesentiment/worker:$tag" .
kind load docker-image --name "$cluster" "kubesentiment/operator:$tag" "kubesentiment/worker:$tag"

log "starting a single-broker Kafka"
k apply -f hack/kind/kafka.yaml
k -n kafka rollout status deployment/kafka --timeout=300s

log "installing the chart: two operator replicas electing a leader"
h install kubesentiment charts/kubesentiment --namespace "$namespace" --create-namespace \
  --set image.tag="$tag" --set image.pullPolicy=Never --set workerImage.tag="$tag" --set replicaCount=2 \
  --wait --timeout 300s
h test kubesentiment --namespace "$namespace" --logs
k wait apiservice/v1beta1.external.metrics.k8s.io --for=condition=Available --timeout=120s
k get --raw /apis/external.metrics.k8s.io/v1beta1 | grep -q kubesentiment_consumer_lag ||
  fail "the operator's metrics API does not list kubesentiment_consumer_lag"

log "applying a pipeline"
k apply -f hack/kind/pipeline.yaml
k wait sentimentpipeline/e2e --for=condition=Ready --timeout=300s
k get sentimentpipeline e2e

# Console clients in throwaway pods of the Kafka image: key|value lines in, key|value lines out.
kafka_pod() {
  local name=$1
  shift
  k -n kafka run "$name" --rm -i --quiet --restart=Never --image="$kafka_image" --command -- "$@"
}

log "producing $(wc -l <hack/kind/requests.txt) requests"
kafka_pod producer /opt/kafka/bin/kafka-console-producer.sh --bootstrap-server "$bootstrap" \
  --topic e2e-requests --property parse.key=true --property key.separator='|' <hack/kind/requests.txt

log "reading the responses"
expected=$(wc -l <hack/kind/requests.txt)
responses=$(kafka_pod consumer /opt/kafka/bin/kafka-console-consumer.sh --bootstrap-server "$bootstrap" \
  --topic e2e-responses --from-beginning --max-messages "$expected" --timeout-ms 180000 \
  --property print.key=true --property key.separator='|')
echo "$responses"

while IFS='|' read -r id _; do
  grep -q "^$id|.*\"label\":\"\(positive\|negative\)\"" <<<"$responses" || fail "no response labelled for $id"
done <hack/kind/requests.txt
log "every request was answered"
