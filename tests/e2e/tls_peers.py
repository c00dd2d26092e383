"""Real TLS peers for end-to-end tests: a self-signed certificate, nginx and
`openssl s_server` serving HTTPS, unmodified HTTPS clients (curl, Python httpx, node's
https module and fetch, a Go net/http program), and span expectations for them."""
import collections
import contextlib
import os
import subprocess
import uuid

import agent
from agent import fail, wait_until
from http_peers import NGINX_CONF, Nginx, free_port, histogram_counts, read_spans, wait_for_port

GO_CLIENT_SOURCE = os.path.join(agent.HERE, "peers", "go_https_client")
# Outside the tests' temporary directories, so later runs reuse the compiled packages.
GO_CACHE = "/tmp/infrared-e2e-go"

# Each client prints "STATUS BODY_BYTES" per request; curl adds the number of new
# connections it opened for the request.
Response = collections.namedtuple("Response", "status size connects", defaults=(None,))

HTTPX_CLIENT = """
import sys
import httpx


def new_client():
    # The test servers' certificates are self-signed.
    return httpx.Client(verify=False)


def get(client, url):
    response = client.get(url)
    print(response.status_code, len(response.content), flush=True)


def main():
    client = new_client()
    if sys.argv[1] == "-":
        # One URL per line, each on the same keep-alive client; "reconnect" opens a
        # new one. The test paces the requests this way.
        for line in sys.stdin:
            if line.strip() == "reconnect":
                client.close()
                client = new_client()
                print("reconnected", flush=True)
            else:
                get(client, line.strip())
    else:
        for _ in range(int(sys.argv[1])):
            get(client, sys.argv[2])
    client.close()


main()
"""

NODE_HTTPS_CLIENT = """
const https = require("https");
const [count, url] = process.argv.slice(-2);
// One keep-alive socket; the test servers' certificates are self-signed.
const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });

function get() {
  return new Promise((resolve, reject) => {
    https.get(url, { agent }, (response) => {
      let size = 0;
      response.on("data", (chunk) => { size += chunk.length; });
      response.on("end", () => resolve([response.statusCode, size]));
    }).on("error", reject);
  });
}

(async () => {
  for (let i = 0; i < Number(count); i++) console.log(...await get());
  agent.destroy();
})().catch((error) => { console.error(error); process.exit(1); });
"""

NODE_FETCH_CLIENT = """
const [count, url] = process.argv.slice(-2);
(async () => {
  for (let i = 0; i < Number(count); i++) {
    const response = await fetch(url);
    const body = await response.arrayBuffer();
    console.log(response.status, body.byteLength);
  }
})().catch((error) => { console.error(error); process.exit(1); });
"""

# nginx's sub_filter rewrites the body as it streams, so it drops Content-Length and
# answers HTTP/1.1 with Transfer-Encoding: chunked. The replacement has the same
# length, so the decoded body is exactly the file.
TLS_SERVER = """listen 127.0.0.1:{port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    location /chunked/ {{
      alias {dir}/www/;
      sub_filter_types *;
      sub_filter "infrared" "INFRARED";
      sub_filter_once off;
    }}"""
PLAIN_LISTEN = "listen 127.0.0.1:{port};"


class Certificate:
    """A self-signed certificate and key for localhost and 127.0.0.1."""

    def __init__(self, directory):
        os.makedirs(directory, exist_ok=True)
        self.cert = os.path.join(directory, "cert.pem")
        self.key = os.path.join(directory, "key.pem")
        result = subprocess.run(
            [agent.require_program("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes",
             "-days", "1", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", self.key, "-out", self.cert], capture_output=True, text=True)
        if result.returncode != 0:
            fail(f"openssl req could not make a certificate: {result.stderr}")


class NginxTls(Nginx):
    """nginx serving {dir}/www over TLS (HTTP/1.1 only: no http2, so ALPN agrees on
    http/1.1). Files under /chunked/ are sent with Transfer-Encoding: chunked."""

    executable = "nginx"

    def __init__(self, directory, certificate):
        super().__init__(directory)
        if PLAIN_LISTEN not in NGINX_CONF:
            fail("http_peers.NGINX_CONF no longer has the listen line NginxTls replaces")
        with open(self.conf, "w") as f:
            f.write(NGINX_CONF.replace(PLAIN_LISTEN, TLS_SERVER).format(
                dir=directory, port=self.port, cert=certificate.cert, key=certificate.key))

    def add_text_file(self, name, size):
        """A text file full of the word sub_filter rewrites, so /chunked/NAME streams."""
        line = b"infrared chunked body line\n"
        path = os.path.join(self.directory, "www", name)
        with open(path, "wb") as f:
            f.write((line * (size // len(line) + 1))[:size])
        os.chmod(path, 0o644)

    def url(self, path):
        return f"https://127.0.0.1:{self.port}{path}"


class OpenSslServer:
    """`openssl s_server -WWW`: serves files from a directory, answers HTTP/1.0 and
    closes each connection after its response."""

    executable = "openssl"

    def __init__(self, directory, certificate):
        self.directory = directory
        self.certificate = certificate
        self.port = free_port()
        self.service_name = f"openssl-e2e-{self.port}"
        os.makedirs(directory, exist_ok=True)

    def add_file(self, name, size):
        with open(os.path.join(self.directory, name), "wb") as f:
            f.write(os.urandom(size))

    def url(self, path):
        return f"https://127.0.0.1:{self.port}{path}"

    def __enter__(self):
        argv = [agent.require_program("openssl"), "s_server", "-accept", f"127.0.0.1:{self.port}",
                "-cert", self.certificate.cert, "-key", self.certificate.key, "-WWW", "-quiet"]
        # The child keeps its own copy of the log's descriptor.
        with open(os.path.join(self.directory, "s_server.log"), "w") as log:
            self.serving = serving(argv, self.port, cwd=self.directory, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT,
                                   env=dict(os.environ, OTEL_SERVICE_NAME=self.service_name))
            self.process = self.serving.__enter__()
        return self

    def __exit__(self, *exc):
        return self.serving.__exit__(*exc)


@contextlib.contextmanager
def serving(argv, port, **popen):
    """A server process, listening on port once entered, ended on exit (also when it
    never came to listen)."""
    process = subprocess.Popen(argv, **popen)
    try:
        wait_for_port(port)
        yield process
    finally:
        process.terminate()
        process.wait(10)


def build_go_client(directory):
    """Builds peers/go_https_client (stdlib only, so offline) into directory."""
    output = os.path.join(directory, "go-https-client")
    env = dict(os.environ, GOCACHE=os.path.join(GO_CACHE, "cache"),
               GOPATH=os.path.join(GO_CACHE, "path"), GOPROXY="off", GOFLAGS="")
    result = subprocess.run([agent.require_program("go"), "build", "-o", output, "main.go"],
                            cwd=GO_CLIENT_SOURCE, env=env, capture_output=True, text=True,
                            timeout=120)
    if result.returncode != 0:
        fail(f"go build of {GO_CLIENT_SOURCE} failed: {result.stderr}")
    return output


def parse_responses(what, stdout):
    responses = []
    for line in stdout.splitlines():
        fields = line.split()
        if len(fields) not in (2, 3) or not all(f.isdigit() for f in fields):
            fail(f"{what} printed {line!r}, not STATUS BYTES")
        responses.append(Response(*map(int, fields)))
    return responses


def curl_argv(urls):
    """One curl process for all urls: it keeps the connection between them."""
    argv = [agent.require_program("curl"), "-sk",
            "-w", "%{http_code} %{size_download} %{num_connects}\\n"]
    for url in urls:
        argv += [url, "-o", "/dev/null"]
    return argv


class HttpsClient:
    """One client program, run unmodified as its own process under a service name of
    its own (OTEL_SERVICE_NAME), so its spans can be told from every other's."""

    def __init__(self, name, argv, env=None):
        self.name = name
        self.argv = argv  # (count, url) -> the command line
        self.env = env or {}
        self.service = f"{name}-tls-e2e-{uuid.uuid4().hex[:8]}"

    def run_argv(self, argv, expected):
        env = dict(os.environ, OTEL_SERVICE_NAME=self.service, **self.env)
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            fail(f"the {self.name} client exited with {result.returncode}: {result.stderr}")
        responses = parse_responses(self.name, result.stdout)
        got = [(r.status, r.size) for r in responses]
        if got != expected:
            fail(f"the {self.name} client got (status, bytes) {got}, not {expected}")
        return responses

    def run(self, count, url, size, status=200):
        """count GETs of url; each answer must have the status and a body of size bytes."""
        return self.run_argv(self.argv(count, url), [(status, size)] * count)


def curl_client():
    return HttpsClient("curl", lambda count, url: curl_argv([url] * count))


def httpx_client():
    return HttpsClient("httpx", lambda count, url: [
        "/usr/bin/python3", "-c", HTTPX_CLIENT, str(count), url])


def all_clients(go_binary):
    """Every client of the acceptance: curl, httpx, node https, node fetch, Go."""
    node = agent.require_program("node")
    return [
        curl_client(),
        httpx_client(),
        HttpsClient("node-https", lambda count, url: [node, "-e", NODE_HTTPS_CLIENT, str(count), url]),
        # fetch has no per-call option to accept a self-signed certificate.
        HttpsClient("node-fetch", lambda count, url: [node, "-e", NODE_FETCH_CLIENT, str(count), url],
                    env={"NODE_TLS_REJECT_UNAUTHORIZED": "0"}),
        HttpsClient("go", lambda count, url: [go_binary, str(count), url]),
    ]


class HttpxSession:
    """A long-lived httpx client that sends each request when told: the test decides
    what happens before and after the agent starts."""

    def __init__(self):
        self.client = httpx_client()

    def __enter__(self):
        self.process = subprocess.Popen(
            ["/usr/bin/python3", "-c", HTTPX_CLIENT, "-"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True,
            env=dict(os.environ, OTEL_SERVICE_NAME=self.client.service))
        return self

    def _say(self, line):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            fail(f"the httpx client exited with {self.process.wait(10)} after {line!r}")
        return answer

    def get(self, url, size, status=200):
        response = parse_responses("the httpx client", self._say(url))[0]
        if (response.status, response.size) != (status, size):
            fail(f"the httpx client got {response} for {url}, not ({status}, {size})")
        return response

    def reconnect(self):
        self._say("reconnect")

    def __exit__(self, *exc):
        self.process.stdin.close()
        if self.process.wait(10) != 0:
            fail(f"the httpx client exited with {self.process.returncode}")


class Expect:
    """The spans one process should have made on one port: per url.path, how many and
    with which body size (None: any). Each must be a GET with the status and
    url.scheme=https. The process is told by resource attributes; metric_labels, when
    given, pick its duration-histogram series, which must count the same."""

    def __init__(self, what, kind, port, paths, resource, metric_labels=None, status=200):
        self.what = what
        self.kind = kind
        self.port = port
        self.paths = paths  # {url.path: (count, body size or None)}
        self.resource = resource
        self.metric_labels = metric_labels
        self.status = status

    def select(self, spans):
        return [s for s in spans if s["kind"] == self.kind
                and s["attributes"].get("server.port") == self.port
                and all(s["resource"].get(k) == v for k, v in self.resource.items())]

    def total(self):
        return sum(count for count, _ in self.paths.values())

    def problems(self, spans):
        counted = collections.Counter(s["attributes"].get("url.path") for s in spans)
        wanted = {path: count for path, (count, _) in self.paths.items()}
        problems = []
        if dict(counted) != wanted:
            problems.append(f"{self.what}: spans per url.path {dict(counted)}, wanted {wanted}")
        for span in spans:
            a = span["attributes"]
            size = self.paths.get(a.get("url.path"), (0, None))[1]
            got = (a.get("http.request.method"), a.get("http.response.status_code"),
                   a.get("url.scheme"), a.get("http.response.body.size") if size is not None else None)
            if got != ("GET", self.status, "https", size):
                problems.append(f"{self.what}: span for {a.get('url.path')} has (method, status, "
                                f"scheme, body size) {got}, wanted {('GET', self.status, 'https', size)}")
                break
        return problems

    def metric_problems(self, samples):
        if self.metric_labels is None:
            return []
        name = ("http_client_request_duration_seconds" if self.kind == "SPAN_KIND_CLIENT"
                else "http_server_request_duration_seconds")
        counts = histogram_counts(samples, name, **self.metric_labels)
        wanted = {("GET", str(self.status)): self.total()}
        return [] if counts == wanted else [f"{self.what}: {name} counts {counts}, wanted {wanted}"]


def client_expect(client, port, paths):
    return Expect(f"{client.name} client ({client.service})", "SPAN_KIND_CLIENT", port, paths,
                  {"service.name": client.service},
                  {"service_name": client.service, "server_port": str(port)})


def server_expect(server, paths, started_before_agent=False):
    """A server started before the agent is told by its executable and port alone:
    nginx overwrites its environment with its process title, so an agent that reads
    /proc/PID/environ later never sees its OTEL_SERVICE_NAME. Its histogram series,
    which have no port label, cannot be told from other nginx's then. A server started
    after the agent is named from the environment the kernel copied at its exec."""
    if started_before_agent:
        return Expect(f"{server.service_name} server (started before the agent)",
                      "SPAN_KIND_SERVER", server.port, paths,
                      {"process.executable.name": server.executable})
    return Expect(f"{server.service_name} server", "SPAN_KIND_SERVER", server.port, paths,
                  {"service.name": server.service_name}, {"service_name": server.service_name})


def expect_capture(running, spans_path, expectations, timeout=20):
    """Waits until every expectation's spans and duration-histogram counts are in,
    then checks them exactly. Returns each expectation's spans."""
    def groups():
        spans = read_spans(spans_path)
        return [e.select(spans) for e in expectations]

    def counts_match():
        samples = running.samples()
        return not any(e.metric_problems(samples) for e in expectations)

    try:
        wait_until(lambda: all(len(g) >= e.total() for g, e in zip(groups(), expectations))
                   and counts_match(), timeout, "every expected span and metric count")
    except SystemExit:
        pass
    found = groups()
    samples = running.samples()
    problems = []
    for e, spans in zip(expectations, found):
        problems += e.problems(spans) + e.metric_problems(samples)
    if problems:
        fail("the agent's capture differs from what was sent:\n  " + "\n  ".join(problems))
    for e in expectations:
        print(f"{e.what}: {e.total()} spans, GET {e.status} https, per path "
              f"{ {p: c for p, (c, _) in e.paths.items()} }"
              + ("; histogram agrees" if e.metric_labels else ""))
    return found


def _total(samples, name, **labels):
    return sum(v for n, l, v in samples
               if n == name and all(l.get(k) == want for k, want in labels.items()))


def check_ciphertext_never_parsed(before, after):
    """Acceptance 3, between two scrapes of an agent capturing only the test's
    programs: the kernel recognised TLS connections and did not copy their
    ciphertext, the tracker decided no connection was not HTTP, and the HTTP
    parsers skipped no byte as garbage."""
    def grew(name, **labels):
        return _total(after, name, **labels) - _total(before, name, **labels)
    ciphertext = grew("infrared_capture_skipped_calls_total", reason="tls_ciphertext")
    not_http = grew("infrared_http_connections_total", verdict="not_http")
    garbage = grew("infrared_http_parser_skipped_bytes_total")
    if ciphertext <= 0 or not_http != 0 or garbage != 0:
        fail(f"ciphertext calls not copied +{ciphertext:g}, connections found not HTTP "
             f"+{not_http:g}, bytes the parsers skipped +{garbage:g}: wanted >0, 0, 0")
    print(f"ciphertext never parsed: {ciphertext:g} TLS socket calls not copied, no connection "
          f"found not HTTP, no byte skipped by the parsers")
