"""Kubernetes attribution, acceptance 1: a temporary node laid out as a kubelet
would (the pods' cgroup v2 hierarchy, kubepods.slice/...pod<uid>.slice/
cri-containerd-<id>.scope, and /var/log/pods, /var/log/containers under a
temporary root). Workloads moved into those cgroups make HTTP calls; their
metrics (HTTP, TCP, process, GenAI) and spans carry the pod, namespace, container and
container id, and service.name is the container's name. A one-container pod is
named from /var/log/pods alone; a two-container pod needs the container links.
--exclude.containers leaves one container's process out of everything."""
import json
import os
import subprocess
import tempfile

import agent
from agent import Agent, fail, wait_until
from http_peers import PythonHttpServer, read_spans, start_waiting_client
from k8s_layout import Node
from llm_peers import FakeLlmServer

REQUESTS = 5
SERVER_SERVICE = "infrared-e2e-k8s-server"
def client_count(samples, **labels):
    return sum(v for n, l, v in samples if n == "http_client_request_duration_seconds_count"
               and all(l.get(k) == want for k, want in labels.items()))


def pod_labels(pod, container):
    return {"k8s_namespace_name": pod.namespace, "k8s_pod_name": pod.name,
            "k8s_container_name": container, "container_id": pod.containers[container]}


def check_spans(spans_path, client, pod, container):
    spans = [s for s in read_spans(spans_path) if s["resource"].get("process.pid") == client.pid]
    if len(spans) != REQUESTS:
        fail(f"{container}: {len(spans)} spans from pid {client.pid}, wanted {REQUESTS}")
    want = {"service.name": container, "container.id": pod.containers[container],
            "k8s.pod.uid": pod.uid, "k8s.pod.name": pod.name,
            "k8s.namespace.name": pod.namespace, "k8s.container.name": container}
    for span in spans:
        got = {k: span["resource"].get(k) for k in want}
        if got != want:
            fail(f"{container}: span resource {got}, wanted {want}")
    print(f"{container}: {len(spans)} spans with resource {want}")


def llm_call_in_pod(running, pod, container):
    """One chat completion by curl in the container, to the fake LLM server (plain HTTP):
    the gen_ai_* series carry the pod's labels too."""
    with FakeLlmServer() as llm:
        body = json.dumps({"model": "gpt-4o-mini",
                           "messages": [{"role": "user", "content": "Say something short."}]})
        curl = [agent.require_program("curl"), "-sS", "-H", "Content-Type: application/json",
                "--data", body, llm.url + "/v1/chat/completions"]
        result = subprocess.run(pod.command(container, curl), capture_output=True, text=True,
                                timeout=30)
        if result.returncode != 0:
            fail(f"curl in {container} exited with {result.returncode}: {result.stderr}")
        want = dict(pod_labels(pod, container), service_name=container)

        def calls():
            return sum(v for n, l, v in running.samples()
                       if n == "gen_ai_client_operation_duration_seconds_count"
                       and all(l.get(k) == v for k, v in want.items()))
        try:
            wait_until(lambda: calls() == 1, 10, "the LLM call under the pod's labels")
        except SystemExit:
            fail(f"{calls():g} LLM calls counted under {want}, wanted 1")
    print(f"{container}: its LLM call is counted under the pod's labels")


def main():
    agent.require_bpf()
    with tempfile.TemporaryDirectory() as root:
        node = Node(root)
        if node.cgroup_root is None:
            agent.skip_or_fail("no cgroup v2 hierarchy is mounted")
        clients = []
        try:
            solo = node.add_pod("agents", "chat-agent-6f7d8c9b5-x2x4q", ["agent"],
                                container_links=False)
            pair = node.add_pod("tools", "toolbox-0", ["worker", "sidecar"], qos="besteffort")
            spans_path = os.path.join(root, "spans.jsonl")
            www = os.path.join(root, "www")
            os.makedirs(www)
            os.environ["OTEL_SERVICE_NAME"] = SERVER_SERVICE
            server = PythonHttpServer(www)
            with Agent("--spans.output", spans_path, "--k8s.pod-logs-dir", node.pod_logs,
                       "--k8s.container-logs-dir", node.container_logs, "--k8s.api", "off",
                       "--exclude.containers", "sidecar") as running, server:
                del os.environ["OTEL_SERVICE_NAME"]
                placed = [(solo, "agent"), (pair, "worker"), (pair, "sidecar")]
                for pod, container in placed:
                    process = start_waiting_client(clients, server.port, REQUESTS,
                                                   prefix=pod.command(container, []))
                    with open(f"/proc/{process.pid}/cgroup") as f:
                        if pod.containers[container] not in f.read():
                            fail(f"the client in {container} is not in its cgroup")

                def counted():
                    samples = running.samples()
                    return [client_count(samples, server_port=str(server.port), service_name=c,
                                         **pod_labels(p, c)) for p, c in placed[:2]]
                try:
                    wait_until(lambda: counted() == [REQUESTS, REQUESTS], 20, "labelled counts")
                except SystemExit:
                    fail(f"client counts with pod labels {counted()}, wanted [{REQUESTS}, {REQUESTS}]")
                print(f"agent and worker: {REQUESTS} client requests each under their pod labels")

                samples = running.samples()
                for (pod, container), client in zip(placed[:2], clients):
                    cpu = [l for n, l, _ in samples if n == "process_cpu_time_seconds_total"
                           and l.get("process_pid") == str(client.pid)]
                    want = dict(pod_labels(pod, container), service_name=container)
                    if len(cpu) != 1 or any(cpu[0].get(k) != v for k, v in want.items()):
                        fail(f"{container}: process series {cpu}, wanted labels {want}")
                    opened = sum(v for n, l, v in samples
                                 if n == "tcp_connections_opened_total"
                                 and l.get("server_port") == str(server.port)
                                 and all(l.get(k) == v for k, v in want.items()))
                    if opened != REQUESTS:
                        fail(f"{container}: {opened} TCP connections under its labels, "
                             f"wanted {REQUESTS}")
                print("process and TCP series carry the same labels")

                sidecar = [(n, l) for n, l, _ in samples if l.get("k8s_container_name") == "sidecar"
                           or l.get("process_pid") == str(clients[2].pid)]
                if sidecar:
                    fail(f"the excluded sidecar is reported: {sidecar[:3]}")
                print("the excluded sidecar container has no series")

                llm_call_in_pod(running, solo, "agent")

                wait_until(lambda: len([s for s in read_spans(spans_path)
                                        if s["resource"].get("process.pid") == clients[1].pid])
                           >= REQUESTS, 10, "the worker's spans")
                for (pod, container), client in zip(placed[:2], clients):
                    check_spans(spans_path, client, pod, container)
                if [s for s in read_spans(spans_path)
                        if s["resource"].get("process.pid") == clients[2].pid]:
                    fail("the excluded sidecar has spans")
        finally:
            node.close(clients)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
