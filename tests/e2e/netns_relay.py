"""Two network namespaces joined through a user-space relay that delays and drops.

`tc qdisc ... netem` is not available on every kernel, so the path between the
namespaces is made in Python: each namespace holds one TUN device whose file
descriptor stays with the relay in the root namespace. A thread reads every IP packet
one side writes and writes it into the other side after `delay_ms`, unless the drop
policy takes it: a share of packets (`drop_ratio`, from a seeded RNG, so a run is
repeatable) or the next n (`drop_next`).

    with Relay(delay_ms=50) as relay:
        server = relay.run_in(relay.b, [python, "-c", SERVER])
        client = relay.run_in(relay.a, [python, "-c", CLIENT, relay.address(relay.b)])

Addresses: 10.<net>.0.1/24 and fd00:<net>::1/64 in A, .2 and ::2 in B. Each namespace
has its own routing table, so parallel relays may reuse the same subnet.
"""
import fcntl
import heapq
import os
import random
import select
import struct
import subprocess
import threading
import time
import uuid

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
MAX_PACKET = 65536


def _ip(*args):
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"`ip {' '.join(args)}` failed: {result.stderr.strip()}")


def open_tun(name):
    """A TUN device called name in this namespace, and its descriptor (non-blocking)."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd


def is_tcp_with_payload(packet):
    """Whether an IPv4 or IPv6 packet (no extension headers) is a TCP segment with data."""
    if not packet:
        return False
    version = packet[0] >> 4
    if version == 4:
        header = (packet[0] & 0x0F) * 4
        protocol, total = packet[9], struct.unpack_from("!H", packet, 2)[0]
    elif version == 6:
        header, protocol = 40, packet[6]
        total = 40 + struct.unpack_from("!H", packet, 4)[0]
    else:
        return False
    if protocol != 6 or len(packet) < header + 13:
        return False
    return total - header - (packet[header + 12] >> 4) * 4 > 0


class Relay:
    """Namespaces a and b (their names), joined through TUN devices and a relay thread.

    delay_ms: added to every packet in each direction (an RTT grows by twice this).
    drop_ratio: the share of packets dropped, chosen by random.Random(seed).
    drop_only: if given, a predicate on the packet bytes; only packets it accepts may
    be dropped (is_tcp_with_payload drops data and never handshakes or pure ACKs).
    """

    def __init__(self, delay_ms=0, drop_ratio=0.0, seed=1, drop_only=None, net=77):
        tag = uuid.uuid4().hex[:8]
        self.a, self.b = f"infr-{tag}-a", f"infr-{tag}-b"
        self._devices = {self.a: f"infr{tag}a", self.b: f"infr{tag}b"}
        self._ipv4 = {self.a: f"10.{net}.0.1", self.b: f"10.{net}.0.2"}
        self._ipv6 = {self.a: f"fd00:{net}::1", self.b: f"fd00:{net}::2"}
        self.delay_ms = delay_ms
        self.drop_ratio = drop_ratio
        self.drop_only = drop_only
        self._random = random.Random(seed)
        self._drop_next = 0
        self._lock = threading.Lock()
        self._fds = {}
        self._namespaces = []
        self._children = []
        self._stop = threading.Event()
        self._thread = None
        self.forwarded = {self.a: 0, self.b: 0}  # by the namespace that sent them
        self.dropped = {self.a: 0, self.b: 0}

    def address(self, namespace, family=4):
        return (self._ipv4 if family == 4 else self._ipv6)[namespace]

    def drop_next(self, n):
        """Drop the next n packets (that drop_only accepts), whichever way they go."""
        with self._lock:
            self._drop_next += n

    def set_policy(self, delay_ms=None, drop_ratio=None):
        with self._lock:
            if delay_ms is not None:
                self.delay_ms = delay_ms
            if drop_ratio is not None:
                self.drop_ratio = drop_ratio

    def run_in(self, namespace, argv, **popen_kwargs):
        """subprocess.Popen of argv in the namespace. `ip netns exec` execs argv in
        place, so the pid is the program's own. Still running at exit, it is killed."""
        child = subprocess.Popen(["ip", "netns", "exec", namespace, *argv], **popen_kwargs)
        self._children.append(child)
        return child

    def run_in_checked(self, namespace, argv, timeout=30):
        """Run argv in the namespace to its end; its stdout, or RuntimeError."""
        child = self.run_in(namespace, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = child.communicate(timeout=timeout)
        if child.returncode != 0:
            raise RuntimeError(f"{argv} in {namespace} exited with {child.returncode}: {err.strip()}")
        return out

    def __enter__(self):
        try:
            for namespace in (self.a, self.b):
                self._make_side(namespace)
        except BaseException:
            self._clean_up()
            raise
        self._thread = threading.Thread(target=self._relay, name="netns-relay", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._clean_up()

    def _make_side(self, namespace):
        _ip("netns", "add", namespace)
        self._namespaces.append(namespace)
        device = self._devices[namespace]
        self._fds[namespace] = open_tun(device)
        _ip("link", "set", "dev", device, "netns", namespace)
        _ip("-n", namespace, "link", "set", "dev", "lo", "up")
        _ip("-n", namespace, "addr", "add", f"{self._ipv4[namespace]}/24", "dev", device)
        _ip("-n", namespace, "-6", "addr", "add", f"{self._ipv6[namespace]}/64", "dev", device, "nodad")
        _ip("-n", namespace, "link", "set", "dev", device, "up")

    def _clean_up(self):
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        for child in self._children:
            if child.poll() is None:
                child.kill()
                child.wait()
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        for namespace in self._namespaces:
            subprocess.run(["ip", "netns", "delete", namespace], capture_output=True)
        self._namespaces.clear()

    def _dropping(self, packet):
        with self._lock:
            if self.drop_only and not self.drop_only(packet):
                return False
            if self._drop_next > 0:
                self._drop_next -= 1
                return True
            return self.drop_ratio > 0 and self._random.random() < self.drop_ratio

    def _relay(self):
        other = {self._fds[self.a]: (self.a, self._fds[self.b]),
                 self._fds[self.b]: (self.b, self._fds[self.a])}
        poller = select.poll()
        for fd in other:
            poller.register(fd, select.POLLIN)
        pending = []  # (release time, sequence, fd to write, packet)
        sequence = 0
        while not self._stop.is_set():
            now = time.monotonic()
            while pending and pending[0][0] <= now:
                _, _, out, packet = heapq.heappop(pending)
                try:
                    os.write(out, packet)
                except OSError:
                    pass  # the namespace's device is down or full: a lost packet
            wait = 50 if not pending else max(0, (pending[0][0] - now) * 1000)
            for fd, _ in poller.poll(min(wait, 50)):
                sender, out = other[fd]
                for packet in _read_all(fd):
                    if self._dropping(packet):
                        self.dropped[sender] += 1
                        continue
                    self.forwarded[sender] += 1
                    sequence += 1
                    heapq.heappush(pending, (time.monotonic() + self.delay_ms / 1000, sequence, out, packet))


def _read_all(fd):
    packets = []
    while True:
        try:
            packets.append(os.read(fd, MAX_PACKET))
        except BlockingIOError:
            return packets
        except OSError:
            return packets  # the device left with its namespace
