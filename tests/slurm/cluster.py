"""A throw-away single-node SLURM cluster on localhost, for tests.

:func:`local_slurm_cluster` starts ``munged``, ``slurmctld`` and ``slurmd`` (Debian
packages ``munge`` and ``slurm-wlm``) as root, in the foreground, with every file they
use (munge key and socket, ``slurm.conf``, state and spool folders, logs) under a
temporary folder. No service manager is involved: the daemons are children of the test
process and are stopped by their PIDs when the ``with`` block ends, also when it fails.

The cluster has no accounting database (no ``slurmdbd``), so ``sacct`` does not work;
``MinJobAge`` is 300 s so finished jobs stay visible to ``squeue`` long enough for the
Snakemake SLURM executor to see their final state (``--slurm-status-command squeue``).

:func:`run_snakemake` runs Snakemake in a subprocess under a hard timeout, with the
virtual environment's ``bin`` first on ``PATH`` (every SLURM job re-runs Snakemake and
the rules' ``python`` through that ``PATH``) and the cluster's ``SLURM_CONF``.

Example
-------
>>> with local_slurm_cluster(tmp_path / "cluster") as cluster:          # doctest: +SKIP
...     proc = run_snakemake(workdir, snakefile, None, "profiles/slurm", [],
...                          timeout=300, env=cluster.env)
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: Executables the harness needs (all from Debian's ``slurm-wlm`` and ``munge``).
REQUIRED_BINARIES = (
    "munged",
    "mungekey",
    "munge",
    "unmunge",
    "slurmctld",
    "slurmd",
    "sbatch",
    "squeue",
    "sinfo",
    "scontrol",
    "scancel",
    "srun",
)

#: Client commands wrapped by :func:`write_client_shims`.
CLIENT_COMMANDS = ("srun", "sbatch", "squeue", "sinfo", "scontrol", "scancel", "sacct", "salloc", "sstat")

#: The Debian packages that provide :data:`REQUIRED_BINARIES`.
APT_PACKAGES = ("slurm-wlm", "munge")

PARTITION = "zonespill"
#: A second, non-default partition on the same node (lets tests check partition choice).
SPARE_PARTITION = "spare"


def unavailable_reason() -> str | None:
    """Why a local cluster cannot be started here, or ``None`` if it can."""
    if sys.platform != "linux":
        return "a local SLURM cluster needs Linux"
    missing = [b for b in REQUIRED_BINARIES if shutil.which(b) is None and not Path("/usr/sbin", b).exists()]
    if missing:
        return (
            f"SLURM/munge not installed (missing {', '.join(missing)}); "
            f"install with: apt-get install -y {' '.join(APT_PACKAGES)}"
        )
    if os.geteuid() != 0:
        return "starting munged/slurmctld/slurmd needs root"
    return None


def venv_bin() -> Path:
    """The ``bin`` folder of the Python running the tests (the project's venv)."""
    return Path(sys.executable).parent


def _which(name: str) -> str:
    found = shutil.which(name) or (str(Path("/usr/sbin", name)) if Path("/usr/sbin", name).exists() else None)
    if found is None:
        raise FileNotFoundError(name)
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SlurmCluster:
    """A running local cluster: where its files are and the environment to talk to it."""

    root: Path
    conf: Path
    partition: str
    node: str
    env: dict[str, str]
    logs: dict[str, Path] = field(default_factory=dict)
    #: PIDs of the daemons started for this cluster (munged, slurmctld, slurmd)
    pids: dict[str, int] = field(default_factory=dict)

    def command(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run a SLURM client command (``squeue``, ``sinfo``…) against this cluster."""
        return subprocess.run(
            list(args), env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def log_tail(self, lines: int = 40) -> str:
        """Last lines of each daemon log, for failure messages."""
        out = []
        for name, path in self.logs.items():
            text = path.read_text(errors="replace").splitlines() if path.exists() else ["<no log>"]
            out.append(f"--- {name} ({path}) ---\n" + "\n".join(text[-lines:]))
        return "\n".join(out)


def node_definition(node_addr: str = "127.0.0.1") -> tuple[str, str]:
    """``(node name, NodeName=... line)`` from ``slurmd -C``, so CPUs and memory are right."""
    proc = subprocess.run([_which("slurmd"), "-C"], capture_output=True, text=True, timeout=30, check=True)
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("NodeName="))
    fields = dict(part.split("=", 1) for part in line.split())
    name = fields["NodeName"]
    keep = ["CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore", "RealMemory"]
    parts = [f"NodeName={name}", f"NodeAddr={node_addr}", f"NodeHostname={name}"]
    parts += [f"{k}={fields[k]}" for k in keep if k in fields]
    parts.append("State=UNKNOWN")
    return name, " ".join(parts)


def write_slurm_conf(
    root: Path, *, munge_socket: Path, partition: str = PARTITION, def_mem_per_cpu: int = 1000
) -> tuple[Path, str]:
    """Write ``slurm.conf`` (and an empty ``plugstack.conf``) under ``root``."""
    node, node_line = node_definition()
    # slurmctld only runs on a host listed in SlurmctldHost: use the short host name,
    # which is what slurmd -C reports as NodeName.
    host = socket.gethostname().split(".")[0]
    state = root / "state"
    spool = root / "spool"
    logs = root / "log"
    for d in (state, spool, logs):
        d.mkdir(parents=True, exist_ok=True)
    plugstack = root / "plugstack.conf"
    plugstack.write_text("")
    conf = root / "slurm.conf"
    conf.write_text(
        "\n".join(
            [
                "# written by tests/slurm/cluster.py: single-node test cluster, no accounting",
                "ClusterName=zonespilltest",
                f"SlurmctldHost={host}(127.0.0.1)",
                f"SlurmctldPort={_free_port()}",
                f"SlurmdPort={_free_port()}",
                "SlurmUser=root",
                "SlurmdUser=root",
                "AuthType=auth/munge",
                "CredType=cred/munge",
                f"AuthInfo=socket={munge_socket}",
                f"StateSaveLocation={state}",
                f"SlurmdSpoolDir={spool}",
                f"SlurmctldPidFile={root / 'slurmctld.pid'}",
                f"SlurmdPidFile={root / 'slurmd.pid'}",
                f"SlurmctldLogFile={logs / 'slurmctld.log'}",
                f"SlurmdLogFile={logs / 'slurmd.log'}",
                "SlurmctldDebug=info",
                "SlurmdDebug=info",
                f"PlugStackConfig={plugstack}",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "JobAcctGatherType=jobacct_gather/none",
                "AccountingStorageType=accounting_storage/none",
                "JobCompType=jobcomp/none",
                "MpiDefault=none",
                "SchedulerType=sched/backfill",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_Core_Memory",
                f"DefMemPerCPU={def_mem_per_cpu}",
                # keep finished jobs in slurmctld's memory so squeue still reports them
                "MinJobAge=300",
                "ReturnToService=2",
                "SlurmctldTimeout=30",
                "SlurmdTimeout=60",
                "InactiveLimit=0",
                "KillWait=5",
                node_line,
                f"PartitionName={partition} Nodes={node} Default=YES MaxTime=INFINITE State=UP",
                f"PartitionName={SPARE_PARTITION} Nodes={node} Default=NO MaxTime=INFINITE State=UP",
                "",
            ]
        )
    )
    return conf, node


def write_client_shims(bin_dir: Path, conf: Path) -> Path:
    """Write wrappers for the SLURM client commands that pin ``SLURM_CONF`` to ``conf``.

    Inside a job, ``snakemake-executor-plugin-slurm-jobstep`` calls ``srun`` with every
    ``SLURM_*`` variable removed from the environment (``SLURM_CONF`` too), so ``srun``
    would look for ``/etc/slurm/slurm.conf``. A real cluster has its configuration
    there (or runs configless); the test cluster keeps its own in a temp dir and must
    not touch ``/etc``, so the job's ``PATH`` starts with these wrappers instead.
    """
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in CLIENT_COMMANDS:
        real = shutil.which(name)
        if real is None:
            continue
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nSLURM_CONF="{conf}" exec "{real}" "$@"\n')
        shim.chmod(0o755)
    return bin_dir


def _start(cmd: Sequence[str], log: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    with open(log, "ab") as fh:
        return subprocess.Popen(
            list(cmd),
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            start_new_session=True,
        )


def _stop(proc: subprocess.Popen[bytes], grace: float = 10) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(timeout=grace)


def _pids_with_env(marker: str) -> list[int]:
    """PIDs of processes whose environment holds ``marker`` (our unique SLURM_CONF)."""
    found = []
    needle = marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def _wait_until(check, timeout: float, what: str, on_fail=lambda: "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}\n{on_fail()}")


@contextlib.contextmanager
def local_slurm_cluster(
    workdir: Path, *, partition: str = PARTITION, start_timeout: float = 60
) -> Iterator[SlurmCluster]:
    """Start munged + slurmctld + slurmd on localhost; stop them by PID on exit.

    Parameters
    ----------
    workdir
        Folder for ``slurm.conf``, state, spool and logs (created if missing).
    partition
        Name of the default partition (a second, non-default partition
        :data:`SPARE_PARTITION` holds the same node).
    start_timeout
        Seconds to wait for the node to become idle.

    Yields
    ------
    SlurmCluster
        With ``env``: the current environment plus ``SLURM_CONF`` and the venv's
        ``bin`` first on ``PATH``; pass it to :func:`run_snakemake`.
    """
    reason = unavailable_reason()
    if reason:
        raise RuntimeError(reason)
    root = Path(workdir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    # A unix socket path must stay under ~107 bytes, so munge's lives in a short temp dir.
    munge_dir = Path(tempfile.mkdtemp(prefix="zs-munge-"))
    os.chmod(munge_dir, 0o700)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    log_dir = root / "log"
    log_dir.mkdir(exist_ok=True)
    cluster: SlurmCluster | None = None
    conf: Path | None = None
    try:
        key = munge_dir / "munge.key"
        sock = munge_dir / "munge.socket"
        subprocess.run(
            [_which("mungekey"), "--create", "--keyfile", str(key)],
            check=True,
            timeout=30,
            capture_output=True,
        )
        os.chmod(key, 0o600)
        base_env = dict(os.environ)
        procs["munged"] = _start(
            [
                _which("munged"),
                "--foreground",
                "--force",
                f"--socket={sock}",
                f"--key-file={key}",
                f"--pid-file={munge_dir / 'munged.pid'}",
                f"--seed-file={munge_dir / 'munged.seed'}",
                f"--log-file={log_dir / 'munged.log'}",
            ],
            log_dir / "munged.out",
            base_env,
        )

        def munge_ok() -> bool:
            if not sock.exists():
                return False
            cred = subprocess.run(
                [_which("munge"), "-n", "-S", str(sock)], capture_output=True, timeout=10, check=False
            )
            if cred.returncode != 0:
                return False
            back = subprocess.run(
                [_which("unmunge"), "-S", str(sock)],
                input=cred.stdout,
                capture_output=True,
                timeout=10,
                check=False,
            )
            return back.returncode == 0

        _wait_until(munge_ok, 20, "munged", lambda: (log_dir / "munged.out").read_text(errors="replace"))

        conf, node = write_slurm_conf(root, munge_socket=sock, partition=partition)
        env = dict(base_env)
        env["SLURM_CONF"] = str(conf)
        shims = write_client_shims(root / "bin", conf)
        env["PATH"] = os.pathsep.join([str(venv_bin()), str(shims), env.get("PATH", "/usr/bin:/bin")])
        for var in [
            v for v in env if v.startswith(("SLURM_", "SBATCH_", "SRUN_", "SALLOC_")) and v != "SLURM_CONF"
        ]:
            del env[var]  # do not leak an outer allocation into the test cluster
        cluster = SlurmCluster(
            root=root,
            conf=conf,
            partition=partition,
            node=node,
            env=env,
            logs={
                "munged": log_dir / "munged.log",
                "slurmctld": log_dir / "slurmctld.log",
                "slurmd": log_dir / "slurmd.log",
            },
        )
        procs["slurmctld"] = _start(
            [_which("slurmctld"), "-D", "-i", "-f", str(conf)], log_dir / "slurmctld.out", env
        )
        _wait_until(
            lambda: cluster.command("scontrol", "ping").stdout.count("UP") > 0,
            start_timeout,
            "slurmctld",
            cluster.log_tail,
        )
        procs["slurmd"] = _start(
            [_which("slurmd"), "-D", "-f", str(conf), "-N", node], log_dir / "slurmd.out", env
        )

        def node_idle() -> bool:
            for name, p in procs.items():
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited with {p.returncode}\n{cluster.log_tail()}")
            out = cluster.command("sinfo", "-h", "-N", "-o", "%t").stdout.split()
            return bool(out) and all(s.rstrip("*~#") == "idle" for s in out)

        _wait_until(node_idle, start_timeout, "the node to become idle", cluster.log_tail)
        cluster.pids.update({name: p.pid for name, p in procs.items()})
        yield cluster
    finally:
        if cluster is not None and "slurmctld" in procs and procs["slurmctld"].poll() is None:
            # cancel whatever is still queued or running, and give slurmd time to clean up
            with contextlib.suppress(Exception):
                cluster.command("scancel", "--full", f"--user={getpass.getuser()}", timeout=15)

                def no_running_jobs() -> bool:
                    out = cluster.command(
                        "squeue", "-h", "-t", "RUNNING,PENDING,COMPLETING,CONFIGURING", "-o", "%i"
                    ).stdout
                    return not out.strip()

                _wait_until(no_running_jobs, 30, "jobs to end")
        for name in ("slurmd", "slurmctld", "munged"):
            if name in procs:
                _stop(procs[name])
        if conf is not None:
            # job steps (slurmstepd and the job's processes) carry our SLURM_CONF in
            # their environment; end any that outlived slurmd, by PID
            for pid in _pids_with_env(f"SLURM_CONF={conf}"):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(munge_dir, ignore_errors=True)


def run_snakemake(
    workdir: Path,
    snakefile: Path,
    configfile: Path | None = None,
    profile: Path | str | None = None,
    extra_args: Sequence[str] = (),
    timeout: float = 600,
    *,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run Snakemake in ``workdir`` under a hard timeout and return the finished process.

    The whole process group is killed when ``timeout`` (seconds) expires, and
    :class:`subprocess.TimeoutExpired` is raised with the output so far. The venv's
    ``bin`` is put first on ``PATH`` (jobs submitted to SLURM inherit it).
    """
    run_env = dict(env if env is not None else os.environ)
    bin_dir = str(venv_bin())
    if run_env.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        run_env["PATH"] = os.pathsep.join([bin_dir, run_env.get("PATH", "/usr/bin:/bin")])
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(Path(snakefile).resolve()),
        "--directory",
        str(Path(workdir).resolve()),
    ]
    if configfile is not None:
        cmd += ["--configfile", str(Path(configfile).resolve())]
    if profile is not None:
        cmd += ["--profile", str(profile)]
    cmd += list(extra_args)
    return run_in_group(cmd, cwd=workdir, env=run_env, timeout=timeout)


def run_in_group(
    cmd: Sequence[str], *, cwd: Path | str, env: Mapping[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` in its own process group; on ``timeout`` the whole group is killed and
    :class:`subprocess.TimeoutExpired` carries the output so far."""
    proc = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise subprocess.TimeoutExpired(list(cmd), timeout, output=out, stderr=err) from None
    return subprocess.CompletedProcess(list(cmd), proc.returncode, out, err)
