"""Runs tests/peers/otlp_receiver.js (the official OpenTelemetry JS protobuf
definitions) and reads what it decoded. Its mode (slow, garbage, not-http, status,
partial, ok; see the script's header) can be set at start and changed while it runs."""
import json
import os
import subprocess

import agent
from agent import fail, read_json_lines, wait_until

PEERS = os.path.join(agent.REPO, "tests", "peers")


class OtlpReceiver:
    def __init__(self, out_path, port=0, fail_status=None, fail_for_ms=None, retry_after=None,
                 mode=None, **mode_params):
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
        if mode:
            self.args += ["--mode", mode]
            for name, flag in _MODE_FLAGS.items():
                if mode_params.get(name) is not None:
                    self.args += [flag, str(mode_params[name])]

    def __enter__(self):
        self.process = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line:
            fail(f"the OTLP receiver did not start: {self.process.stderr.read()}")
        self.port = json.loads(line)["listening"]
        return self

    def set_mode(self, mode, delay_ms=None, status=None, reject_spans=None, requests=None):
        """Switches the mode for requests read from now on; `requests` limits it to
        that many, then "ok". Returns once the receiver has applied it."""
        command = {"mode": mode, "delayMs": delay_ms, "status": status,
                   "rejectSpans": reject_spans, "requests": requests}
        self.process.stdin.write(json.dumps({k: v for k, v in command.items()
                                             if v is not None}) + "\n")
        self.process.stdin.flush()
        reply = json.loads(self.process.stdout.readline() or '{"error": "the receiver exited"}')
        if "error" in reply:
            fail(f"the OTLP receiver refused mode {command}: {reply['error']}")
        return reply

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def __exit__(self, *exc):
        self.stop()

    def lines(self):
        return read_json_lines(self.out_path)

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

    def lines_with(self, key):
        """The lines carrying `key`: "abandoned", "slowStarted", "notHttp",
        "garbageResponse", "partialRejected", "rejectedWithStatus", ..."""
        return [line for line in self.lines() if key in line]


_MODE_FLAGS = {"delay_ms": "--delay-ms", "status": "--status", "reject_spans": "--reject-spans",
               "requests": "--mode-requests"}
