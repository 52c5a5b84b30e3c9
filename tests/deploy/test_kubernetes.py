"""The Kubernetes manifests (deploy/k8s): the schemas, the restricted Pod Security profile, scaling and disruption,
the network the policies allow, the secrets each pod sees, and the connection budget."""

import configparser
import copy
import importlib
import inspect
import ipaddress
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from pydantic_settings import BaseSettings
from sqlalchemy.engine import make_url

from gateway.settings import GatewaySettings
from shared.server import HttpServerSettings
from shared.settings import PROJECT_ROOT, InternalAuthSettings, ServiceSettings
from tests.deploy.test_manifests import APP_SERVICES, PORTS, READS, WORKERS

K8S_DIR = PROJECT_ROOT / "deploy" / "k8s"
PGBOUNCER_DIR = K8S_DIR / "pgbouncer"
# For the Prometheus Operator: not in the base (its kinds need the operator's CRDs).
MONITORING_DIR = K8S_DIR / "monitoring"
NAMESPACE = "producer-services"
APP_IMAGE = "cq-producer-services"
SERVICES = tuple(name for name in APP_SERVICES if name != "gateway")
# The worker Deployments (`<service>-worker`: `python -m services.<service>.worker`, no HTTP), by their service.
WORKER_DEPLOYMENTS = {f"{name}-worker": name for name in WORKERS}
# The oldest Kubernetes the manifests are for (the namespace enforces its restricted profile) and the newest the
# validator knows.
OLDEST_KUBERNETES = "1.30"
SCHEMA_VERSIONS = (OLDEST_KUBERNETES, kubernetes_validate.utils.latest_version())
# PostgreSQL's default max_connections (100) less its superuser_reserved_connections (3).
POSTGRES_CONNECTIONS = 100 - 3

Document = dict[str, Any]


def load(path: Path) -> list[Document]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def resources_of(directory: Path) -> list[Path]:
    return [directory / entry for entry in yaml.safe_load((directory / "kustomization.yaml").read_text())["resources"]]


def base_documents() -> list[Document]:
    return [document for path in resources_of(K8S_DIR) for document in load(path)]


def pgbouncer_documents() -> list[Document]:
    return [document for path in resources_of(PGBOUNCER_DIR) for document in load(path)]


def monitoring_documents() -> list[Document]:
    return [document for path in resources_of(MONITORING_DIR) for document in load(path)]


def example_documents() -> list[Document]:
    return [
        *load(K8S_DIR / "secret.example.yaml"),
        *load(PGBOUNCER_DIR / "secret.example.yaml"),
        *load(MONITORING_DIR / "secret.example.yaml"),
    ]


def find(documents: list[Document], kind: str, name: str) -> Document:
    (document,) = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    return document


def of_kind(documents: list[Document], kind: str) -> list[Document]:
    return [document for document in documents if document["kind"] == kind]


def every_file_document() -> list[tuple[str, Document]]:
    # deploy/k8s/monitoring's PodMonitor and PrometheusRule are the operator's kinds, which the validator does not
    # know (their own test checks them); its Secret template is Kubernetes'.
    paths = [
        *sorted(K8S_DIR.glob("*.yaml")),
        *sorted(PGBOUNCER_DIR.glob("*.yaml")),
        MONITORING_DIR / "secret.example.yaml",
    ]
    return [
        (f"{path.relative_to(K8S_DIR)}:{document['kind']}/{document['metadata']['name']}", document)
        for path in paths
        if path.name != "kustomization.yaml"
        for document in load(path)
    ]


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
@pytest.mark.parametrize(("where", "document"), every_file_document(), ids=[w for w, _ in every_file_document()])
def test_every_manifest_matches_the_kubernetes_schemas(where, document, version):
    kubernetes_validate.validate(document, version, strict=True)


def test_kubernetes_validation_catches_a_mistake():
    broken = copy.deepcopy(find(base_documents(), "Deployment", "registry"))
    broken["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "eight thousand"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, OLDEST_KUBERNETES, strict=True)


def test_the_kustomization_holds_every_manifest_and_no_secret():
    listed = {path.name for path in resources_of(K8S_DIR)}
    on_disk = {path.name for path in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert listed == on_disk
    assert {path.name for path in resources_of(PGBOUNCER_DIR)} == {"pgbouncer.yaml"}
    assert {path.name for path in resources_of(MONITORING_DIR)} == {"pod-monitor.yaml", "prometheus-rule.yaml"}
    assert not of_kind(base_documents() + pgbouncer_documents() + monitoring_documents(), "Secret")
    assert {document["kind"] for document in example_documents()} == {"Secret"}
    for document in base_documents() + pgbouncer_documents() + monitoring_documents() + example_documents():
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == NAMESPACE


# -- the restricted Pod Security Standard ---------------------------------------------------------------------------
# https://kubernetes.io/docs/concepts/security/pod-security-standards/ as of Kubernetes 1.30 (the namespace's
# enforce-version): every baseline control, then every restricted one, each by its name there. Beyond the
# standard, this project's own two rules: a read-only root filesystem and no service-account token.

SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
RESTRICTED_VOLUME_TYPES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def containers_of(pod: Document) -> list[Document]:
    return pod.get("initContainers", []) + pod["containers"] + pod.get("ephemeralContainers", [])


def pod_security_violations(template: Document) -> set[str]:
    """The controls a pod template breaks, as `control: what` strings."""
    pod = template["spec"]
    pod_context = pod.get("securityContext", {})
    containers = containers_of(pod)
    contexts = [(container["name"], container.get("securityContext", {})) for container in containers]
    everything = [("the pod", pod_context), *contexts]
    found: set[str] = set()

    # Baseline.
    for who, context in everything:
        if context.get("windowsOptions", {}).get("hostProcess"):
            found.add(f"HostProcess: {who}")
        apparmor = context.get("appArmorProfile", {}).get("type")
        if apparmor not in (None, "RuntimeDefault", "Localhost"):
            found.add(f"AppArmor: {who} is {apparmor}")
        selinux = context.get("seLinuxOptions", {})
        if selinux.get("type", "") not in SELINUX_TYPES or "user" in selinux or "role" in selinux:
            found.add(f"SELinux: {who}")
        if context.get("seccompProfile", {}).get("type") == "Unconfined":
            found.add(f"Seccomp: {who} is Unconfined")
    for namespace in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(namespace):
            found.add(f"Host Namespaces: {namespace}")
    for who, context in contexts:
        if context.get("privileged"):
            found.add(f"Privileged Containers: {who}")
        if context.get("procMount", "Default") != "Default":
            found.add(f"/proc Mount Type: {who}")
    for container in containers:
        if any(port.get("hostPort", 0) for port in container.get("ports", [])):
            found.add(f"Host Ports: {container['name']}")
    for key, value in template.get("metadata", {}).get("annotations", {}).items():
        if key.startswith(APPARMOR_ANNOTATION) and value != "runtime/default" and not value.startswith("localhost/"):
            found.add(f"AppArmor: {key} is {value}")
    for sysctl in pod_context.get("sysctls", []):
        if sysctl["name"] not in SAFE_SYSCTLS:
            found.add(f"Sysctls: {sysctl['name']}")
    for volume in pod.get("volumes", []):
        if "hostPath" in volume:
            found.add(f"HostPath Volumes: {volume['name']}")

    # Restricted.
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            found.add(f"Volume Types: {volume['name']} is {', '.join(sorted(kinds))}")
    for who, context in contexts:
        if context.get("allowPrivilegeEscalation") is not False:
            found.add(f"Privilege Escalation: {who}")
        if context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is not True:
            found.add(f"Running as Non-root: {who}")
        seccomp = context.get("seccompProfile", pod_context.get("seccompProfile", {})).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.add(f"Seccomp: {who} has {seccomp}")
        capabilities = context.get("capabilities", {})
        if "ALL" not in capabilities.get("drop", []) or set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}:
            found.add(f"Capabilities: {who}")
    for who, context in everything:
        if context.get("runAsUser") == 0:
            found.add(f"Running as Non-root user: {who}")

    # This project's.
    for who, context in contexts:
        if context.get("readOnlyRootFilesystem") is not True:
            found.add(f"Read-only root filesystem: {who}")
    if pod.get("automountServiceAccountToken") is not False:
        found.add("Service-account token: mounted")
    return found


def pod_templates(documents: list[Document]) -> dict[str, Document]:
    return {document["metadata"]["name"]: document["spec"]["template"] for document in of_kind(documents, "Deployment")}


def test_the_namespace_enforces_the_restricted_profile():
    labels = find(base_documents(), "Namespace", NAMESPACE)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/enforce-version"] == f"v{OLDEST_KUBERNETES}"
    assert labels["pod-security.kubernetes.io/warn"] == labels["pod-security.kubernetes.io/audit"] == "restricted"


def test_every_pod_meets_the_restricted_profile():
    templates = pod_templates(base_documents() + pgbouncer_documents())
    assert set(templates) == {*APP_SERVICES, *WORKER_DEPLOYMENTS, "pgbouncer"}
    assert len(templates) == len(APP_SERVICES) + len(WORKERS) + 1 == 10
    for name, template in templates.items():
        assert pod_security_violations(template) == set(), name


def _container(template: Document, index: int = -1) -> Document:
    return containers_of(template["spec"])[index].setdefault("securityContext", {})


# Each break of a rule, and the controls that must catch it (container 0 is the migrate init container).
VIOLATIONS: dict[str, tuple[Callable[[Document], object], str | tuple[str, ...]]] = {
    "host process": (lambda t: _container(t).update(windowsOptions={"hostProcess": True}), "HostProcess"),
    "host network": (lambda t: t["spec"].update(hostNetwork=True), "Host Namespaces"),
    "host pid": (lambda t: t["spec"].update(hostPID=True), "Host Namespaces"),
    "host ipc": (lambda t: t["spec"].update(hostIPC=True), "Host Namespaces"),
    "privileged": (lambda t: _container(t).update(privileged=True), "Privileged Containers"),
    "an added capability": (lambda t: _container(t)["capabilities"].update(add=["NET_ADMIN"]), "Capabilities"),
    "capabilities not dropped": (lambda t: _container(t, 0).pop("capabilities"), "Capabilities"),
    # A host path is not among the restricted profile's volume types either.
    "a host path": (
        lambda t: t["spec"]["volumes"].append({"name": "host", "hostPath": {"path": "/"}}),
        ("HostPath Volumes", "Volume Types"),
    ),
    "a host port": (lambda t: t["spec"]["containers"][0]["ports"][0].update(hostPort=8080), "Host Ports"),
    "apparmor unconfined": (lambda t: _container(t).update(appArmorProfile={"type": "Unconfined"}), "AppArmor"),
    "apparmor annotation": (
        lambda t: t["metadata"]["annotations"].update({f"{APPARMOR_ANNOTATION}gateway": "unconfined"}),
        "AppArmor",
    ),
    "an selinux type": (lambda t: _container(t).update(seLinuxOptions={"type": "spc_t"}), "SELinux"),
    "an selinux user": (lambda t: _container(t).update(seLinuxOptions={"user": "system_u"}), "SELinux"),
    "proc unmasked": (lambda t: _container(t).update(procMount="Unmasked"), "/proc Mount Type"),
    "seccomp unconfined": (lambda t: _container(t).update(seccompProfile={"type": "Unconfined"}), "Seccomp"),
    "no seccomp": (lambda t: t["spec"]["securityContext"].pop("seccompProfile"), "Seccomp"),
    "an unsafe sysctl": (
        lambda t: t["spec"]["securityContext"].update(sysctls=[{"name": "kernel.msgmax", "value": "1"}]),
        "Sysctls",
    ),
    "an nfs volume": (
        lambda t: t["spec"]["volumes"].append({"name": "nfs", "nfs": {"server": "nfs", "path": "/"}}),
        "Volume Types",
    ),
    "escalation allowed": (lambda t: _container(t, 0).pop("allowPrivilegeEscalation"), "Privilege Escalation"),
    "root allowed": (lambda t: _container(t).update(runAsNonRoot=False), "Running as Non-root"),
    "no non-root rule": (lambda t: t["spec"]["securityContext"].pop("runAsNonRoot"), "Running as Non-root"),
    "uid 0": (lambda t: _container(t, 0).update(runAsUser=0), "Running as Non-root user"),
    "a writable root": (lambda t: _container(t).update(readOnlyRootFilesystem=False), "Read-only root filesystem"),
    "a mounted token": (lambda t: t["spec"].update(automountServiceAccountToken=True), "Service-account token"),
}


@pytest.mark.parametrize("violation", VIOLATIONS)
def test_a_pod_that_breaks_a_rule_is_caught(violation):
    break_rule, controls = VIOLATIONS[violation]
    template = copy.deepcopy(pod_templates(base_documents())["gateway"])
    break_rule(template)
    found = pod_security_violations(template)
    assert {entry.partition(":")[0] for entry in found} == ({controls} if isinstance(controls, str) else set(controls))


# -- scaling, disruption, probes --------------------------------------------------------------------------------


def selects(selector: Document, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels and matchExpressions) selects these labels."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        matched = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not matched:
            return False
    return True


def test_every_deployment_has_its_autoscaler_disruption_budget_spread_and_network_policy():
    documents = base_documents() + pgbouncer_documents()
    autoscalers = {
        document["spec"]["scaleTargetRef"]["name"]: document
        for document in of_kind(documents, "HorizontalPodAutoscaler")
    }
    for document in of_kind(documents, "HorizontalPodAutoscaler"):
        assert document["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    assert set(autoscalers) == set(APP_SERVICES)
    for deployment in of_kind(documents, "Deployment"):
        name = deployment["metadata"]["name"]
        spec = deployment["spec"]
        labels = spec["template"]["metadata"]["labels"]
        assert selects(spec["selector"], labels)
        if name in autoscalers:
            # The autoscaler owns the count: a `replicas` here would be reset on every apply.
            assert "replicas" not in spec, name
            assert 2 <= autoscalers[name]["spec"]["minReplicas"] < autoscalers[name]["spec"]["maxReplicas"]
        elif name in WORKER_DEPLOYMENTS:
            # Scaled by `replicas`; never more pods than that (the connection budget counts them).
            assert spec["replicas"] >= 1 and spec["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
        else:
            assert name == "pgbouncer" and spec["replicas"] >= 2
        (budget,) = [d for d in of_kind(documents, "PodDisruptionBudget") if selects(d["spec"]["selector"], labels)]
        assert budget["spec"]["maxUnavailable"] == 1
        own_policies = [
            policy
            for policy in of_kind(documents, "NetworkPolicy")
            if policy["spec"]["podSelector"].get("matchLabels") == {"app.kubernetes.io/name": name}
        ]
        assert len(own_policies) == 1 and set(own_policies[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        spread = {c["topologyKey"]: c for c in spec["template"]["spec"]["topologySpreadConstraints"]}
        assert spread["kubernetes.io/hostname"]["whenUnsatisfiable"] == "DoNotSchedule"
        assert all(selects(constraint["labelSelector"], labels) for constraint in spread.values())
        for container in containers_of(spec["template"]["spec"]):
            resources = container["resources"]
            assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}, name


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_every_component_starts_serves_and_stops_gracefully():
    documents = base_documents()
    # The longest a request may be in flight: the gateway waits this long for an upstream's answer.
    longest_request = GatewaySettings.model_fields["upstream_read_timeout"].default
    for name, template in pod_templates(documents).items():
        if name in WORKER_DEPLOYMENTS:
            continue  # test_every_worker_runs_its_services_queue_and_stops_gracefully
        pod = template["spec"]
        (container,) = pod["containers"]
        assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        sleep_command = container["lifecycle"]["preStop"]["exec"]["command"]
        assert sleep_command[0] == "sleep"
        drain = int(option(container["command"], "--timeout-graceful-shutdown"))
        assert drain >= longest_request
        assert pod["terminationGracePeriodSeconds"] > int(sleep_command[1]) + drain, name
        assert pod["enableServiceLinks"] is False


def test_every_worker_runs_its_services_queue_and_stops_gracefully():
    documents = base_documents()
    templates = pod_templates(documents)
    for deployment, name in WORKER_DEPLOYMENTS.items():
        pod = templates[deployment]["spec"]
        (migrate,) = pod["initContainers"]
        assert migrate["command"] == ["python", "-m", "deploy.migrate", name]
        (container,) = pod["containers"]
        assert container["command"] == ["python", "-m", f"services.{name}.worker"]
        # No HTTP: no port, no Service, no readiness; alive while it touches its health file after its heartbeats.
        assert "ports" not in container and "readinessProbe" not in container
        assert not [d for d in of_kind(documents, "Service") if d["metadata"]["name"] == deployment]
        probe = ["python", "-m", "deploy.worker_health", "--max-age", "60"]
        assert container["startupProbe"]["exec"]["command"] == container["livenessProbe"]["exec"]["command"] == probe
        health_file = {item["name"]: item["value"] for item in container["env"]}["WORKER_HEALTH_FILE"]
        assert any(health_file.startswith(f"{mount['mountPath']}/") for mount in container["volumeMounts"])
        # SIGTERM: no new job, the running ones finish within 30 s (shared/queue.py), inside the grace period.
        assert pod["terminationGracePeriodSeconds"] > 30 and "lifecycle" not in container
        assert pod["enableServiceLinks"] is False
        assert pod["serviceAccountName"] == deployment
        assert find(documents, "ServiceAccount", deployment)["automountServiceAccountToken"] is False
        labels = templates[deployment]["metadata"]["labels"]
        assert (
            labels["app.kubernetes.io/component"] == "worker" and "annotations" not in templates[deployment]["metadata"]
        )


def test_kubernetes_services_are_wired_like_the_compose_file():
    documents = base_documents()
    config = find(documents, "ConfigMap", NAMESPACE)["data"]
    for name in APP_SERVICES:
        pod = pod_templates(documents)[name]["spec"]
        (migrate,) = pod["initContainers"]
        assert migrate["command"] == ["python", "-m", "deploy.migrate", name]
        (container,) = pod["containers"]
        command = container["command"]
        assert option(command, "--port") == str(PORTS[name])
        assert option(command, "--http") == "shared.server:BoundedHttpToolsProtocol"
        assert "--no-proxy-headers" in command
        factory = "gateway.main:create_app" if name == "gateway" else f"services.{name}.main:create_app"
        assert option(command, "--factory") == factory
        assert container["ports"] == [{"name": "http", "containerPort": PORTS[name]}]
        service_ports = find(documents, "Service", name)["spec"]["ports"]
        assert service_ports == [{"name": "http", "port": PORTS[name], "targetPort": "http"}]
        assert pod["serviceAccountName"] == name
        assert find(documents, "ServiceAccount", name)["automountServiceAccountToken"] is False
        assert config[f"{name.upper()}_ENVIRONMENT"] == "production"
        if name != "gateway":
            assert config[f"GATEWAY_{name.upper()}_URL"] == f"http://{name}:{PORTS[name]}"
        for upstream in READS.get(name, ()):
            assert config[f"{name.upper()}_{upstream.upper()}_URL"] == f"http://{upstream}:{PORTS[upstream]}"


def test_the_ingress_reaches_the_gateway_over_tls_and_exposes_only_the_api():
    documents = base_documents()
    (ingress,) = of_kind(documents, "Ingress")
    (tls,) = ingress["spec"]["tls"]
    (rule,) = ingress["spec"]["rules"]
    assert tls["secretName"] and tls["hosts"] == [rule["host"]]
    paths = rule["http"]["paths"]
    assert {path["backend"]["service"]["name"] for path in paths} == {"gateway"}
    assert {path["backend"]["service"]["port"]["name"] for path in paths} == {"http"}

    def served(request_path: str) -> bool:
        for path in paths:
            if path["pathType"] == "Exact" and request_path == path["path"]:
                return True
            prefix = path["path"].rstrip("/")
            if path["pathType"] == "Prefix" and (request_path == prefix or request_path.startswith(f"{prefix}/")):
                return True
        return False

    assert all(served(p) for p in ("/api/v1/registry/districts", "/openapi.json", "/docs", "/docs/assets/x.css"))
    assert not any(served(p) for p in ("/metrics", "/healthz", "/readyz", "/"))
    annotations = ingress["metadata"]["annotations"]
    body_limit = re.fullmatch(r"(\d+)m", annotations["nginx.ingress.kubernetes.io/proxy-body-size"])
    assert body_limit and int(body_limit[1]) * 1024**2 >= GatewaySettings.model_fields["max_import_body_bytes"].default
    read_timeout = GatewaySettings.model_fields["upstream_read_timeout"].default
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) > read_timeout


# -- images ----------------------------------------------------------------------------------------------------


def test_every_image_is_a_version_and_the_release_is_set_once():
    (release,) = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())["images"]
    assert release["name"] == APP_IMAGE and re.fullmatch(r"\d+\.\d+\.\d+", release["newTag"])
    for name, template in pod_templates(base_documents() + pgbouncer_documents()).items():
        for container in containers_of(template["spec"]):
            image, _, tag = container["image"].rpartition(":")
            assert image and tag and tag != "latest" and "/" not in tag, container["image"]
            if name in APP_SERVICES or name in WORKER_DEPLOYMENTS:
                assert container["image"] == f"{APP_IMAGE}:{release['newTag']}"


def test_the_image_runs_as_the_user_the_pods_name():
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    user = re.search(r"useradd .*--uid (\d+) --gid app", dockerfile)
    group = re.search(r"groupadd .*--gid (\d+) app", dockerfile)
    assert user and group and "\nUSER app\n" in dockerfile
    for name in (*APP_SERVICES, *WORKER_DEPLOYMENTS):
        context = pod_templates(base_documents())[name]["spec"]["securityContext"]
        assert (context["runAsUser"], context["runAsGroup"]) == (int(user[1]), int(group[1]))


# -- secrets ---------------------------------------------------------------------------------------------------


def secret_references(container: Document) -> set[str]:
    names = {source["secretRef"]["name"] for source in container.get("envFrom", []) if "secretRef" in source}
    for variable in container.get("env", []):
        if reference := variable.get("valueFrom", {}).get("secretKeyRef"):
            names.add(reference["name"])
    return names


def test_each_pod_sees_only_its_own_secrets_and_the_owner_role_only_in_its_migration():
    templates = pod_templates(base_documents() + pgbouncer_documents())
    # A worker reads its service's Secrets, as its service's pods do.
    owners = {**{name: name for name in APP_SERVICES}, **WORKER_DEPLOYMENTS}
    for deployment, name in owners.items():
        pod = templates[deployment]["spec"]
        (migrate,) = pod["initContainers"]
        (container,) = pod["containers"]
        assert secret_references(migrate) == {f"{name}-runtime", f"{name}-migration"}
        assert secret_references(container) == {f"{name}-runtime"}
        assert not [volume for volume in pod["volumes"] if "secret" in volume or "projected" in volume]
    pgbouncer = templates["pgbouncer"]["spec"]
    assert [volume["secret"]["secretName"] for volume in pgbouncer["volumes"] if "secret" in volume] == ["pgbouncer"]
    assert not any(secret_references(container) for container in containers_of(pgbouncer))


def test_the_secret_templates_hold_one_component_each():
    secrets = {document["metadata"]["name"]: document["stringData"] for document in example_documents()}
    components = {f"{name}-{use}" for name in APP_SERVICES for use in ("runtime", "migration")}
    # pgbouncer's user list, and the token Prometheus presents (deploy/k8s/monitoring): the runtime Secrets' one.
    assert set(secrets) == components | {"pgbouncer", "metrics-token"}
    assert set(secrets["metrics-token"]) == {"token"}
    for name in APP_SERVICES:
        upper = name.upper()
        runtime, migration = secrets[f"{name}-runtime"], secrets[f"{name}-migration"]
        expected = {f"{upper}_DATABASE_URL", "INTERNAL_SECRET", "INTERNAL_PREVIOUS_SECRET", "METRICS_TOKEN"}
        assert set(runtime) == expected | ({"REDIS_URL"} if name == "gateway" else set())
        assert set(migration) == {f"{upper}_MIGRATION_DATABASE_URL"}
        runtime_url = make_url(runtime[f"{upper}_DATABASE_URL"])
        owner_url = make_url(migration[f"{upper}_MIGRATION_DATABASE_URL"])
        assert (runtime_url.username, runtime_url.database) == (name, name)
        assert (owner_url.username, owner_url.database) == (f"{name}_owner", name)
        assert runtime_url.drivername == owner_url.drivername == "postgresql+asyncpg"
    assert urlsplit(secrets["gateway-runtime"]["REDIS_URL"]).password
    listed = re.findall(r'^"([^"]+)" "', secrets["pgbouncer"]["userlist.txt"], re.MULTILINE)
    assert listed == list(APP_SERVICES)


# -- configuration and the connection budget ----------------------------------------------------------------------


def settings_class(name: str) -> type[ServiceSettings]:
    module = importlib.import_module("gateway.settings" if name == "gateway" else f"services.{name}.settings")
    (found,) = [
        candidate
        for _, candidate in inspect.getmembers(module, inspect.isclass)
        if issubclass(candidate, ServiceSettings) and candidate.__module__ == module.__name__
    ]
    return found


def environment_names(settings: type[BaseSettings]) -> set[str]:
    prefix = str(settings.model_config.get("env_prefix", "")).upper()
    names = set()
    for field_name, info in settings.model_fields.items():
        names.add(f"{prefix}{field_name.upper()}")
        choices = getattr(info.validation_alias, "choices", [])
        names |= {choice.upper() for choice in choices if isinstance(choice, str)}
    return names


def test_every_configmap_entry_is_a_setting_some_component_reads():
    config = find(base_documents(), "ConfigMap", NAMESPACE)["data"]
    known: set[str] = set()
    readers: list[type[BaseSettings]] = [settings_class(name) for name in APP_SERVICES]
    for settings in [*readers, InternalAuthSettings, HttpServerSettings]:
        known |= environment_names(settings)
    assert set(config) <= known, set(config) - known


def test_every_worker_setting_is_one_its_service_reads():
    templates = pod_templates(base_documents())
    for deployment, name in WORKER_DEPLOYMENTS.items():
        (container,) = templates[deployment]["spec"]["containers"]
        names = {item["name"] for item in container["env"]} - {"WORKER_HEALTH_FILE"}
        assert names <= environment_names(settings_class(name)), deployment


def test_the_configmap_and_secrets_make_valid_settings_for_every_component(monkeypatch):
    config = find(base_documents(), "ConfigMap", NAMESPACE)["data"]
    secrets = {document["metadata"]["name"]: document["stringData"] for document in example_documents()}
    for name in APP_SERVICES:
        with monkeypatch.context() as patch:
            for key in list(os.environ):
                if key.startswith((f"{name.upper()}_", "INTERNAL_", "METRICS_", "REDIS_")):
                    patch.delenv(key)
            for key, value in {**config, **secrets[f"{name}-runtime"], **secrets[f"{name}-migration"]}.items():
                patch.setenv(key, value)
            # The template's placeholder is a value production refuses: a real deployment sets its own.
            patch.setenv("INTERNAL_SECRET", "4f9c2a7e1b8d6035c9e4a1f7b2d8c6e0")
            settings = settings_class(name)()
        assert settings.environment == "production"
        assert settings.database_pool_size == int(config[f"{name.upper()}_DATABASE_POOL_SIZE"])
        assert settings.database_max_overflow == int(config[f"{name.upper()}_DATABASE_MAX_OVERFLOW"])
        assert make_url(settings.migration_database_url).username == f"{name}_owner"
    # A worker: the same, with its own container's settings on top.
    templates = pod_templates(base_documents())
    for deployment, name in WORKER_DEPLOYMENTS.items():
        (container,) = templates[deployment]["spec"]["containers"]
        own = {item["name"]: item["value"] for item in container["env"]}
        with monkeypatch.context() as patch:
            for key in list(os.environ):
                if key.startswith((f"{name.upper()}_", "INTERNAL_", "METRICS_", "REDIS_", "WORKER_")):
                    patch.delenv(key)
            for key, value in {**config, **secrets[f"{name}-runtime"], **own}.items():
                patch.setenv(key, value)
            patch.setenv("INTERNAL_SECRET", "4f9c2a7e1b8d6035c9e4a1f7b2d8c6e0")
            settings = settings_class(name)()
        assert settings.environment == "production", deployment
        assert settings.worker_concurrency == worker_concurrency(deployment, config)


def most_pods(documents: list[Document], name: str) -> int:
    """The pods of a component at most: its autoscaler's maximum, plus the one a rolling update adds."""
    autoscaler = find(documents, "HorizontalPodAutoscaler", name)
    surge = find(documents, "Deployment", name)["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
    return int(autoscaler["spec"]["maxReplicas"]) + int(surge)


def worker_setting(deployment: str, config: dict[str, str], setting: str) -> str | None:
    """A worker container's value of its service's `setting` (its own env, else the ConfigMap's), or None."""
    name = WORKER_DEPLOYMENTS[deployment]
    (container,) = pod_templates(base_documents())[deployment]["spec"]["containers"]
    own = {item["name"]: item["value"] for item in container.get("env", [])}
    key = f"{name.upper()}_{setting}"
    return own.get(key, config.get(key))


def worker_concurrency(deployment: str, config: dict[str, str]) -> int:
    value = worker_setting(deployment, config, "WORKER_CONCURRENCY")
    if value is None:
        default = settings_class(WORKER_DEPLOYMENTS[deployment]).model_fields["worker_concurrency"].default
        return int(default)
    return int(value)


# The queue's own connections in every worker process: its pool (2, make_queue) and one LISTEN connection.
QUEUE_CONNECTIONS = 2 + 1


def worker_connections(deployment: str, config: dict[str, str]) -> int:
    """The most connections one worker pod holds, as its main builds its engine (services/<name>/worker.py): the
    registry's and eligibility's 2 × concurrency + concurrency overflow; the notifications worker's pool (at most
    concurrency + 2) + overflow; plus the queue's."""
    concurrency = worker_concurrency(deployment, config)
    if deployment == "notifications-worker":
        pool = int(worker_setting(deployment, config, "DATABASE_POOL_SIZE") or 10)
        overflow = int(worker_setting(deployment, config, "DATABASE_MAX_OVERFLOW") or 10)
        engine = min(pool, concurrency + 2) + overflow
    else:
        engine = 3 * concurrency
    return engine + QUEUE_CONNECTIONS


def test_the_connection_budget_fits_postgresql_defaults():
    documents = base_documents()
    config = find(documents, "ConfigMap", NAMESPACE)["data"]
    budget = {
        name: most_pods(documents, name)
        * (int(config[f"{name.upper()}_DATABASE_POOL_SIZE"]) + int(config[f"{name.upper()}_DATABASE_MAX_OVERFLOW"]))
        for name in APP_SERVICES
    }
    # Workers never surge (maxSurge 0): at most `replicas` pods.
    budget |= {
        deployment: find(documents, "Deployment", deployment)["spec"]["replicas"]
        * worker_connections(deployment, config)
        for deployment in WORKER_DEPLOYMENTS
    }
    assert budget == {
        "gateway": 22,
        "registry": 15,
        "eligibility": 12,
        "ranking": 8,
        "monitoring": 8,
        "notifications": 8,
        "registry-worker": 6,
        "eligibility-worker": 6,
        "notifications-worker": 12,
    }
    assert sum(budget.values()) == 97 <= POSTGRES_CONNECTIONS


def test_with_pgbouncer_the_server_sees_its_pools_and_the_migrations():
    documents = base_documents() + pgbouncer_documents()
    ini = configparser.ConfigParser(inline_comment_prefixes=None)
    ini.read_string(find(documents, "ConfigMap", "pgbouncer")["data"]["pgbouncer.ini"])
    settings = ini["pgbouncer"]
    assert settings["pool_mode"] == "transaction" and int(settings["max_prepared_statements"]) > 0
    assert float(settings["query_wait_timeout"]) <= ServiceSettings.model_fields["database_pool_timeout"].default
    pools = {name: dict(item.split("=") for item in entry.split()) for name, entry in ini["databases"].items()}
    assert set(pools) == set(APP_SERVICES)
    assert all(pool["dbname"] == name and pool["port"] == "5432" for name, pool in pools.items())
    deployment = find(documents, "Deployment", "pgbouncer")["spec"]
    # Never a third replica during an update: the server sees at most `replicas` sets of pools.
    assert deployment["strategy"]["rollingUpdate"]["maxSurge"] == 0
    server_side = deployment["replicas"] * sum(int(pool["pool_size"]) for pool in pools.values())
    # The migrate init containers connect to the server itself: one connection per pod (the workers' too).
    migrations = sum(most_pods(documents, name) for name in APP_SERVICES)
    migrations += sum(
        find(documents, "Deployment", deployment)["spec"]["replicas"] for deployment in WORKER_DEPLOYMENTS
    )
    assert (server_side, migrations) == (60, 36)
    assert server_side + migrations <= POSTGRES_CONNECTIONS


# -- the network -----------------------------------------------------------------------------------------------

# Every namespace carries its name as a label (Kubernetes sets it); this one also those of namespace.yaml.
NAMESPACE_LABELS = {
    namespace: {"kubernetes.io/metadata.name": namespace}
    for namespace in (NAMESPACE, "ingress-nginx", "monitoring", "kube-system", "default", "observability")
}
NAMESPACE_LABELS[NAMESPACE] |= find(base_documents(), "Namespace", NAMESPACE)["metadata"]["labels"]
DATABASE_SERVER, REDIS_SERVER = "192.0.2.10", "192.0.2.20"
# NodeLocal DNSCache's default address: its pods use the host's network, so only an ipBlock reaches them.
NODE_LOCAL_DNS = "169.254.20.10"


@dataclass(frozen=True)
class Endpoint:
    """Something that may send or receive: a pod (with a namespace) or an address outside the cluster."""

    name: str
    namespace: str | None
    labels: dict[str, str]
    address: str
    ports: tuple[tuple[str, int, str], ...]  # (name, number, protocol) it listens on


def endpoints(documents: list[Document]) -> list[Endpoint]:
    pods = [
        Endpoint(
            name,
            NAMESPACE,
            template["metadata"]["labels"],
            f"10.244.1.{index}",
            tuple(
                (port["name"], port["containerPort"], port.get("protocol", "TCP"))
                for container in template["spec"]["containers"]
                for port in container.get("ports", [])
            ),
        )
        for index, (name, template) in enumerate(pod_templates(documents).items(), start=1)
    ]
    return [
        *pods,
        Endpoint(
            "ingress-nginx",
            "ingress-nginx",
            {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"},
            "10.244.2.1",
            (("https", 443, "TCP"),),
        ),
        Endpoint(
            "prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"}, "10.244.3.1", (("web", 9090, "TCP"),)
        ),
        Endpoint(
            "kube-dns",
            "kube-system",
            {"k8s-app": "kube-dns"},
            "10.244.4.1",
            (("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")),
        ),
        Endpoint("node-local-dns", None, {}, NODE_LOCAL_DNS, (("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"))),
        Endpoint(
            "otel-collector",
            "observability",
            {"app.kubernetes.io/name": "opentelemetry-collector"},
            "10.244.6.1",
            (("otlp-http", 4318, "TCP"),),
        ),
        # A pod of this namespace that is none of the components, and one with Prometheus's labels elsewhere.
        Endpoint("stranger", NAMESPACE, {"app.kubernetes.io/name": "debug"}, "10.244.1.99", (("http", 8080, "TCP"),)),
        Endpoint(
            "impostor", "default", {"app.kubernetes.io/name": "prometheus"}, "10.244.5.1", (("web", 9090, "TCP"),)
        ),
        Endpoint("postgres", None, {}, DATABASE_SERVER, (("postgres", 5432, "TCP"),)),
        Endpoint("redis", None, {}, REDIS_SERVER, (("redis", 6379, "TCP"),)),
        Endpoint("internet", None, {}, "203.0.113.7", (("https", 443, "TCP"),)),
    ]


def peer_matches(peer: Document, other: Endpoint) -> bool:
    """Whether a NetworkPolicy peer (of a policy in NAMESPACE) is `other`."""
    if "ipBlock" in peer:
        address = ipaddress.ip_address(other.address)
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(excluded) for excluded in block.get("except", [])
        )
    if other.namespace is None:
        return False  # pod and namespace selectors select pods only
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], NAMESPACE_LABELS[other.namespace]):
            return False
    elif other.namespace != NAMESPACE:
        return False
    return selects(peer.get("podSelector", {}), other.labels)


def port_matches(ports: list[Document] | None, port: tuple[str, int, str]) -> bool:
    name, number, protocol = port
    if not ports:
        return True
    for entry in ports:
        value = entry.get("port")
        if entry.get("protocol", "TCP") != protocol:
            continue
        if (
            value is None
            or value == name
            or (isinstance(value, int) and value <= number <= entry.get("endPort", value))
        ):
            return True
    return False


def policy_types(policy: Document) -> set[str]:
    spec = policy["spec"]
    return set(spec.get("policyTypes") or ["Ingress", *(["Egress"] if "egress" in spec else [])])


def allows(
    policies: list[Document], direction: str, subject: Endpoint, other: Endpoint, port: tuple[str, int, str]
) -> bool:
    """Whether the policies of `subject`'s namespace let it take (Ingress) or make (Egress) this connection."""
    if subject.namespace != NAMESPACE:
        return True  # only this namespace's pods are isolated here
    selecting = [
        p for p in policies if direction in policy_types(p) and selects(p["spec"]["podSelector"], subject.labels)
    ]
    if not selecting:
        return True
    rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    return any(
        (not rule.get(peers_key) or any(peer_matches(peer, other) for peer in rule[peers_key]))
        and port_matches(rule.get("ports"), port)
        for policy in selecting
        for rule in policy["spec"].get(rules_key) or []
    )


def allowed_connections(documents: list[Document]) -> set[tuple[str, str, str]]:
    """Every (from, to, port/protocol) the policies allow where one side is a pod of the namespace."""
    policies = of_kind(documents, "NetworkPolicy")
    assert {policy["metadata"]["namespace"] for policy in policies} == {NAMESPACE}
    everyone = endpoints(documents)
    found = set()
    for source in everyone:
        for target in everyone:
            if source is target or source.namespace is None or NAMESPACE not in (source.namespace, target.namespace):
                continue
            for port in target.ports:
                if allows(policies, "Egress", source, target, port) and allows(
                    policies, "Ingress", target, source, port
                ):
                    found.add((source.name, target.name, f"{port[1]}/{port[2]}"))
    return found


def intended_connections(with_pgbouncer: bool) -> set[tuple[str, str, str]]:
    """The network as designed: the ingress controller to the gateway; the gateway, and each service that reads
    another, to it; every component to its database, Prometheus to every component; the gateway to Redis; and any pod
    of the namespace (even one that is none of the components) to DNS (kube-dns, or NodeLocal DNSCache), but nowhere
    else."""
    clients = [*APP_SERVICES, *WORKER_DEPLOYMENTS, *(["pgbouncer"] if with_pgbouncer else [])]
    edges = {("ingress-nginx", "gateway", "8000/TCP"), ("gateway", "redis", "6379/TCP")}
    for name in [*clients, "stranger"]:
        for dns in ("kube-dns", "node-local-dns"):
            edges |= {(name, dns, "53/UDP"), (name, dns, "53/TCP")}
    for name in clients:
        edges.add((name, "postgres", "5432/TCP"))
    for name in APP_SERVICES:
        edges.add(("prometheus", name, f"{PORTS[name]}/TCP"))
    if with_pgbouncer:
        edges |= {(name, "pgbouncer", "6432/TCP") for name in (*APP_SERVICES, *WORKER_DEPLOYMENTS)}
    # Each worker reaches what it reads; nothing reaches a worker. The notifications worker also reaches the
    # subscribers' endpoints on the internet (https here), and nothing private.
    for deployment, name in WORKER_DEPLOYMENTS.items():
        edges |= {(deployment, upstream, f"{PORTS[upstream]}/TCP") for upstream in WORKERS[name]}
    edges.add(("notifications-worker", "internet", "443/TCP"))
    for name in SERVICES:
        edges.add(("gateway", name, f"{PORTS[name]}/TCP"))
    for reader, upstreams in READS.items():
        edges |= {(reader, upstream, f"{PORTS[upstream]}/TCP") for upstream in upstreams}
    return edges


def test_the_network_policies_allow_exactly_the_intended_connections():
    assert allowed_connections(base_documents()) == intended_connections(with_pgbouncer=False)


def test_with_pgbouncer_the_network_adds_only_its_connections():
    assert allowed_connections(base_documents() + pgbouncer_documents()) == intended_connections(with_pgbouncer=True)


def test_a_missing_or_widened_policy_changes_the_network():
    documents = base_documents()
    intended = intended_connections(with_pgbouncer=False)
    without_registry = [
        d for d in documents if not (d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "registry")
    ]
    # default-deny still isolates the registry: nobody reaches it any more.
    assert allowed_connections(without_registry) == {edge for edge in intended if edge[1] != "registry"}
    # Without default-deny either, anything reaches it, from anywhere.
    open_registry = [d for d in without_registry if d["metadata"]["name"] != "default-deny"]
    assert {("ingress-nginx", "registry", "8001/TCP"), ("impostor", "registry", "8001/TCP")} <= allowed_connections(
        open_registry
    )
    # One side widened alone opens nothing: ranking may send to monitoring, but monitoring does not take it.
    widened = copy.deepcopy(documents)
    ranking = find(widened, "NetworkPolicy", "ranking")
    ranking["spec"]["egress"].append(
        {"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "monitoring"}}}]}
    )
    assert allowed_connections(widened) == intended
    find(widened, "NetworkPolicy", "monitoring")["spec"]["ingress"].append({"from": [{"podSelector": {}}]})
    assert allowed_connections(widened) == intended | {("ranking", "monitoring", "8004/TCP")}


def commented_otlp_policy() -> Document:
    """The OTLP egress policy network-policies.yaml offers in a comment (after its `# ---`), as one would apply it."""
    text = (K8S_DIR / "network-policies.yaml").read_text()
    _, _, offered = text.partition("\n# ---\n")
    return yaml.safe_load("\n".join(line.removeprefix("#").removeprefix(" ") for line in offered.splitlines()))


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_the_offered_otlp_policy_lets_every_component_reach_the_collector_and_nothing_else(version):
    policy = commented_otlp_policy()
    kubernetes_validate.validate(policy, version, strict=True)
    assert allowed_connections(base_documents()) == intended_connections(with_pgbouncer=False)  # not applied
    assert allowed_connections([*base_documents(), policy]) == intended_connections(with_pgbouncer=False) | {
        (name, "otel-collector", "4318/TCP") for name in (*APP_SERVICES, *WORKER_DEPLOYMENTS)
    }


def test_the_database_address_is_the_same_everywhere():
    documents = base_documents() + pgbouncer_documents()
    blocks = {
        peer["ipBlock"]["cidr"]
        for policy in of_kind(documents, "NetworkPolicy")
        for rule in policy["spec"].get("egress") or []
        for peer in rule.get("to", [])
        if "ipBlock" in peer and rule["ports"] == [{"protocol": "TCP", "port": 5432}]
    }
    assert blocks == {f"{DATABASE_SERVER}/32"}


# -- the Prometheus Operator's scraping and rules (deploy/k8s/monitoring) ------------------------------------------


def test_the_pod_monitor_scrapes_every_component_as_its_job_with_the_metrics_token():
    (monitor,) = of_kind(monitoring_documents(), "PodMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    spec = monitor["spec"]
    templates = pod_templates(base_documents() + pgbouncer_documents())
    # Exactly the five components' pods (PgBouncer serves no /metrics), in this namespace only.
    assert {
        name for name, template in templates.items() if selects(spec["selector"], template["metadata"]["labels"])
    } == set(APP_SERVICES)
    assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    for name in APP_SERVICES:
        template = templates[name]
        # The job is the pod's label named by jobLabel: the component's name, as the alerts' `job` expects.
        assert template["metadata"]["labels"][spec["jobLabel"]] == name
        (endpoint,) = spec["podMetricsEndpoints"]
        ports = {port["name"]: port["containerPort"] for port in template["spec"]["containers"][0]["ports"]}
        assert ports[endpoint["port"]] == PORTS[name]
        assert endpoint["path"] == template["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
    # The bearer token from a Secret of its own, whose template holds exactly that key; the pod's name as instance.
    (endpoint,) = spec["podMetricsEndpoints"]
    assert endpoint["relabelings"] == [{"sourceLabels": ["__meta_kubernetes_pod_name"], "targetLabel": "instance"}]
    assert endpoint["authorization"]["type"] == "Bearer"
    reference = endpoint["authorization"]["credentials"]
    secret = find(load(MONITORING_DIR / "secret.example.yaml"), "Secret", reference["name"])
    assert set(secret["stringData"]) == {reference["key"]}
    # Prometheus's pods (namespace monitoring) reach every component's port: the network test's graph has it.
    assert {("prometheus", name, f"{PORTS[name]}/TCP") for name in APP_SERVICES} <= allowed_connections(
        base_documents()
    )


def test_the_prometheus_rule_holds_the_alert_rules_verbatim():
    (rule,) = of_kind(monitoring_documents(), "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    alerts = yaml.safe_load((PROJECT_ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    assert rule["spec"] == alerts


# -- kustomize itself, where it is installed -----------------------------------------------------------------------


def kustomize(directory: Path) -> list[Document]:
    if binary := shutil.which("kustomize"):
        command = [binary, "build", str(directory)]
    elif binary := shutil.which("kubectl"):
        command = [binary, "kustomize", str(directory)]
    else:
        pytest.skip("neither kustomize nor kubectl is installed: the files themselves are checked above")
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def as_set(documents: list[Document]) -> dict[tuple[str, str], Document]:
    return {(document["kind"], document["metadata"]["name"]): document for document in documents}


def test_kustomize_builds_the_files_as_they_are(tmp_path):
    assert as_set(kustomize(K8S_DIR)) == as_set(base_documents())
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    base = os.path.relpath(K8S_DIR, overlay)
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump({"resources": [base], "components": [f"{base}/pgbouncer"]})
    )
    assert as_set(kustomize(overlay)) == as_set(base_documents() + pgbouncer_documents())
    assert as_set(kustomize(MONITORING_DIR)) == as_set(monitoring_documents())
