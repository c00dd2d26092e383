"""deploy/ agrees with the agent: the Kubernetes manifests lint clean and refer to each
other consistently, the DaemonSet mounts exactly the host paths the agent says it reads
(infrared --print-host-paths, given the ConfigMap's own config), and the Dockerfile's
final stage installs the packages of every library the built binary links, and no
compiler. Needs no root: nothing is loaded into the kernel."""
import os
import re
import shlex
import subprocess
import tempfile

import yaml

import agent
from agent import fail

DEPLOY = os.path.join(agent.REPO, "deploy")
KUBE = os.path.join(DEPLOY, "kubernetes")
NAMESPACE = "infrared"
CONTAINER = "infrared"
# The capabilities the agent needs, as deploy/README.md and deploy/Dockerfile document them.
CAPABILITIES = {"BPF", "PERFMON", "SYS_PTRACE", "SYS_ADMIN", "DAC_READ_SEARCH", "SYS_RESOURCE"}
KINDS = {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap",
         "DaemonSet", "Service", "PodMonitor"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
RBAC_GRANTS = {("", "pods", "get"), ("", "pods", "list"), ("", "pods", "watch"),
               ("", "nodes", "get")}
HOW = {"hostPath", "hostPID", "sysfs", "serviceAccount"}
# Packages debian:12-slim holds already (apt itself needs them).
IN_BASE_IMAGE = {"libc6", "libgcc-s1", "libstdc++6"}
BUILD_TOOLS = re.compile(r"^(gcc|g\+\+|cpp|clang|llvm|lld|cmake|make|ninja-build|build-essential|"
                         r"binutils|pkg-config|pkgconf|protobuf-compiler|bpftool)(-[0-9.]+)?$")


# --- loading -------------------------------------------------------------------

def load_objects():
    """{kind: (file, document)}, failing on anything malformed, missing or doubled."""
    objects = {}
    names = sorted(n for n in os.listdir(KUBE) if n.endswith((".yaml", ".yml")))
    if not names:
        fail(f"no manifests in {KUBE}")
    for name in names:
        with open(os.path.join(KUBE, name)) as f:
            try:
                documents = list(yaml.safe_load_all(f))
            except yaml.YAMLError as error:
                fail(f"{name} does not parse: {error}")
        for index, doc in enumerate(documents, 1):
            where = f"{name} document {index}"
            if not isinstance(doc, dict):
                fail(f"{where} is {type(doc).__name__}, not an object")
            kind = doc.get("kind")
            metadata = doc.get("metadata") or {}
            if not doc.get("apiVersion") or not kind or not metadata.get("name"):
                fail(f"{where} lacks apiVersion, kind or metadata.name")
            if kind in CLUSTER_SCOPED:
                if "namespace" in metadata:
                    fail(f"{where}: the cluster-scoped {kind} has a namespace")
            elif metadata.get("namespace") != NAMESPACE:
                fail(f"{where}: {kind} {metadata['name']} is in namespace "
                     f"{metadata.get('namespace')!r}, not {NAMESPACE}")
            if kind not in KINDS:
                fail(f"{where}: unexpected kind {kind} (this test knows {sorted(KINDS)})")
            if kind in objects:
                fail(f"{where}: a second {kind} (the first is in {objects[kind][0]})")
            objects[kind] = (name, doc)
    missing = KINDS - objects.keys()
    if missing:
        fail(f"no {sorted(missing)} in {KUBE}")
    print(f"{len(objects)} objects in {len(names)} files parse, each with apiVersion, kind, name; "
          f"namespaced ones in {NAMESPACE}")
    return {kind: doc for kind, (_, doc) in objects.items()}


def name_of(doc):
    return doc["metadata"]["name"]


def pod_spec(objects):
    return objects["DaemonSet"]["spec"]["template"]["spec"]


def container_of(objects):
    containers = [c for c in pod_spec(objects).get("containers", []) if c.get("name") == CONTAINER]
    if len(containers) != 1:
        fail(f"the DaemonSet has {len(containers)} containers named {CONTAINER}")
    return containers[0]


def is_subset(labels, of):
    return bool(labels) and all(of.get(key) == value for key, value in labels.items())


def container_port(container, port):
    """A probe's or Service's port (number or name) as the container's port number."""
    ports = container.get("ports", [])
    if isinstance(port, int):
        if not any(p.get("containerPort") == port for p in ports):
            fail(f"port {port} is not a port of the container ({ports})")
        return port
    numbers = [p.get("containerPort") for p in ports if p.get("name") == port]
    if len(numbers) != 1:
        fail(f"the container has no port named {port!r} ({ports})")
    return numbers[0]


# --- (1) lint ----------------------------------------------------------------

def check_yamllint():
    yamllint = agent.require_program("yamllint")
    config = os.path.join(KUBE, ".yamllint")
    result = subprocess.run([yamllint, "-s", "-c", config, KUBE], capture_output=True, text=True,
                            timeout=60)
    if result.returncode != 0:
        fail(f"yamllint -s -c {config} {KUBE} exited {result.returncode}:\n{result.stdout}"
             f"{result.stderr}")
    print("yamllint -s passes on deploy/kubernetes")


# --- (2) the objects refer to each other -------------------------------------

def check_rbac(objects):
    account, role, binding = (objects[k] for k in ("ServiceAccount", "ClusterRole",
                                                      "ClusterRoleBinding"))
    ref = binding.get("roleRef", {})
    if (ref.get("apiGroup"), ref.get("kind"), ref.get("name")) != (
            "rbac.authorization.k8s.io", "ClusterRole", name_of(role)):
        fail(f"the ClusterRoleBinding's roleRef {ref} is not the ClusterRole {name_of(role)}")
    subject = {"kind": "ServiceAccount", "name": name_of(account), "namespace": NAMESPACE}
    if binding.get("subjects") != [subject]:
        fail(f"the ClusterRoleBinding's subjects {binding.get('subjects')} are not [{subject}]")
    if pod_spec(objects).get("serviceAccountName") != name_of(account):
        fail(f"the DaemonSet runs as {pod_spec(objects).get('serviceAccountName')!r}, "
             f"not the ServiceAccount {name_of(account)}")
    grants = set()
    for rule in role.get("rules", []):
        extra = set(rule) - {"apiGroups", "resources", "verbs"}
        if extra:
            fail(f"a ClusterRole rule has {sorted(extra)}: {rule}")
        grants |= {(group, resource, verb) for group in rule.get("apiGroups", [])
                   for resource in rule.get("resources", []) for verb in rule.get("verbs", [])}
    if grants != RBAC_GRANTS:
        fail(f"the ClusterRole grants {sorted(grants)}; expected exactly {sorted(RBAC_GRANTS)}")
    print("ServiceAccount, ClusterRoleBinding and DaemonSet agree; the ClusterRole grants only "
          "pods get/list/watch and nodes get")


def check_selection(objects):
    daemonset, service, monitor = objects["DaemonSet"], objects["Service"], objects["PodMonitor"]
    labels = daemonset["spec"]["template"]["metadata"].get("labels", {})
    if not is_subset(daemonset["spec"].get("selector", {}).get("matchLabels"), labels):
        fail(f"the DaemonSet's selector does not match its pod labels {labels}")
    container = container_of(objects)
    if service["spec"].get("type", "ClusterIP") != "ClusterIP":
        fail(f"the Service is of type {service['spec'].get('type')}, not ClusterIP")
    if not is_subset(service["spec"].get("selector"), labels):
        fail(f"the Service's selector {service['spec'].get('selector')} does not match the "
             f"pod labels {labels}")
    ports = service["spec"].get("ports", [])
    metrics = [p for p in ports if p.get("name") == "metrics"]
    if len(metrics) != 1:
        fail(f"the Service has no port named metrics: {ports}")
    target = container_port(container, metrics[0].get("targetPort", metrics[0].get("port")))
    if monitor.get("apiVersion") != "monitoring.coreos.com/v1":
        fail(f"the PodMonitor's apiVersion is {monitor.get('apiVersion')}")
    spec = monitor["spec"]
    if not is_subset(spec.get("selector", {}).get("matchLabels"), labels):
        fail(f"the PodMonitor's selector {spec.get('selector')} does not match the pod labels")
    names = spec.get("namespaceSelector", {}).get("matchNames", [NAMESPACE])
    if NAMESPACE not in names:
        fail(f"the PodMonitor looks in namespaces {names}, not {NAMESPACE}")
    endpoints = spec.get("podMetricsEndpoints", [])
    if not endpoints:
        fail("the PodMonitor has no podMetricsEndpoints")
    for endpoint in endpoints:
        container_port(container, endpoint.get("port"))
        if endpoint.get("path", "/metrics") != "/metrics" or endpoint.get("interval") != "15s":
            fail(f"the PodMonitor endpoint {endpoint} is not /metrics every 15s")
    print(f"the Service (port metrics -> {target}) and the PodMonitor (every 15s) select the "
          f"DaemonSet's pods by {labels}")
    return target


def check_pod_settings(objects):
    spec, container = pod_spec(objects), container_of(objects)
    if {"operator": "Exists"} not in spec.get("tolerations", []):
        fail(f"the DaemonSet does not tolerate every taint: {spec.get('tolerations')}")
    if spec.get("priorityClassName") != "system-node-critical":
        fail(f"priorityClassName is {spec.get('priorityClassName')!r}")
    node_name = [e for e in container.get("env", []) if e.get("name") == "NODE_NAME"]
    if node_name != [{"name": "NODE_NAME",
                      "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]:
        fail(f"NODE_NAME is not set from spec.nodeName: {node_name}")
    resources = container.get("resources", {})
    if (resources.get("requests") != {"cpu": "100m", "memory": "128Mi"}
            or resources.get("limits") != {"memory": "512Mi"}):
        fail(f"resources are {resources}; expected requests 100m/128Mi, a 512Mi memory "
             f"limit and no CPU limit")
    version = re.search(r"project\(infrared VERSION ([0-9.]+)",
                        open(os.path.join(agent.REPO, "CMakeLists.txt")).read())
    if version and not container.get("image", "").endswith(":" + version.group(1)):
        fail(f"the image {container.get('image')} is not tagged {version.group(1)}, the "
             f"project's version")
    print("every taint tolerated, system-node-critical, NODE_NAME from spec.nodeName, "
          "100m/128Mi requested, 512Mi limit, no CPU limit")


# --- (3) what the agent reads, and how it is run -----------------------------

def config_file(objects):
    """The agent's args, the config path in them, and the ConfigMap's text for it."""
    container = container_of(objects)
    args = container.get("args", [])
    paths = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--config"]
    paths += [a.split("=", 1)[1] for a in args if a.startswith("--config=")]
    if paths != ["/etc/infrared/config.yaml"]:
        fail(f"the container's args {args} do not give --config /etc/infrared/config.yaml")
    path = paths[0]
    mounts = [m for m in container.get("volumeMounts", [])
              if m.get("mountPath") == os.path.dirname(path)]
    if len(mounts) != 1:
        fail(f"nothing (or more than one volume) is mounted at {os.path.dirname(path)}")
    volume = [v for v in pod_spec(objects).get("volumes", []) if v.get("name") == mounts[0]["name"]]
    configmap = objects["ConfigMap"]
    if len(volume) != 1 or volume[0].get("configMap", {}).get("name") != name_of(configmap):
        fail(f"the volume at {os.path.dirname(path)} is not the ConfigMap {name_of(configmap)}")
    key = os.path.basename(path)
    if key not in configmap.get("data", {}):
        fail(f"the ConfigMap has no key {key}")
    return args, path, configmap["data"][key]


def print_host_paths(args, config_path, config_text):
    """`infrared --print-host-paths` run with the DaemonSet's args, the config in a temp file."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(config_text)
        f.flush()
        command = [agent.binary(), "--print-host-paths",
                   *[f.name if a == config_path else a.replace(config_path, f.name) for a in args]]
        result = subprocess.run(command, capture_output=True, text=True, timeout=20)
    shown = " ".join(shlex.quote(a) for a in command)
    if result.returncode != 0:
        fail(f"{shown} (the ConfigMap's config) exited {result.returncode}: "
             f"{result.stderr.strip()}")
    lines = []
    for line in result.stdout.splitlines():
        fields = line.split("\t")
        if (len(fields) != 4 or not fields[0].startswith("/") or fields[1] not in HOW
                or fields[2] not in ("ro", "rw") or not fields[3]):
            fail(f"--print-host-paths printed {line!r}; expected <path>\\t<{'|'.join(sorted(HOW))}>"
                 f"\\t<ro|rw>\\t<why>")
        lines.append(fields)
    if not lines:
        fail(f"{shown} printed no host paths")
    return lines


def check_host_paths(objects):
    args, config_path, config_text = config_file(objects)
    lines = print_host_paths(args, config_path, config_text)
    wanted = {(path, access) for path, how, access, _ in lines if how == "hostPath"}
    spec, container = pod_spec(objects), container_of(objects)
    mounted = set()
    for volume in spec.get("volumes", []):
        if "hostPath" not in volume:
            continue
        path = volume["hostPath"].get("path")
        mounts = [m for m in container.get("volumeMounts", []) if m.get("name") == volume["name"]]
        if len(mounts) != 1 or mounts[0].get("mountPath") != path:
            fail(f"the hostPath volume {volume['name']} ({path}) is not mounted once at {path}: "
                 f"{mounts}")
        mounted.add((path, "ro" if mounts[0].get("readOnly") else "rw"))
    if mounted != wanted:
        fail(f"the DaemonSet mounts host paths {sorted(mounted)}; the agent reads "
             f"{sorted(wanted)} (missing: {sorted(wanted - mounted)}, not read: "
             f"{sorted(mounted - wanted)})")
    hows = {how for _, how, _, _ in lines}
    if spec.get("hostPID") is not True:
        fail("the DaemonSet does not set hostPID: true (the agent reads the host's /proc)")
    if "serviceAccount" in hows:
        account = objects["ServiceAccount"]
        if (spec.get("automountServiceAccountToken") is False
                or account.get("automountServiceAccountToken") is False):
            fail("the agent reads the service account token, but it is not mounted")
    print(f"the agent accepts the ConfigMap's config; the DaemonSet's hostPath mounts equal its "
          f"{len(wanted)} hostPath lines {sorted(wanted)}; hostPID: true "
          f"({len(lines)} paths printed in all)")
    return config_text


def listen_port(config_text, args):
    address = (yaml.safe_load(config_text) or {}).get("web", {}).get("listen_address", ":9464")
    for i, arg in enumerate(args[:-1]):
        if arg in ("--web.listen-address", "--web.listen_address"):
            address = args[i + 1]
    return int(str(address).rpartition(":")[2])


def check_probes_and_capabilities(objects, config_text, service_target):
    container = container_of(objects)
    port = listen_port(config_text, container.get("args", []))
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = container.get(probe, {}).get("httpGet", {})
        if get.get("path") != path or container_port(container, get.get("port")) != port:
            fail(f"the {probe} asks {get}; expected {path} on port {port}, where the config "
                 f"listens")
    if service_target != port:
        fail(f"the Service sends to port {service_target}; the agent listens on {port}")
    security = container.get("securityContext", {})
    if security.get("privileged") is not False:
        fail(f"securityContext.privileged is {security.get('privileged')!r}, not false")
    capabilities = security.get("capabilities", {})
    added = set(capabilities.get("add", []))
    if added != CAPABILITIES or len(capabilities.get("add", [])) != len(added):
        fail(f"the container adds capabilities {capabilities.get('add')}; expected {sorted(CAPABILITIES)}")
    if capabilities.get("drop") != ["ALL"]:
        fail(f"the container drops {capabilities.get('drop')}, not ALL")
    for document in ("README.md", "Dockerfile"):
        with open(os.path.join(DEPLOY, document)) as f:
            text = f.read()
        undocumented = sorted(c for c in CAPABILITIES if f"CAP_{c}" not in text)
        if undocumented:
            fail(f"deploy/{document} does not document CAP_{', CAP_'.join(undocumented)}")
    print(f"/healthz and /readyz probed on port {port}, where the config listens; capabilities "
          f"{sorted(CAPABILITIES)}, as deploy/README.md and the Dockerfile document, not privileged")
    return port


# --- (4) the Dockerfile --------------------------------------------------------

def dockerfile_stages():
    """[(from arguments, [(INSTRUCTION, arguments)])], continuations joined, comments out."""
    with open(os.path.join(DEPLOY, "Dockerfile")) as f:
        lines = [line for line in f.read().splitlines() if not line.lstrip().startswith("#")]
    text = re.sub(r"\\\n", " ", "\n".join(lines))
    stages = []
    for line in text.splitlines():
        if not line.strip():
            continue
        instruction, _, rest = line.strip().partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            stages.append((rest.strip(), []))
        elif stages:
            stages[-1][1].append((instruction, rest.strip()))
        elif instruction != "ARG":
            fail(f"deploy/Dockerfile: {instruction} before the first FROM")
    return stages


def apt_installs(instructions):
    """The packages of every `apt-get install` in a stage's RUN instructions, and its RUN text."""
    runs = " && ".join(rest for instruction, rest in instructions if instruction == "RUN")
    packages = []
    for command in re.split(r"&&|;|\|\|", runs):
        words = command.split()
        if "apt-get" in words and "install" in words:
            after = words[words.index("install") + 1:]
            packages += [w for w in after if not w.startswith("-") and "=" not in w]
    return packages, runs


def install_deps_build_group():
    with open(os.path.join(agent.REPO, "scripts", "install-deps")) as f:
        text = f.read()
    group = re.search(r"# build\n(.*?)\n\s*# ", text, re.S)
    if not group:
        fail("scripts/install-deps has no '# build' group")
    return set(group.group(1).split())


def linked_packages(binary):
    """{package: direct?} for every shared library ldd shows for the binary."""
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=20)
    if ldd.returncode != 0:
        fail(f"ldd {binary} failed: {ldd.stderr.strip()}")
    libraries = {}
    for line in ldd.stdout.splitlines():
        match = re.match(r"\s*(\S+)\s+=>\s+(/\S+)", line) or re.match(r"\s*((/\S+))\s+\(", line)
        if match:
            libraries[os.path.basename(match.group(1))] = match.group(2)
        elif "not found" in line:
            fail(f"ldd {binary}: {line.strip()}")
    readelf = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, timeout=20)
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", readelf.stdout))
    if readelf.returncode != 0 or not needed:
        fail(f"readelf -d {binary} shows no NEEDED libraries: {readelf.stderr.strip()}")
    candidates = {}
    for name, path in libraries.items():
        paths = [path, os.path.realpath(path)]
        candidates[name] = paths + ["/usr" + p for p in paths if not p.startswith("/usr/")]
    # One dpkg -S for all (it exits 1 when any path is unowned, and still names the rest).
    every = sorted({p for paths in candidates.values() for p in paths})
    result = subprocess.run(["dpkg", "-S", *every], capture_output=True, text=True, timeout=30)
    owners = {}
    for line in result.stdout.splitlines():
        package, _, path = line.rpartition(": ")
        if package and not line.startswith("diversion"):
            owners[path] = package.split(", ")[0].split(":")[0]
    packages = {}
    for name, paths in candidates.items():
        owner = next((owners[p] for p in paths if p in owners), None)
        if owner is None:
            fail(f"no Debian package holds {paths[0]} (a library the agent links)")
        packages[owner] = packages.get(owner, False) or name in needed
    return packages


def depends_closure(roots):
    """Packages apt installs along with roots: their Pre-Depends and Depends, recursively
    (the first of alternatives), from this Debian 12 machine's package database."""
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Pre-Depends}, ${Depends}\n"],
                         capture_output=True, text=True, timeout=30).stdout
    depends = {}
    for line in out.splitlines():
        package, _, fields = line.partition("\t")
        names = [re.split(r"[\s(:]", d.split("|")[0].strip())[0] for d in fields.split(",")]
        depends.setdefault(package, set()).update(n for n in names if n)
    closure, todo = set(), list(roots)
    while todo:
        package = todo.pop()
        if package not in closure:
            closure.add(package)
            todo.extend(depends.get(package, ()))
    return closure


def check_dockerfile(port):
    stages = dockerfile_stages()
    if len(stages) != 2:
        fail(f"deploy/Dockerfile has {len(stages)} stages; expected a build and a final one")
    (build_from, build), (final_from, final) = stages
    if build_from.split() != ["debian:12", "AS", "build"] and build_from.split() != [
            "debian:12", "as", "build"]:
        fail(f"the build stage is FROM {build_from}, not debian:12 AS build")
    if final_from != "debian:12-slim":
        fail(f"the final stage is FROM {final_from}, not debian:12-slim")

    build_packages, build_runs = apt_installs(build)
    expected = install_deps_build_group() - {"nodejs"}
    if set(build_packages) != expected:
        fail(f"the build stage installs {sorted(set(build_packages))}; scripts/install-deps' "
             f"build group (without nodejs) is {sorted(expected)}")
    with open(os.path.join(agent.REPO, "CMakeLists.txt")) as f:
        if not re.search(r"option\(INFRARED_BUILD_TESTS\b", f.read()):
            fail("CMakeLists.txt has no option INFRARED_BUILD_TESTS")
    if ("cmake -S . -B build -DINFRARED_BUILD_TESTS=OFF" not in re.sub(r"\s+", " ", build_runs)
            or "--target infrared" not in build_runs):
        fail("the build stage does not run cmake -S . -B build -DINFRARED_BUILD_TESTS=OFF and "
             "build --target infrared")

    packages, runs = apt_installs(final)
    if "--no-install-recommends" not in runs or "rm -rf /var/lib/apt/lists" not in runs:
        fail("the final stage's apt-get install lacks --no-install-recommends or rm -rf "
             "/var/lib/apt/lists")
    tools = sorted(p for p in packages if p.endswith("-dev") or BUILD_TOOLS.match(p))
    if tools:
        fail(f"the final stage installs build packages {tools}")
    linked = linked_packages(agent.binary())
    listed = set(packages)
    brought = depends_closure(listed | IN_BASE_IMAGE)
    unlisted = sorted(p for p, direct in linked.items() if direct and p not in listed | IN_BASE_IMAGE)
    if unlisted:
        fail(f"the agent links libraries of {unlisted}, which the final stage does not install")
    unbrought = sorted(p for p in linked if p not in brought)
    if unbrought:
        fail(f"the libraries of {unbrought} (needed by the agent's libraries) come with no package "
             f"the final stage installs")

    instructions = {instruction: rest for instruction, rest in final}
    copies = [rest for instruction, rest in final if instruction == "COPY"]
    if not any(c.startswith("--from=build ") and c.endswith(" /usr/local/bin/infrared")
               for c in copies):
        fail(f"the final stage does not copy the agent to /usr/local/bin/infrared: {copies}")
    if instructions.get("ENTRYPOINT") not in ('["/usr/local/bin/infrared"]',
                                              "/usr/local/bin/infrared"):
        fail(f"ENTRYPOINT is {instructions.get('ENTRYPOINT')}, not the agent")
    if instructions.get("EXPOSE") != str(port):
        fail(f"EXPOSE is {instructions.get('EXPOSE')}, not {port}")
    if instructions.get("USER", "root") not in ("root", "0"):
        fail(f"the image runs as {instructions['USER']}; the agent needs root")
    direct = sorted(p for p, d in linked.items() if d)
    print(f"Dockerfile: the build stage installs install-deps' build group and builds with tests "
          f"off; the final stage installs no build tools and every package the agent links "
          f"({len(linked)} packages: {', '.join(direct)} directly, the rest through their "
          f"dependencies); EXPOSE {port}, ENTRYPOINT the agent")


def main():
    check_yamllint()
    objects = load_objects()
    check_rbac(objects)
    service_target = check_selection(objects)
    check_pod_settings(objects)
    config_text = check_host_paths(objects)
    port = check_probes_and_capabilities(objects, config_text, service_target)
    check_dockerfile(port)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
