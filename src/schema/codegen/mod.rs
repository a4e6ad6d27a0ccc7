//! Build-time generator of the schema types (`$OUT_DIR/schema_types.rs`).
//!
//! Compiled only by `build.rs` (through `#[path]`), never into the library.
//! Reads the XSD and WSDL files structurally: annotations, comments,
//! prefixes and formatting do not matter. Fails with a message naming the
//! file and construct it does not support, rather than generating code
//! that would silently accept the wrong XML.

mod dom;
mod emit;
pub mod names;
mod wsdl;
mod xsd;

/// Generates the Rust source from `(file name, contents)` pairs. The
/// output depends only on the inputs; files are taken in name order.
pub fn generate(
    xsd_files: &[(String, Vec<u8>)],
    wsdl_files: &[(String, Vec<u8>)],
) -> Result<String, String> {
    let mut xsd_files: Vec<&(String, Vec<u8>)> = xsd_files.iter().collect();
    xsd_files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut wsdl_files: Vec<&(String, Vec<u8>)> = wsdl_files.iter().collect();
    wsdl_files.sort_by(|a, b| a.0.cmp(&b.0));
    let schemas = xsd_files
        .iter()
        .map(|(name, bytes)| Ok((name.clone(), dom::parse(name, bytes)?)))
        .collect::<Result<Vec<_>, String>>()?;
    let wsdls = wsdl_files
        .iter()
        .map(|(name, bytes)| Ok((name.clone(), dom::parse(name, bytes)?)))
        .collect::<Result<Vec<_>, String>>()?;
    let model = xsd::build(&schemas)?;
    let families = wsdl::build(&wsdls)?;
    emit::emit(&model, &families)
}
