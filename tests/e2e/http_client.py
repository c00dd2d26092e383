"""An HTTP client run as its own process (service name from OTEL_SERVICE_NAME):
reads a JSON plan on stdin, prints one JSON line per request with the duration it
measured itself and the trace id it sent in traceparent."""
import http.client
import json
import os
import socket
import sys
import time


def traceparent():
    trace_id = os.urandom(16).hex()
    return trace_id, f"00-{trace_id}-{os.urandom(8).hex()}-01"


def request(connection, method, path, headers, body=None, chunked=False):
    trace_id, header = traceparent()
    headers = dict(headers, traceparent=header)
    start = time.perf_counter()
    connection.request(method, path, body=body, headers=headers, encode_chunked=chunked)
    response = connection.getresponse()
    response.read()
    seconds = time.perf_counter() - start
    return {"trace_id": trace_id, "method": method, "path": path, "status": response.status,
            "seconds": seconds}


def keep_alive(port, steps):
    connection = http.client.HTTPConnection("127.0.0.1", port)
    results = []
    for step in steps:
        body = None
        chunked = False
        if step.get("chunked"):
            body = iter([b"first chunk,", b"second chunk"])
            chunked = True
        results.append(request(connection, step["method"], step["path"], {}, body, chunked))
    connection.close()
    return results


def closing(port, steps):
    results = []
    for step in steps:
        connection = http.client.HTTPConnection("127.0.0.1", port)
        results.append(request(connection, step["method"], step["path"], {"Connection": "close"}))
        connection.close()
    return results


def pipelined(port, steps):
    """All requests in one write on one connection; responses read to EOF."""
    ids = []
    wire = b""
    for i, step in enumerate(steps):
        trace_id, header = traceparent()
        ids.append(trace_id)
        last = i == len(steps) - 1
        body = step.get("body", "").encode()
        wire += (f"{step['method']} {step['path']} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                 f"traceparent: {header}\r\nContent-Length: {len(body)}\r\n"
                 + ("Connection: close\r\n" if last else "") + "\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(wire)
        while s.recv(65536):
            pass
    return [{"trace_id": t, "method": s["method"], "path": s["path"]} for t, s in zip(ids, steps)]


def main():
    plan = json.load(sys.stdin)
    kind = {"keep_alive": keep_alive, "closing": closing, "pipelined": pipelined}[plan["kind"]]
    for result in kind(plan["port"], plan["steps"]):
        print(json.dumps(result))


if __name__ == "__main__":
    main()
