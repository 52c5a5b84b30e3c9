"""The Kubernetes manifests, checked against the Kubernetes schemas."""

import kubernetes_validate
import pytest
import yaml

from shared.settings import PROJECT_ROOT
from tests.deploy.test_manifests import APP_SERVICES, PORTS, READS

K8S_DIR = PROJECT_ROOT / "deploy" / "k8s"


def k8s_documents() -> list[tuple[str, dict]]:
    documents = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        documents += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return documents


@pytest.mark.parametrize(
    ("name", "document"), k8s_documents(), ids=lambda value: value if isinstance(value, str) else value["kind"]
)
def test_kubernetes_manifests_match_the_schemas(name, document):
    kubernetes_validate.validate(document, "1.30", strict=True)


def test_kubernetes_validation_catches_a_mistake():
    deployment = next(doc for _, doc in k8s_documents() if doc["kind"] == "Deployment")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.30", strict=True)


def test_kubernetes_layout():
    kinds: dict[str, set[str]] = {}
    for _, document in k8s_documents():
        kinds.setdefault(document["kind"], set()).add(document["metadata"]["name"])
    assert kinds["Deployment"] == set(APP_SERVICES) == kinds["Service"]
    assert kinds["HorizontalPodAutoscaler"] == {"gateway"}
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    assert "secret.example.yaml" not in kustomization["resources"]
    for _, document in k8s_documents():
        if document["kind"] == "Deployment":
            pod = document["spec"]["template"]["spec"]
            container = pod["containers"][0]
            assert container["readinessProbe"] and container["livenessProbe"]
            assert pod["initContainers"][0]["command"][:3] == ["python", "-m", "deploy.migrate"]
            assert {"secretRef": {"name": "producer-services"}} in container["envFrom"]
    files = {f"{name}.yaml" for name in APP_SERVICES}
    assert files <= set(kustomization["resources"])


def test_kubernetes_services_are_wired_like_the_compose_file():
    by_kind = {(document["kind"], document["metadata"]["name"]): document for _, document in k8s_documents()}
    config = by_kind[("ConfigMap", "producer-services")]["data"]
    secret = by_kind[("Secret", "producer-services")]["stringData"]
    for name in APP_SERVICES:
        pod = by_kind[("Deployment", name)]["spec"]["template"]["spec"]
        assert pod["initContainers"][0]["command"] == ["python", "-m", "deploy.migrate", name]
        container = pod["containers"][0]
        command = " ".join(container["command"])
        assert f"--port {PORTS[name]} " in command
        assert container["ports"] == [{"name": "http", "containerPort": PORTS[name]}]
        assert by_kind[("Service", name)]["spec"]["ports"][0]["port"] == PORTS[name]
        assert config[f"{name.upper()}_ENVIRONMENT"] == "production"
        assert secret[f"{name.upper()}_DATABASE_URL"].endswith(f"/{name}")
        if name != "gateway":
            assert f"services.{name}.main:create_app" in command
            assert config[f"GATEWAY_{name.upper()}_URL"] == f"http://{name}:{PORTS[name]}"
        for upstream in READS.get(name, ()):
            assert config[f"{name.upper()}_{upstream.upper()}_URL"] == f"http://{upstream}:{PORTS[upstream]}"
