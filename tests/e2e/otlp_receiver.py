"""Runs tests/peers/otlp_receiver.js (the official OpenTelemetry JS protobuf
definitions) and reads what it decoded."""
import json
import os
import subprocess

import agent
from agent import fail, wait_until

PEERS = os.path.join(agent.REPO, "tests", "peers")


class OtlpReceiver:
    def __init__(self, out_path, port=0, fail_status=None, fail_for_ms=None, retry_after=None):
        if not os.path.isdir(os.path.join(PEERS, "node_modules")):
            fail("tests/peers/node_modules is missing: run 'npm ci' in tests/peers "
                 "(scripts/test does)")
        self.out_path = out_path
        self.args = ["node", os.path.join(PEERS, "otlp_receiver.js"), "--port", str(port),
                     "--out", out_path]
        if fail_status:
            self.args += ["--fail-status", str(fail_status)]
        if fail_for_ms:
            self.args += ["--fail-for-ms", str(fail_for_ms)]
        if retry_after:
            self.args += ["--retry-after", str(retry_after)]

    def __enter__(self):
        self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        line = self.process.stdout.readline()
        if not line:
            fail(f"the OTLP receiver did not start: {self.process.stderr.read()}")
        self.port = json.loads(line)["listening"]
        return self

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def __exit__(self, *exc):
        self.stop()

    def lines(self):
        if not os.path.exists(self.out_path):
            return []
        with open(self.out_path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def spans(self):
        """(span, resource attributes, resource attribute types) of every accepted span."""
        found = []
        for line in self.lines():
            if "decodeError" in line:
                fail(f"the receiver could not decode a request: {line['decodeError']}")
            for resource_spans in line.get("resourceSpans", []):
                resource = resource_spans.get("resource", {})
                for scope_spans in resource_spans.get("scopeSpans", []):
                    for span in scope_spans.get("spans", []):
                        found.append((span, resource.get("attributes", {}),
                                      resource.get("rawAttributeTypes", {})))
        return found

    def rejected_attempts(self):
        return [line for line in self.lines() if "rejectedWithStatus" in line]
