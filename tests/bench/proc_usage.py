"""What a process has used so far, from /proc: for the benchmarks' agent figures."""
import os


def cpu_seconds(pid):
    """User + system CPU seconds of the process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kib(pid):
    """{field: KiB} of the kB lines of /proc/<pid>/status (VmRSS, VmHWM, RssAnon, ...)."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if rest.strip().endswith("kB"):
                fields[name] = int(rest.split()[0])
    return fields


def peak_rss_kib(pid):
    return memory_kib(pid).get("VmHWM", 0)
