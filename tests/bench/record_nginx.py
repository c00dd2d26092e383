#!/usr/bin/python3
"""Records a capture of real traffic for infrared_pipeline_bench: a local nginx
under wrk (keep-alive, sendfile), both captured by infrared_record_capture.

    tests/bench/record_nginx.py OUT [seconds=5]

Needs root, nginx, wrk and a built infrared_record_capture ($INFRARED_BUILD_DIR,
default build/). Prints wrk's requests/sec and what the recorder wrote; exits
non-zero if either failed."""
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from http_peers import Nginx  # noqa: E402


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    recorder = os.path.join(REPO, os.environ.get("INFRARED_BUILD_DIR", "build"), "tests", "bench",
                            "infrared_record_capture")
    if not os.path.exists(recorder):
        sys.exit(f"{recorder} does not exist: build the target infrared_record_capture")
    with tempfile.TemporaryDirectory() as directory, Nginx(os.path.join(directory, "n")) as nginx:
        recording = subprocess.Popen([recorder, f"--out={out}", f"--seconds={seconds + 2}",
                                      "--executables=wrk,nginx"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        first = recording.stdout.readline()  # "recording for ...": attached
        if "recording for" not in first:
            sys.exit(f"the recorder did not start: {first.strip()}")
        wrk = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s",
                              f"http://127.0.0.1:{nginx.port}/index.html"],
                             capture_output=True, text=True)
        said, _ = recording.communicate(timeout=seconds + 60)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", wrk.stdout)
    print(f"nginx+wrk requests/sec while recording: {rate.group(1) if rate else '?'}")
    print(said.strip())
    if wrk.returncode != 0 or recording.returncode != 0 or not rate:
        sys.exit(f"recording failed: wrk exited {wrk.returncode}, "
                 f"the recorder {recording.returncode}")


if __name__ == "__main__":
    main()
