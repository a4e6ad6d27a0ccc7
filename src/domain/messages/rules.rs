//! The rules ISDS applies to a message being sent that need nothing but the
//! message itself: the text rewrite of envelope fields, the allowed document
//! formats, the document order, and which messages are commercial.

use crate::domain::boxes::databox::DataBox;

/// Most recipients of one CreateMultipleMessage.
pub const MAX_RECIPIENTS: usize = 50;

/// Attachment limit of a box that records none, in MB.
pub const DEFAULT_ATTACHMENT_LIMIT_MB: u32 = 20;

/// File name extensions (`dmFileDescr`) ISDS accepts, lower case.
pub const ALLOWED_EXTENSIONS: &[&str] = &[
    "pdf", "xml", "fo", "zfo", "html", "htm", "odt", "ods", "odp", "txt", "rtf", "doc", "docx",
    "xls", "xlsx", "ppt", "pptx", "jpg", "jpeg", "jfif", "png", "tif", "tiff", "gif", "isdoc",
    "isdocx", "edi", "dwg", "shp", "dbf", "shx", "prj", "qix", "sbn", "sbx", "dgn", "gml", "gfs",
    "xsd", "p7s", "p7m", "p7f", "tsr", "tst", "asics", "asice", "sce", "zip",
];

/// MIME types ISDS refuses whatever the file name says.
pub const REFUSED_MIME_TYPES: &[&str] =
    &["application/x-zip-compressed", "application/x-msdownload"];

/// Commercial message kinds (`dmType`) a sender may ask for.
pub const COMMERCIAL_SEND_TYPES: &[&str] = &["K", "I", "O", "V"];

/// The kind of a commercial message whose sender named none.
pub const DEFAULT_COMMERCIAL_TYPE: &str = "K";

/// Rewrites envelope text as ISDS stores it: `<` and `>` become `_`; CR,
/// LF, TAB and other unusual spaces become a plain space; soft hyphens and
/// zero-width characters disappear; typographic dashes and quotes become
/// their ASCII forms.
pub fn rewrite_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' | '>' => out.push('_'),
            // Control whitespace and the Unicode spaces other than U+0020.
            '\r'
            | '\n'
            | '\t'
            | '\u{0B}'
            | '\u{0C}'
            | '\u{85}'
            | '\u{A0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200A}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202F}'
            | '\u{205F}'
            | '\u{3000}' => out.push(' '),
            // Soft hyphen and the zero-width characters.
            '\u{AD}' | '\u{180E}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => {}
            // Hyphens and dashes, the minus sign.
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}' => {
                out.push('-')
            }
            // Single quotes and primes, single guillemets.
            '\u{2018}'..='\u{201B}' | '\u{2032}' | '\u{2039}' | '\u{203A}' => out.push('\''),
            // Double quotes, double primes, guillemets.
            '\u{201C}'..='\u{201F}' | '\u{2033}' | '\u{AB}' | '\u{BB}' => out.push('"'),
            other => out.push(other),
        }
    }
    out
}

/// [`rewrite_text`] over an optional field.
pub fn rewrite_opt(s: Option<&str>) -> Option<String> {
    s.map(rewrite_text)
}

/// The extension of a file name, lower case, if it has one.
pub fn extension(file_name: &str) -> Option<String> {
    let (stem, ext) = file_name.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

/// Whether a document named `file_name` has a format ISDS accepts
/// (case-insensitive).
pub fn format_allowed(file_name: &str) -> bool {
    extension(file_name).is_some_and(|ext| ALLOWED_EXTENSIONS.contains(&ext.as_str()))
}

/// Whether ISDS refuses a document of this MIME type (case-insensitive,
/// parameters ignored).
pub fn mime_refused(mime_type: &str) -> bool {
    let essence = mime_type.split(';').next().unwrap_or("").trim();
    REFUSED_MIME_TYPES
        .iter()
        .any(|m| m.eq_ignore_ascii_case(essence))
}

/// What is wrong with a message's documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentProblem {
    /// The message has no document.
    NoDocument,
    /// A document's file name extension is not an allowed format; the
    /// file name.
    Format(String),
    /// A document's MIME type is refused; the file name.
    MimeType(String),
}

/// One document as the rules see it.
#[derive(Debug, Clone, Copy)]
pub struct DocumentFacts<'a> {
    pub meta_type: &'a str,
    pub file_name: &'a str,
    pub mime_type: &'a str,
}

/// Checks the document list: at least one, every format allowed and no
/// refused MIME type. The order of `main` and the other kinds is not
/// checked: the messages manual (CreateMessage, 2.1) says the first
/// document *should* be `main` and that applications do not all keep to
/// it, so ISDS takes the message either way.
pub fn check_documents(docs: &[DocumentFacts<'_>]) -> Result<(), DocumentProblem> {
    if docs.is_empty() {
        return Err(DocumentProblem::NoDocument);
    }
    for d in docs {
        if !format_allowed(d.file_name) {
            return Err(DocumentProblem::Format(d.file_name.to_owned()));
        }
        if mime_refused(d.mime_type) {
            return Err(DocumentProblem::MimeType(d.file_name.to_owned()));
        }
    }
    Ok(())
}

/// Whether a box counts as a public authority for messaging: an OVM type,
/// or a box the register made effectively OVM.
pub fn acts_as_ovm(b: &DataBox) -> bool {
    b.box_type.is_ovm() || b.effective_ovm
}

/// Whether a message is commercial (PDZ): neither sent in OVM mode nor
/// addressed to a public authority.
pub fn is_commercial(sent_in_ovm_mode: bool, recipient: &DataBox) -> bool {
    !sent_in_ovm_mode && !acts_as_ovm(recipient)
}

/// Largest total of decoded documents a box may send, in bytes.
pub fn attachment_limit_bytes(sender: &DataBox) -> u64 {
    let mb = match sender.attachment_limit_mb {
        0 => DEFAULT_ATTACHMENT_LIMIT_MB,
        n => n,
    };
    u64::from(mb) * 1024 * 1024
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BoxId, BoxState, BoxType, Owner};

    fn databox(box_type: BoxType, effective_ovm: bool, open: bool) -> DataBox {
        DataBox {
            id: BoxId::parse("abc1234").unwrap(),
            box_type,
            state: BoxState::Accessible,
            owner: Owner::default(),
            effective_ovm,
            open_addressing: open,
            attachment_limit_mb: 0,
            unlimited_password_validity: false,
            public_listing: true,
        }
    }

    #[test]
    fn text_rewrite() {
        assert_eq!(rewrite_text("a<b>c"), "a_b_c");
        assert_eq!(rewrite_text("a\r\nb\tc"), "a  b c");
        assert_eq!(rewrite_text("a\u{A0}b\u{2009}c\u{3000}d"), "a b c d");
        assert_eq!(
            rewrite_text("ro\u{AD}zhod\u{200B}nu\u{FEFF}tí"),
            "rozhodnutí"
        );
        assert_eq!(rewrite_text("1\u{2013}2\u{2014}3\u{2212}4"), "1-2-3-4");
        assert_eq!(
            rewrite_text("\u{201E}Věc\u{201C} \u{2018}x\u{2019} \u{AB}y\u{BB}"),
            "\"Věc\" 'x' \"y\""
        );
        assert_eq!(
            rewrite_text("Žádost č. 12/2026 & spol."),
            "Žádost č. 12/2026 & spol."
        );
        assert_eq!(rewrite_opt(None), None);
        assert_eq!(rewrite_opt(Some("<")), Some("_".to_owned()));
    }

    #[test]
    fn formats_and_mime_types() {
        for ok in [
            "a.pdf",
            "A.PDF",
            "scan.JPeG",
            "x.tar.zip",
            "podpis.p7s",
            "data.isdocx",
        ] {
            assert!(format_allowed(ok), "{ok}");
        }
        for bad in ["a.exe", "pdf", ".pdf", "a.", "a.pdf.exe", "a.docm"] {
            assert!(!format_allowed(bad), "{bad}");
        }
        assert!(mime_refused("application/x-msdownload"));
        assert!(mime_refused("Application/X-Zip-Compressed; foo=bar"));
        assert!(!mime_refused("application/zip"));
        assert!(!mime_refused("application/pdf"));
    }

    #[test]
    fn documents() {
        let d = |meta_type, file_name| DocumentFacts {
            meta_type,
            file_name,
            mime_type: "application/pdf",
        };
        assert_eq!(check_documents(&[]), Err(DocumentProblem::NoDocument));
        assert_eq!(check_documents(&[d("main", "a.pdf")]), Ok(()));
        assert_eq!(
            check_documents(&[
                d("main", "a.pdf"),
                d("enclosure", "b.xml"),
                d("signature", "c.p7s")
            ]),
            Ok(())
        );
        // The order of kinds is ISDS's advice, not a rule it enforces.
        assert_eq!(check_documents(&[d("enclosure", "a.pdf")]), Ok(()));
        assert_eq!(
            check_documents(&[d("main", "a.pdf"), d("main", "b.pdf")]),
            Ok(())
        );
        assert_eq!(
            check_documents(&[d("main", "a.pdf"), d("enclosure", "virus.exe")]),
            Err(DocumentProblem::Format("virus.exe".into()))
        );
        let zip = DocumentFacts {
            meta_type: "main",
            file_name: "a.zip",
            mime_type: "application/x-zip-compressed",
        };
        assert_eq!(
            check_documents(&[zip]),
            Err(DocumentProblem::MimeType("a.zip".into()))
        );
    }

    #[test]
    fn commercial_messages() {
        let ovm = databox(BoxType::OVM, true, false);
        let po = databox(BoxType::PO, false, false);
        let po_eff = databox(BoxType::PO, true, false);
        assert!(!is_commercial(false, &ovm));
        assert!(!is_commercial(true, &po));
        assert!(is_commercial(false, &po));
        assert!(!is_commercial(false, &po_eff));
        assert!(acts_as_ovm(&ovm) && !acts_as_ovm(&po));
    }

    #[test]
    fn attachment_limits() {
        let mut b = databox(BoxType::PO, false, false);
        assert_eq!(attachment_limit_bytes(&b), 20 * 1024 * 1024);
        b.attachment_limit_mb = 50;
        assert_eq!(attachment_limit_bytes(&b), 50 * 1024 * 1024);
    }
}
