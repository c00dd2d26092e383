"""Kubernetes attribution through the API server: a fake API server (HTTPS, a
bearer token, list then watch of this node's pods) knows a Deployment's pod with
two containers whose names the log directories cannot settle (no container
links). Workloads in both containers' cgroups are named by the API (container
names, owner, labels), select.k8s_pod_labels keeps only that pod's processes,
a label change arrives through the watch, and a 410 Gone makes the agent relist
(counted). Every request asks for this node's pods only; with a node name that lists no
pod while the log directory names one, the agent warns; and a server that refuses the
token (401) is counted while the pods keep their log-directory names, until a later try
succeeds."""
import os
import tempfile

import agent
from agent import Agent, fail, value, wait_until
from fake_kube_api import FakeKubeApi, make_pod
from http_peers import PythonHttpServer, read_spans, start_waiting_client
from k8s_layout import Node

NODE_NAME = "node-e2e"
WRONG_NODE = "the API server lists no pod on this node"
REQUESTS = 3
def spans_of(spans_path, pid):
    return [s for s in read_spans(spans_path) if s["resource"].get("process.pid") == pid]


def refused_then_answered(api, node, pod, www, clients):
    """An API server that refuses the agent's token (401): counted, the agent stays up,
    and its pods keep what the log directory names (pod and namespace, no container:
    two containers, no links). Once the token is right, the next try after the backoff
    lists the pods and the container names follow."""
    api.write_token("not-the-token")
    with Agent("--k8s.api", api.url, "--k8s.token-file", api.token_file,
               "--k8s.ca-file", api.ca_file, "--k8s.node-name", NODE_NAME,
               "--k8s.pod-logs-dir", node.pod_logs, "--k8s.container-logs-dir", "") as running, \
            PythonHttpServer(www) as server:
        wait_until(lambda: (value(running.samples(), "infrared_dropped_total", stage="k8s_api",
                                  reason="http_error") or 0) >= 1, 10, "the refusal counted")
        client = start_waiting_client(clients, server.port, REQUESTS, prefix=pod.command("web", []))

        def labels():
            return [l for n, l, _ in running.samples()
                    if n == "process_cpu_time_seconds_total" and l.get("process_pid") == str(client.pid)]
        wait_until(lambda: labels(), 10, "the client's process series")
        refused = labels()[0]
        if refused.get("k8s_pod_name") != pod.name or refused.get("k8s_container_name"):
            fail(f"with the API refusing, the client is {refused}: wanted the pod's name from "
                 "the log directory and no container name")
        print(f"401 counted; the pod named from its log directory meanwhile: {pod.name}")
        api.write_token(api.token)
        # The backoff after failures is 1, 2, 4, 8, 16, then 30 s.
        wait_until(lambda: labels() and labels()[0].get("k8s_container_name") == "web", 40,
                   "the container's name once the API answers")
        print("the token put right: the next list named the container")


def main():
    agent.require_bpf()
    with tempfile.TemporaryDirectory() as root, FakeKubeApi() as api:
        node = Node(root)
        if node.cgroup_root is None:
            agent.skip_or_fail("no cgroup v2 hierarchy is mounted")
        clients = []
        try:
            pod = node.add_pod("shop", "web-7d9f8b6c5d-abcde", ["web", "cache"],
                               container_links=False)
            pod_json = make_pod("shop", pod.name, pod.uid, NODE_NAME, pod.containers,
                                labels={"app": "web", "tier": "front"},
                                owner=("ReplicaSet", "web-7d9f8b6c5d"))
            api.add_pod(pod_json)
            # A pod of another node, which the agent's queries must leave out.
            api.add_pod(make_pod("shop", "elsewhere", "uid-elsewhere", "node-other", {}))
            spans_path = os.path.join(root, "spans.jsonl")
            www = os.path.join(root, "www")
            os.makedirs(www)
            server = PythonHttpServer(www)
            with Agent("--spans.output", spans_path, "--k8s.api", api.url,
                       "--k8s.token-file", api.token_file, "--k8s.ca-file", api.ca_file,
                       "--k8s.node-name", NODE_NAME, "--k8s.pod-logs-dir", node.pod_logs,
                       "--k8s.container-logs-dir", "", "--select.k8s-pod-labels",
                       "app=web") as running, server:
                wait_until(lambda: api.open_watches() > 0, 10, "the agent's pod watch")
                web = start_waiting_client(clients, server.port, REQUESTS, prefix=pod.command("web", []))
                cache = start_waiting_client(clients, server.port, REQUESTS, prefix=pod.command("cache", []))
                outside = start_waiting_client(clients, server.port, REQUESTS)

                def count(container):
                    return sum(v for n, l, v in running.samples()
                               if n == "http_client_request_duration_seconds_count"
                               and l.get("server_port") == str(server.port)
                               and l.get("k8s_container_name") == container
                               and l.get("k8s_pod_name") == pod.name
                               and l.get("service_name") == container)
                wait_until(lambda: count("web") == REQUESTS and count("cache") == REQUESTS, 20,
                           "both containers' requests under their API names")
                print(f"web and cache: {REQUESTS} requests each, container names from the API")

                samples = running.samples()
                leaked = [(n, l) for n, l, _ in samples if l.get("process_pid") == str(outside.pid)
                          or (n.startswith("http_client") and l.get("server_port") == str(server.port)
                              and "k8s_pod_name" not in l)]
                if leaked:
                    fail(f"a process outside the selected pod is reported: {leaked[:3]}")
                print("select.k8s_pod_labels=app=web: the client outside the pod has no series")

                wait_until(lambda: len(spans_of(spans_path, web.pid)) >= REQUESTS, 10, "web's spans")
                want = {"k8s.deployment.name": "web", "k8s.pod.label.app": "web",
                        "k8s.pod.label.tier": "front", "k8s.node.name": NODE_NAME,
                        "k8s.namespace.name": "shop", "k8s.container.name": "web",
                        "k8s.pod.uid": pod.uid, "container.id": pod.containers["web"]}
                for span in spans_of(spans_path, web.pid):
                    got = {k: span["resource"].get(k) for k in want}
                    if got != want:
                        fail(f"web span resource {got}, wanted {want}")
                if spans_of(spans_path, outside.pid):
                    fail("the client outside the pod has spans")
                print(f"spans carry owner, labels and node: {want}")

                pod_json["metadata"]["labels"]["tier"] = "back"
                api.modify_pod(pod_json)
                lists = api.list_requests
                api.expire()
                wait_until(lambda: api.list_requests > lists, 15, "a relist after 410 Gone")
                wait_until(lambda: value(running.samples(), "infrared_dropped_total",
                                         stage="k8s_api", reason="watch_expired") == 1, 10,
                           "the expired watch counted")
                print("410 Gone: the agent relisted and counted it")
                again = start_waiting_client(clients, server.port, REQUESTS, prefix=pod.command("web", []))
                wait_until(lambda: len(spans_of(spans_path, again.pid)) >= REQUESTS, 10,
                           "the second web client's spans")
                tiers = {s["resource"].get("k8s.pod.label.tier") for s in spans_of(spans_path, again.pid)}
                if tiers != {"back"}:
                    fail(f"after the label change the spans say tier {tiers}, wanted back")
                print("a label change reached the spans through the watch")
                log = running.log_text()
                if api.token in log:
                    fail("the API token is in the agent's log")
                if WRONG_NODE in log:
                    fail("the agent warned of a wrong node name, though its pod was listed")
                # The pod of another node is kept out by the query itself: every list and
                # watch asks for this node's pods only.
                selectors = {r["query"].get("fieldSelector") for r in api.requests}
                if selectors != {f"spec.nodeName={NODE_NAME}"}:
                    fail(f"the agent asked with fieldSelector {selectors}, wanted only "
                         f"spec.nodeName={NODE_NAME}")
                print(f"{len(api.requests)} requests, each for spec.nodeName={NODE_NAME}")
            # With no node name given, the watch asks for the host's name, which lists no
            # pod while the log directory names one: said, once.
            saved = os.environ.pop("NODE_NAME", None)
            try:
                with Agent("--k8s.api", api.url, "--k8s.token-file", api.token_file,
                           "--k8s.ca-file", api.ca_file,
                           "--k8s.pod-logs-dir", node.pod_logs) as unnamed:
                    wait_until(lambda: WRONG_NODE in unnamed.log_text(), 10,
                               "the warning that the node's name lists no pod")
            finally:
                if saved is not None:
                    os.environ["NODE_NAME"] = saved
            print("no node name: the API lists no pod for the host's name, and the agent warns")
            refused_then_answered(api, node, pod, www, clients)
        finally:
            node.close(clients)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
