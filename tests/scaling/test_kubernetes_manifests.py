"""The Kubernetes manifests for the Bento's image agree with the service they run."""

from __future__ import annotations

from typing import Any

import yaml

from repo_copy import REPO_ROOT

MANIFESTS = REPO_ROOT / "deploy" / "kubernetes"
SERVICE_PORT = 3000  # what `bentoml serve` and the Bento's container listen on


def _load(name: str) -> dict[str, Any]:
    (document,) = list(yaml.safe_load_all((MANIFESTS / name).read_text()))
    return document


def _container() -> dict[str, Any]:
    (container,) = _load("deployment.yaml")["spec"]["template"]["spec"]["containers"]
    return container


def test_every_manifest_parses_as_one_kubernetes_object() -> None:
    kinds = {path.name: _load(path.name)["kind"] for path in sorted(MANIFESTS.glob("*.yaml"))}
    assert kinds == {
        "deployment.yaml": "Deployment",
        "hpa.yaml": "HorizontalPodAutoscaler",
        "service.yaml": "Service",
    }


def test_the_deployment_runs_the_bentos_image_with_probes_on_its_health_routes() -> None:
    bento_name = yaml.safe_load((REPO_ROOT / "bentofile.yaml").read_text())["name"]
    container = _container()
    assert container["image"].split(":")[0] == bento_name
    (port,) = container["ports"]
    assert port["containerPort"] == SERVICE_PORT
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": port["name"]}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    assert (
        container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
    )


def test_the_service_and_autoscaler_point_at_the_deployment() -> None:
    deployment, service, hpa = (_load(n) for n in ("deployment.yaml", "service.yaml", "hpa.yaml"))
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert service["spec"]["selector"] == labels
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == _container()["ports"][0]["name"]
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
