//! Generates `$OUT_DIR/schema_types.rs` from `schemas/*.xsd` and
//! `wsdl/*.wsdl`; see `src/schema/codegen`.

use std::fs;
use std::path::{Path, PathBuf};

#[path = "src/schema/codegen/mod.rs"]
mod codegen;

fn read_dir(dir: &Path, ext: &str) -> Vec<(String, Vec<u8>)> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => panic!("cannot read {}: {e}", dir.display()),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = match entry {
            Ok(entry) => entry.path(),
            Err(e) => panic!("cannot list {}: {e}", dir.display()),
        };
        if path.extension().and_then(|x| x.to_str()) != Some(ext) {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        match fs::read(&path) {
            Ok(bytes) => files.push((name, bytes)),
            Err(e) => panic!("cannot read {}: {e}", path.display()),
        }
    }
    if files.is_empty() {
        panic!("no *.{ext} files in {}", dir.display());
    }
    files.sort();
    files
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let schemas = root.join("schemas");
    let wsdl = root.join("wsdl");
    println!("cargo:rerun-if-changed=schemas");
    println!("cargo:rerun-if-changed=wsdl");
    println!("cargo:rerun-if-changed=src/schema/codegen");
    println!("cargo:rerun-if-changed=build.rs");

    let xsd_files = read_dir(&schemas, "xsd");
    let wsdl_files = read_dir(&wsdl, "wsdl");
    let code = match codegen::generate(&xsd_files, &wsdl_files) {
        Ok(code) => code,
        Err(e) => panic!("generating schema types failed: {e}"),
    };
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into()));
    let out = out_dir.join("schema_types.rs");
    if let Err(e) = fs::write(&out, code) {
        panic!("cannot write {}: {e}", out.display());
    }
}
