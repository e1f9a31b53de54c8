#!/usr/bin/env bash
# Regenerates every key list. VALUES_DIR holds <chart-key>.values.yaml (and <chart-key>.Chart.yaml
# for charts with sub-chart dependencies), each read from the source named below, e.g.
#   git --git-dir=<istio/istio clone> show 1.30.3:manifests/charts/base/values.yaml > "$VALUES_DIR/istio-base.values.yaml"
# When a chart pin moves, change its line here to the new tag and rerun.
set -euo pipefail
VALUES_DIR=${1:?usage: regenerate.sh VALUES_DIR}
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
x() { # chart-key source [note]
  local key=$1 source=$2 note=${3:-}
  local args=("$key" "$VALUES_DIR/$key.values.yaml" "$source")
  [[ -f $VALUES_DIR/$key.Chart.yaml ]] && args+=(--chart-yaml "$VALUES_DIR/$key.Chart.yaml")
  [[ -n $note ]] && args+=(--note "$note")
  "$PY" planner/helm_keys/extract.py "${args[@]}"
}
ISTIO_NOTE="tag 1.30.4 not in the offline evidence: keys read at tag 1.30.3"
x aws-load-balancer-controller "aws/eks-charts@v0.0.242:stable/aws-load-balancer-controller/values.yaml"
x nginx-ingress "nginx/kubernetes-ingress@v5.5.4:charts/nginx-ingress/values.yaml"
x istio-base "istio/istio@1.30.3:manifests/charts/base/values.yaml" "$ISTIO_NOTE"
x istio-cni "istio/istio@1.30.3:manifests/charts/istio-cni/values.yaml" "$ISTIO_NOTE"
x istiod "istio/istio@1.30.3:manifests/charts/istio-control/istio-discovery/values.yaml" "$ISTIO_NOTE"
x metrics-server "kubernetes-sigs/metrics-server@metrics-server-helm-chart-3.13.1:charts/metrics-server/values.yaml" \
  "chart 3.14.0 not in the offline evidence: keys read at 3.13.1"
x vertical-pod-autoscaler "FairwindsOps/charts@5f478fce:stable/vpa/values.yaml" \
  "the repository has no tags: 5f478fce is the commit that set version 5.0.0"
x cluster-autoscaler "kubernetes/autoscaler@cluster-autoscaler-chart-9.59.0:cluster-autoscaler/charts/cluster-autoscaler/values.yaml"
x external-secrets "external-secrets/external-secrets@helm-chart-2.9.0:deploy/charts/external-secrets/values.yaml" \
  "tag helm-chart-2.11.0 not in the offline evidence: keys read at helm-chart-2.9.0"
x keda "kedacore/charts@v2.20.2:keda/values.yaml"
x loki "grafana-community/helm-charts@loki-18.11.0:charts/loki/values.yaml" \
  "tag loki-18.13.0 not in the offline evidence: keys read at loki-18.11.0"
x tempo "grafana-community/helm-charts@tempo-distributed-2.26.2:charts/tempo-distributed/values.yaml"
x grafana "grafana-community/helm-charts@grafana-12.11.1:charts/grafana/values.yaml" \
  "tag grafana-12.11.2 not in the offline evidence: keys read at grafana-12.11.1"
x alloy "grafana/alloy@helm-chart/1.11.1:operations/helm/charts/alloy/values.yaml" \
  "tag alloy 1.12.1 not in the offline evidence: keys read at helm-chart/1.11.1"
x velero "vmware-tanzu/helm-charts@velero-11.4.0:charts/velero/values.yaml"
"$PY" planner/helm_keys/extract.py mimir - "grafana/mimir@mimir-distributed-6.2.0:operations/helm/charts/mimir-distributed/values.yaml" \
  --note "not read: the grafana/mimir snapshot is over the offline size limit and the index holds only an old values.yaml; regenerate from that tag"
