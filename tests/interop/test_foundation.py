"""zeep, loaded with the official WSDL and with the WSDL the gateway serves,
talks to a real gateway process."""

import pytest
import requests
import zeep
from zeep.transports import Transport

from conftest import ISDS_NS

# (official WSDL file, endpoint that serves it)
FAMILIES = [
    ("dm_operations.wsdl", "dz"),
    ("dm_info.wsdl", "dx"),
    ("db_search.wsdl", "df"),
    ("db_access.wsdl", "DsManage"),
    ("db_manipulations.wsdl", "DsManage"),
    ("isds_stat.wsdl", "DsManage"),
    ("dm_VoDZ.wsdl", "vodz"),
    ("dm_arch.wsdl", "arch"),
]

DEMO_LOGIN = ("ovm_starosta", "Demo-Ovm-2026!")


def client(wsdl, verify=True):
    session = requests.Session()
    # Only what the test sets counts: no CA bundle or proxy from the
    # environment (requests lets REQUESTS_CA_BUNDLE override session.verify).
    session.trust_env = False
    session.auth = DEMO_LOGIN
    session.verify = verify
    return zeep.Client(str(wsdl), transport=Transport(session=session))


def operations_per_service(zclient):
    """{service name: {port name: sorted operation names}}"""
    out = {}
    for service in zclient.wsdl.services.values():
        out[service.name] = {
            port.name: sorted(port.binding._operations.keys())
            for port in service.ports.values()
        }
    return out


def test_dummy_operation_with_the_official_wsdl_over_http(gateway, official):
    c = client(official / "dm_operations.wsdl")
    service = c.create_service(f"{{{ISDS_NS}}}dmOperationsBinding", gateway.http + "/DS/dz")
    result = service.DummyOperation(None)
    assert result.dmStatusCode == "0000"
    assert result.dmStatusMessage


def test_dummy_operation_with_the_official_wsdl_over_https(gateway, official):
    assert gateway.https, "the gateway serves HTTPS by default"
    c = client(official / "dm_operations.wsdl", verify=gateway.ca_cert)
    service = c.create_service(f"{{{ISDS_NS}}}dmOperationsBinding", gateway.https + "/DS/dz")
    assert service.DummyOperation(None).dmStatusCode == "0000"


@pytest.mark.parametrize("wsdl_file,endpoint", FAMILIES)
def test_served_wsdl_offers_the_same_operations_as_the_official(
    gateway, official, official_311, wsdl_file, endpoint
):
    family = wsdl_file.removesuffix(".wsdl")
    served = client(f"{gateway.http}/DS/{endpoint}?wsdl={family}")
    # The current interface, 3.11; the statistics service kept its 3.09 file.
    current = official_311 / wsdl_file
    reference = client(current if current.exists() else official / wsdl_file)
    assert operations_per_service(served) == operations_per_service(reference)
    # The served WSDL points back at the gateway, at the endpoint it serves.
    for service in served.wsdl.services.values():
        for port in service.ports.values():
            assert port.binding_options["address"] == f"{gateway.http}/DS/{endpoint}"


@pytest.mark.parametrize("version", ["3.09", "3.11"])
def test_clients_of_both_wsdl_versions_call_the_gateway(gateway, official, official_311, version):
    directory = official if version == "3.09" else official_311
    c = client(directory / "dm_operations.wsdl")
    service = c.create_service(f"{{{ISDS_NS}}}dmOperationsBinding", gateway.http + "/DS/dz")
    assert service.DummyOperation(None).dmStatusCode == "0000"


def test_client_built_from_the_served_wsdl_calls_the_gateway(gateway):
    c = client(f"{gateway.http}/DS/dz?wsdl")
    assert c.service.DummyOperation(None).dmStatusCode == "0000"


def test_served_wsdl_over_https_under_a_login_prefix_points_there(gateway):
    c = client(f"{gateway.https}/cert/DS/dz?wsdl", verify=gateway.ca_cert)
    port = next(iter(next(iter(c.wsdl.services.values())).ports.values()))
    assert port.binding_options["address"] == f"{gateway.https}/cert/DS/dz"
