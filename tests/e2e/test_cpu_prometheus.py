"""Acceptance 1 and 6: a child burns 2 s of CPU; the agent's
process_cpu_time_seconds_total matches /proc's utime+stime within 5%, and a real
Prometheus server scraping the agent (in OpenMetrics) returns the same series."""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import agent
from agent import Agent, fail, value, wait_until, within
from children import BURN_CPU, Child

TOLERANCE = 0.05


def start_prometheus(directory, target_port):
    config = os.path.join(directory, "prometheus.yml")
    with open(config, "w") as f:
        f.write(f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: infrared
    static_configs:
      - targets: ['127.0.0.1:{target_port}']
""")
    log = open(os.path.join(directory, "prometheus.log"), "w")
    process = subprocess.Popen(
        [agent.require_program("prometheus"), f"--config.file={config}",
         f"--storage.tsdb.path={directory}/data", "--web.listen-address=127.0.0.1:0"],
        stdout=log, stderr=subprocess.STDOUT)
    return process, os.path.join(directory, "prometheus.log")


def prometheus_port(log_path):
    # Prometheus logs the address it bound: listen_address=127.0.0.1:NNNN
    with open(log_path) as f:
        for line in f:
            if "Listening on" in line and "address=" in line:
                return int(line.split("address=")[1].split()[0].rsplit(":", 1)[1])
    return None


def query(port, expr):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.load(response)
    except urllib.error.HTTPError as error:
        if error.code == 503:  # listening, but its storage is not ready yet
            return None
        raise
    if body.get("status") != "success":
        fail(f"Prometheus query {expr} failed: {body}")
    return body["data"]["result"]


def main():
    agent.require_bpf()
    with Agent() as running, Child(BURN_CPU, 2.0) as burner, \
            tempfile.TemporaryDirectory() as directory:
        expected = burner.figure
        pid = str(burner.pid)
        measured = wait_until(
            lambda: value(running.samples(), "process_cpu_time_seconds_total", process_pid=pid),
            10, f"the CPU series of pid {pid}")
        print(f"/proc utime+stime {expected:.3f}s, agent {measured:.3f}s")
        if not within(measured, expected, TOLERANCE):
            fail(f"process_cpu_time_seconds_total {measured} is not within 5% of /proc {expected}")

        prometheus, log_path = start_prometheus(directory, running.port)
        try:
            port = wait_until(lambda: prometheus_port(log_path), 30, "Prometheus to listen")
            series = wait_until(
                lambda: query(port, f'process_cpu_time_seconds_total{{process_pid="{pid}"}}'),
                30, "Prometheus to return the CPU series")
            from_prometheus = float(series[0]["value"][1])
            print(f"Prometheus returned {from_prometheus:.3f}s for pid {pid}")
            if not within(from_prometheus, expected, TOLERANCE):
                fail(f"Prometheus has {from_prometheus}, /proc said {expected}")
            up = wait_until(lambda: query(port, 'up{job="infrared"}'), 10, "the up series")
            if not up or up[0]["value"][1] != "1":
                fail(f"up{{job=\"infrared\"}} is {up}")
            # Prometheus asks for OpenMetrics first; the agent must have served it.
            scrapes = value(running.samples(), "infrared_scrape_duration_seconds_count",
                            format="openmetrics")
            if not scrapes:
                fail("Prometheus never scraped the OpenMetrics format")
        finally:
            prometheus.terminate()
            prometheus.wait(10)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
