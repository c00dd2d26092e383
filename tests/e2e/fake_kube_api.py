"""A fake Kubernetes API server for the agent's pod watch: Python standard
library and the openssl CLI only.

It serves what the agent asks for: GET /api/v1/pods?fieldSelector=spec.nodeName=<node>
(a PodList) and the same with watch=1 (a chunked stream, one JSON event a line),
over HTTPS with a self-signed certificate clients can use as their CA file, and
only to `Authorization: Bearer <token>`.

    with FakeKubeApi() as api:
        api.add_pod(make_pod("shop", "web-1", "uid-1", "node-a", {"web": "ab" * 32}))
        # point the agent at api.url with api.token_file and api.ca_file

Run it directly for a self-check.
"""
import copy
import http.server
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid


def make_pod(namespace, name, uid, node, containers=None, labels=None,
             owner=("ReplicaSet", "web-7d9f8b6c5d")):
    """A Pod as the API server returns it. `containers`: {name: 64-hex container id};
    `owner`: (kind, name) of the controller, or None. A ReplicaSet owner named
    "<deployment>-<hash>" also gets the pod-template-hash label, as real ones do."""
    containers = containers or {}
    labels = dict(labels or {})
    metadata = {
        "name": name,
        "namespace": namespace,
        "uid": uid,
        "resourceVersion": "0",
        "creationTimestamp": "2026-01-01T00:00:00Z",
        "labels": labels,
        "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"},
    }
    if owner:
        kind, owner_name = owner
        if kind == "ReplicaSet" and "-" in owner_name:
            labels.setdefault("pod-template-hash", owner_name.rsplit("-", 1)[1])
        metadata["generateName"] = owner_name + "-"
        metadata["ownerReferences"] = [{
            "apiVersion": "batch/v1" if kind == "Job" else "apps/v1",
            "kind": kind,
            "name": owner_name,
            "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{namespace}/{kind}/{owner_name}")),
            "controller": True,
            "blockOwnerDeletion": True,
        }]
    spec_containers = []
    statuses = []
    for container_name, container_id in containers.items():
        image = f"registry.example.com/{container_name}:1.0"
        spec_containers.append({
            "name": container_name,
            "image": image,
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
            "imagePullPolicy": "IfNotPresent",
        })
        statuses.append({
            "name": container_name,
            "containerID": f"containerd://{container_id}",
            "image": image,
            "imageID": f"{image}@sha256:{'0' * 64}",
            "ready": True,
            "restartCount": 0,
            "started": True,
            "state": {"running": {"startedAt": "2026-01-01T00:00:05Z"}},
        })
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": metadata,
        "spec": {
            "nodeName": node,
            "containers": spec_containers,
            "restartPolicy": "Always",
            "serviceAccountName": "default",
            "dnsPolicy": "ClusterFirst",
        },
        "status": {
            "phase": "Running",
            "hostIP": "10.0.0.10",
            "podIP": "10.244.1.23",
            "podIPs": [{"ip": "10.244.1.23"}],
            "startTime": "2026-01-01T00:00:01Z",
            "qosClass": "Burstable",
            "containerStatuses": statuses,
        },
    }


def _status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # clients that drop a watch or refuse the certificate are expected


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    api = None  # the FakeKubeApi, set on a subclass per server

    def log_message(self, *args):
        pass

    def do_GET(self):
        api = self.api
        parsed = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        watch = query.get("watch") in ("1", "true")
        with api._lock:
            api.requests.append({"watch": watch, "query": query,
                                 "authorization": self.headers.get("Authorization")})
            if watch:
                api.watch_requests += 1
            else:
                api.list_requests += 1
            failure = api.fail_status
        if self.headers.get("Authorization") != f"Bearer {api.token}":
            return self._json(401, _status(401, "Unauthorized", "Unauthorized"))
        if failure:
            return self._json(failure, _status(failure, "InternalError", "injected failure"))
        if parsed.path != "/api/v1/pods":
            return self._json(404, _status(404, "NotFound", "the server could not find the "
                                                            "requested resource"))
        node = None
        for selector in query.get("fieldSelector", "").split(","):
            key, _, value = selector.partition("=")
            if key == "spec.nodeName":
                node = value
            elif key:
                return self._json(400, _status(400, "BadRequest",
                                               f'"{key}" is not a known field selector'))
        if watch:
            self._watch(node, query)
        else:
            self._json(200, api._pod_list(node))

    def _json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _watch(self, node, query):
        api = self.api
        try:
            since = int(query.get("resourceVersion") or "0")
        except ValueError:
            return self._json(400, _status(400, "BadRequest", "bad resourceVersion"))
        timeout = float(query.get("timeoutSeconds") or 1800)
        if api.watch_timeout is not None:
            timeout = min(timeout, api.watch_timeout)
        deadline = time.monotonic() + timeout
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        bookmarks = query.get("allowWatchBookmarks") == "true"
        try:
            with api._changed:
                position = len(api._log)
                pending = [entry for entry in api._log if entry.rv is not None and entry.rv > since]
                expired = api._expire_next or since < api._compacted
                api._expire_next = False
                api._open_watches += 1
            try:
                if expired:
                    return self._end(_expired_event())
                while True:
                    for entry in pending:
                        if entry.rv is not None and node is not None and entry.node != node:
                            continue
                        if entry.bookmark_only and not bookmarks:
                            continue
                        if entry.ends:
                            return self._end(entry.line)
                        self._chunk(entry.line)
                    if time.monotonic() >= deadline:
                        break
                    with api._changed:
                        api._changed.wait_for(
                            lambda: api._stopping or len(api._log) > position,
                            timeout=max(0.0, deadline - time.monotonic()))
                        if api._stopping:
                            self.close_connection = True
                            return  # no final chunk: the connection just breaks
                        pending = api._log[position:]
                        position = len(api._log)
                self._end(None)
            finally:
                with api._changed:
                    api._open_watches -= 1
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True

    def _chunk(self, line):
        data = line + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _end(self, last_line):
        if last_line is not None:
            self._chunk(last_line)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _Entry:
    """One line for watches: a pod change (with its rv and node) or an injected line."""

    def __init__(self, line, rv=None, node=None, ends=False, bookmark_only=False):
        self.line = line
        self.rv = rv
        self.node = node
        self.ends = ends  # the watch ends after this line
        self.bookmark_only = bookmark_only  # only for watches that allow bookmarks


def _expired_event():
    return json.dumps({"type": "ERROR", "object": _status(
        410, "Expired", "too old resource version: 1 (2)")}).encode()


class FakeKubeApi:
    """The fake server. Pods are keyed by uid; every change gets the next
    resourceVersion and is pushed to open watches of the pod's node."""

    def __init__(self, token="fake-token-0123456789", tls=True, watch_timeout=None):
        self.token = token
        self.tls = tls
        self.watch_timeout = watch_timeout  # seconds; caps the client's timeoutSeconds
        self.fail_status = None  # set to an HTTP status to refuse every request with it
        self.port = 0
        self.requests = []
        self.list_requests = 0
        self.watch_requests = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._pods = {}
        self._log = []  # _Entry: pod changes and injected lines, in order
        self._rv = 100
        self._compacted = 0
        self._expire_next = False
        self._open_watches = 0
        self._stopping = False
        self._server = None
        self._thread = None
        self._dir = tempfile.mkdtemp(prefix="fake-kube-api-")
        self.token_file = os.path.join(self._dir, "token")
        self.ca_file = os.path.join(self._dir, "ca.crt")
        self._key_file = os.path.join(self._dir, "tls.key")
        self.write_token(token)
        if tls:
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-days", "2", "-subj", "/CN=fake-kube-api",
                 "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                 "-keyout", self._key_file, "-out", self.ca_file],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    @property
    def url(self):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def write_token(self, text):
        """What the client will read as its token (the server still wants self.token)."""
        with open(self.token_file, "w") as f:
            f.write(text + "\n")

    def start(self):
        """Starts serving; after a stop(), on the same port again."""
        handler = type("Handler", (_Handler,), {"api": self})
        server = _Server(("127.0.0.1", self.port), handler)
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.ca_file, self._key_file)
            server.socket = context.wrap_socket(server.socket, server_side=True,
                                                do_handshake_on_connect=False)
        self.port = server.server_address[1]
        with self._lock:
            self._stopping = False
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stops serving and breaks open watches, as a crashed server would."""
        if self._server is None:
            return
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        self._server = None
        deadline = time.monotonic() + 5
        while self.open_watches() and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self):
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # --- what tests change ----------------------------------------------------

    def add_pod(self, pod):
        self._change("ADDED", pod)

    def modify_pod(self, pod):
        self._change("MODIFIED", pod)

    modify = modify_pod

    def delete_pod(self, uid):
        with self._lock:
            pod = self._pods[uid]
        self._change("DELETED", pod)

    def expire(self):
        """Open watches end with an ERROR 410 event; with none open, the next one does."""
        with self._changed:
            if self._open_watches:
                self._log.append(_Entry(_expired_event(), ends=True))
            else:
                self._expire_next = True
            self._compacted = self._rv  # older versions are gone, as after a compaction
            self._changed.notify_all()

    def bookmark(self):
        """Open watches that allow bookmarks get a BOOKMARK at the current version."""
        with self._lock:
            rv = self._rv
        line = json.dumps({"type": "BOOKMARK", "object": {
            "kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": str(rv)}}}).encode()
        self._inject(line, ends=False, bookmark_only=True)

    def fail_watches(self, code=500, message="etcdserver: request timed out"):
        """Open watches end with an ERROR event carrying a Status of `code`."""
        reason = "Expired" if code == 410 else "InternalError"
        self._inject(json.dumps({"type": "ERROR", "object": _status(code, reason, message)})
                     .encode(), ends=True)

    def push_raw(self, line):
        """Open watches get `line` (str or bytes, without its newline) as it is."""
        self._inject(line.encode() if isinstance(line, str) else line, ends=False)

    def open_watches(self):
        with self._lock:
            return self._open_watches

    def pods(self):
        with self._lock:
            return copy.deepcopy(list(self._pods.values()))

    # --- internals ------------------------------------------------------------

    def _change(self, kind, pod):
        pod = copy.deepcopy(pod)
        with self._changed:
            self._rv += 1
            pod["metadata"]["resourceVersion"] = str(self._rv)
            if kind == "DELETED":
                self._pods.pop(pod["metadata"]["uid"], None)
            else:
                self._pods[pod["metadata"]["uid"]] = pod
            self._log.append(_Entry(json.dumps({"type": kind, "object": pod}).encode(),
                                    rv=self._rv, node=pod["spec"].get("nodeName")))
            self._changed.notify_all()

    def _inject(self, line, ends, bookmark_only=False):
        with self._changed:
            self._log.append(_Entry(line, ends=ends, bookmark_only=bookmark_only))
            self._changed.notify_all()

    def _pod_list(self, node):
        with self._lock:
            items = [copy.deepcopy(p) for p in self._pods.values()
                     if node is None or p["spec"].get("nodeName") == node]
            rv = self._rv
        return {"kind": "PodList", "apiVersion": "v1",
                "metadata": {"resourceVersion": str(rv)}, "items": items}


def _self_check():
    import http.client
    import queue

    def connect(api):
        context = ssl.create_default_context(cafile=api.ca_file)
        return http.client.HTTPSConnection("127.0.0.1", api.port, context=context, timeout=10)

    def get(api, path, token):
        conn = connect(api)
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        response = conn.getresponse()
        body = json.loads(response.read())
        conn.close()
        return response.status, body

    def watch_lines(api, rv, out):
        conn = connect(api)
        conn.request("GET", f"/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&watch=1"
                            f"&resourceVersion={rv}&allowWatchBookmarks=true",
                     headers={"Authorization": f"Bearer {api.token}"})
        response = conn.getresponse()
        assert response.status == 200, response.status
        while True:
            line = response.readline()
            if not line:
                out.put(None)
                return
            try:
                out.put(json.loads(line))
            except ValueError:
                out.put(line)

    def expect(condition, what):
        if not condition:
            raise SystemExit(f"FAIL: {what}")

    with FakeKubeApi() as api:
        list_path = "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a"
        expect(get(api, list_path, None)[0] == 401, "no token is refused")
        expect(get(api, list_path, "wrong")[0] == 401, "a wrong token is refused")
        with open(api.token_file) as f:
            expect(f.read().strip() == api.token, "the token file holds the token")
        api.add_pod(make_pod("shop", "web-1", "uid-1", "node-a", {"web": "a" * 64}))
        api.add_pod(make_pod("shop", "db-1", "uid-2", "node-b", {"db": "b" * 64}))
        status, body = get(api, list_path, api.token)
        expect(status == 200 and [p["metadata"]["uid"] for p in body["items"]] == ["uid-1"],
               f"the list is filtered by node: {body}")
        expect(body["items"][0]["status"]["containerStatuses"][0]["containerID"]
               == "containerd://" + "a" * 64, "container ids carry the runtime prefix")
        expect(body["items"][0]["metadata"]["labels"]["pod-template-hash"] == "7d9f8b6c5d",
               "ReplicaSet pods carry the pod-template-hash label")
        rv = body["metadata"]["resourceVersion"]

        events = queue.Queue()
        threading.Thread(target=watch_lines, args=(api, rv, events), daemon=True).start()
        deadline = time.monotonic() + 5
        while not api.open_watches() and time.monotonic() < deadline:
            time.sleep(0.01)
        pod = make_pod("shop", "web-2", "uid-3", "node-a", {"web": "c" * 64})
        api.add_pod(pod)
        api.add_pod(make_pod("shop", "db-2", "uid-4", "node-b", {"db": "d" * 64}))
        pod["metadata"]["labels"]["tier"] = "front"
        api.modify(pod)
        api.delete_pod("uid-1")
        api.bookmark()
        seen = [events.get(timeout=5) for _ in range(4)]
        expect([(e["type"], e["object"]["metadata"].get("uid")) for e in seen] ==
               [("ADDED", "uid-3"), ("MODIFIED", "uid-3"), ("DELETED", "uid-1"),
                ("BOOKMARK", None)], f"watch events: {seen}")
        versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in seen]
        expect(versions[:3] == sorted(versions[:3]) and versions[3] == versions[2],
               f"resource versions increase: {versions}")
        api.push_raw("{not json")
        raw = events.get(timeout=5)
        expect(raw == b"{not json\n", f"raw lines pass as they are: {raw!r}")
        api.expire()
        gone = events.get(timeout=5)
        expect(gone["type"] == "ERROR" and gone["object"]["code"] == 410, f"expiry: {gone}")
        expect(events.get(timeout=5) is None, "the watch ends after the ERROR event")
        status, body = get(api, list_path, api.token)
        expect(sorted(p["metadata"]["uid"] for p in body["items"]) == ["uid-3"], "list is current")
        events = queue.Queue()
        threading.Thread(target=watch_lines, args=(api, 0, events), daemon=True).start()
        gone = events.get(timeout=5)
        expect(gone["type"] == "ERROR" and gone["object"]["code"] == 410,
               f"a watch from a compacted version expires: {gone}")
        expect(events.get(timeout=5) is None, "and ends")
        events = queue.Queue()
        threading.Thread(target=watch_lines, args=(api, body["metadata"]["resourceVersion"],
                                                   events), daemon=True).start()
        deadline = time.monotonic() + 5
        while not api.open_watches() and time.monotonic() < deadline:
            time.sleep(0.01)
        api.fail_watches(500)
        failed = events.get(timeout=5)
        expect(failed["type"] == "ERROR" and failed["object"]["code"] == 500, f"{failed}")
        expect(events.get(timeout=5) is None, "a failed watch ends")
        expect(api.list_requests == 4 and api.watch_requests == 3,
               f"counters: {api.list_requests} lists, {api.watch_requests} watches")

        api.watch_timeout = 0.2
        events = queue.Queue()
        threading.Thread(target=watch_lines, args=(api, body["metadata"]["resourceVersion"],
                                                   events), daemon=True).start()
        expect(events.get(timeout=5) is None, "a watch ends cleanly at its timeout")
        api.watch_timeout = None

        port = api.port
        api.stop()
        api.start()
        expect(api.port == port, "a restart keeps the port")
        expect(get(api, list_path, api.token)[0] == 200, "serves after a restart")
    print("fake_kube_api: self-check passed")


if __name__ == "__main__":
    _self_check()
