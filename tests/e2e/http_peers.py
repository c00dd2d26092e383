"""Real HTTP peers for end-to-end tests: nginx from Debian, Python's http.server,
and a span reader for the agent's JSON-line span output."""
import os
import socket
import subprocess
import time

import agent
from agent import fail, read_json_lines, wait_until

NGINX_CONF = """
daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  sendfile on;
  keepalive_requests 100000;
  keepalive_timeout 60s;
  client_body_temp_path {dir}/client_body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  server {{
    listen 127.0.0.1:{port};
    root {dir}/www;
    location = /error {{ return 500; }}
    location = /busy {{ return 503; }}
    location = /upload {{ return 201 "created\\n"; }}
  }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=10):
    def connectable():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False
    wait_until(connectable, timeout, f"something to listen on port {port}")


class Nginx:
    def __init__(self, directory, binary=None):
        self.directory = directory
        self.binary = binary  # another name for nginx (a symlink), or None for nginx's own
        self.port = free_port()
        # Every agent sees every nginx on the host: tests tell theirs by name.
        self.service_name = f"nginx-e2e-{self.port}"
        os.makedirs(os.path.join(directory, "www"), exist_ok=True)
        # nginx's worker runs as nobody: it must reach the files.
        for path in (os.path.dirname(directory), directory, os.path.join(directory, "www")):
            os.chmod(path, 0o755)
        with open(os.path.join(directory, "www", "index.html"), "w") as f:
            f.write("<html>infrared test page</html>\n")
        os.chmod(os.path.join(directory, "www", "index.html"), 0o644)
        self.conf = os.path.join(directory, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(NGINX_CONF.format(dir=directory, port=self.port))

    def add_file(self, name, size):
        path = os.path.join(self.directory, "www", name)
        with open(path, "wb") as f:
            f.write(os.urandom(size))
        os.chmod(path, 0o644)

    def __enter__(self):
        binary = self.binary or (agent.require_program("nginx")
                                 if not os.path.exists("/usr/sbin/nginx") else "/usr/sbin/nginx")
        self.process = subprocess.Popen([binary, "-p", self.directory, "-c", self.conf],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        env=dict(os.environ, OTEL_SERVICE_NAME=self.service_name))
        wait_for_port(self.port)
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(10)


class PythonHttpServer:
    def __init__(self, directory):
        self.directory = directory
        self.port = free_port()
        with open(os.path.join(directory, "index.html"), "w") as f:
            f.write("hello from http.server\n")

    def __enter__(self):
        self.process = subprocess.Popen(
            ["/usr/bin/python3", "-m", "http.server", str(self.port), "--bind", "127.0.0.1",
             "--directory", self.directory],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(10)


def read_spans(path):
    return read_json_lines(path)


def span_seconds(span):
    return (int(span["endTimeUnixNano"]) - int(span["startTimeUnixNano"])) / 1e9


def histogram_counts(samples, name, **labels):
    """{(method, status): count} of a duration histogram's _count series."""
    counts = {}
    for sample_name, sample_labels, value in samples:
        if sample_name != name + "_count":
            continue
        if all(sample_labels.get(k) == v for k, v in labels.items()):
            key = (sample_labels["http_request_method"], sample_labels["http_response_status_code"])
            counts[key] = counts.get(key, 0) + int(value)
    return counts


# A python client that makes `requests` GETs of /index.html on 127.0.0.1:port, one
# connection each, after one chat completion POST to 127.0.0.1:llm_port unless it is
# "-", then waits for its stdin to close (so that its process series outlive the
# requests). argv: requests, port, llm_port, then anything (to mark its command line).
WAITING_CLIENT = """
import http.client, json, sys
requests, port, llm = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
if llm != "-":
    c = http.client.HTTPConnection("127.0.0.1", int(llm))
    c.request("POST", "/v1/chat/completions",
              json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}),
              {"Content-Type": "application/json"})
    c.getresponse().read()
    c.close()
for _ in range(requests):
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request("GET", "/index.html")
    c.getresponse().read()
    c.close()
print("done", flush=True)
sys.stdin.read()
"""


def start_waiting_client(clients, port, requests, prefix=(), llm_port="-", mark=()):
    """Runs WAITING_CLIENT (after `prefix`, e.g. a shell moving it into a cgroup), appends it
    to `clients` (the caller kills them) and returns it once its requests are done."""
    process = subprocess.Popen(
        [*prefix, "/usr/bin/python3", "-c", WAITING_CLIENT, str(requests), str(port),
         str(llm_port), *mark],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    clients.append(process)
    if process.stdout.readline().strip() != "done":
        fail(f"the client {[*prefix, *mark]} failed")
    return process
