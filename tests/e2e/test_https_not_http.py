"""HTTPS: a TLS connection that does not carry HTTP/1.x stops being copied.

A Python process makes a TLS connection to itself (self-signed certificate) and
sends 30 binary frames, each echoed back. The agent's tracker gives a TLS stream
whose role it cannot know 8 calls to start an HTTP message, then decides "not
HTTP" and flags the stream in the kernel, which stops copying its plaintext at the
TLS library calls. The kernel finds the stream by its (pid, generation) in an index of
its own: the agent never walks the TLS stream map (infrared_tls_stream_walks_total
stays 0). The process sends 10
frames, waits until the agent has decided about both ends (client and server),
then sends 30 more: their 120 TLS calls (a write and a read on each end per
frame) are all skipped in the kernel. The agent captures python3 only.
"""
import os
import subprocess
import tempfile

import agent
from agent import Agent, fail, wait_until
from tls_peers import Certificate

PEER = r"""
import socket, ssl, sys, threading, time
cert, key = sys.argv[1], sys.argv[2]
server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
server_context.load_cert_chain(cert, key)
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()
port = listener.getsockname()[1]

def serve():
    connection = server_context.wrap_socket(listener.accept()[0], server_side=True)
    while True:
        data = connection.recv(100)
        if not data:
            break
        connection.sendall(data)

threading.Thread(target=serve, daemon=True).start()
client_context = ssl.create_default_context()
client_context.check_hostname = False
client_context.verify_mode = ssl.CERT_NONE
client = client_context.wrap_socket(socket.create_connection(("127.0.0.1", port)))
def frames(count):
    for i in range(count):
        client.sendall(b"\x00\x01binary frame %d\n" % i)
        client.recv(100)

frames(10)
print("sent", flush=True)
sys.stdin.readline()  # until the test has seen the agent decide
frames(30)
client.close()
"""


def totals(running):
    samples = running.samples()

    def value(name, **labels):
        return sum(v for n, l, v in samples
                   if n == name and all(l.get(k) == want for k, want in labels.items()))
    return (value("infrared_http_connections_total", verdict="not_http"),
            value("infrared_capture_skipped_calls_total", reason="not_http"),
            value("infrared_tls_calls_total"),
            value("infrared_tls_stream_walks_total"))


def main():
    agent.require_bpf()
    with tempfile.TemporaryDirectory() as directory:
        certificate = Certificate(os.path.join(directory, "tls"))
        with Agent("--capture.executables", "python3") as running:
            before = totals(running)
            peer = subprocess.Popen(
                ["/usr/bin/python3", "-c", PEER, certificate.cert, certificate.key],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            if peer.stdout.readline().strip() != "sent":
                fail("the TLS peer did not send its first frames")

            def grown():
                return tuple(now - was for now, was in zip(totals(running), before))
            wait_until(lambda: grown()[0] >= 2, 10, "both TLS streams decided not HTTP")
            decided = grown()
            peer.stdin.write("go\n")
            peer.stdin.flush()
            if peer.wait(60) != 0:
                fail(f"the TLS peer exited with {peer.returncode}")
            wait_until(lambda: grown()[1] - decided[1] >= 120, 10,
                       "the 120 later TLS calls skipped in the kernel")
            # Other python3 processes on the host (parallel tests) may add to
            # these counters: both are checked as lower bounds.
            if grown()[3] != 0:
                fail(f"the agent walked the TLS stream map {grown()[3]:g} times to flag two "
                     f"streams the kernel's index knows")
            print(f"2 TLS streams found not HTTP; the 120 TLS calls after that were skipped "
                  f"in the kernel (+{grown()[1] - decided[1]:g} skipped)")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
