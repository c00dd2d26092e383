"""What a kubelet leaves on a node, built for a test: the cgroup v2 hierarchy
of a pod (systemd driver, containerd) and the log directories under a
temporary root, so that the agent can name a workload moved into it."""
import os
import secrets
import uuid


def cgroup2_mount():
    """Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on
    hybrid hosts); None when there is none."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            fstype = fields[fields.index("-") + 1]
            if fstype == "cgroup2":
                return fields[4]
    return None


class Pod:
    """One pod: its uid, containers (name -> 64-hex id) and cgroups."""

    def __init__(self, node, namespace, name, containers, qos="burstable"):
        self.node = node
        self.namespace = namespace
        self.name = name
        self.uid = str(uuid.uuid4())
        self.qos = qos
        self.containers = {c: secrets.token_hex(32) for c in containers}

    def pod_slice(self):
        escaped = self.uid.replace("-", "_")
        return os.path.join(self.node.cgroup_root, "kubepods.slice", f"kubepods-{self.qos}.slice",
                            f"kubepods-{self.qos}-pod{escaped}.slice")

    def cgroup(self, container):
        return os.path.join(self.pod_slice(), f"cri-containerd-{self.containers[container]}.scope")

    def command(self, container, argv):
        """argv run inside the container's cgroup: the shell moves itself, then execs."""
        procs = os.path.join(self.cgroup(container), "cgroup.procs")
        return ["/bin/sh", "-c", f'echo $$ > "{procs}" && exec "$@"', "sh", *argv]


class Node:
    """A temporary kubelet layout: pods' cgroups in the real cgroup v2 hierarchy (the kernel
    reports them in /proc/<pid>/cgroup) and /var/log/pods, /var/log/containers under `root`."""

    def __init__(self, root):
        self.root = root
        self.pod_logs = os.path.join(root, "var/log/pods")
        self.container_logs = os.path.join(root, "var/log/containers")
        mount = cgroup2_mount()
        # Under a parent of its own (a kubelet with a custom cgroup root looks the same), so
        # that tests running at once never share, or remove, each other's kubepods.slice.
        self.cgroup_root = mount and os.path.join(mount, f"infrared-e2e-{secrets.token_hex(4)}")
        self.pods = []
        self.made = []  # cgroup directories to remove, deepest last

    def add_pod(self, namespace, name, containers, container_links=True, qos="burstable"):
        pod = Pod(self, namespace, name, containers, qos)
        for container, container_id in pod.containers.items():
            directory = os.path.join(self.pod_logs, f"{namespace}_{name}_{pod.uid}", container)
            os.makedirs(directory, exist_ok=True)
            log = os.path.join(directory, "0.log")
            open(log, "w").close()
            if container_links:
                os.makedirs(self.container_logs, exist_ok=True)
                os.symlink(log, os.path.join(self.container_logs,
                                             f"{name}_{namespace}_{container}-{container_id}.log"))
            path = os.path.dirname(self.cgroup_root)
            for part in os.path.relpath(pod.cgroup(container), path).split("/"):
                path = os.path.join(path, part)
                if not os.path.isdir(path):
                    os.mkdir(path)
                    self.made.append(path)
        self.pods.append(pod)
        return pod

    def close(self, clients):
        """Kills the workload processes, then removes the cgroups made."""
        for client in clients:
            client.kill()
            client.wait()
        self.remove_cgroups()

    def remove_cgroups(self):
        """Removes the cgroups made (their processes must have exited)."""
        for path in reversed(self.made):
            try:
                os.rmdir(path)
            except OSError:
                pass
        self.made = []
