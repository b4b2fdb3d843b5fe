"""The README's run command (scripts/run_local.py, supervisor) started by a test, and what it printed."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support import ROOT


def descendants(pid: int) -> set[int]:
    """Every process below `pid`."""
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            for child in task.read_text().split():
                found.add(int(child))
                todo.append(int(child))
    return found


def start(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """The run command, and its banner (every line up to "Stop with Ctrl-C.")."""
    process = subprocess.Popen([sys.executable, "scripts/run_local.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               text=True)  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    while not lines or not lines[-1].startswith("Stop with"):
        line = process.stdout.readline()
        assert line, "".join(lines)
        lines.append(line)
    return process, "".join(lines)


@dataclass
class Banner:
    redis_url: str  # with the embedded Redis's password
    admin_password: str | None  # generated, shown once

    @classmethod
    def read(cls, banner: str) -> Banner:
        found = re.search(r"embedded redis-server at redis://127\.0\.0\.1:(\d+)/0 \(password in (\S+)\)", banner)
        assert found, banner
        password = re.search(r"^requirepass (\S+)$", Path(found[2]).read_text(), re.MULTILINE)
        assert password, "no password in the embedded Redis's configuration"
        admin = re.search(r"Log in as admin with the password (\S+) ", banner)
        return cls(f"redis://:{password[1]}@127.0.0.1:{found[1]}/0", admin[1] if admin else None)


class Supervisor:
    """supervisorctl of a run folder."""

    def __init__(self, run_dir: Path) -> None:
        self.command = [str(Path(sys.executable).parent / "supervisorctl"), "-c", str(run_dir / "supervisord.conf")]

    def status(self) -> str:
        return subprocess.run([*self.command, "status"], capture_output=True, text=True, check=False).stdout

    def pid(self, program: str) -> int:
        """The pid of a RUNNING program (0 when it is not running)."""
        out = subprocess.run([*self.command, "pid", program], capture_output=True, text=True, check=False).stdout
        return int(out.strip()) if out.strip().isdigit() else 0

    def stop_all(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.command, "stop", "all"], capture_output=True, text=True, timeout=60, check=False)


def get_json(url: str) -> object:
    try:
        reply = httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return None
    return reply.json() if reply.status_code == 200 else None
