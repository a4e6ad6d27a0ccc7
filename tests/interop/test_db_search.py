"""zeep with the official db_search WSDL: finding boxes, full-text search
and checking boxes in the demo world."""

import requests
import zeep
from zeep.transports import Transport

from conftest import ISDS_NS

PO_PRIMARY = ("po_jednatel", "Demo-Po-2026!")
# Rights 9 (read, lists): no right to search for boxes.
PO_ENTRUSTED = ("po_ucetni", "Demo-Ucetni-2026!")
OVM_PRIMARY = ("ovm_starosta", "Demo-Ovm-2026!")

HL_START = "|$*HL_START*$|"
HL_END = "|$*HL_END*$|"


def search_service(official, gateway, auth):
    session = requests.Session()
    session.trust_env = False
    session.auth = auth
    client = zeep.Client(str(official / "db_search.wsdl"), transport=Transport(session=session))
    return client.create_service(f"{{{ISDS_NS}}}DataBoxSearchBinding", gateway.http + "/DS/df")


def items(array, name):
    """The entries of a repeated sequence (zeep keeps them in `_value_1`)."""
    if array is None:
        return []
    return [item[name] for item in array._value_1]


def test_find_data_box_by_ic_and_by_name(gateway, official):
    s = search_service(official, gateway, PO_PRIMARY)
    found = s.FindDataBox(dbOwnerInfo={"dbType": "PO", "ic": "27074358"})
    assert found.dbStatus.dbStatusCode == "0000", found.dbStatus.dbStatusMessage
    owners = items(found.dbResults, "dbOwnerInfo")
    assert [o.dbID for o in owners] == ["po4demo"]
    assert owners[0].firmName == "Účetnictví Novák s.r.o."
    assert owners[0].dbState == 1
    assert owners[0].dbOpenAddressing is True

    # Case and diacritics do not matter; an authority by a word of its name.
    found = s.FindDataBox(dbOwnerInfo={"dbType": "OVM", "firmName": "LHOTA"})
    assert found.dbStatus.dbStatusCode == "0000"
    assert [o.dbID for o in items(found.dbResults, "dbOwnerInfo")] == ["ovm4dem"]

    nothing = s.FindDataBox(dbOwnerInfo={"dbType": "PO", "firmName": "Neexistující"})
    assert nothing.dbStatus.dbStatusCode == "0002"
    assert items(nothing.dbResults, "dbOwnerInfo") == []
    no_type = s.FindDataBox(dbOwnerInfo={"firmName": "Novák"})
    assert no_type.dbStatus.dbStatusCode == "1101"


def test_full_text_search_with_highlighting(gateway, official):
    s = search_service(official, gateway, PO_PRIMARY)
    result = s.ISDSSearch2(
        searchText="novak BRNO", searchType="GENERAL", searchScope="ALL",
        page=0, pageSize=10, highlighting=True,
    )
    assert result.dbStatus.dbStatusCode == "0000", result.dbStatus.dbStatusMessage
    hits = items(result.dbResults, "dbResult")
    assert result.totalCount == len(hits) == 1
    assert result.position == 0
    assert result.lastPage is True
    hit = hits[0]
    assert hit.dbID == "po4demo"
    assert hit.dbType == "PO"
    assert hit.dbName == f"Účetnictví {HL_START}Novák{HL_END} s.r.o."
    assert hit.dbAddress.endswith(f"{HL_START}Brno{HL_END}")
    assert hit.dbICO == "27074358"
    assert hit.dbSendOptions == "PDZ"

    # Nil type, scope and paging take the defaults; an FO scope finds the
    # person only.
    people = s.ISDSSearch2(
        searchText="Černý", searchType=None, searchScope="FO", page=None, pageSize=None,
    )
    assert people.dbStatus.dbStatusCode == "0000"
    assert [h.dbID for h in items(people.dbResults, "dbResult")] == ["fo4demo"]

    short = s.ISDSSearch2(searchText="a", searchType=None, searchScope=None, page=None, pageSize=None)
    assert short.dbStatus.dbStatusCode == "1180"


def test_searching_needs_the_search_right(gateway, official):
    s = search_service(official, gateway, PO_ENTRUSTED)
    result = s.ISDSSearch2(searchText="novák", searchType=None, searchScope=None, page=None, pageSize=None)
    assert result.dbStatus.dbStatusCode == "1004"
    found = s.FindDataBox(dbOwnerInfo={"dbType": "PO", "ic": "27074358"})
    assert found.dbStatus.dbStatusCode == "1004"


def test_check_data_box(gateway, official):
    s = search_service(official, gateway, PO_ENTRUSTED)
    checked = s.CheckDataBox(dbID="fo4demo")
    assert checked.dbStatus.dbStatusCode == "0000"
    assert checked.dbState == 1
    missing = s.CheckDataBox(dbID="nobox00")
    assert missing.dbStatus.dbStatusCode == "5001"
    assert missing.dbState is None


def test_credit_of_the_own_box(gateway, official):
    s = search_service(official, gateway, PO_PRIMARY)
    credit = s.DataBoxCreditInfo(dbID="po4demo", ciFromDate=None, ciTodate=None)
    assert credit.dbStatus.dbStatusCode == "0000"
    assert credit.currentCredit == 50000
    other = s.DataBoxCreditInfo(dbID="ovm4dem", ciFromDate=None, ciTodate=None)
    assert other.dbStatus.dbStatusCode == "1004"


def test_find_data_box2_takes_the_3_11_virtual_types(gateway, official_311):
    s = search_service(official_311, gateway, OVM_PRIMARY)
    found = s.FindDataBox2(dbOwnerInfo={"dbType": "PO_BASE", "ic": "27074358"})
    assert found.dbStatus.dbStatusCode == "0000", found.dbStatus.dbStatusMessage
    assert [o.dbID for o in items(found.dbResults, "dbOwnerInfo")] == ["po4demo"]
    main = s.FindDataBox2(dbOwnerInfo={"dbType": "OVM_MAIN", "firmName": "Lhota"})
    assert main.dbStatus.dbStatusCode == "0000", main.dbStatus.dbStatusMessage
    assert [o.dbID for o in items(main.dbResults, "dbOwnerInfo")] == ["ovm4dem"]
    result = s.ISDSSearch3(
        searchText="novák", searchType=None, searchScope="PO_BASE", page=None, pageSize=None,
    )
    assert result.dbStatus.dbStatusCode == "0000", result.dbStatus.dbStatusMessage
    assert [h.dbID for h in items(result.dbResults, "dbResult")] == ["po4demo"]


def test_requests_written_against_3_09_keep_working(gateway, official):
    """PO_ZAK and OVM_NOTAR, which 3.11's lists dropped, are searched as
    the search manual translates them (PO, OVM_PFO)."""
    s = search_service(official, gateway, OVM_PRIMARY)
    found = s.FindDataBox2(dbOwnerInfo={"dbType": "PO_ZAK", "ic": "27074358"})
    assert found.dbStatus.dbStatusCode == "0000", found.dbStatus.dbStatusMessage
    assert [o.dbID for o in items(found.dbResults, "dbOwnerInfo")] == ["po4demo"]
    result = s.ISDSSearch2(
        searchText="novák", searchType=None, searchScope="PO_ZAK", page=None, pageSize=None,
    )
    assert result.dbStatus.dbStatusCode == "0000", result.dbStatus.dbStatusMessage
    assert [h.dbID for h in items(result.dbResults, "dbResult")] == ["po4demo"]
    notaries = s.ISDSSearch2(
        searchText="novák", searchType=None, searchScope="OVM_NOTAR", page=None, pageSize=None,
    )
    # No notary in the demo world: an empty answer, not a refusal.
    assert notaries.dbStatus.dbStatusCode == "0000", notaries.dbStatus.dbStatusMessage
    assert items(notaries.dbResults, "dbResult") == []
