"""Every pinned version of the platform layer, in one place: an upgrade is a one-line change here
(plus the preview diff a reviewer reads). Evidence gathered November 2026 from upstream release
notes; confirm EKS add-on builds for the cluster version before an upgrade with
`aws eks describe-addon-versions --kubernetes-version <v> --addon-name <name>`."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    chart: str
    version: str
    repo: str | None = None  # None when `chart` is a full oci:// reference


ISTIO = "1.30.4"
GRAFANA = "https://grafana.github.io/helm-charts"
GRAFANA_COMMUNITY = "https://grafana-community.github.io/helm-charts"

CHARTS: dict[str, Chart] = {
    # Chart versions follow the controller's since 3.0 (eks-charts#1312).
    "aws-load-balancer-controller": Chart("aws-load-balancer-controller", "3.4.2", "https://aws.github.io/eks-charts"),
    # F5's NGINX Ingress Controller 5.5 (not the retired community ingress-nginx).
    "nginx-ingress": Chart("oci://ghcr.io/nginx/charts/nginx-ingress", "2.6.0"),
    "istio-base": Chart("base", ISTIO, "https://istio-release.storage.googleapis.com/charts"),
    "istio-cni": Chart("cni", ISTIO, "https://istio-release.storage.googleapis.com/charts"),
    "istiod": Chart("istiod", ISTIO, "https://istio-release.storage.googleapis.com/charts"),
    "metrics-server": Chart("metrics-server", "3.14.0", "https://kubernetes-sigs.github.io/metrics-server/"),
    # The kubernetes/autoscaler VPA chart still calls itself pre-production; Fairwinds' is the
    # maintained upstream chart of the same VPA images.
    "vertical-pod-autoscaler": Chart("vpa", "4.10.1", "https://charts.fairwinds.com/stable"),
    "cluster-autoscaler": Chart("cluster-autoscaler", "9.59.0", "https://kubernetes.github.io/autoscaler"),  # app 1.35
    "external-secrets": Chart("external-secrets", "2.11.0", "https://charts.external-secrets.io"),
    "keda": Chart("keda", "2.20.2", "https://kedacore.github.io/charts"),
    # LGTM. Loki, Tempo and Grafana moved to the grafana-community repository in 2026 (the
    # grafana repository is frozen for them); Mimir and Alloy stay with Grafana Labs.
    "loki": Chart("loki", "18.13.0", GRAFANA_COMMUNITY),
    # Tempo 3 needs an external Kafka; the 2.x line runs without it.
    "tempo": Chart("tempo-distributed", "2.26.1", GRAFANA_COMMUNITY),
    "mimir": Chart("mimir-distributed", "6.2.0", GRAFANA),
    "grafana": Chart("grafana", "12.11.2", GRAFANA_COMMUNITY),
    "alloy": Chart("alloy", "1.12.1", GRAFANA),
    # Velero 1.17 (chart 11.x); the chart version is the least certain pin here: confirm with
    # `helm search repo vmware-tanzu/velero --versions` before the first deployment.
    "velero": Chart("velero", "11.1.0", "https://vmware-tanzu.github.io/helm-charts"),
}

VELERO_AWS_PLUGIN = "velero/velero-plugin-for-aws:v1.13.0"

# AWS-managed EKS add-ons for Kubernetes 1.35 (the cluster version in config).
EKS_ADDONS: dict[str, str] = {
    "vpc-cni": "v1.22.3-eksbuild.1",
    "kube-proxy": "v1.35.3-eksbuild.17",
    "coredns": "v1.13.2-eksbuild.11",
    "aws-ebs-csi-driver": "v1.63.1-eksbuild.1",
    # Container Insights. 5.3 broke the agent's EKS resource detector (dropped a configmap read);
    # 4.10.3 is the build AWS's own Application Signals demo pinned as the fix.
    "amazon-cloudwatch-observability": "v4.10.3-eksbuild.1",
}

REDIS_ENGINE_VERSION = "7.1"
