"""zeep with the official dm_operations and dm_info WSDL: the recipient
downloads the signed message (a .zfo, DER CMS), which `openssl cms -verify`
accepts against the gateway's signing root and whose content is the signed
XML of the message; AuthenticateMessage accepts it untouched and refuses it
with one byte changed; the signed delivery info verifies too."""

import base64
import subprocess

from lxml import etree

from test_messages import OVM_PRIMARY, PDF, info, operations, send

MESSAGE_NS = "http://isds.czechpoint.cz/v20/message"
DELIVERY_NS = "http://isds.czechpoint.cz/v20/delivery"
ISDS_NS = "http://isds.czechpoint.cz/v20"



def deliver(official, gateway, auth):
    """Lists the received messages of `auth`: the one call that delivers
    them (messages manual, GetListOfReceivedMessages), so they may be read."""
    _, dx = info(official, gateway, auth)
    listing = dx.GetListOfReceivedMessages(
        dmFromTime=None, dmToTime=None, dmRecipientOrgUnitNum=None,
        dmStatusFilter="-1", dmOffset=None, dmLimit=None,
    )
    assert listing.dmStatus.dmStatusCode == "0000"

def cms_content(gateway, zfo, tmp_path):
    """The content of a .zfo as openssl verified it against the root."""
    path = tmp_path / "artefact.zfo"
    path.write_bytes(zfo)
    root = gateway.data_dir / "signing" / "root-ca.pem"
    done = subprocess.run(
        ["openssl", "cms", "-verify", "-inform", "DER", "-in", str(path),
         "-CAfile", str(root)],
        capture_output=True, check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return etree.fromstring(done.stdout)


def test_signed_download_and_authenticate(gateway, official, tmp_path):
    dm_id = send(official, gateway)
    deliver(official, gateway, OVM_PRIMARY)
    _, dz = operations(official, gateway, OVM_PRIMARY)

    signed = dz.SignedMessageDownload(dmID=dm_id)
    assert signed.dmStatus.dmStatusCode == "0000", signed.dmStatus.dmStatusMessage
    zfo = signed.dmSignature
    assert zfo[:1] == b"\x30"

    content = cms_content(gateway, zfo, tmp_path)
    assert content.tag == f"{{{MESSAGE_NS}}}MessageDownloadResponse"
    returned = content.find(f"{{{MESSAGE_NS}}}dmReturnedMessage")
    assert returned.findtext(f"{{{ISDS_NS}}}dmDm/{{{ISDS_NS}}}dmID") == dm_id
    assert returned.findtext(f"{{{MESSAGE_NS}}}dmMessageStatus") == "7"
    first = returned.find(f"{{{ISDS_NS}}}dmDm/{{{ISDS_NS}}}dmFiles/{{{ISDS_NS}}}dmFile")
    assert base64.b64decode(first.findtext(f"{{{ISDS_NS}}}dmEncodedContent")) == PDF

    result = dz.AuthenticateMessage(dmMessage=zfo)
    assert result.dmStatus.dmStatusCode == "0000"
    assert result.dmAuthResult is True

    tampered = bytearray(zfo)
    tampered[len(tampered) // 2] ^= 0x01
    result = dz.AuthenticateMessage(dmMessage=bytes(tampered))
    assert result.dmStatus.dmStatusCode == "0000"
    assert result.dmAuthResult is False

    _, dx = info(official, gateway, OVM_PRIMARY)
    delivery = dx.GetSignedDeliveryInfo(dmID=dm_id)
    assert delivery.dmStatus.dmStatusCode == "0000"
    content = cms_content(gateway, delivery.dmSignature, tmp_path)
    assert content.tag == f"{{{DELIVERY_NS}}}GetDeliveryInfoResponse"
    assert dz.AuthenticateMessage(dmMessage=delivery.dmSignature).dmAuthResult is True


def test_archive_restamps_over_soap12(gateway, official, tmp_path):
    """ArchiveISDSDocument through the official dm_arch.wsdl (a SOAP 1.2
    binding): the signed message comes back re-stamped, still verifying,
    with the day by which to stamp again; a foreign document is refused."""
    from test_messages import service

    dm_id = send(official, gateway)
    deliver(official, gateway, OVM_PRIMARY)
    _, dz = operations(official, gateway, OVM_PRIMARY)
    zfo = dz.SignedMessageDownload(dmID=dm_id).dmSignature
    _, arch = service(official, "dm_arch.wsdl", "dmVoDZBinding", gateway, OVM_PRIMARY, "/DS/arch")

    result = arch.ArchiveISDSDocument(dmMessage=zfo)
    assert result.dmStatus.dmStatusCode == "0000", result.dmStatus.dmStatusMessage
    assert result.dmResultDoc != zfo
    assert result.nextStampTo is not None
    content = cms_content(gateway, result.dmResultDoc, tmp_path)
    assert content.tag == f"{{{MESSAGE_NS}}}MessageDownloadResponse"
    assert dz.AuthenticateMessage(dmMessage=result.dmResultDoc).dmAuthResult is True

    refused = arch.ArchiveISDSDocument(dmMessage=b"not a zfo")
    assert refused.dmStatus.dmStatusCode != "0000"
    assert refused.dmResultDoc is None
