"""Restart while traffic flows: nothing of the agent outlives it, and it starts clean again.

nginx serves plain HTTP and HTTPS (it maps libssl.so.3, so the agent puts its TLS
uprobes in it) while a load process keeps requests flowing on both: keep-alive and
fresh connections. With that traffic:

1. The agent (defaults: HTTP capture and TLS on) starts. Its BPF objects are read
   from /proc/<pid>/fdinfo (bpftool 7.1 here cannot list owners by pid, and other
   tests' agents may be loaded at the same time): programs, maps (with those its
   programs use), links (raw tracepoints and uprobe_multi links on libssl.so.3).
   bpftool's global view must list them all.
2. SIGTERM while requests flow: it exits 0 within the second README promises, and
   every program, map and link it had is gone from `bpftool prog/map/link show`, no
   `bpftool perf show` entry names one of its programs, and tracefs' uprobe_events and
   kprobe_events hold nothing of it (libbpf names legacy probes libbpf_<pid>_...; the
   agent uses the uprobe PMU and uprobe_multi links, so none are expected at all).
   The load saw no error across the stop: nginx, with its uprobes removed, serves on.
3. Started again on the same port (over the first one's TIME_WAIT sockets, as a
   restarted DaemonSet pod would be) while traffic still flows, the agent counts
   exactly the requests made after it is ready: N_FRESH on new connections and N_KEPT
   on a keep-alive connection opened before it started, over HTTP and over HTTPS.
   nginx predates the agent and overwrites its environment with its process title,
   so its series say service_name="nginx" and cannot be told from other tests' nginx:
   each run's requests go to routes of their own (/counted-<token>-http.html).
4. A second agent on the same port refuses to start (exit 1, the port is taken), and
   the running one is unaffected.
5. SIGINT: the same clean exit and the same check of leftovers.
"""
import http.client
import json
import os
import random
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import uuid

import agent
from agent import Agent, fail, wait_until
from http_peers import Nginx, histogram_counts
from tls_peers import Certificate, NginxTls

N_FRESH = 40
N_KEPT = 40
# README: "0 after SIGINT/SIGTERM (every probe detached, within a second)".
EXIT_SECONDS = 1.0
# Programs are freed after an RCU grace period and maps after their programs, on a
# workqueue: give the kernel a moment before calling anything a leftover.
FREE_SECONDS = 5
EXPECTED_PROGRAMS = {"handle_sched_switch", "handle_sched_process_exit", "handle_sys_enter",
                     "handle_sys_exit", "ssl_enter", "ssl_return", "handle_inet_sock_set_state"}

# Requests to each base URL in argv, in loops of their own, until stdin closes; a
# line on stdin asks for the counts so far. Keep-alive and fresh connections both.
LOAD = r"""
import http.client, json, ssl, sys, threading, time
counts = {"ok": 0, "errors": 0, "last_error": None}
lock = threading.Lock()
done = threading.Event()
context = ssl._create_unverified_context()

def connect(scheme, port):
    if scheme == "https":
        return http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=context)
    return http.client.HTTPConnection("127.0.0.1", port, timeout=5)

def loop(scheme, port, keep):
    connection = None
    while not done.is_set():
        try:
            connection = connection or connect(scheme, port)
            connection.request("GET", "/index.html")
            response = connection.getresponse()
            response.read()
            ok = response.status == 200
            if not keep:
                connection.close()
                connection = None
            with lock:
                counts["ok" if ok else "errors"] += 1
        except Exception as error:
            connection = None
            with lock:
                counts["errors"] += 1
                counts["last_error"] = f"{scheme}:{port} {error!r}"
        time.sleep(0.003)

threads = []
for target in sys.argv[1:]:
    scheme, port = target.split(":")
    for keep in (True, False):
        threads.append(threading.Thread(target=loop, args=(scheme, int(port), keep)))
for thread in threads:
    thread.start()
for line in sys.stdin:
    with lock:
        print(json.dumps(counts), flush=True)
done.set()
for thread in threads:
    thread.join()
with lock:
    print(json.dumps(counts), flush=True)
"""


class Load:
    def __init__(self, *targets):
        self.process = subprocess.Popen(["/usr/bin/python3", "-c", LOAD, *targets],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def counts(self):
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def stop(self):
        self.process.stdin.close()
        last = json.loads(self.process.stdout.readline())
        self.process.wait(10)
        return last


def bpftool(*what):
    result = subprocess.run([agent.require_program("bpftool"), "-j", *what],
                            capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"bpftool {' '.join(what)} failed: {result.stderr}")
    return json.loads(result.stdout or "[]")


def kernel_objects():
    """What the kernel has loaded now, whoever owns it."""
    return {"prog": {p["id"]: p for p in bpftool("prog", "show")},
            "map": {m["id"]: m for m in bpftool("map", "show")},
            "link": {k["id"]: k for k in bpftool("link", "show")},
            "perf": bpftool("perf", "show")}


def tracefs_probes():
    lines = []
    for name in ("uprobe_events", "kprobe_events"):
        path = os.path.join("/sys/kernel/tracing", name)
        if os.path.exists(path):
            with open(path) as f:
                lines += [f"{name}: {line.strip()}" for line in f if line.strip()]
    return lines


def owned_objects(pid):
    """Programs, maps and links the process holds a file descriptor of."""
    owned = {"prog": set(), "map": set(), "link": set(), "link_types": {}}
    directory = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(directory):
        try:
            with open(os.path.join(directory, fd)) as f:
                fields = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        except OSError:
            continue  # closed meanwhile
        if "link_id" in fields:
            link = int(fields["link_id"])
            owned["link"].add(link)
            owned["link_types"][link] = fields.get("link_type", "?")
        if "prog_id" in fields:
            owned["prog"].add(int(fields["prog_id"]))
        if "map_id" in fields:
            owned["map"].add(int(fields["map_id"]))
    return owned


def record_ownership(running):
    """The running agent's BPF objects, checked against the kernel's global view."""
    pid = running.process.pid
    owned = owned_objects(pid)
    objects = kernel_objects()
    for kind in ("prog", "map", "link"):
        missing = owned[kind] - objects[kind].keys()
        if missing:
            fail(f"the agent holds {kind}s {sorted(missing)} that bpftool does not list")
    # Maps the agent's programs use count as its own even without a descriptor.
    for prog in owned["prog"]:
        owned["map"] |= set(objects["prog"][prog].get("map_ids", []))
    names = {objects["prog"][prog].get("name") for prog in owned["prog"]}
    if not EXPECTED_PROGRAMS <= names:
        fail(f"the agent's programs {sorted(names)} lack {sorted(EXPECTED_PROGRAMS - names)}")
    uprobe_links = [link for link, kind in owned["link_types"].items()
                    if kind in ("uprobe_multi", "perf_event")]
    if not uprobe_links:
        fail(f"the agent holds no uprobe link: {owned['link_types']}")
    owned["perf"] = [p for p in objects["perf"] if p.get("pid") == pid]
    mine = [line for line in tracefs_probes() if f"libbpf_{pid}_" in line]
    print(f"agent {pid}: {len(owned['prog'])} programs, {len(owned['map'])} maps, "
          f"{len(owned['link'])} links ({len(uprobe_links)} uprobe), "
          f"{len(owned['perf'])} perf entries, {len(mine)} tracefs probe events")
    return owned


def leftovers(owned, pid):
    objects = kernel_objects()
    found = {kind: sorted(owned[kind] & objects[kind].keys()) for kind in ("prog", "map", "link")}
    found["link to one of its programs"] = sorted(
        link for link, entry in objects["link"].items() if entry.get("prog_id") in owned["prog"])
    found["perf"] = [p for p in objects["perf"]
                     if p.get("pid") == pid or p.get("prog_id") in owned["prog"]]
    found["tracefs"] = [line for line in tracefs_probes() if f"libbpf_{pid}_" in line]
    return {kind: items for kind, items in found.items() if items}


def stop_and_check(running, owned, sig, load):
    pid = running.process.pid
    before = load.counts()
    time.sleep(0.3)  # requests are in flight when the signal arrives
    started = time.monotonic()
    running.process.send_signal(sig)
    try:
        code = running.process.wait(10)
    except subprocess.TimeoutExpired:
        fail(f"the agent did not exit within 10 s of {sig.name}")
    took = time.monotonic() - started
    running.reader.join(5)
    print(f"{sig.name}: exit {code} after {took:.3f} s")
    if code != 0:
        fail(f"the agent exited with {code} after {sig.name}: {running.log_text()[-2000:]}")
    if took > EXIT_SECONDS:
        fail(f"the agent took {took:.3f} s to exit after {sig.name}, README promises a second")
    entries = running.log_entries()
    stopping = next((i for i, e in enumerate(entries) if e.get("msg") == "stopping"), None)
    if stopping is None:
        fail(f"the agent did not log that it was stopping: {running.log_text()[-2000:]}")
    bad = [e for e in entries[stopping:]
           if e.get("level") in ("warn", "error") or "unparsed" in e]
    if bad:
        fail(f"warnings or errors while stopping: {bad}")
    try:
        wait_until(lambda: not leftovers(owned, pid), FREE_SECONDS, "the agent's BPF objects to go")
    except SystemExit:
        fail(f"left behind after {sig.name}: {leftovers(owned, pid)}")
    after = load.counts()
    if after["errors"] or after["ok"] <= before["ok"]:
        fail(f"the traffic suffered from the stop: {before} then {after}")
    print(f"nothing left behind; traffic went on ({before['ok']} then {after['ok']} requests, "
          f"no error)")


def nginx_counts(running, route):
    return histogram_counts(running.samples(), "http_server_request_duration_seconds",
                            process_executable_name="nginx", http_route=route)


def expect_exact(running, route, expected):
    try:
        wait_until(lambda: nginx_counts(running, route) == expected, 20, f"exact counts of {route}")
    except SystemExit:
        fail(f"made {expected} to {route}, the agent counted {nginx_counts(running, route)}")
    time.sleep(0.3)  # beyond the agent's 100 ms drain: nothing more may arrive
    if nginx_counts(running, route) != expected:
        fail(f"made {expected} to {route}, the agent then counted {nginx_counts(running, route)}")


def counted_requests(scheme, port, route, context, kept):
    """N_KEPT on the connection `kept` (opened before the agent), N_FRESH on new ones."""
    for i in range(N_KEPT + N_FRESH):
        if i < N_KEPT:
            connection = kept
        elif scheme == "https":
            connection = http.client.HTTPSConnection("127.0.0.1", port, context=context)
        else:
            connection = http.client.HTTPConnection("127.0.0.1", port)
        connection.request("GET", route)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            fail(f"GET {route} on {scheme}:{port} answered {response.status}")
        if connection is not kept:
            connection.close()


def second_agent_refused(running):
    """It fails at bind, before loading anything: it has no BPF objects to leave."""
    started = time.monotonic()
    second = subprocess.Popen([agent.binary(), "--web.listen-address",
                               f"127.0.0.1:{running.port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        code = second.wait(10)
    except subprocess.TimeoutExpired:
        second.send_signal(signal.SIGTERM)
        _, log = second.communicate(timeout=10)
        fail(f"a second agent on the port of a running one started and shared the port "
             f"(SO_REUSEPORT?) instead of exiting 1: {log[-600:]}")
    log = second.stderr.read()
    print(f"a second agent on port {running.port}: exit {code} after "
          f"{time.monotonic() - started:.2f} s")
    if code != 1 or "cannot listen on" not in log:
        fail(f"a second agent on the port of a running one must exit 1 saying the port is "
             f"taken; it exited {code}: {log[-1000:]}")
    if running.process.poll() is not None or running.get("/readyz")[0] != 200:
        fail("the running agent was disturbed by the second one")


def restart_port():
    """A free port below the ephemeral range, so that no other test's client socket
    takes it while no agent holds it."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
    for _ in range(100):
        port = random.randrange(20000, min(low, 32768))
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    fail("no free port below the ephemeral range")


def leave_time_wait(port):
    """One request whose connection the agent closes first: its end stays in TIME_WAIT."""
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        while client.recv(4096):
            pass


def time_wait_sockets(port):
    with open("/proc/net/tcp") as f:
        rows = [line.split() for line in f.readlines()[1:]]
    return sum(1 for row in rows if row[3] == "06" and int(row[1].split(":")[1], 16) == port)


def first_run(load, port):
    """Steps 1 and 2. Leaves TIME_WAIT sockets of its own on `port`."""
    with Agent("--web.listen-address", f"127.0.0.1:{port}") as first:
        owned = record_ownership(first)
        leave_time_wait(port)
        wait_until(lambda: nginx_counts(first, "/index.html"), 10,
                   "the first agent to see the load's requests to nginx")
        stop_and_check(first, owned, signal.SIGTERM, load)


def second_run(load, port, servers, routes):
    """Steps 3, 4 and 5. `servers`: {scheme: nginx}; `routes`: {scheme: route}."""
    context = ssl._create_unverified_context()
    kept = {"http": http.client.HTTPConnection("127.0.0.1", servers["http"].port),
            "https": http.client.HTTPSConnection("127.0.0.1", servers["https"].port,
                                                 context=context)}
    for connection in kept.values():
        connection.request("GET", "/index.html")
        connection.getresponse().read()
    waiting = time_wait_sockets(port)
    if not waiting:
        fail(f"no TIME_WAIT socket on port {port}: the restart would prove nothing")
    with Agent("--web.listen-address", f"127.0.0.1:{port}") as second:
        print(f"restarted on port {port} over {waiting} TIME_WAIT sockets")
        owned = record_ownership(second)
        for scheme, server in servers.items():
            counted_requests(scheme, server.port, routes[scheme], context, kept[scheme])
        for route in routes.values():
            expect_exact(second, route, {("GET", "200"): N_KEPT + N_FRESH})
        print(f"restarted agent counted exactly {N_KEPT} + {N_FRESH} requests on each of "
              f"HTTP and HTTPS ({N_KEPT} on connections older than it)")
        second_agent_refused(second)
        stop_and_check(second, owned, signal.SIGINT, load)
    for connection in kept.values():
        connection.close()


def main():
    agent.require_bpf()
    with tempfile.TemporaryDirectory() as directory:
        certificate = Certificate(os.path.join(directory, "tls"))
        token = uuid.uuid4().hex[:8]
        routes = {scheme: f"/counted-{token}-{scheme}.html" for scheme in ("http", "https")}
        with Nginx(os.path.join(directory, "plain")) as plain, \
                NginxTls(os.path.join(directory, "tls"), certificate) as tls:
            servers = {"http": plain, "https": tls}
            for scheme, server in servers.items():
                server.add_file(routes[scheme][1:], 300)
            load = Load(f"http:{plain.port}", f"https:{tls.port}")
            try:
                wait_until(lambda: load.counts()["ok"] > 20, 10, "the load to flow")
                port = restart_port()
                first_run(load, port)
                second_run(load, port, servers, routes)
            finally:
                final = load.stop()
            print(f"load: {final['ok']} requests, {final['errors']} errors")
            if final["errors"]:
                fail(f"the load saw errors: {final}")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
