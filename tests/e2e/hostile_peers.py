"""Peers that send what no well-behaved HTTP/1.x peer would, over plain sockets.

HOSTILE_SERVER listens and answers by request path; HOSTILE_CLIENT runs one case
against it (its hostile exchanges, each on a connection of its own, then one
well-formed GET /after-<case> on a fresh connection) and prints one JSON line: the
status each exchange got (0: no status line came back).

The server reads with recv(16384), the size the kernel copies of each call by
default (capture.bytes_per_call), so on its side every byte is captured and the
agent's own limits decide; the client writes each request with one sendall, as
clients do, so on its side the kernel cuts calls over 16 KiB.

Peers names one run's services (OTEL_SERVICE_NAME) and starts its processes;
finish_client checks what a client saw. A network namespace of its own
(Namespace) lets a server listen on port 80 without touching the host's.
"""
import atexit
import json
import os
import shutil
import subprocess
import tempfile
import uuid

from agent import fail

# argv: host, port. Prints the port it listens on. Paths:
#   /a-big-header, /b-flood-big  431 (the head was read whole first)
#   /c-<kind>                    200, chunked, whose first chunk-size line is CHUNK_LINES[kind]
#   /d-negative, /d-overflow     400 (a request with Content-Length -1 / 2^64)
#   /d-huge                      413 at once (Content-Length 9999999999999999999), body unread
#   /d-<kind>-response           200 with Content-Length RESPONSE_LENGTHS[kind], 1000 bytes, close
#   /e-keepalive                 200, keep-alive: the connection is read on
#   /v1/chat/completions         200 text/event-stream, chunked: three 1.9 KB data events
#                                every 2 ms (about 2.5 MiB/s) until the client goes away
#   /model/v1/chat/completions   200, a chat completion whose model is 5000 bytes long
#   anything else                200 "ok\n"
# A connection whose bytes do not start like a request is read to its end, then
# answered 400 and closed (what nginx answers, after reading everything).
HOSTILE_SERVER = r"""
import re, socket, sys, threading, time

CHUNK_LINES = {"nonhex": b"zz", "overflow": b"10000000000000000", "negative": b"-5",
               "huge": b"ffffffffffffffff"}
RESPONSE_LENGTHS = {"negative": b"-1", "huge": b"9999999999999999999"}
SSE_EVENT = (b'data: {"id":"chatcmpl-hostile","object":"chat.completion.chunk","created":1,'
             b'"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"'
             + b"token " * 300 + b'"},"finish_reason":null}]}\n\n')
COMPLETION = (b'{"id":"chatcmpl-hostile","object":"chat.completion","model":"' + b"r" * 5000
              + b'","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},'
              b'"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}')
READ = 16384
REQUEST = re.compile(rb"[A-Z]+ ")


def answer(conn, status, reason, body=b"ok\n", close=True):
    conn.sendall(b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\n%s\r\n%s"
                 % (status, reason, len(body), b"Connection: close\r\n" if close else b"", body))


def drain(conn):
    while conn.recv(1 << 16):
        pass


def stream_events(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n")
    events = SSE_EVENT * 3
    chunk = b"%x\r\n%s\r\n" % (len(events), events)
    try:
        while True:
            conn.sendall(chunk)
            time.sleep(0.002)
    except OSError:
        pass  # the client went away: the stream never ended


def serve(conn):
    data = b""
    while True:
        while b"\r\n\r\n" not in data:
            if len(data) >= 8 and not REQUEST.match(data):
                drain(conn)
                answer(conn, 400, b"Bad Request")
                return
            piece = conn.recv(READ)
            if not piece:
                return
            data += piece
        head, _, data = data.partition(b"\r\n\r\n")
        path = head.split(b" ", 2)[1].decode()
        kind = path.split("-", 1)[-1]
        if path in ("/a-big-header", "/b-flood-big"):
            return answer(conn, 431, b"Request Header Fields Too Large")
        if path.startswith("/c-"):
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                         b"Connection: close\r\n\r\n" + CHUNK_LINES[kind] + b"\r\nhello\r\n0\r\n\r\n")
            return
        if path in ("/d-negative", "/d-overflow"):
            return answer(conn, 400, b"Bad Request")
        if path == "/d-huge":
            return answer(conn, 413, b"Content Too Large")
        if path.endswith("-response"):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s"
                         % (RESPONSE_LENGTHS[kind.split("-")[0]], b"x" * 1000))
            return
        if path == "/v1/chat/completions":
            return stream_events(conn)
        if path == "/model/v1/chat/completions":
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            while len(data) < length:
                piece = conn.recv(READ)
                if not piece:
                    return
                data += piece
            return answer(conn, 200, b"OK", COMPLETION)
        if path == "/e-keepalive":
            answer(conn, 200, b"OK", close=False)
            continue
        return answer(conn, 200, b"OK")


def run(conn):
    try:
        serve(conn)
        conn.shutdown(socket.SHUT_WR)  # a lingering close: unread bytes would turn into a reset
        drain(conn)
    except OSError:
        pass
    finally:
        conn.close()


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((sys.argv[1], int(sys.argv[2])))
listener.listen(64)
print(listener.getsockname()[1], flush=True)
while True:
    threading.Thread(target=run, args=(listener.accept()[0],), daemon=True).start()
"""

# argv: case, host, port[, n]. Prints {"statuses": [...]}; for "sse", also
# {"bytes": ...}: the event stream read in n seconds, after which it hangs up. "scan"
# asks for n distinct paths. "e" prints "sent" after its first MiB of noise and
# waits for a line on stdin before the other 3 MiB, so that the test can see the
# agent decide in between.
HOSTILE_CLIENT = r"""
import json, random, socket, sys, time

case, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
statuses = []
noise = random.Random(9).randbytes


def connect():
    conn = socket.create_connection((host, port))
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def finish(conn):
    conn.shutdown(socket.SHUT_WR)
    answer = b""
    while True:
        piece = conn.recv(1 << 16)
        if not piece:
            break
        answer += piece
    conn.close()
    statuses.append(int(answer[9:12]) if answer.startswith(b"HTTP/1.1 ") else 0)


def exchange(*parts, pieces=None):
    conn = connect()
    for part in parts:
        step = pieces or len(part)  # pieces: a slow sender, the head in small writes
        for i in range(0, len(part), step):
            conn.sendall(part[i:i + step])
    finish(conn)


def get(path, extra=b"", host_header=None):
    return b"GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (
        path.encode(), host_header or b"%s:%d" % (host.encode(), port), extra)


def post(path, length, body=b""):
    return (b"POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Length: %s\r\n\r\n"
            % (path.encode(), host.encode(), port, length)) + body


def sse(seconds):
    body = json.dumps({"model": "gpt-4o-mini", "stream": True,
                       "messages": [{"role": "user", "content": "never stop"}]}).encode()
    conn = connect()
    conn.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: %s:%d\r\n"
                 b"Content-Type: application/json\r\nAuthorization: Bearer sk-hostile\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (host.encode(), port, len(body), body))
    received = 0
    first = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        piece = conn.recv(1 << 16)
        if not piece:
            break
        first = first or piece
        received += len(piece)
    conn.close()  # mid-stream: the server never ended it
    statuses.append(int(first[9:12]) if first.startswith(b"HTTP/1.1 ") else 0)
    return received


result = {}
if case == "a":
    exchange(get("/a-big-header", b"X-Big: " + b"x" * (1 << 20) + b"\r\n"))
elif case == "long":
    exchange(get("/long/" + "q" * 6000, host_header=b"h" * 6000 + b".example"))
elif case == "b":
    exchange(get("/b-flood-small", b"a:1\r\n" * 10000), pieces=4096)
    exchange(get("/b-flood-big", b"".join(b"X-Flood-%05d: %s\r\n" % (i, b"v" * 20)
                                          for i in range(10000))))
elif case == "c":
    for kind in ("nonhex", "overflow", "negative", "huge"):
        exchange(get("/c-" + kind))
elif case == "d":
    exchange(post("/d-negative", b"-1"))
    exchange(post("/d-overflow", b"18446744073709551616"))
    exchange(post("/d-huge", b"9999999999999999999", b"y" * 1000))
    for kind in ("negative", "huge"):
        exchange(get("/d-%s-response" % kind))
elif case == "e":
    conn = connect()
    for _ in range(16):
        conn.sendall(noise(1 << 16))
    print("sent", flush=True)
    sys.stdin.readline()
    for _ in range(48):
        conn.sendall(noise(1 << 16))
    finish(conn)
    exchange(get("/e-keepalive"), noise(2 << 20))
elif case == "scan":  # a path-enumeration scan: SCAN_PATHS distinct paths, seeded
    words = random.Random(7)
    for _ in range(int(sys.argv[4])):
        word = "".join(words.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(10))
        exchange(get("/scan/" + word))
elif case == "model":
    body = json.dumps({"model": "q" * 5000, "messages": [{"role": "user", "content": "hi"}]})
    exchange(post("/model/v1/chat/completions", b"%d" % len(body), body.encode()))
elif case == "sse":
    result["bytes"] = sse(float(sys.argv[4]))
if case != "sse":
    exchange(get("/after-" + case))
result["statuses"] = statuses
print(json.dumps(result), flush=True)
"""


# The peers run python under a name of this run alone (a symlink), which the agent
# captures: any other python3 process on the host stays out of its counts,
# connections and memory.
PYTHON_NAME = f"irh-{os.getpid()}"
_BIN = tempfile.mkdtemp(prefix="infrared-hostile-")
os.chmod(_BIN, 0o755)  # reached from the peers' network namespace, as root
atexit.register(shutil.rmtree, _BIN, True)
PYTHON = os.path.join(_BIN, PYTHON_NAME)
os.symlink("/usr/bin/python3", PYTHON)


class Peers:
    """The service names of one run, and the peer processes that carry them.
    `wrap`, when given, turns an argv into one that runs it elsewhere (Namespace.wrap)."""

    def __init__(self):
        self.tag = f"hostile-{uuid.uuid4().hex[:8]}"
        self.server = f"{self.tag}-server"
        self.server80 = f"{self.tag}-server80"

    def client(self, case):
        return f"{self.tag}-client-{case}"

    def start_server(self, service, wrap=None, port=0):
        """HOSTILE_SERVER on 127.0.0.1:port, and the port it listens on."""
        argv = [PYTHON, "-c", HOSTILE_SERVER, "127.0.0.1", str(port)]
        process = subprocess.Popen(wrap(argv) if wrap else argv, stdout=subprocess.PIPE, text=True,
                                   env=dict(os.environ, OTEL_SERVICE_NAME=service))
        line = process.stdout.readline()
        if not line:
            fail(f"the hostile server {service} exited with {process.wait(10)}")
        return process, int(line)

    def client_process(self, case, port, wrap=None, *extra):
        """HOSTILE_CLIENT running `case` against 127.0.0.1:port (see finish_client)."""
        argv = [PYTHON, "-c", HOSTILE_CLIENT, case, "127.0.0.1", str(port), *extra]
        return subprocess.Popen(wrap(argv) if wrap else argv, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True,
                                env=dict(os.environ, OTEL_SERVICE_NAME=self.client(case)))


def finish_client(process, case, statuses):
    """Waits for a client; it must have seen `statuses`. Returns what it printed."""
    out, _ = process.communicate(timeout=60)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        fail(f"the {case} client exited with {process.returncode}: {out}")
    result = json.loads(lines[-1])
    if result["statuses"] != statuses:
        fail(f"the {case} client saw statuses {result['statuses']}, wanted {statuses}")
    return result


def _ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True)


class Namespace:
    """A fresh network namespace with its loopback up; wrap(argv) runs argv in it.
    `ip netns exec` execs argv in place, so the pid is the program's own."""

    def __init__(self):
        self.name = f"infr-hostile-{uuid.uuid4().hex[:8]}"

    def __enter__(self):
        _ip("netns", "add", self.name)
        try:
            _ip("-n", self.name, "link", "set", "dev", "lo", "up")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True)

    def wrap(self, argv):
        return ["ip", "netns", "exec", self.name, *argv]
