"""Record a session driven by zeep (official WSDL) with `serve --record`,
replay it with `isds-gateway replay` against a fresh embedded gateway
(green), then edit one expected value and replay again (red, naming the
element)."""

import os
import pathlib
import signal
import subprocess
import tempfile
import time
import json

import pytest
import requests
import zeep
from zeep.transports import Transport

from conftest import ISDS_NS, REPO

PO_PRIMARY = ("po_jednatel", "Demo-Po-2026!")
OVM_PRIMARY = ("ovm_starosta", "Demo-Ovm-2026!")
PDF = b"%PDF-1.4\n" + bytes(range(256)) + b"\n%%EOF\n"


def binary():
    path = os.environ.get("ISDS_GATEWAY_BIN") or str(REPO / "target" / "debug" / "isds-gateway")
    if not os.path.exists(path):
        pytest.fail(f"gateway binary not found at {path}; run `cargo build` first", pytrace=False)
    return path


class Recording:
    """A gateway process of its own, recording into `record_dir`."""

    def __init__(self, tmp, record_dir):
        self.tmp = pathlib.Path(tmp)
        ready = self.tmp / "ready.json"
        self.log = open(self.tmp / "gateway.log", "w")
        self.proc = subprocess.Popen(
            [binary(), "serve", "--data", str(self.tmp / "data"),
             "--listen", "127.0.0.1:0", "--tls-listen", "off",
             "--record", str(record_dir), "--ready-file", str(ready)],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while not ready.exists():
            if self.proc.poll() is not None:
                self.log.flush()
                pytest.fail("gateway exited early:\n" + (self.tmp / "gateway.log").read_text())
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail("gateway did not become ready within 60 s")
            time.sleep(0.05)
        self.http = "http://" + json.loads(ready.read_text())["http"]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def service(official, wsdl, binding, url, auth):
    session = requests.Session()
    session.trust_env = False
    session.auth = auth
    client = zeep.Client(str(official / wsdl), transport=Transport(session=session))
    return client, client.create_service(f"{{{ISDS_NS}}}{binding}", url)


def drive(official, base):
    """A company sends a PDF to an authority, which lists, downloads and
    verifies it; one call fails (a message that does not exist)."""
    client, dz = service(official, "dm_operations.wsdl", "dmOperationsBinding",
                         base + "/DS/dz", PO_PRIMARY)
    files = client.get_type(f"{{{ISDS_NS}}}tFilesArray")(dmFile=[
        {"dmEncodedContent": PDF, "dmMimeType": "application/pdf",
         "dmFileMetaType": "main", "dmFileDescr": "zadost.pdf"},
    ])
    sent = dz.CreateMessage(
        dmEnvelope={"dbIDRecipient": "ovm4dem", "dmAnnotation": "Žádost přes zeep",
                    "dmPersonalDelivery": False},
        dmFiles=files,
    )
    assert sent.dmStatus.dmStatusCode == "0000", sent.dmStatus.dmStatusMessage
    _, dx = service(official, "dm_info.wsdl", "dmInfoBinding", base + "/DS/dx", OVM_PRIMARY)
    listing = dx.GetListOfReceivedMessages(
        dmFromTime=None, dmToTime=None, dmRecipientOrgUnitNum=None,
        dmStatusFilter="-1", dmOffset=1, dmLimit=1000,
    )
    assert listing.dmStatus.dmStatusCode == "0000"
    _, ovm_dz = service(official, "dm_operations.wsdl", "dmOperationsBinding",
                        base + "/DS/dz", OVM_PRIMARY)
    downloaded = ovm_dz.MessageDownload(dmID=sent.dmID)
    assert downloaded.dmStatus.dmStatusCode == "0000"
    assert downloaded.dmReturnedMessage.dmDm.dmFiles.dmFile[0].dmEncodedContent == PDF
    verified = dx.VerifyMessage(dmID=sent.dmID)
    assert verified.dmStatus.dmStatusCode == "0000"
    missing = ovm_dz.MessageDownload(dmID="999999999")
    assert missing.dmStatus.dmStatusCode != "0000"


def replay(directory, *extra):
    return subprocess.run([binary(), "replay", str(directory), *extra],
                          capture_output=True, text=True, timeout=300)


def test_a_zeep_session_replays_green_and_an_edited_value_turns_it_red(official):
    with tempfile.TemporaryDirectory(prefix="isds-rec-") as tmp:
        record_dir = pathlib.Path(tmp) / "transcript"
        gateway = Recording(tmp, record_dir)
        try:
            drive(official, gateway.http)
        finally:
            gateway.stop()

        metas = sorted(record_dir.glob("*-meta.toml"))
        assert len(metas) == 5, [m.name for m in metas]
        everything = "".join(p.read_text() for p in record_dir.iterdir())
        for _, password in (PO_PRIMARY, OVM_PRIMARY):
            assert password not in everything

        result = replay(record_dir, "--junit", str(pathlib.Path(tmp) / "junit.xml"))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "5 passed, 0 failed" in result.stdout, result.stdout

        # The download's annotation, edited: red, and the diff names it.
        download = record_dir / "0003-response.xml"
        text = download.read_text()
        assert "Žádost přes zeep" in text
        download.write_text(text.replace("Žádost přes zeep", "Žádost upravená"))
        result = replay(record_dir, "--junit", str(pathlib.Path(tmp) / "junit.xml"))
        assert result.returncode == 1, result.stdout + result.stderr
        assert "FAIL  0003 MessageDownload" in result.stdout, result.stdout
        assert "/MessageDownloadResponse/dmReturnedMessage/dmDm/dmAnnotation" in result.stdout
        assert '"Žádost upravená"' in result.stdout
        junit = (pathlib.Path(tmp) / "junit.xml").read_text()
        assert 'failures="1"' in junit
