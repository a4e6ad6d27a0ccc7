"""zeep with the official dm_VoDZ.wsdl (3.11, SOAP 1.2) drives a big
message (VoDZ) through the gateway: two uploads, CreateBigMessage with
them and an inline document, the recipient's list marks it VoDZ,
BigMessageDownload and DownloadAttachment give the documents back byte
for byte, the signed downloads verify with `openssl cms -verify`, and
AuthenticateBigMessage accepts the artefact and refuses it altered.

The gateway of the session keeps ISDS's VoDZ threshold (18 MB), so the
first upload is 18 MB and a little more."""

import hashlib
import subprocess

import requests
import zeep
from zeep.transports import Transport

from test_messages import OVM_PRIMARY, PO_PRIMARY, info, items
from lxml import etree
from test_signed import deliver

ISDS_NS = "http://isds.czechpoint.cz/v20"
MESSAGE_NS = "http://isds.czechpoint.cz/v20/message"
SENT_NS = "http://isds.czechpoint.cz/v20/SentMessage"

BIG = bytes(range(256)) * (18 * 4096 + 1)
SMALL = b"%PDF-1.4\n" + bytes(range(256)) * 4 + b"\n%%EOF\n"
NOTE = "Průvodní dopis k výkresům".encode()


def vodz(official_311, gateway, auth):
    """The VoDZ service; lxml refuses text nodes over 10 MB unless told
    (a document of a big message is one), hence `xml_huge_tree`."""
    session = requests.Session()
    session.trust_env = False
    session.auth = auth
    client = zeep.Client(
        str(official_311 / "dm_VoDZ.wsdl"),
        transport=Transport(session=session),
        settings=zeep.Settings(xml_huge_tree=True),
    )
    return client, client.create_service(
        f"{{{ISDS_NS}}}dmVoDZBinding", gateway.http + "/DS/vodz"
    )


def cms_content(gateway, zfo, tmp_path):
    """The content of a .zfo as `openssl cms -verify` verified it against
    the gateway's root (parsed allowing its 18 MB text nodes)."""
    path = tmp_path / "big.zfo"
    path.write_bytes(zfo)
    root = gateway.data_dir / "signing" / "root-ca.pem"
    done = subprocess.run(
        ["openssl", "cms", "-verify", "-inform", "DER", "-in", str(path), "-CAfile", str(root)],
        capture_output=True, check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return etree.fromstring(done.stdout, etree.XMLParser(huge_tree=True))


def upload(dz, name, data):
    result = dz.UploadAttachment(
        dmFile={"dmEncodedContent": data, "dmMimeType": "application/pdf", "dmFileDescr": name}
    )
    assert result.dmStatus.dmStatusCode == "0000", result.dmStatus.dmStatusMessage
    # The client checks the digests against its own (VoDZ manual 3.6.1).
    assert result.dmAttHash1.AttHashAlg == "SHA-256"
    assert result.dmAttHash1._value_1 == hashlib.sha256(data).hexdigest()
    assert result.dmAttHash2.AttHashAlg == "SHA3-256"
    assert result.dmAttHash2._value_1 == hashlib.sha3_256(data).hexdigest()
    return result


def reference(uploaded, meta):
    return {
        "dmFileMetaType": meta,
        "dmAttID": uploaded.dmAttID,
        "dmAttHash1": uploaded.dmAttHash1._value_1,
        "dmAttHash1Alg": "SHA-256",
        "dmAttHash2": uploaded.dmAttHash2._value_1,
        "dmAttHash2Alg": "SHA3-256",
    }


def test_big_message_flow(gateway, official_311, tmp_path):
    _, sender = vodz(official_311, gateway, OVM_PRIMARY)
    big = upload(sender, "vykresy.pdf", BIG)
    small = upload(sender, "seznam.pdf", SMALL)
    created = sender.CreateBigMessage(
        dmEnvelope={"dbIDRecipient": "po4demo", "dmAnnotation": "Stavební výkresy přes zeep"},
        dmFiles={
            "dmExtFile": [reference(big, "main"), reference(small, "enclosure")],
            "dmFile": [{
                "dmEncodedContent": NOTE, "dmMimeType": "text/plain",
                "dmFileMetaType": "enclosure", "dmFileDescr": "dopis.txt",
            }],
        },
    )
    assert created.dmStatus.dmStatusCode == "0000", created.dmStatus.dmStatusMessage
    dm_id = created.dmID

    # Listed on the old endpoint, marked as a big message (manual 3.9).
    deliver(official_311, gateway, PO_PRIMARY)
    _, dx = info(official_311, gateway, PO_PRIMARY)
    listing = dx.GetListOfReceivedMessages(
        dmFromTime=None, dmToTime=None, dmRecipientOrgUnitNum=None,
        dmStatusFilter="-1", dmOffset=None, dmLimit=None,
    )
    record = next(r for r in items(listing.dmRecords, "dmRecord") if r.dmID == dm_id)
    assert record.dmVODZ is True

    _, recipient = vodz(official_311, gateway, PO_PRIMARY)
    down = recipient.BigMessageDownload(dmID=dm_id)
    assert down.dmStatus.dmStatusCode == "0000", down.dmStatus.dmStatusMessage
    returned = down.dmReturnedMessage
    assert returned.dmVODZ is True
    assert returned.attsNum == 3
    files = returned.dmDm.dmFiles.dmFile
    assert [f.dmEncodedContent for f in files] == [BIG, SMALL, NOTE]
    assert [f.dmFileDescr for f in files] == ["vykresy.pdf", "seznam.pdf", "dopis.txt"]

    for n, expected in enumerate([BIG, SMALL, NOTE]):
        one = recipient.DownloadAttachment(dmID=dm_id, attNum=n)
        assert one.dmStatus.dmStatusCode == "0000"
        assert one.dmFile.dmEncodedContent == expected
    past = recipient.DownloadAttachment(dmID=dm_id, attNum=3)
    assert past.dmStatus.dmStatusCode == "1299"

    signed = recipient.SignedBigMessageDownload(dmID=dm_id)
    assert signed.dmStatus.dmStatusCode == "0000", signed.dmStatus.dmStatusMessage
    content = cms_content(gateway, signed.dmSignature, tmp_path)
    assert content.tag == f"{{{MESSAGE_NS}}}MessageDownloadResponse"
    assert content.findtext(f"{{{MESSAGE_NS}}}dmReturnedMessage/{{{ISDS_NS}}}dmDm/{{{ISDS_NS}}}dmID") == dm_id

    sent = sender.SignedSentBigMessageDownload(dmID=dm_id)
    assert sent.dmStatus.dmStatusCode == "0000", sent.dmStatus.dmStatusMessage
    assert cms_content(gateway, sent.dmSignature, tmp_path).tag == f"{{{SENT_NS}}}MessageDownloadResponse"

    assert sender.AuthenticateBigMessage(dmMessage=signed.dmSignature).dmAuthResult is True
    altered = bytearray(signed.dmSignature)
    altered[len(altered) // 2] ^= 0x01
    assert sender.AuthenticateBigMessage(dmMessage=bytes(altered)).dmAuthResult is False
