"""OTLP export under a faulty receiver (issue 9): one agent, one receiver whose mode
the test switches, and a python client making a known number of requests to a
python server: only the server is selected (by its command line), so each request
makes one span (its server span) and other tests' traffic makes none. The path is
12 KB, so that each span is big.

- slow: the receiver holds a request 12 s. The agent's default request timeout
  (10 s, as README says) gives up on it; meanwhile a steady load overflows the
  queue (otlp.queue_size 64): the spans beyond it are counted as queue_full and
  the agent's RSS stays within a bound that holding them would break. The retry
  is answered and export resumes.
- garbage: 200 with a body that is no protobuf. The status says accepted (OTLP/HTTP:
  success is "HTTP 200 OK"), so the spans count as exported, once, and the answer
  in infrared_otlp_unreadable_responses_total.
- not-http: random bytes, then the connection closes. Retried like no answer; the
  agent lives on and export resumes.
- 400 and a partial success: infrared_dropped_total{stage="otlp"} export_failed
  and rejected, matching what the receiver refused.
- SIGTERM while a request hangs: the agent stops within the 5 s flush deadline
  (the request in flight is held to it; libcurl notices within about a second)
  and logs its final counts.

After each fault the books balance exactly: spans made (the agent's JSON-line
output) = exported + queue_full + export_failed + rejected, and the receiver got
exported + rejected spans, none twice."""
import json
import os
import signal
import subprocess
import tempfile
import threading
import time

import agent
from agent import Agent, fail, memory_bound, value, wait_until
from otlp_receiver import OtlpReceiver

MARKER = f"otlp-faults-{os.getpid()}-{os.urandom(4).hex()}"
# Matches MARKER but not itself, so that the agent's own command line never does.
SELECT = MARKER.replace("-", "[-]")
QUEUE = 64
BATCH = 16
DEFAULT_TIMEOUT_MS = 10000  # README: otlp.timeout_ms, else OTEL_EXPORTER_OTLP_TIMEOUT, else 10000
SLOW_MS = 12000
SLOW_REQUESTS, SLOW_RATE = 2400, 400  # about 6 s: done well before the timeout
SHUTDOWN_S = 5  # README: on SIGTERM the queue is flushed for at most 5 s
# A token segment with a digit: the route stays "/big/{id}", url.path is 12 KB.
PATH = "/big/" + ("a1" * 6000)

SERVER = """
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # the body is a second write: no 40 ms delayed-ACK stall
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""

# Reads "COUNT RATE" lines; makes COUNT GETs of PATH on one keep-alive connection,
# RATE a second, then prints "done COUNT".
CLIENT = """
import http.client, sys, time
port, path = int(sys.argv[1]), sys.argv[2]
connection = http.client.HTTPConnection("127.0.0.1", port)
for line in sys.stdin:
    count, rate = int(line.split()[0]), float(line.split()[1])
    start = time.monotonic()
    for i in range(count):
        connection.request("GET", path)
        connection.getresponse().read()
        time.sleep(max(0.0, start + (i + 1) / rate - time.monotonic()))
    print("done", count, flush=True)
"""


class Load:
    """The client and the selected server; counts the requests made."""

    def __enter__(self):
        self.server = subprocess.Popen(["/usr/bin/python3", "-c", SERVER, MARKER],
                                       stdout=subprocess.PIPE, text=True)
        self.port = int(self.server.stdout.readline())
        self.client = subprocess.Popen(["/usr/bin/python3", "-c", CLIENT, str(self.port), PATH],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.requests = 0
        return self

    def start(self, count, rate):
        self.client.stdin.write(f"{count} {rate}\n")
        self.client.stdin.flush()
        self.requests += count

    def wait(self):
        if self.client.stdout.readline().split()[0:1] != ["done"]:
            fail("the load client failed")

    def run(self, count, rate=200):
        self.start(count, rate)
        self.wait()

    def __exit__(self, *exc):
        for process in (self.client, self.server):
            process.kill()
            process.wait()


class Spans:
    """The agent's JSON-line span output, read incrementally: our spans' ids."""

    def __init__(self, path, port):
        self.path, self.port, self.offset, self.ids, self.line_bytes = path, port, 0, [], 0

    def made(self):
        if os.path.exists(self.path):
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
            end = data.rfind(b"\n") + 1
            self.offset += end
            for line in data[:end].splitlines():
                span = json.loads(line)
                if span["attributes"].get("server.port") == self.port:
                    self.ids.append(span["spanId"])
                    self.line_bytes = max(self.line_bytes, len(line))
        return len(self.ids)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def books(running):
    samples = running.samples()
    count = lambda name, **labels: int(value(samples, name, **labels) or 0)
    return {
        "exported": count("infrared_otlp_spans_total", outcome="exported"),
        "queue_full": count("infrared_dropped_total", stage="otlp", reason="queue_full"),
        "export_failed": count("infrared_dropped_total", stage="otlp", reason="export_failed"),
        "rejected": count("infrared_dropped_total", stage="otlp", reason="rejected"),
        "shutdown": count("infrared_dropped_total", stage="otlp", reason="shutdown"),
        "failed_outcome": count("infrared_otlp_spans_total", outcome="failed"),
        "rejected_outcome": count("infrared_otlp_spans_total", outcome="rejected"),
        "retries": count("infrared_otlp_retries_total"),
        "unreadable": count("infrared_otlp_unreadable_responses_total"),
        "queued": count("infrared_otlp_queue_spans"),
    }


def accounted(b):
    return b["exported"] + b["queue_full"] + b["export_failed"] + b["rejected"] + b["shutdown"]


def settle(running, spans, load, what, timeout=20):
    """Waits until every span the load made is written and accounted for; returns the books."""
    try:
        wait_until(lambda: spans.made() == load.requests, 15,
                   f"{load.requests} spans for as many requests ({what})")
    except SystemExit:
        losses = [f"{labels['stage']}/{labels['reason']}={v:g}" for name, labels, v
                  in running.samples() if name == "infrared_dropped_total" and v]
        fail(f"{what}: {spans.made()} spans made for {load.requests} requests; the agent's "
             f"losses (host-wide): {losses}")
    last = {}

    def balanced():
        last.update(books(running))
        return last["queued"] == 0 and accounted(last) == spans.made()
    try:
        wait_until(balanced, timeout, f"the books to balance after {what}", interval=0.2)
    except SystemExit:
        fail(f"after {what}: {spans.made()} spans made, but {last} account for {accounted(last)}")
    if last["failed_outcome"] != last["export_failed"] or \
            last["rejected_outcome"] != last["rejected"]:
        fail(f"infrared_otlp_spans_total and infrared_dropped_total disagree: {last}")
    return dict(last)


def delta(after, before):
    return {key: after[key] - before[key] for key in after}


def check_receiver(receiver, spans, b, what):
    """The receiver got exported + rejected spans, each once, all of them the agent's."""
    received = [s["spanId"] for s, _, _ in receiver.spans()]
    if len(received) != len(set(received)):
        fail(f"{what}: {len(received) - len(set(received))} spans arrived twice")
    if len(received) != b["exported"] + b["rejected"]:
        fail(f"{what}: the receiver got {len(received)} spans, the agent counts "
             f"{b['exported']} exported + {b['rejected']} rejected")
    spans.made()
    if not set(received) <= set(spans.ids):
        fail(f"{what}: the receiver got spans the agent never made")


def slow_phase(running, receiver, spans, load, before):
    rss_before = rss_kib(running.process.pid)
    receiver.set_mode("slow", delay_ms=SLOW_MS, requests=1)
    peak, queued_max, stop = [rss_before], [0], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_kib(running.process.pid))
            queued_max[0] = max(queued_max[0], books(running)["queued"])
            stop.wait(0.25)
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        load.run(SLOW_REQUESTS, rate=SLOW_RATE)  # steady load, well inside the hung request
        made = wait_until(lambda: spans.made() == load.requests and spans.made(), 5,
                          "the spans of the load")
        during = books(running)
        abandoned = wait_until(lambda: receiver.lines_with("abandoned"), SLOW_MS / 1000 + 5,
                               "the agent to give up on the slow request")
    finally:
        stop.set()
        sampler.join()
    after = settle(running, spans, load, "the slow receiver")
    d = delta(after, before)
    started = receiver.lines_with("slowStarted")
    waited = [line["afterMs"] for line in abandoned]
    print(f"slow ({SLOW_MS} ms a request): {len(started)} request held, given up after "
          f"{waited} ms; {d['queue_full']} spans queue_full, queue at most {queued_max[0]}; "
          f"then {d['exported']} exported after {d['retries']} retry")
    if len(started) != 1 or len(abandoned) != 1 or receiver.lines_with("slowMs"):
        fail(f"the slow request: {started} {abandoned} (it must be given up, once)")
    if not DEFAULT_TIMEOUT_MS - 1000 <= waited[0] <= DEFAULT_TIMEOUT_MS + 1500:
        fail(f"the agent gave up after {waited[0]} ms; its default timeout is "
             f"{DEFAULT_TIMEOUT_MS} ms")
    if during["exported"] != before["exported"]:
        fail(f"spans counted exported while the receiver held the request: {during}")
    if queued_max[0] > QUEUE or during["queued"] != QUEUE:
        fail(f"infrared_otlp_queue_spans reached {queued_max[0]}, {during['queued']} at the end "
             f"of the load; otlp.queue_size is {QUEUE}")
    # While the request hung the agent held a full queue and at most one batch in
    # flight: every other span was dropped, and counted.
    held = made - accounted(before) - (during["queue_full"] - before["queue_full"])
    if not QUEUE <= held <= QUEUE + BATCH:
        fail(f"{made - accounted(before)} spans made during the hang, "
             f"{during['queue_full'] - before['queue_full']} counted queue_full: {held} held")
    if d["retries"] != 1 or d["export_failed"] or d["rejected"]:
        fail(f"after the timeout one retry should deliver the batch: {d}")

    # Memory: the queue holds at most QUEUE + BATCH spans of line_bytes each (the
    # JSON line is a fair size of the span in memory: 12 KB of url.path); allow 3x
    # that for allocator overhead plus 12 MiB for everything else a busy pipeline
    # touches (parser buffers, curl, the encoded batch, malloc arenas).
    bound = rss_before + 3 * (QUEUE + BATCH) * spans.line_bytes // 1024 + 12 * 1024
    kept_all = d["queue_full"] * spans.line_bytes // 1024
    print(f"RSS {rss_before} KiB before, peak {peak[0]} KiB, bound {bound} KiB; keeping the "
          f"dropped spans would have taken {kept_all} KiB more")
    if kept_all < bound - rss_before:
        fail(f"the load is too small to tell a bounded queue from an unbounded one: {kept_all} KiB")
    memory_bound(peak[0] > bound, f"the agent's RSS reached {peak[0]} KiB, over {bound} KiB")
    return after


def garbage_phase(running, receiver, spans, load, before):
    receiver.set_mode("garbage")
    load.run(80)
    after = settle(running, spans, load, "garbage answers")
    receiver.set_mode("ok")
    d = delta(after, before)
    answers = receiver.lines_with("garbageResponse")
    garbage_spans = sum(len(ss["spans"]) for line in answers for rs in line["resourceSpans"]
                        for ss in rs["scopeSpans"])
    print(f"garbage: {len(answers)} answers of 200 with no protobuf for {garbage_spans} spans; "
          f"{d['exported']} exported, {d['unreadable']} unreadable answers counted, "
          f"{d['retries']} retries")
    if d["unreadable"] != len(answers) or not answers:
        fail(f"{len(answers)} garbage answers, {d['unreadable']} counted unreadable")
    if d["exported"] != 80 or garbage_spans != 80 or d["retries"] or d["export_failed"]:
        fail(f"the 80 spans answered with garbage must count exported, once: {d}")
    return after


def not_http_phase(running, receiver, spans, load, before):
    receiver.set_mode("not-http", requests=2)
    load.run(80)
    after = settle(running, spans, load, "answers that are not HTTP")
    d = delta(after, before)
    attempts = receiver.lines_with("notHttp")
    print(f"not HTTP: {len(attempts)} answers of random bytes, {d['retries']} retries, "
          f"then {d['exported']} exported, {d['queue_full']} queue_full")
    if len(attempts) != 2 or d["retries"] != 2:
        fail(f"each of the 2 answers that are not HTTP must be retried: {attempts} {d}")
    if running.process.poll() is not None:
        fail("the agent died")
    if d["export_failed"] or d["rejected"] or d["exported"] + d["queue_full"] != 80:
        fail(f"after answers that are not HTTP: {d}")
    return after


def refused_phase(running, receiver, spans, load, before):
    receiver.set_mode("status", status=400)
    load.run(40)
    middle = settle(running, spans, load, "400 answers")
    refused = sum(line["spanCount"] for line in receiver.lines_with("rejectedWithStatus"))
    receiver.set_mode("partial", reject_spans=3)
    load.run(40)
    after = settle(running, spans, load, "partial successes")
    receiver.set_mode("ok")
    failed, partial = delta(middle, before), delta(after, middle)
    told = sum(line["partialRejected"] for line in receiver.lines_with("partialRejected"))
    print(f"400: {refused} spans refused, export_failed {failed['export_failed']}; partial: "
          f"{told} rejected by the receiver, rejected {partial['rejected']}, exported "
          f"{partial['exported']}")
    if failed["export_failed"] != 40 or refused != 40 or failed["exported"] or failed["retries"]:
        fail(f"40 spans answered 400 must count export_failed, not retried: {failed}")
    if partial["rejected"] != told or not told or partial["exported"] != 40 - told:
        fail(f"a partial success rejecting {told} spans: {partial}")
    return after


def shutdown_phase(running, receiver, spans, load, before):
    receiver.set_mode("slow", delay_ms=SLOW_MS)
    load.run(40)
    wait_until(lambda: spans.made() == load.requests, 15, "the last spans")
    wait_until(lambda: len(receiver.lines_with("slowStarted")) == 2, 10,
               "an export request to hang")
    start = time.monotonic()
    running.stop(signal.SIGTERM)
    took = time.monotonic() - start
    stopped = running._find_log(lambda e: e.get("component") == "otlp" and
                                e.get("msg") == "stopped")
    print(f"SIGTERM with an export request hanging: exit after {took:.1f} s, final counts "
          f"{stopped}")
    if running.process.returncode != 0:
        fail(f"the agent exited with {running.process.returncode}")
    if took > SHUTDOWN_S + 2.5:
        fail(f"the agent took {took:.1f} s to stop, over the {SHUTDOWN_S} s flush deadline")
    if not stopped:
        fail("no 'stopped' line from otlp in the log")
    final = {key: stopped.get(key, 0) for key in
             ("exported", "queue_full", "export_failed", "rejected", "shutdown")}
    if sum(final.values()) != spans.made():
        fail(f"{spans.made()} spans made, the final counts {final} account for "
             f"{sum(final.values())}")
    if final["export_failed"] - before["export_failed"] != 40 or \
            final["exported"] != before["exported"]:
        fail(f"the 40 spans held at SIGTERM must count export_failed: {final}, before {before}")


def main():
    agent.require_bpf()
    for name in ("OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"):
        os.environ.pop(name, None)  # the default timeout is under test
    with tempfile.TemporaryDirectory() as directory:
        spans_path = os.path.join(directory, "spans.jsonl")
        with OtlpReceiver(os.path.join(directory, "otlp.jsonl")) as receiver, Load() as load, \
                Agent("--spans.output", spans_path, "--select.command-lines", SELECT,
                      "--otlp.endpoint", f"http://127.0.0.1:{receiver.port}",
                      "--otlp.queue-size", str(QUEUE), "--otlp.max-batch", str(BATCH),
                      "--otlp.max-delay-ms", "100") as running:
            started = running._find_log(lambda e: e.get("msg") == "exporting spans")
            if not started or started.get("timeout_ms") != DEFAULT_TIMEOUT_MS:
                fail(f"the exporter's request timeout is not {DEFAULT_TIMEOUT_MS} ms: {started}")
            spans = Spans(spans_path, load.port)
            load.run(40)
            b = settle(running, spans, load, "a healthy receiver")
            if b["exported"] != 40:
                fail(f"a healthy receiver: {b}")
            for phase in (slow_phase, garbage_phase, not_http_phase, refused_phase):
                b = phase(running, receiver, spans, load, b)
                check_receiver(receiver, spans, b, phase.__name__)
            shutdown_phase(running, receiver, spans, load, b)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
