"""Starts the web app's container command the way Fargate runs the task, with no Docker daemon.

Fargate runs the container as the task definition's `user`, with the root filesystem read-only
(`readonlyRootFilesystem`) and each task volume bind-mounted at its `containerPath`. A bind-mount
volume is an empty directory owned by root with mode 0755, unless the image declares the path
with `VOLUME` and prepares it (e.g. `chown`): then the volume gets the image directory's owner
and contents. Amazon ECS Developer Guide, "Use bind mounts with Amazon ECS", considerations:
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/bind-mounts.html

`ContainerSpec.from_task_definition` reads the user, command, volumes, mount points, environment
and health check from the synthesized task definition and the image's user, command, `ENV`,
`VOLUME` and directory preparation from the Dockerfile. `run` starts it in new mount, network
and PID namespaces (util-linux `unshare`, as root: in CI through `sudo -n`):

- every mount except /proc, /sys and /dev read-only; a fresh tmpfs on /dev/shm (Docker's 1777);
- each volume a new tmpfs, root-owned 0755 unless the Dockerfile prepares its path;
- only loopback networking (nothing leaves the sandbox);
- the command run as the task's uid:gid, supplementary groups cleared, no capabilities;
- then the task's own health check command is run as that user until it passes, and the target
  group's health path is fetched on loopback; the app is stopped with SIGTERM.

The image's files are this checkout (WORKDIR stands for the repository root, which holds
`service/` as the image's /app does) and the dev virtualenv stands for the image's Python
packages. Directories on the way to them that the task user could not enter here (a 0700 home
directory) are shown to the sandbox as root-owned 0755 directories holding only those paths;
the real image has its files in world-readable places.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_VOLUME_MODE = 0o755  # ECS: a bind-mount volume is root-owned 0755 unless the image prepares it
SHM_MODE = 0o1777
PSEUDO_FILESYSTEM_ROOTS = ("/proc", "/sys", "/dev")


class SandboxError(RuntimeError):
    """The container could not be emulated (not a failure of the app itself)."""


# ------------------------------------------------------------------------------------ Dockerfile


@dataclass(frozen=True)
class PreparedPath:
    owner: str = "0"
    group: str = "0"
    mode: int = DEFAULT_VOLUME_MODE


@dataclass(frozen=True)
class Dockerfile:
    user: str | None
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    env: dict[str, str]
    volumes: tuple[str, ...]
    # Directories the image creates or hands over in RUN instructions (mkdir, chown, chmod, install -d).
    prepared: dict[str, PreparedPath]

    @classmethod
    def parse(cls, path: Path) -> Dockerfile:
        text = re.sub(r"\\\n", " ", path.read_text())
        user, entrypoint, cmd, env, volumes, prepared = None, (), (), {}, [], {}
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            instruction, _, rest = line.partition(" ")
            instruction, rest = instruction.upper(), rest.strip()
            if instruction == "USER":
                user = rest
            elif instruction in ("CMD", "ENTRYPOINT"):
                if not rest.startswith("["):
                    raise SandboxError(f"{instruction} in shell form is not emulated; use the JSON (exec) form")
                value = tuple(json.loads(rest))
                if instruction == "CMD":
                    cmd = value
                else:
                    entrypoint = value
            elif instruction == "ENV":
                for word in shlex.split(rest):
                    name, sep, value = word.partition("=")
                    if not sep:
                        raise SandboxError(f"ENV without '=' is not emulated: {line}")
                    env[name] = value
            elif instruction == "VOLUME":
                volumes.extend(json.loads(rest) if rest.startswith("[") else rest.split())
            elif instruction == "RUN":
                _prepared_paths(rest, prepared)
        return cls(user, entrypoint, cmd, env, tuple(volumes), prepared)


def _prepared_paths(command: str, prepared: dict[str, PreparedPath]) -> None:
    """Records what `mkdir`, `chown`, `chmod` and `install -d` in one RUN do to absolute paths."""
    for part in re.split(r"&&|;|\|\|", command):
        words = shlex.split(part)
        if not words:
            continue
        tool, args = words[0], words[1:]
        paths = [a for a in args if a.startswith("/")]
        if tool == "mkdir":
            for p in paths:
                prepared.setdefault(p.rstrip("/") or "/", PreparedPath())
        elif tool == "chown":
            spec = next(a for a in args if not a.startswith("-"))
            owner, _, group = spec.partition(":")
            for p in paths:
                old = prepared.get(p, PreparedPath())
                prepared[p] = PreparedPath(owner, group or old.group, old.mode)
        elif tool == "chmod":
            mode = next(a for a in args if not a.startswith("-"))
            for p in paths:
                old = prepared.get(p, PreparedPath())
                prepared[p] = PreparedPath(old.owner, old.group, int(mode, 8))
        elif tool == "install" and "-d" in args:
            options = dict(itertools.pairwise(args))
            for p in paths:
                prepared[p] = PreparedPath(
                    options.get("-o", "0"), options.get("-g", "0"), int(options.get("-m", "755"), 8)
                )


# ------------------------------------------------------------------------------------ the task


@dataclass
class Volume:
    path: str
    uid: int
    gid: int
    mode: int
    prepared_by_image: bool


@dataclass
class ContainerSpec:
    argv: list[str]
    uid: int
    gid: int
    readonly_root: bool
    volumes: list[Volume]
    env: dict[str, str]
    health_command: list[str]
    health_url: str
    workdir: str = str(REPO)

    @classmethod
    def from_task_definition(
        cls,
        task_definition: dict,
        container_name: str,
        dockerfile: Dockerfile,
        *,
        health_path: str,
        stand_ins: dict[str, str],
    ) -> ContainerSpec:
        """The container `container_name` of a synthesized `AWS::ECS::TaskDefinition`'s properties.

        `stand_ins` gives a value for each environment variable whose value is a CloudFormation
        expression (an ARN or URL only known once deployed)."""
        (container,) = [c for c in task_definition["ContainerDefinitions"] if c["Name"] == container_name]
        user = container.get("User") or dockerfile.user or "0"
        uid, gid = _ids(user)
        # Docker's rules: the task's entryPoint/command replace the image's ENTRYPOINT/CMD.
        entrypoint = list(container.get("EntryPoint") or dockerfile.entrypoint)
        command = list(container.get("Command") or ([] if container.get("EntryPoint") else dockerfile.cmd))
        argv = entrypoint + command
        if not argv:
            raise SandboxError("neither the task definition nor the Dockerfile says what to run")

        volumes_by_name = {v["Name"]: v for v in task_definition.get("Volumes", [])}
        volumes = []
        for mount in container.get("MountPoints", []):
            volume = volumes_by_name[mount["SourceVolume"]]
            if set(volume) - {"Name"}:
                raise SandboxError(f"volume {volume['Name']}: only bind-mount volumes (a name only) are emulated")
            path = mount["ContainerPath"].rstrip("/") or "/"
            prepared = dockerfile.prepared.get(path) if path in dockerfile.volumes else None
            if prepared is None:
                volumes.append(Volume(path, 0, 0, DEFAULT_VOLUME_MODE, False))
            else:
                owner_uid, owner_gid = _ids(f"{prepared.owner}:{prepared.group}", dockerfile)
                volumes.append(Volume(path, owner_uid, owner_gid, prepared.mode, True))

        env = dict(dockerfile.env)
        for variable in container.get("Environment", []):
            name, value = variable["Name"], variable["Value"]
            if not isinstance(value, str):
                if name not in stand_ins:
                    raise SandboxError(f"environment variable {name} is a CloudFormation expression: give a stand-in")
                value = stand_ins[name]
            env[name] = value

        health = container.get("HealthCheck", {}).get("Command", [])
        if not health or health[0] not in ("CMD", "CMD-SHELL"):
            raise SandboxError("the container has no health check command")
        health_command = health[1:] if health[0] == "CMD" else ["/bin/sh", "-c", health[1]]
        (port,) = [p["ContainerPort"] for p in container.get("PortMappings", [])]
        return cls(
            argv=argv,
            uid=uid,
            gid=gid,
            readonly_root=bool(container.get("ReadonlyRootFilesystem")),
            volumes=volumes,
            env=env,
            health_command=health_command,
            health_url=f"http://127.0.0.1:{port}{health_path}",
        )


def _ids(user: str, dockerfile: Dockerfile | None = None) -> tuple[int, int]:
    name, _, group = user.partition(":")
    if not name.isdigit() or (group and not group.isdigit()):
        # Names resolve against the image's /etc/passwd, which is not here: the task and the
        # Dockerfile must give numeric ids (they also make `runAsNonRoot`-style checks possible).
        raise SandboxError(f"user {user!r}: give numeric uid:gid (names resolve in the image only)")
    return int(name), int(group or name)


# ------------------------------------------------------------------------------------ running


@dataclass
class Outcome:
    started: bool  # the health check command passed and the health path answered 200
    health_status: int | None
    exit_code: int | None  # of the app, when it exited by itself before answering
    log: str
    volumes: list[dict[str, Any]]


def run(spec: ContainerSpec, *, scratch: Path, timeout_seconds: float = 90.0) -> Outcome:
    """Runs `spec` in the sandbox (as root; through `sudo -n` otherwise) and reports the result."""
    for tool in ("unshare", "setpriv", "mount", "ip"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise SandboxError(f"{tool} is missing: install util-linux and iproute2 (Debian/Ubuntu packages)")
    scratch.mkdir(parents=True, exist_ok=True)
    spec_file = scratch / "spec.json"
    spec_file.write_text(json.dumps({**asdict(spec), "scratch": str(scratch)}))
    command = [
        "unshare",
        "--mount",
        "--net",
        "--pid",
        "--fork",
        "--mount-proc",
        "--propagation",
        "private",
        sys.executable,
        str(Path(__file__).resolve()),
        str(spec_file),
    ]
    if os.geteuid() != 0:
        # Mount namespaces need root: CI runners (GitHub's) have passwordless sudo.
        if shutil.which("sudo") is None:
            raise SandboxError("the container start emulation needs root, or passwordless sudo (unshare --mount)")
        command = ["sudo", "-n", *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_seconds, check=False)  # noqa: S603
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise SandboxError(f"the sandbox did not run (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    return Outcome(**json.loads(lines[-1]))


# ------------------------------------------------------------------------------------ inside


def _mounts() -> list[str]:
    """Mount points of this namespace, parents first."""
    targets = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        target = line.split()[4].replace("\\040", " ")
        targets.append(target)
    return sorted(set(targets), key=lambda t: t.count("/"))


def _pseudo(target: str) -> bool:
    return any(target == root or target.startswith(root + "/") for root in PSEUDO_FILESYSTEM_ROOTS)


def _sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)  # noqa: S603 (fixed tools, paths from the spec)


def _expose(paths: list[Path], uid: int, gid: int, staging: Path) -> None:
    """Makes `paths` reachable for uid:gid where an ancestor directory is closed to it here."""
    blocked: dict[Path, set[str]] = {}
    for path in paths:
        current = Path("/")
        for part in path.parts[1:]:
            info = current.stat()
            searchable = (
                info.st_mode & stat.S_IXOTH
                or (info.st_uid == uid and info.st_mode & stat.S_IXUSR)
                or (info.st_gid == gid and info.st_mode & stat.S_IXGRP)
            )
            if not searchable:
                blocked.setdefault(current, set()).add(part)
                break
            current = current / part
    for directory, children in blocked.items():
        held = []
        for index, child in enumerate(sorted(children)):
            hold = staging / f"hold{len(held)}-{index}"
            hold.mkdir(parents=True)
            _sh("mount", "--rbind", str(directory / child), str(hold))
            held.append((child, hold))
        _sh("mount", "-t", "tmpfs", "-o", "mode=0755,uid=0,gid=0", "tmpfs", str(directory))
        for child, hold in held:
            (directory / child).mkdir()
            _sh("mount", "--move", str(hold), str(directory / child))


def _outermost(paths: set[Path]) -> list[Path]:
    """The given paths (resolved), without those inside another of them."""
    resolved = sorted({Path(os.path.realpath(path)) for path in paths}, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in resolved:
        if not any(path.is_relative_to(outer) for outer in kept):
            kept.append(path)
    return kept


def _mount_hold_root(volumes: list[dict[str, Any]]) -> Path:
    """A new tmpfs outside every volume path, to hold mounts aside while a volume is mounted."""
    for candidate in (Path("/mnt"), Path("/media"), Path("/srv"), Path("/opt")):
        if candidate.is_dir() and not any(candidate.is_relative_to(v["path"]) for v in volumes):
            _sh("mount", "-t", "tmpfs", "-o", "mode=0700,uid=0,gid=0", "hold", str(candidate))
            return candidate
    raise SandboxError("no directory outside the volumes to hold the checkout aside")


def _hold(paths: list[Path], hold_root: Path) -> list[tuple[Path, Path]]:
    """Bind-mounts each path into `hold_root` so that mounting over an ancestor keeps it."""
    held = []
    for index, path in enumerate(paths):
        hold = hold_root / f"held{index}-{path.name}"
        hold.mkdir()
        _sh("mount", "--rbind", str(path), str(hold))
        held.append((path, hold))
    return held


def _inside(spec_file: Path) -> None:
    """PID 1 of the sandbox's namespaces: set up the filesystem, start the app, probe, stop.
    Writes nothing to disk: the outcome is the last line of stdout."""
    spec = json.loads(spec_file.read_text())
    scratch = Path(spec["scratch"])
    uid, gid = spec["uid"], spec["gid"]
    volumes_seen: list[dict[str, Any]] = []

    _sh("ip", "link", "set", "lo", "up")
    venv_bin = Path(sys.executable).parent
    needed = [Path(os.path.realpath(sys.executable)).parent, venv_bin, Path(spec["workdir"])]
    _expose(needed, uid, gid, scratch / "stage")
    if spec["readonly_root"]:
        for target in _mounts():
            if not _pseudo(target):
                _sh("mount", "-o", "remount,bind,ro", target)
    _sh("mount", "-t", "tmpfs", "-o", f"mode={SHM_MODE:o},uid=0,gid=0", "shm", "/dev/shm")
    # The checkout and its virtualenv stand for the image's files. Where they lie under a volume's
    # path (a clone in /tmp, and /tmp is the task's volume), the volume would hide them: hold them
    # aside, mount the volume, and put them back, read-only, at the same paths.
    code_roots = _outermost({Path(spec["workdir"]), Path(sys.prefix), *needed})
    hidden_by = {v["path"]: [root for root in code_roots if root.is_relative_to(v["path"])] for v in spec["volumes"]}
    hold_root = _mount_hold_root(spec["volumes"]) if any(hidden_by.values()) else None
    for volume in spec["volumes"]:
        if not Path(volume["path"]).is_dir():
            raise SandboxError(f"volume path {volume['path']} does not exist here to mount over")
        held = _hold(hidden_by[volume["path"]], hold_root) if hold_root else []
        options = f"mode={volume['mode']:o},uid={volume['uid']},gid={volume['gid']}"
        _sh("mount", "-t", "tmpfs", "-o", options, "volume", volume["path"])
        info = Path(volume["path"]).stat()
        volumes_seen.append(
            {"path": volume["path"], "uid": info.st_uid, "gid": info.st_gid, "mode": oct(stat.S_IMODE(info.st_mode))}
        )
        for root, hold in held:
            root.mkdir(parents=True, exist_ok=True)
            _sh("mount", "--rbind", str(hold), str(root))
            _sh("mount", "-o", "remount,bind,ro", str(root))

    env = {
        **spec["env"],
        "PATH": os.pathsep.join([str(venv_bin), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": "/nonexistent",
    }
    as_task_user = [
        "setpriv",
        f"--reuid={uid}",
        f"--regid={gid}",
        "--clear-groups",
        "--no-new-privs",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--",
    ]

    def resolved(argv: list[str]) -> list[str]:
        return [shutil.which(argv[0], path=env["PATH"]) or argv[0], *argv[1:]]

    app = subprocess.Popen(  # noqa: S603 (the task's own command)
        [*as_task_user, *resolved(spec["argv"])],
        cwd=spec["workdir"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output: list[bytes] = []
    reader = threading.Thread(target=lambda: output.extend(iter(app.stdout.readline, b"")), daemon=True)
    reader.start()
    started, status = False, None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and app.poll() is None:
        check = subprocess.run(  # noqa: S603 (the task's own health check)
            [*as_task_user, *resolved(spec["health_command"])], cwd="/", env=env, capture_output=True, check=False
        )
        if check.returncode == 0:
            try:
                with urllib.request.urlopen(spec["health_url"], timeout=3) as response:  # noqa: S310 (loopback)
                    status = response.status
            except OSError:
                status = None
            started = status == 200
            break
        time.sleep(0.3)
    exit_code = app.poll()
    if exit_code is None:
        app.send_signal(signal.SIGTERM)
        try:
            app.wait(timeout=25)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
    reader.join(timeout=5)
    outcome = {
        "started": started,
        "health_status": status,
        "exit_code": exit_code,
        "log": b"".join(output).decode(errors="replace"),
        "volumes": volumes_seen,
    }
    sys.stdout.write("\n" + json.dumps(outcome) + "\n")


if __name__ == "__main__":
    _inside(Path(sys.argv[1]))
