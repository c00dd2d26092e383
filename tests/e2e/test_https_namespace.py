"""HTTPS from a process whose libssl exists only in its own mount namespace, as in a
container that ships its own OpenSSL.

The client is Python httpx started by `unshare --mount --propagation private`: in its
new mount namespace a tmpfs covers an empty directory, the host's libssl.so.3 is
copied there and LD_LIBRARY_PATH makes Python load the copy. The host sees the
directory empty the whole time, so the agent can reach the copy only through
/proc/<pid>/root. The test checks, from /proc, that the client maps the copy (another
device and inode than the host's libssl.so.3) and that the copy is nowhere on the
host. Then:

- infrared_tls_libraries{kind="openssl"} grows while the client runs (by 1 for the
  copy, the host's libssl having been attached at start; another test's TLS program
  starting meanwhile may add its own), and the agent logs "TLS
  library probed" for libssl.so.3 with a path under /proc/<client pid>/root/ (the
  copy's infrared_probe_attached series has the host's file name, libssl.so.3, so
  it is only checked to be 1 for SSL_write);
- each of REQUESTS GETs has exactly one client span (url.scheme=https, its path,
  status 200, body size), and the client's duration histogram counts them.

The client loads libssl when it imports httpx, then waits for the test before its
first request, until the agent has attached to the copy. That models an agent that
has been running long before the request: the attachment follows the mmap
asynchronously, and a request sent in the same instant may precede it.

When the client exits, no process is left in its mount namespace, so the namespace
and its tmpfs are gone; the test checks that nothing is left mounted on the host.
"""
import os
import ssl
import subprocess
import tempfile
import time

import agent
from agent import Agent, fail, find, value, wait_until
from tls_peers import HTTPX_CLIENT, Certificate, HttpxSession, NginxTls, client_expect, expect_capture

REQUESTS = 5
LIBSSL = "libssl.so.3"
PAGE = ("/private.html", 1234)
ATTACH_TIMEOUT = 10

# In the new mount namespace: $1 the directory to cover, $2 the host's libssl, $3
# the client's source. exec keeps one pid from unshare to Python.
PRIVATE_LIBSSL_SCRIPT = ('mount -t tmpfs tmpfs "$1" && cp "$2" "$1"/ && '
                         'LD_LIBRARY_PATH="$1" exec /usr/bin/python3 -c "$3" -')


def mapped_libssl(pid):
    """(path as the process names it, device, inode) of the libssl.so.3 it maps, or None."""
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 6 and os.path.basename(fields[5]) == LIBSSL:
                major, minor = (int(part, 16) for part in fields[3].split(":"))
                return fields[5], os.makedev(major, minor), int(fields[4])
    return None


def openssl_libraries(running):
    count = value(running.samples(), "infrared_tls_libraries", kind="openssl")
    if count is None:
        fail("the agent has no single infrared_tls_libraries{kind=\"openssl\"} series")
    return count


def wait_for_more_libraries(running, before):
    """Until the agent counts more OpenSSL files than before, or ATTACH_TIMEOUT passed:
    the caller then checks by how many, so a missed attachment fails there."""
    deadline = time.monotonic() + ATTACH_TIMEOUT
    while openssl_libraries(running) <= before and time.monotonic() < deadline:
        time.sleep(0.05)


class PrivateLibsslSession(HttpxSession):
    """The httpx client of tls_peers, in a mount namespace of its own where libssl.so.3
    is a copy on a tmpfs over mountpoint."""

    def __init__(self, mountpoint, host_libssl):
        super().__init__()
        self.mountpoint = mountpoint
        self.host_libssl = host_libssl

    def __enter__(self):
        self.process = subprocess.Popen(
            [agent.require_program("unshare"), "--mount", "--propagation", "private",
             "sh", "-c", PRIVATE_LIBSSL_SCRIPT, "sh", self.mountpoint, self.host_libssl,
             HTTPX_CLIENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=dict(os.environ, OTEL_SERVICE_NAME=self.client.service))
        return self

    def wait_for_libssl(self):
        """The client's libssl.so.3 mapping, once it has imported httpx."""
        found = wait_until(lambda: self.process.poll() is not None
                           or mapped_libssl(self.process.pid), 10, "the client to load libssl")
        if self.process.poll() is not None:
            fail(f"the client in its own mount namespace exited with {self.process.returncode}")
        # Read once Python runs, so after unshare made the namespace.
        self.namespace = os.stat(f"/proc/{self.process.pid}/ns/mnt").st_ino
        if self.namespace == os.stat("/proc/self/ns/mnt").st_ino:
            fail(f"the client (pid {self.process.pid}) is in the test's own mount namespace")
        return found


def check_private_copy(pid, mapping, host, mountpoint):
    """The client maps a file the host cannot see, reached through /proc/<pid>/root."""
    path, device, inode = mapping
    if os.path.dirname(path) != mountpoint:
        fail(f"the client maps {path}, not the copy in {mountpoint}")
    if (device, inode) == (host.st_dev, host.st_ino):
        fail(f"the client's {path} is the host's libssl.so.3 (same device and inode)")
    through_root = os.stat(f"/proc/{pid}/root{path}")
    if (through_root.st_dev, through_root.st_ino) != (device, inode):
        fail(f"/proc/{pid}/root{path} is not the file the client maps")
    if os.listdir(mountpoint) or os.path.ismount(mountpoint):
        fail(f"the host sees {mountpoint} mounted or not empty: the copy is not private")
    print(f"client (pid {pid}) maps {path} (device {device:#x}, inode {inode}), "
          f"not the host's ({host.st_dev:#x}, {host.st_ino}); the host sees {mountpoint} empty")


def check_probed_through_root(running, pid):
    prefix = f"/proc/{pid}/root/"
    entries = [e for e in running.log_entries() if e.get("msg") == "TLS library probed"
               and e.get("library") == LIBSSL and str(e.get("path", "")).startswith(prefix)]
    if len(entries) != 1:
        fail(f"the agent logged {len(entries)} \"TLS library probed\" lines for {LIBSSL} "
             f"under {prefix}, not 1:\n{running.log_text()}")
    print(f"agent log: TLS library probed, path {entries[0]['path']}, "
          f"functions {entries[0].get('functions')}")


def check_probe_attached(samples):
    """The copy's probes share their series with the host's libssl.so.3 (same file
    name), so this shows an attachment, not which file: the library count does that."""
    series = find(samples, "infrared_probe_attached", probe="SSL_write", library=LIBSSL)
    if [s[2] for s in series] != [1]:
        fail(f"infrared_probe_attached{{probe=\"SSL_write\",library=\"{LIBSSL}\"}} is {series}, not 1")


def check_namespace_gone(namespace, mountpoint):
    """No process holds the client's mount namespace, so its tmpfs went with it."""
    holders = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}/ns/mnt").st_ino == namespace:
                holders.append(pid)
        except OSError:
            pass  # gone meanwhile, or a kernel thread
    if holders:
        fail(f"processes {holders} are still in the client's mount namespace")
    with open("/proc/self/mountinfo") as f:
        if any(line.split()[4] == mountpoint for line in f):
            fail(f"{mountpoint} is mounted on the host after the client exited")
    if os.listdir(mountpoint):
        fail(f"{mountpoint} is not empty on the host after the client exited")
    print(f"client exited: no process left in its mount namespace, nothing mounted on {mountpoint}")


def main():
    agent.require_bpf()
    # Importing ssl mapped the host's libssl.so.3 into this process.
    own = mapped_libssl(os.getpid())
    if own is None:
        fail(f"the test's own Python maps no {LIBSSL}")
    host_libssl = os.path.realpath(own[0])
    host = os.stat(host_libssl)
    print(f"host {LIBSSL}: {host_libssl} ({ssl.OPENSSL_VERSION})")
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as directory:
        spans_path = os.path.join(directory, "spans.jsonl")
        mountpoint = os.path.join(directory, "private-lib")
        os.mkdir(mountpoint)
        certificate = Certificate(os.path.join(directory, "tls"))
        with NginxTls(os.path.join(directory, "nginx"), certificate) as nginx, \
                Agent("--spans.output", spans_path) as running:
            nginx.add_file(PAGE[0][1:], PAGE[1])
            before = openssl_libraries(running)
            log_mark = len(running.log_entries())
            with PrivateLibsslSession(mountpoint, host_libssl) as session:
                pid = session.process.pid
                check_private_copy(pid, session.wait_for_libssl(), host, mountpoint)
                wait_for_more_libraries(running, before)
                for _ in range(REQUESTS):
                    session.get(nginx.url(PAGE[0]), PAGE[1])
                grown = openssl_libraries(running) - before
                if grown < 1:
                    # Every process on the host is the agent's: another test's TLS
                    # program started meanwhile would show here too.
                    probed = [e for e in running.log_entries()[log_mark:]
                              if e.get("msg") == "TLS library probed"]
                    fail(f"infrared_tls_libraries{{kind=\"openssl\"}} grew by {grown:g} while the "
                         f"client ran, not at least 1 (its private {LIBSSL}); files probed "
                         f"meanwhile: {probed}")
                print(f"infrared_tls_libraries{{kind=\"openssl\"}} {before:g} -> {before + grown:g}")
                check_probed_through_root(running, pid)
                check_probe_attached(running.samples())
            check_namespace_gone(session.namespace, mountpoint)
            expect_capture(running, spans_path, [
                client_expect(session.client, nginx.port, {PAGE[0]: (REQUESTS, PAGE[1])})])
    print(f"took {time.monotonic() - started:.1f}s")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
