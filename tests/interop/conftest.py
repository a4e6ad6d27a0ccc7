"""Fixtures for the interoperability tests: a real gateway process on
ephemeral loopback ports, and the official ISDS WSDL directories (3.11, the
current interface, and 3.09, which older clients were written against)."""

import json
import os
import pathlib
import signal
import subprocess
import tempfile
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
OFFICIAL = REPO.parent / "shared" / "isds-reference" / "official"
OFFICIAL_311 = REPO.parent / "shared" / "isds-reference" / "official-3.11"
ISDS_NS = "http://isds.czechpoint.cz/v20"
# The gateway operator the session's gateway is started with.
OPERATOR = ("provozovatel", "Operator-Heslo-2026")


@pytest.fixture(scope="session")
def official():
    """The official WSDL/XSD directory; its absence fails the tests loudly."""
    if not OFFICIAL.is_dir():
        pytest.fail(
            f"the official ISDS reference is missing at {OFFICIAL}: "
            "interoperability against the official WSDL cannot be checked",
            pytrace=False,
        )
    return OFFICIAL


@pytest.fixture(scope="session")
def official_311():
    """The official 3.11 WSDL/XSD directory (it has no isds_stat files: 3.11
    left them at 3.09); its absence fails the tests loudly."""
    if not OFFICIAL_311.is_dir():
        pytest.fail(
            f"the official ISDS 3.11 reference is missing at {OFFICIAL_311}: "
            "interoperability against the current WSDL cannot be checked",
            pytrace=False,
        )
    return OFFICIAL_311


class Gateway:
    def __init__(self, ready, data_dir):
        self.http = "http://" + ready["http"]
        self.https = "https://" + ready["https"] if ready.get("https") else None
        self.ca_cert = ready.get("ca_cert")
        self.data_dir = data_dir
        self.operator = OPERATOR


@pytest.fixture(scope="session")
def gateway():
    binary = os.environ.get("ISDS_GATEWAY_BIN") or str(REPO / "target" / "debug" / "isds-gateway")
    if not os.path.exists(binary):
        pytest.fail(f"gateway binary not found at {binary}; run `cargo build` first", pytrace=False)
    with tempfile.TemporaryDirectory(prefix="isds-gw-") as tmp:
        ready_file = pathlib.Path(tmp) / "ready.json"
        log = open(pathlib.Path(tmp) / "gateway.log", "w")
        proc = subprocess.Popen(
            [binary, "serve", "--data", str(pathlib.Path(tmp) / "data"),
             "--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0",
             "--ready-file", str(ready_file)],
            stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "ISDS_GATEWAY_OPERATOR": ":".join(OPERATOR)},
        )
        try:
            deadline = time.monotonic() + 60
            while not ready_file.exists():
                if proc.poll() is not None:
                    log.flush()
                    pytest.fail("gateway exited early:\n" + (pathlib.Path(tmp) / "gateway.log").read_text())
                if time.monotonic() > deadline:
                    pytest.fail("gateway did not become ready within 60 s")
                time.sleep(0.05)
            yield Gateway(json.loads(ready_file.read_text()), pathlib.Path(tmp) / "data")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
