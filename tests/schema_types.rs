//! Round trips through the generated schema types: requests parsed from
//! hand-written XML, responses serialised and (when `xmllint` is present)
//! validated against the project's own `schemas/*.xsd`.

use std::path::PathBuf;
use std::process::Command;

use bytes::Bytes;
use isds_gateway::schema::{
    self, CreateMessage, DataBoxCreditInfoResponse, DummyOperation, DummyOperationResponse,
    FindDataBox, FromXml, GCiRecordCiNewCapacitySeq, GetListOfErasedMessages,
    GetListOfSentMessagesResponse, GetOwnerInfoFromLoginResponse, ISDS_NS, Request, SchemaError,
    SoapVersion, TCiRecord, TDBCreditInfoOutput, TDBCreditInfoOutputCiRecords, TDbOwnerInfo,
    TDbReqStatus, TDummyOutput, TGetOwnInfoOutput, TListOfMessOutput, TRecord, TRecordsArray,
    TStatus, WsdlFamily, XmlRoot,
};
use isds_gateway::xml::{self, Element, ParseLimits};

fn root(xml_text: &str) -> Element {
    xml::parse(xml_text.as_bytes(), &ParseLimits::default()).expect("test XML is well-formed")
}

fn request(body: &str) -> Result<Request, SchemaError> {
    schema::parse_request(&root(body))
}

const NS: &str = r#"xmlns="http://isds.czechpoint.cz/v20""#;

#[test]
fn dummy_operation_plain_and_nil() {
    let r = request(&format!("<DummyOperation {NS}>ping</DummyOperation>")).unwrap();
    let Request::DummyOperation(op) = &r else {
        panic!("wrong variant {r:?}");
    };
    assert_eq!(op.value.as_deref(), Some("ping"));
    assert_eq!(r.operation().name, "DummyOperation");
    assert_eq!(r.operation().family, WsdlFamily::DmOperations);

    let nil = format!(
        r#"<p:DummyOperation xmlns:p="{ISDS_NS}" xmlns:i="http://www.w3.org/2001/XMLSchema-instance" i:nil="true"/>"#
    );
    let op = DummyOperation::from_xml(&root(&nil)).unwrap();
    assert_eq!(op.value, None);
    assert_eq!(
        schema::to_document_fragment(&op),
        format!(
            r#"<q:DummyOperation xmlns:q="{ISDS_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"></q:DummyOperation>"#
        )
    );
}

fn create_message_xml(files: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<CreateMessage {NS} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <dmEnvelope dmType="K">
    <dmSenderOrgUnit xsi:nil="true"/>
    <dmSenderOrgUnitNum>12</dmSenderOrgUnitNum>
    <dbIDRecipient>abc1234</dbIDRecipient>
    <dmAnnotation>Žádost &amp; příloha</dmAnnotation>
    <dmLegalTitleLaw>300</dmLegalTitleLaw>
    <dmPersonalDelivery>1</dmPersonalDelivery>
    <dmAllowSubstDelivery>false</dmAllowSubstDelivery>
    <dmOVM>true</dmOVM>
    <dmPublishOwnID IdLevel="5">true</dmPublishOwnID>
  </dmEnvelope>
  <dmFiles>{files}</dmFiles>
</CreateMessage>"#
    )
}

const TWO_FILES: &str = r#"
    <dmFile dmMimeType="application/pdf" dmFileMetaType="main" dmFileDescr="dopis.pdf">
      <dmEncodedContent>JVBERi0x
        LjQKJcfs
        j6IK</dmEncodedContent>
    </dmFile>
    <dmFile dmMimeType="text/xml" dmFileMetaType="enclosure" dmFileDescr="data.xml" dmFormat="isdoc">
      <dmXMLContent><inv:Invoice xmlns:inv="urn:example:invoice" version="6"><inv:ID>F-1</inv:ID></inv:Invoice></dmXMLContent>
    </dmFile>"#;

#[test]
fn create_message_with_encoded_and_xml_files() {
    let r = request(&create_message_xml(TWO_FILES)).unwrap();
    let Request::CreateMessage(msg) = r else {
        panic!("wrong variant");
    };
    let env = &msg.dm_envelope;
    assert_eq!(env.dm_type.as_deref(), Some("K"));
    assert_eq!(env.dm_sender_org_unit, None);
    assert_eq!(env.dm_sender_org_unit_num, Some(12));
    assert_eq!(env.db_id_recipient.as_deref(), Some("abc1234"));
    assert_eq!(env.dm_annotation.as_deref(), Some("Žádost & příloha"));
    // Omitted required nillable elements read as None.
    assert_eq!(env.dm_to_hands, None);
    assert_eq!(env.dm_legal_title_law, Some(300));
    assert_eq!(env.dm_personal_delivery, Some(true));
    assert_eq!(env.dm_allow_subst_delivery, Some(false));
    assert_eq!(env.dm_ovm, Some(true));
    let publish = env.dm_publish_own_id.as_ref().unwrap();
    assert!(publish.value);
    assert_eq!(publish.id_level, Some(5));

    let files = &msg.dm_files.dm_file;
    assert_eq!(files.len(), 2);
    assert_eq!(files[0].dm_file_meta_type, "main");
    assert_eq!(files[0].dm_file_descr, "dopis.pdf");
    assert_eq!(
        files[0].dm_encoded_content.as_deref(),
        Some(&b"%PDF-1.4\n%\xc7\xec\x8f\xa2\n"[..])
    );
    assert!(files[0].dm_xml_content.is_none());
    assert_eq!(files[1].dm_format.as_deref(), Some("isdoc"));
    assert!(files[1].dm_encoded_content.is_none());
    let xml_content = files[1].dm_xml_content.as_ref().unwrap();
    assert_eq!(xml_content.any.len(), 1);
    let invoice = &xml_content.any[0];
    assert!(invoice.is("urn:example:invoice", "Invoice"));
    assert_eq!(invoice.attr("version"), Some("6"));
    assert_eq!(invoice.first_element().unwrap().text(), "F-1");

    // Serialise and parse back: same value.
    let text = schema::to_document_fragment(&msg);
    let again = CreateMessage::from_xml(&root(&text)).unwrap();
    assert_eq!(again, msg);
    assert!(
        text.contains("<q:dmEncodedContent>JVBERi0xLjQKJcfsj6IK</q:dmEncodedContent>"),
        "{text}"
    );
    assert!(text.contains(r#"<q:dmEnvelope dmType="K">"#), "{text}");
    assert!(
        text.contains(r#"<q:dmPublishOwnID IdLevel="5">true</q:dmPublishOwnID>"#),
        "{text}"
    );
    validate(&text, "dmBaseTypes.xsd");
}

#[test]
fn find_data_box_request() {
    let body = format!(
        r#"<FindDataBox {NS}>
  <dbOwnerInfo>
    <dbID/>
    <dbType>PO</dbType>
    <ic>25063677</ic>
    <pnFirstName></pnFirstName>
    <firmName>Firma s.r.o.</firmName>
    <adCity>Praha</adCity>
    <dbState>1</dbState>
    <dbEffectiveOVM>0</dbEffectiveOVM>
  </dbOwnerInfo>
</FindDataBox>"#
    );
    // An empty element is no value (messages manual 1.3.1): `<dbID/>`
    // is not checked against tIdDb's length but read as absent.
    let r = request(&body).unwrap();
    assert_eq!(r, request(&body.replace("<dbID/>", "")).unwrap());
    let err = request(&body.replace("<dbID/>", "<dbID>abc</dbID>")).unwrap_err();
    assert!(
        matches!(&err, SchemaError::InvalidValue { element, .. } if element == "dbID"),
        "{err}"
    );
    let Request::FindDataBox(find) = &r else {
        panic!("wrong variant");
    };
    let info = &find.db_owner_info;
    assert_eq!(info.db_id, None);
    assert_eq!(info.db_type.as_deref(), Some("PO"));
    assert_eq!(info.ic.as_deref(), Some("25063677"));
    assert_eq!(info.pn_first_name, None);
    assert_eq!(info.firm_name.as_deref(), Some("Firma s.r.o."));
    assert_eq!(info.ad_city.as_deref(), Some("Praha"));
    assert_eq!(info.db_state, Some(1));
    assert_eq!(info.db_effective_ovm, Some(false));
    assert_eq!(info.email, None);
    assert_eq!(r.operation().family, WsdlFamily::DbSearch);
    let _: &FindDataBox = find;
}

#[test]
fn choice_of_sequences_in_a_request() {
    let by_dates = format!(
        "<GetListOfErasedMessages {NS}><dmFromDate>2024-01-01</dmFromDate><dmToDate>2024-01-31</dmToDate>\
         <dmMessageType>SENT</dmMessageType><dmOutFormat>XML</dmOutFormat></GetListOfErasedMessages>"
    );
    let op = GetListOfErasedMessages::from_xml(&root(&by_dates)).unwrap();
    let dates = op.dm_from_date_seq.as_ref().unwrap();
    assert_eq!(dates.dm_from_date, "2024-01-01");
    assert_eq!(dates.dm_to_date, "2024-01-31");
    assert!(op.dm_year_seq.is_none());

    let by_month = by_dates.replace(
        "<dmFromDate>2024-01-01</dmFromDate><dmToDate>2024-01-31</dmToDate>",
        "<dmYear>2024</dmYear><dmMonth>2</dmMonth>",
    );
    let op = GetListOfErasedMessages::from_xml(&root(&by_month)).unwrap();
    let month = op.dm_year_seq.as_ref().unwrap();
    assert_eq!((month.dm_year, month.dm_month), (2024, Some(2)));

    // Neither alternative: missing; both: the second one is unexpected.
    let neither = by_dates.replace(
        "<dmFromDate>2024-01-01</dmFromDate><dmToDate>2024-01-31</dmToDate>",
        "",
    );
    let err = GetListOfErasedMessages::from_xml(&root(&neither)).unwrap_err();
    assert!(
        matches!(&err, SchemaError::Missing { child, .. } if child == "dmFromDate or dmYear"),
        "{err}"
    );
    let both = by_dates.replace("<dmMessageType>", "<dmYear>2024</dmYear><dmMessageType>");
    let err = GetListOfErasedMessages::from_xml(&root(&both)).unwrap_err();
    assert_eq!(
        err,
        SchemaError::Unexpected {
            parent: "GetListOfErasedMessages".into(),
            child: "dmYear".into()
        }
    );
    // xs:positiveInteger and the date syntax are checked.
    let zero = by_month.replace("<dmYear>2024</dmYear>", "<dmYear>0</dmYear>");
    assert!(matches!(
        GetListOfErasedMessages::from_xml(&root(&zero)).unwrap_err(),
        SchemaError::InvalidValue { .. }
    ));
    let bad_date = by_dates.replace("2024-01-31", "31.1.2024");
    let err = GetListOfErasedMessages::from_xml(&root(&bad_date)).unwrap_err();
    assert!(err.to_string().contains("dmToDate"), "{err}");
}

fn ok_status() -> TStatus {
    TStatus {
        dm_status_code: "0000".into(),
        dm_status_message: "Provedeno úspěšně.".into(),
    }
}

#[test]
fn dummy_operation_response_serialises() {
    let resp = DummyOperationResponse(TDummyOutput {
        dm_status: ok_status(),
    });
    assert_eq!(
        resp.dm_status.dm_status_code, "0000",
        "derefs to the output type"
    );
    let text = schema::to_document_fragment(&resp);
    assert_eq!(
        text,
        format!(
            r#"<q:DummyOperationResponse xmlns:q="{ISDS_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><q:dmStatus><q:dmStatusCode>0000</q:dmStatusCode><q:dmStatusMessage>Provedeno úspěšně.</q:dmStatusMessage></q:dmStatus></q:DummyOperationResponse>"#
        )
    );
    assert_eq!(DummyOperationResponse::ELEMENT, "DummyOperationResponse");
    assert_eq!(
        DummyOperationResponse::from_xml(&root(&text)).unwrap(),
        resp
    );
    validate(&text, "dmBaseTypes.xsd");
}

#[test]
fn owner_info_response_with_nil_and_omitted_fields() {
    let resp = GetOwnerInfoFromLoginResponse(TGetOwnInfoOutput {
        db_owner_info: TDbOwnerInfo {
            db_id: Some("abc1234".into()),
            db_type: Some("FO".into()),
            pn_first_name: Some("Jan".into()),
            pn_last_name: Some("Novák <&>".into()),
            bi_date: Some("1980-02-29".into()),
            db_state: Some(1),
            db_effective_ovm: Some(false),
            db_open_addressing: Some(true),
            ..TDbOwnerInfo::default()
        },
        db_status: TDbReqStatus {
            db_status_code: "0000".into(),
            db_status_message: "Provedeno.".into(),
            db_status_ref_number: None,
        },
    });
    let text = schema::to_document_fragment(&resp);
    assert!(text.contains("<p:dbID>abc1234</p:dbID>"), "{text}");
    assert!(text.contains(r#"<p:ic xsi:nil="true"></p:ic>"#), "{text}");
    assert!(
        text.contains(r#"<p:pnMiddleName xsi:nil="true"></p:pnMiddleName>"#),
        "{text}"
    );
    assert!(
        text.contains("<p:pnLastName>Novák &lt;&amp;&gt;</p:pnLastName>"),
        "{text}"
    );
    assert!(
        text.contains("<p:dbEffectiveOVM>false</p:dbEffectiveOVM>"),
        "{text}"
    );
    // Optional (minOccurs=0) elements set to None are omitted.
    assert!(!text.contains("<email"), "{text}");
    assert!(!text.contains("dbStatusRefNumber"), "{text}");
    assert_eq!(
        GetOwnerInfoFromLoginResponse::from_xml(&root(&text)).unwrap(),
        resp
    );
    validate(&text, "dbTypes.xsd");
}

#[test]
fn list_of_sent_messages_response_with_optional_sequence() {
    let record = TRecord {
        dm_ordinal: 1,
        dm_id: "123456".into(),
        db_id_sender: Some("abc1234".into()),
        dm_sender: Some("Odesílatel".into()),
        dm_sender_type: 10,
        db_id_recipient: Some("xyz9876".into()),
        dm_annotation: Some("Věc".into()),
        dm_message_status: 4,
        dm_attachment_size: Some(12),
        dm_delivery_time: Some("2024-03-01T10:00:00.123+01:00".into()),
        dm_vodz: Some(false),
        dm_type: Some("V".into()),
        ..TRecord::default()
    };
    let resp = GetListOfSentMessagesResponse(TListOfMessOutput {
        dm_records: Some(TRecordsArray {
            dm_record: vec![record],
        }),
        dm_status: ok_status(),
    });
    let text = schema::to_document_fragment(&resp);
    assert!(
        text.contains(r#"<q:dmRecord dmType="V" dmVODZ="false">"#),
        "{text}"
    );
    assert!(
        text.contains("<q:dmAcceptanceTime xsi:nil=\"true\"></q:dmAcceptanceTime>"),
        "{text}"
    );
    assert_eq!(
        GetListOfSentMessagesResponse::from_xml(&root(&text)).unwrap(),
        resp
    );
    validate(&text, "dmBaseTypes.xsd");

    // An empty dmRecord (the optional sequence absent) is accepted.
    let empty = format!(
        "<GetListOfSentMessagesResponse {NS}><dmRecords><dmRecord/></dmRecords>\
         <dmStatus><dmStatusCode>0000</dmStatusCode><dmStatusMessage>ok</dmStatusMessage></dmStatus>\
         </GetListOfSentMessagesResponse>"
    );
    let parsed = GetListOfSentMessagesResponse::from_xml(&root(&empty)).unwrap();
    assert_eq!(
        parsed.dm_records.as_ref().unwrap().dm_record,
        vec![TRecord::default()]
    );
}

#[test]
fn credit_info_response_with_choice_alternatives() {
    let base = TCiRecord {
        ci_event_time: "2024-01-02T03:04:05".into(),
        ci_event_type: 1,
        ci_credit_change: -10,
        ci_credit_after: 90,
        ..TCiRecord::default()
    };
    let resp = DataBoxCreditInfoResponse(TDBCreditInfoOutput {
        current_credit: Some(90),
        notif_email: None,
        ci_records: Some(TDBCreditInfoOutputCiRecords {
            // ciRecord is nillable and repeated: Vec<Option<_>>.
            ci_record: vec![
                Some(TCiRecord {
                    ci_trans_id: Some("T1".into()),
                    ..base.clone()
                }),
                Some(TCiRecord {
                    ci_new_capacity_seq: Some(GCiRecordCiNewCapacitySeq {
                        ci_new_capacity: 100,
                        ci_new_from: "2024-01-01".into(),
                        ci_new_to: "2024-12-31".into(),
                        ci_old_capacity: None,
                        ci_old_from: None,
                        ci_old_to: None,
                        ci_done_by: Some("admin".into()),
                    }),
                    ..base.clone()
                }),
                Some(TCiRecord {
                    ci_done_by: Some("someone".into()),
                    ..base
                }),
                None,
            ],
        }),
        db_status: TDbReqStatus {
            db_status_code: "0000".into(),
            db_status_message: "ok".into(),
            db_status_ref_number: None,
        },
    });
    let text = schema::to_document_fragment(&resp);
    assert!(
        text.contains("<p:ciOldCapacity xsi:nil=\"true\"></p:ciOldCapacity>"),
        "{text}"
    );
    assert!(
        text.contains("<p:ciRecord xsi:nil=\"true\"></p:ciRecord>"),
        "{text}"
    );
    assert_eq!(
        DataBoxCreditInfoResponse::from_xml(&root(&text)).unwrap(),
        resp
    );
    validate(&text, "dbTypes.xsd");
}

#[test]
fn missing_unexpected_and_out_of_order() {
    let no_files =
        create_message_xml(TWO_FILES).replace(&format!("<dmFiles>{TWO_FILES}</dmFiles>"), "");
    assert_eq!(
        request(&no_files).unwrap_err(),
        SchemaError::Missing {
            parent: "CreateMessage".into(),
            child: "dmFiles".into()
        }
    );
    let err = request(&no_files).unwrap_err();
    assert_eq!(
        err.to_string(),
        "missing required element dmFiles in CreateMessage"
    );

    let extra = format!(
        "<DummyOperationResponse {NS}><dmStatus><dmStatusCode>0</dmStatusCode>\
         <dmStatusMessage>x</dmStatusMessage><extra/></dmStatus></DummyOperationResponse>"
    );
    let err = DummyOperationResponse::from_xml(&root(&extra)).unwrap_err();
    assert_eq!(err.to_string(), "unexpected element extra in dmStatus");

    let swapped = format!(
        "<DummyOperationResponse {NS}><dmStatus><dmStatusMessage>x</dmStatusMessage>\
         <dmStatusCode>0</dmStatusCode></dmStatus></DummyOperationResponse>"
    );
    let err = DummyOperationResponse::from_xml(&root(&swapped)).unwrap_err();
    assert_eq!(
        err,
        SchemaError::Unexpected {
            parent: "dmStatus".into(),
            child: "dmStatusMessage".into()
        }
    );

    let foreign = "<DummyOperationResponse xmlns=\"urn:other\"/>";
    assert!(matches!(
        DummyOperationResponse::from_xml(&root(foreign)).unwrap_err(),
        SchemaError::WrongNamespace { .. }
    ));
    let wrong = format!("<DummyOperation {NS}/>");
    assert!(matches!(
        DummyOperationResponse::from_xml(&root(&wrong)).unwrap_err(),
        SchemaError::WrongElement { .. }
    ));
    let unknown = format!("<NoSuchOperation {NS}/>");
    let err = request(&unknown).unwrap_err();
    assert_eq!(err, SchemaError::UnknownOperation("NoSuchOperation".into()));

    let text_in_complex =
        format!("<DummyOperationResponse {NS}>hello<dmStatus/></DummyOperationResponse>");
    assert!(matches!(
        DummyOperationResponse::from_xml(&root(&text_in_complex)).unwrap_err(),
        SchemaError::UnexpectedText { .. }
    ));
}

#[test]
fn bad_values_name_the_element() {
    let bad_enum = create_message_xml(&TWO_FILES.replace("\"main\"", "\"primary\""));
    let err = request(&bad_enum).unwrap_err();
    assert!(
        matches!(&err, SchemaError::InvalidValue { element, value, .. }
            if element == "dmFile/@dmFileMetaType" && value == "primary"),
        "{err}"
    );
    assert!(
        err.to_string().contains("main, enclosure, signature, meta"),
        "{err}"
    );

    let bad_base64 = create_message_xml(&TWO_FILES.replace("JVBERi0x", "JVB*Ri0x"));
    let err = request(&bad_base64).unwrap_err();
    assert!(
        matches!(&err, SchemaError::InvalidValue { element, .. } if element == "dmEncodedContent"),
        "{err}"
    );
    assert!(err.to_string().contains("invalid base64"), "{err}");

    let short_id = create_message_xml(TWO_FILES).replace("abc1234", "abc");
    let err = request(&short_id).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid value \"abc\" of dbIDRecipient: length must be exactly 7 characters, is 3"
    );

    let bad_bool = create_message_xml(TWO_FILES).replace("<dmOVM>true", "<dmOVM>yes");
    assert!(
        request(&bad_bool)
            .unwrap_err()
            .to_string()
            .contains("dmOVM")
    );

    let bad_int = create_message_xml(TWO_FILES).replace(">12<", ">twelve<");
    let err = request(&bad_int).unwrap_err();
    assert!(
        err.to_string()
            .contains("dmSenderOrgUnitNum: not an integer"),
        "{err}"
    );

    let missing_attr = create_message_xml(&TWO_FILES.replace(r#" dmFileDescr="dopis.pdf""#, ""));
    assert_eq!(
        request(&missing_attr).unwrap_err(),
        SchemaError::MissingAttribute {
            element: "dmFile".into(),
            attribute: "dmFileDescr".into()
        }
    );

    let no_content =
        create_message_xml(r#"<dmFile dmMimeType="a" dmFileMetaType="main" dmFileDescr="x.txt"/>"#);
    assert!(matches!(
        request(&no_content).unwrap_err(),
        SchemaError::Missing { child, .. } if child == "dmEncodedContent or dmXMLContent"
    ));

    // A huge bad value is not echoed whole.
    let long = "!".repeat(10_000);
    let err = request(&create_message_xml(&TWO_FILES.replace("JVBERi0x", &long))).unwrap_err();
    assert!(err.to_string().len() < 300, "{err}");
}

#[test]
fn operation_table() {
    let op = schema::operation("CreateMessage").unwrap();
    assert_eq!(op.family, WsdlFamily::DmOperations);
    assert_eq!(op.output, "CreateMessageResponse");
    assert_eq!(op.family.endpoint(), "dz");
    assert_eq!(op.family.soap_version(), SoapVersion::Soap11);
    assert_eq!(op.family.file_name(), "dm_operations.wsdl");

    let up = schema::operation("UploadAttachment").unwrap();
    assert_eq!(up.family, WsdlFamily::DmVoDZ);
    assert_eq!(up.family.endpoint(), "vodz");
    assert_eq!(up.family.soap_version(), SoapVersion::Soap12);
    assert_eq!(
        schema::operation("ArchiveISDSDocument")
            .unwrap()
            .family
            .soap_version(),
        SoapVersion::Soap12
    );
    assert_eq!(
        schema::operation("Re-signISDSDocument").unwrap().name,
        "Re-signISDSDocument"
    );
    assert!(schema::operation("Nope").is_none());

    let endpoints: Vec<&str> = WsdlFamily::ALL.iter().map(|f| f.endpoint()).collect();
    assert_eq!(
        endpoints,
        [
            "dz", "dx", "df", "DsManage", "DsManage", "vodz", "arch", "DsManage"
        ]
    );
    assert_eq!(schema::OPERATIONS.len(), 77);
    for f in WsdlFamily::ALL {
        assert!(f.operations().count() > 0, "{f:?}");
    }
    for op in schema::OPERATIONS {
        assert_eq!(schema::operation(op.input), Some(op));
    }
}

#[test]
fn base64_tolerates_line_breaks_and_missing_padding() {
    let body = create_message_xml(
        &TWO_FILES.replace("JVBERi0x\n        LjQKJcfs\n        j6IK", "aGVs\r\nbG8"),
    );
    let Request::CreateMessage(msg) = request(&body).unwrap() else {
        panic!("wrong variant");
    };
    assert_eq!(
        msg.dm_files.dm_file[0].dm_encoded_content,
        Some(Bytes::from_static(b"hello"))
    );
}

/// Validates `doc` with `xmllint` against `schemas/<xsd>`. Skips (with a
/// note) when xmllint is not installed, unless `CI` is set.
fn validate(doc: &str, xsd: &str) {
    let schema_path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(xsd);
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    std::io::Write::write_all(&mut file, doc.as_bytes()).expect("write temp file");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema_path)
        .arg(file.path())
        .output();
    match out {
        Ok(out) => assert!(
            out.status.success(),
            "xmllint rejected the document against {xsd}:\n{}\n{doc}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            if std::env::var_os("CI").is_some() {
                panic!("xmllint is required in CI (apt-get install libxml2-utils): {e}");
            }
            eprintln!("note: xmllint not available ({e}); schema validation skipped");
        }
    }
}

/// The generator itself, compiled into this test as build.rs compiles it.
#[path = "../src/schema/codegen/mod.rs"]
mod codegen;

fn read_files(dir: &str, ext: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().and_then(|x| x.to_str()) == Some(ext))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("readable file"))
        })
        .collect();
    files.sort();
    files
}

/// Rewrites a schema file without changing its meaning: other prefixes,
/// comments dropped, everything on one line.
fn disguise(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        match rest[start..].find("-->") {
            Some(end) => rest = &rest[start + end + 3..],
            None => rest = "",
        }
    }
    out.push_str(rest);
    out.replace("xmlns:xs=", "xmlns:q=")
        .replace("<xs:", "<q:")
        .replace("</xs:", "</q:")
        .replace("\"xs:", "\"q:")
        .replace("xmlns:tns=", "xmlns:isds=")
        .replace("\"tns:", "\"isds:")
        .replace(['\n', '\r'], " ")
        .into_bytes()
}

#[test]
fn generator_ignores_prefixes_comments_and_layout() {
    let xsd = read_files("schemas", "xsd");
    let wsdl = read_files("wsdl", "wsdl");
    assert!(
        xsd.len() >= 3 && wsdl.len() == 8,
        "schemas/ and wsdl/ must be present"
    );
    let plain = codegen::generate(&xsd, &wsdl).expect("generation succeeds");
    let disguised = |files: &[(String, Vec<u8>)]| -> Vec<(String, Vec<u8>)> {
        files
            .iter()
            .map(|(n, b)| (n.clone(), disguise(b)))
            .collect()
    };
    let other =
        codegen::generate(&disguised(&xsd), &disguised(&wsdl)).expect("generation succeeds");
    assert!(
        plain == other,
        "generated code depends on the rendering of the schemas"
    );
    assert!(plain.contains("pub struct TStatus {"));
}

#[test]
fn generator_refuses_unsupported_constructs() {
    let wsdl = read_files("wsdl", "wsdl");
    let schema = |body: &str| {
        vec![(
            "x.xsd".to_owned(),
            format!(
                r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="{ISDS_NS}" targetNamespace="{ISDS_NS}" elementFormDefault="qualified">{body}</xs:schema>"#
            )
            .into_bytes(),
        )]
    };
    let err = codegen::generate(
        &schema(r#"<xs:complexType name="tA"><xs:all><xs:element name="a" type="xs:string"/></xs:all></xs:complexType>"#),
        &wsdl,
    )
    .unwrap_err();
    assert!(err.contains("xs:all"), "{err}");
    let err = codegen::generate(
        &schema(r#"<xs:simpleType name="tP"><xs:restriction base="xs:string"><xs:pattern value="[a-z]+"/></xs:restriction></xs:simpleType>"#),
        &wsdl,
    )
    .unwrap_err();
    assert!(err.contains("pattern"), "{err}");
    let err = codegen::generate(
        &schema(r#"<xs:element name="E" type="tns:tMissing"/>"#),
        &wsdl,
    )
    .unwrap_err();
    assert!(err.contains("tMissing"), "{err}");
}

#[test]
fn naming_scheme() {
    let cases = [
        ("dmStatusCode", "dm_status_code"),
        ("dbID", "db_id"),
        ("PDZType", "pdz_type"),
        ("dmXMLContent", "dm_xml_content"),
        ("dmAttHash1", "dm_att_hash1"),
        ("ciPDZID", "ci_pdzid"),
        ("AIFOTicket", "aifo_ticket"),
        ("dbIDRecipient", "db_id_recipient"),
        ("IdLevel", "id_level"),
        ("dmVODZ", "dm_vodz"),
        ("Re-signISDSDocument", "re_sign_isds_document"),
    ];
    for (xml, rust) in cases {
        assert_eq!(codegen::names::snake(xml), rust, "{xml}");
    }
    assert_eq!(codegen::names::pascal("tStatus"), "TStatus");
    assert_eq!(
        codegen::names::pascal("Re-signISDSDocument"),
        "ReSignISDSDocument"
    );
    assert_eq!(codegen::names::pascal("dm_VoDZ"), "DmVoDZ");
    assert_eq!(codegen::names::field_ident("type"), "r#type");
    assert_eq!(codegen::names::field_ident("self"), "self_");
    let mut fields = codegen::names::FieldNames::default();
    assert_eq!(fields.unique("db_id"), "db_id");
    assert_eq!(fields.unique("db_id"), "db_id_2");
}
