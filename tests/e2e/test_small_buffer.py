"""A payload ring buffer of the smallest size allowed (4 KiB) loses nothing at a steady
100 requests a second: the kernel wakes the agent before its CPUs fill the buffer
between them.

The agent waits for the kernel's wakeups (or 100 ms). Each CPU wakes it once it has
written its share of a quarter of the buffer, so the buffer never sits full while the
agent sleeps. (With a share of 4 KiB on a 4 KiB buffer, the buffer filled between
wakeups: 30 of these 200 requests and 33 records were lost in the run that showed it.)

A copy of nginx (named so that only it is captured) serves the route of
test_load_accounting; one keep-alive client sends REQUESTS requests, one every 10 ms,
about 5 KiB of payload records per 100 ms. Every request is reported and the kernel
counts no ring-buffer drop.
"""
import socket
import tempfile
import time
import uuid

import agent
from agent import Agent, fail, value
from http_peers import wait_for_port
from test_load_accounting import ROUTE, start_nginx_copy
from test_parked_opens import exchange

REQUESTS = 200
NAME = "infrared-small-buffer-nginx"


def main():
    agent.require_bpf()
    with tempfile.TemporaryDirectory() as directory:
        with Agent("--capture.executables", NAME,
                   "--capture.events-buffer-bytes", "4096") as running:
            nginx, port = start_nginx_copy(directory, NAME)
            try:
                wait_for_port(port)
                with socket.create_connection(("127.0.0.1", port)) as client:
                    for _ in range(REQUESTS):
                        exchange(client, uuid.uuid4().hex, "s" * 100)
                        time.sleep(0.01)

                def reported():
                    return sum(v for n, labels, v in running.samples()
                               if n == "http_server_request_duration_seconds_count"
                               and labels.get("http_route") == ROUTE)

                deadline = time.monotonic() + 10
                while reported() < REQUESTS and time.monotonic() < deadline:
                    time.sleep(0.1)
                samples = running.samples()
                kernel = value(samples, "infrared_dropped_total", stage="kernel_sock",
                               reason="ringbuf_full") or 0
                got = reported()
                if kernel or got != REQUESTS:
                    fail(f"{got:.0f} of {REQUESTS} requests reported, {kernel:.0f} records "
                         "dropped with the ring buffer full")
                print(f"{REQUESTS} requests at 100 a second through a 4 KiB ring buffer: "
                      "all reported, none dropped")
            finally:
                nginx.terminate()
                nginx.wait(10)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
