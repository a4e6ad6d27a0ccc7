"""zeep with the official db_access and db_manipulations WSDL: a box user's
own information, and box administration by a box's primary user and by the
gateway operator."""

import datetime

import requests
import zeep
from zeep.transports import Transport

from conftest import ISDS_NS

PO_PRIMARY = ("po_jednatel", "Demo-Po-2026!")
PO_ENTRUSTED = ("po_ucetni", "Demo-Ucetni-2026!")


def service(official, wsdl, binding, gateway, auth):
    session = requests.Session()
    session.trust_env = False
    session.auth = auth
    client = zeep.Client(str(official / wsdl), transport=Transport(session=session))
    return client.create_service(f"{{{ISDS_NS}}}{binding}", gateway.http + "/DS/DsManage")


def users_of(array):
    """The entries of a tDbUsersArray2 (zeep keeps its repeated sequence
    in `_value_1`)."""
    return [item["dbUserInfo"] for item in array._value_1]


def access(official, gateway, auth):
    return service(official, "db_access.wsdl", "DataBoxAccessBinding", gateway, auth)


def manipulation(official, gateway, auth):
    return service(official, "db_manipulations.wsdl", "DataBoxManipulationBinding", gateway, auth)


def test_a_box_user_reads_owner_user_and_password_info(gateway, official):
    s = access(official, gateway, PO_ENTRUSTED)
    owner = s.GetOwnerInfoFromLogin(dbDummy="")
    assert owner.dbStatus.dbStatusCode == "0000"
    assert owner.dbOwnerInfo.dbID == "po4demo"
    assert owner.dbOwnerInfo.dbType == "PO"
    assert owner.dbOwnerInfo.firmName == "Účetnictví Novák s.r.o."
    user = s.GetUserInfoFromLogin(dbDummy="")
    assert user.dbStatus.dbStatusCode == "0000"
    assert user.dbUserInfo.userID == "poeu01"
    assert user.dbUserInfo.userType == "ENTRUSTED_USER"
    assert user.dbUserInfo.userPrivils == 9
    password = s.GetPasswordInfo(dbDummy="")
    assert password.dbStatus.dbStatusCode == "0000"
    assert isinstance(password.pswExpDate, datetime.datetime)


def test_the_primary_user_lists_the_users_of_the_box(gateway, official):
    s = manipulation(official, gateway, PO_PRIMARY)
    result = s.GetDataBoxUsers2(dbID="po4demo")
    assert result.dbStatus.dbStatusCode == "0000"
    users = {u.isdsID: u for u in users_of(result.dbUsers)}
    assert users["000000popu01"].userType == "PRIMARY_USER"
    assert users["000000poeu01"].userPrivils == 9
    assert users["000000poeu01"].pnLastName == "Malá"


def test_an_entrusted_user_may_not_administer_the_box(gateway, official):
    s = manipulation(official, gateway, PO_ENTRUSTED)
    assert s.GetDataBoxUsers2(dbID="po4demo").dbStatus.dbStatusCode == "1004"


def test_the_operator_creates_a_box_and_its_user_logs_in(gateway, official):
    s = manipulation(official, gateway, gateway.operator)
    created = s.CreateDataBox2(
        dbOwnerInfo={"dbType": "PO", "ic": "87654321", "firmName": "Zeep s.r.o.",
                     "adCity": "Ostrava", "adState": "CZ"},
        dbPrimaryUsers={"_value_1": [{"dbUserInfo": {
            "aifoIsds": False, "pnGivenNames": "Ivana", "pnLastName": "Zeepová",
            "adCity": "Ostrava", "adNumberInStreet": "7", "adZipCode": "70200",
            "biDate": "1975-03-04",
            "userType": "PRIMARY_USER", "userPrivils": 255,
        }}]},
    )
    assert created.dbStatus.dbStatusCode == "0000", created.dbStatus.dbStatusMessage
    box_id = created.dbID
    assert len(box_id) == 7
    login, password = created.dbAccessDataId.split(":", 1)
    assert login == created.dbUserID

    # The operator adds an entrusted user to the new box.
    added = s.AddDataBoxUser2(
        dbID=box_id,
        dbUserInfo={"aifoIsds": False, "pnGivenNames": "Petra", "pnLastName": "Nová",
                    "userType": "ENTRUSTED_USER", "userPrivils": 9},
    )
    assert added.dbStatus.dbStatusCode == "0000"
    assert added.dbID == box_id
    users = users_of(s.GetDataBoxUsers2(dbID=box_id).dbUsers)
    assert sorted(u.userType for u in users) == ["ENTRUSTED_USER", "PRIMARY_USER"]

    # The new primary user changes the generated password, then is in.
    user = access(official, gateway, (login, password))
    assert user.GetPasswordInfo(dbDummy="").dbStatus.dbStatusCode == "0000"
    changed = user.ChangeISDSPassword(dbOldPassword=password, dbNewPassword="Zeep-Heslo-2026")
    assert changed.dbStatusCode == "0000"
    user = access(official, gateway, (login, "Zeep-Heslo-2026"))
    owner = user.GetOwnerInfoFromLogin2(dbDummy="")
    assert owner.dbOwnerInfo.dbID == box_id
    assert owner.dbOwnerInfo.firmName == "Zeep s.r.o."

    # The owner closes the box for a while; the operator removes it.
    own = manipulation(official, gateway, (login, "Zeep-Heslo-2026"))
    assert own.DisableOwnDataBox2(dbID=box_id).dbStatusCode == "0000"
    assert user.GetOwnerInfoFromLogin2(dbDummy="").dbOwnerInfo.dbState == 2
    removed = s.DeleteDataBox2(dbID=box_id, dbOwnerTerminationDate=datetime.date(2026, 12, 31))
    assert removed.dbStatusCode == "0000"
    # Removed already: 1037 (official table, row 1037).
    assert s.DeleteDataBox2(dbID=box_id, dbOwnerTerminationDate=None).dbStatusCode == "1037"
