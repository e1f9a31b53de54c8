"""Every pinned version of the platform layer, in one place: an upgrade is a one-line change here
(plus the preview diff a reviewer reads). Each pin names where it was verified. Helm value key
lists of every chart pin live in planner/helm_keys/ (regenerate them with its extract.py when a
chart pin moves; tests/test_helm_keys.py fails until then); Renovate watches this file
(renovate.json). Confirm EKS add-on builds for the cluster version before an upgrade with
`aws eks describe-addon-versions --kubernetes-version <v> --addon-name <name>`."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    chart: str
    version: str
    repo: str | None = None  # None when `chart` is a full oci:// reference


# 1.30.5 carries a security fix over 1.30.4 (the issue 11 review read it upstream); the offline
# evidence here ends at istio/istio tag 1.30.3, so confirm with `helm search repo istio/istiod`.
ISTIO = "1.30.5"
GRAFANA = "https://grafana.github.io/helm-charts"
GRAFANA_COMMUNITY = "https://grafana-community.github.io/helm-charts"

# One line per pin (Renovate's regex and tests/test_renovate.py read them): keep the formatter out.
# fmt: off
CHARTS: dict[str, Chart] = {
    # Chart versions follow the controller's since 3.0 (eks-charts#1312).
    "aws-load-balancer-controller": Chart("aws-load-balancer-controller", "3.5.0", "https://aws.github.io/eks-charts"),  # aws/eks-charts tag v0.0.242 (#1354)
    # F5's NGINX Ingress Controller 5.5 (not the retired community ingress-nginx).
    "nginx-ingress": Chart("oci://ghcr.io/nginx/charts/nginx-ingress", "2.6.4"),  # nginx/kubernetes-ingress tag v5.5.4 Chart.yaml
    "istio-base": Chart("base", ISTIO, "https://istio-release.storage.googleapis.com/charts"),
    "istio-cni": Chart("cni", ISTIO, "https://istio-release.storage.googleapis.com/charts"),
    "istiod": Chart("istiod", ISTIO, "https://istio-release.storage.googleapis.com/charts"),
    "metrics-server": Chart("metrics-server", "3.14.0", "https://kubernetes-sigs.github.io/metrics-server/"),  # not verified: newest seen tag metrics-server-helm-chart-3.13.1
    # The kubernetes/autoscaler VPA chart still calls itself pre-production; Fairwinds' is the
    # maintained upstream chart of the same VPA images. 5.0 (VPA 1.7.1) has 4.12.5's values, but
    # apply the chart's crds/ before upgrading an existing release (Helm skips CRDs on upgrade).
    "vertical-pod-autoscaler": Chart("vpa", "5.0.0", "https://charts.fairwinds.com/stable"),  # FairwindsOps/charts 5f478fce stable/vpa/Chart.yaml
    "cluster-autoscaler": Chart("cluster-autoscaler", "9.59.0", "https://kubernetes.github.io/autoscaler"),  # kubernetes/autoscaler tag cluster-autoscaler-chart-9.59.0 (app 1.35)
    "external-secrets": Chart("external-secrets", "2.11.0", "https://charts.external-secrets.io"),  # linode/apl-core#3681 (2026-09-22)
    "keda": Chart("keda", "2.20.2", "https://kedacore.github.io/charts"),  # kedacore/charts tag v2.20.2
    # LGTM. Loki, Tempo and Grafana moved to the grafana-community repository in 2026 (the
    # grafana repository is frozen for them); Mimir and Alloy stay with Grafana Labs.
    "loki": Chart("loki", "18.13.0", GRAFANA_COMMUNITY),  # entigolabs/entigo-infralib#1732 (2026-09-14)
    # Tempo 3 needs an external Kafka; the 2.x line runs without it.
    "tempo": Chart("tempo-distributed", "2.26.2", GRAFANA_COMMUNITY),  # grafana-community/helm-charts tag tempo-distributed-2.26.2
    "mimir": Chart("mimir-distributed", "6.2.0", GRAFANA),  # grafana/helm-charts tag mimir-distributed-6.2.0
    "grafana": Chart("grafana", "12.11.2", GRAFANA_COMMUNITY),  # entigolabs/entigo-infralib#1638 (2026-08-26)
    "alloy": Chart("alloy", "1.12.1", GRAFANA),  # entigolabs/entigo-infralib#1652 (2026-08-31)
    # Velero 1.17 (chart 11.x). Chart 12 is Velero 1.18, which needs AWS plugin 1.14, found only
    # as v1.14.0-rc.1: the 1.17 line stays.
    "velero": Chart("velero", "11.4.0", "https://vmware-tanzu.github.io/helm-charts"),  # vmware-tanzu/helm-charts tag velero-11.4.0 (app 1.17.1)
}
# fmt: on

# Plugin 1.13 pairs with Velero 1.17.
VELERO_AWS_PLUGIN = "velero/velero-plugin-for-aws:v1.13.2"  # vmware-tanzu/velero-plugin-for-aws tag v1.13.2

# AWS-managed EKS add-ons for Kubernetes 1.35 (the cluster version in config). Not verifiable
# offline beyond the notes below; Renovate cannot look these up either.
EKS_ADDONS: dict[str, str] = {
    "vpc-cni": "v1.22.3-eksbuild.1",  # build exists: ministryofjustice/cloud-platform-infrastructure#4678
    "kube-proxy": "v1.35.3-eksbuild.17",  # not verified
    "coredns": "v1.13.2-eksbuild.11",  # not verified
    "aws-ebs-csi-driver": "v1.63.1-eksbuild.1",  # not verified
    # Container Insights. 5.3 broke the agent's EKS resource detector (dropped a configmap read);
    # 4.10.3 is the build AWS's own Application Signals demo pinned as the fix.
    "amazon-cloudwatch-observability": "v4.10.3-eksbuild.1",  # not re-verified
}

# ElastiCache: 7.1 is the last Redis OSS engine line (newer lines are Valkey).
REDIS_ENGINE_VERSION = "7.1"
