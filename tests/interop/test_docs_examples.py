"""The examples of the README and the guides in docs/ run as written.

Every ```sh, ```bash and ```python block is one example. The line before
its fence may say how it runs:

- nothing: against a running gateway started as the README says (demo
  world, test clock, operator `provozovatel:Heslo`), from the directory it
  was started in (so `data/tls/ca.pem` is its CA); the documented
  addresses `127.0.0.1:8080` and `127.0.0.1:8443` are replaced by the
  gateway's ports;
- `<!-- example: offline -->`: with the gateway stopped, in a directory
  whose `./data` holds the demo world and where `fixtures/` is the
  repository's;
- `<!-- example: not run (REASON) -->`: not run, and REASON must say why.

`isds-gateway` is the binary the tests built. An example passes when it
exits 0; a shell example runs under `set -e`.
"""

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
OPERATOR = "provozovatel:Heslo"
FENCE = re.compile(r"^```(sh|bash|python)\s*$")
MARKER = re.compile(r"^<!-- example: (offline|not run \((?P<reason>.+)\)) -->$")


def examples():
    docs = [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md"))
    found = []
    for doc in docs:
        lines = doc.read_text(encoding="utf-8").split("\n")
        i = 0
        while i < len(lines):
            m = FENCE.match(lines[i])
            if not m:
                i += 1
                continue
            end = i + 1
            while end < len(lines) and not lines[end].startswith("```"):
                end += 1
            marker = lines[i - 1].strip() if i > 0 else ""
            kind = "live"
            reason = None
            mm = MARKER.match(marker)
            if mm:
                if mm.group("reason") is not None:
                    kind, reason = "not run", mm.group("reason").strip()
                else:
                    kind = "offline"
            elif marker.startswith("<!-- example"):
                raise AssertionError(f"{doc.name}:{i}: unknown example marker {marker!r}")
            found.append(
                pytest.param(
                    m.group(1),
                    "\n".join(lines[i + 1 : end]),
                    kind,
                    reason,
                    id=f"{doc.relative_to(REPO)}:{i + 1}",
                )
            )
            i = end + 1
    return found


def binary():
    path = os.environ.get("ISDS_GATEWAY_BIN") or str(REPO / "target" / "debug" / "isds-gateway")
    if not os.path.exists(path):
        pytest.fail(f"gateway binary not found at {path}; run `cargo build` first", pytrace=False)
    return path


def environment():
    env = dict(os.environ)
    env["PATH"] = str(pathlib.Path(binary()).parent) + os.pathsep + env.get("PATH", "")
    for var in ("ISDS_GATEWAY_DATA", "ISDS_GATEWAY_CONFIG", "ISDS_GATEWAY_URL", "ISDS_GATEWAY_OPERATOR"):
        env.pop(var, None)
    return env


@pytest.fixture(scope="module")
def live():
    """A gateway started as the README says, on free ports, in test mode."""
    with tempfile.TemporaryDirectory(prefix="isds-docs-") as tmp:
        tmp = pathlib.Path(tmp)
        ready = tmp / "ready.json"
        log = open(tmp / "gateway.log", "w")
        proc = subprocess.Popen(
            [binary(), "serve", "--test-clock", "--listen", "127.0.0.1:0",
             "--tls-listen", "127.0.0.1:0", "--ready-file", str(ready)],
            cwd=tmp, stdout=log, stderr=subprocess.STDOUT,
            env={**environment(), "ISDS_GATEWAY_OPERATOR": OPERATOR},
        )
        try:
            deadline = time.monotonic() + 60
            while not ready.exists():
                if proc.poll() is not None:
                    pytest.fail("gateway exited early:\n" + (tmp / "gateway.log").read_text())
                if time.monotonic() > deadline:
                    pytest.fail("gateway did not become ready within 60 s")
                time.sleep(0.05)
            yield tmp, json.loads(ready.read_text())
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


def offline_dir():
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="isds-docs-offline-"))
    (tmp / "fixtures").symlink_to(REPO / "fixtures")
    subprocess.run(
        [binary(), "fixtures", "load", str(REPO / "fixtures" / "demo-world.toml"),
         "--data", str(tmp / "data"), "--init"],
        check=True, capture_output=True, env=environment(),
    )
    return tmp


def run(language, code, cwd):
    if language == "python":
        cmd = [sys.executable, "-c", code]
    else:
        cmd = ["bash", "-e", "-o", "pipefail", "-c", code]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, env=environment())


@pytest.mark.parametrize("language,code,kind,reason", examples())
def test_example_runs_as_written(request, language, code, kind, reason):
    if kind == "not run":
        assert len(reason) >= 10, "a block that is not run must say why"
        return
    if kind == "offline":
        cwd = offline_dir()
    else:
        cwd, ready = request.getfixturevalue("live")
        code = code.replace("127.0.0.1:8080", ready["http"]).replace("127.0.0.1:8443", ready["https"])
    done = run(language, code, cwd)
    assert done.returncode == 0, f"exit {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"


def test_every_guide_has_examples_or_none_to_run():
    """The README links every guide, and every guide exists."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\(docs/([a-z-]+\.md)\)", readme))
    present = {p.name for p in (REPO / "docs").glob("*.md")}
    assert linked == present, f"linked {sorted(linked)}, present {sorted(present)}"
    assert len(readme.split("\n")) <= 250, "the README stays short: guides go to docs/"
