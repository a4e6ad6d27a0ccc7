//! The box search index: posting lists in the store that answer box
//! searches without reading every box.
//!
//! # Layout (tree: key → value)
//! - `idx_name`: `<token>/<box ID>` → summary — the words of the box's
//!   name (firm or authority name, the owner's first and last names).
//! - `idx_addr`: `<token>/<box ID>` → summary — the words of the address
//!   (municipality, its part, street, numbers, postal code).
//! - `idx_ic`: `<IČ>/<box ID>` → summary — the identification number.
//! - `idx_doc`: `<box ID>` → the summary and the box's searchable fields,
//!   folded (a forward index: one read checks every criterion of a
//!   candidate without decoding the box record).
//!
//! A *token* is a run of letters and digits, lower-cased with its
//! diacritics folded (`Nováková` → `novakova`, `Šťastný` → `stastny`),
//! at least [`MIN_TOKEN_LEN`] characters long. Because `/` sorts before
//! every token character, the keys of one token are contiguous and ordered
//! by box ID, and the keys of every token starting with a prefix are one
//! key range: a prefix search is one range scan.
//!
//! The *summary* (3 bytes: type code, state, flags) is what searches filter
//! on — type scopes, states, visibility — so filtering needs no further
//! read.
//!
//! # Maintenance
//! Every write of a box record stages the index changes in the same
//! atomic batch ([`stage_insert`], [`stage_update`]): the index never
//! disagrees with the boxes it describes. Box records are never deleted
//! (a removed box keeps its record in state 5), so there is no delete path;
//! [`stage_remove`] exists for completeness.
//!
//! # Folding
//! A small table folds the Latin letters of Czech, Slovak, German, Polish,
//! Hungarian and the rest of Latin-1/Latin-2 (`ř`→`r`, `ß`→`ss`, `ł`→`l`,
//! `æ`→`ae` …). Other scripts are treated as separators. A table of a few
//! dozen letters is all Czech names and addresses need, so no Unicode
//! normalisation crate is pulled in.

use std::collections::BTreeSet;

use crate::domain::boxes::databox::{BoxState, BoxType, DataBox};
use crate::store::{Batch, KeyRange, Order, Store, StoreError};

pub const IDX_NAME: &str = "idx_name";
pub const IDX_ADDR: &str = "idx_addr";
pub const IDX_IC: &str = "idx_ic";
pub const IDX_DOC: &str = "idx_doc";

/// Every tree of the index, for size reports.
pub const TREES: [&str; 4] = [IDX_NAME, IDX_ADDR, IDX_IC, IDX_DOC];

/// Shorter tokens are not indexed (`s.r.o.` would put every company under
/// `s`, `r` and `o`), and shorter query words are ignored.
pub const MIN_TOKEN_LEN: usize = 2;

/// Longer tokens are cut to this length (keys stay bounded).
pub const MAX_TOKEN_LEN: usize = 40;

/// Separator of the fields in an `idx_doc` value.
const FIELD_SEP: char = '\u{1f}';

/// Lower-cases `s` and folds its diacritics; characters without a folding
/// stay as they are (lower-cased).
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        for l in c.to_lowercase() {
            match fold_char(l) {
                Some(f) => out.push_str(f),
                None => out.push(l),
            }
        }
    }
    out
}

/// The ASCII spelling of a lower-case Latin letter with diacritics.
fn fold_char(c: char) -> Option<&'static str> {
    Some(match c {
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'č' | 'ć' | 'ĉ' | 'ċ' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'é' | 'è' | 'ê' | 'ë' | 'ě' | 'ē' | 'ė' | 'ę' => "e",
        'ğ' | 'ģ' => "g",
        'í' | 'ì' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => "i",
        'ķ' => "k",
        'ĺ' | 'ľ' | 'ł' | 'ļ' => "l",
        'ň' | 'ñ' | 'ń' | 'ņ' => "n",
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ő' | 'ø' | 'ō' => "o",
        'œ' => "oe",
        'ř' | 'ŕ' | 'ŗ' => "r",
        'š' | 'ś' | 'ş' | 'ș' => "s",
        'ß' => "ss",
        'ť' | 'ţ' | 'ț' => "t",
        'þ' => "th",
        'ú' | 'ù' | 'û' | 'ü' | 'ů' | 'ű' | 'ū' | 'ų' => "u",
        'ý' | 'ÿ' => "y",
        'ž' | 'ź' | 'ż' => "z",
        _ => return None,
    })
}

/// The tokens of `s` in order, duplicates kept: folded runs of ASCII
/// letters and digits, at least [`MIN_TOKEN_LEN`] long.
pub fn tokens(s: &str) -> Vec<String> {
    let folded = fold(s);
    folded
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| t.len() >= MIN_TOKEN_LEN)
        .map(|t| t[..t.len().min(MAX_TOKEN_LEN)].to_owned())
        .collect()
}

/// The digits of an identification number or postal code (spaces and
/// other separators dropped).
pub fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// What searches filter on, stored with every posting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub box_type: BoxType,
    pub state: BoxState,
    pub effective_ovm: bool,
    pub open_addressing: bool,
    pub public_listing: bool,
}

impl Summary {
    pub fn of(b: &DataBox) -> Summary {
        Summary {
            box_type: b.box_type,
            state: b.state,
            effective_ovm: b.effective_ovm,
            open_addressing: b.open_addressing,
            public_listing: b.public_listing,
        }
    }

    fn encode(self) -> [u8; 3] {
        let flags = u8::from(self.effective_ovm)
            | u8::from(self.open_addressing) << 1
            | u8::from(self.public_listing) << 2;
        [self.box_type.code() as u8, u8::from(self.state), flags]
    }

    fn decode(bytes: &[u8]) -> Option<Summary> {
        let &[code, state, flags] = bytes.get(..3)? else {
            return None;
        };
        Some(Summary {
            box_type: BoxType::ALL
                .iter()
                .copied()
                .find(|t| t.code() == u32::from(code))?,
            state: BoxState::try_from(state).ok()?,
            effective_ovm: flags & 1 != 0,
            open_addressing: flags & 2 != 0,
            public_listing: flags & 4 != 0,
        })
    }
}

/// A box's searchable fields, folded, as `idx_doc` keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Doc {
    pub firm: String,
    pub first: String,
    pub last: String,
    pub city: String,
    pub district: String,
    pub street: String,
    pub number_in_street: String,
    pub number_in_municipality: String,
    /// Digits only.
    pub zip: String,
    pub state: String,
    pub birth_date: String,
    pub birth_city: String,
    /// Digits only.
    pub ic: String,
}

impl Doc {
    pub fn of(b: &DataBox) -> Doc {
        let o = &b.owner;
        let a = &o.address;
        Doc {
            firm: fold(o.firm_name.trim()),
            first: fold(o.first_name.trim()),
            last: fold(o.last_name.trim()),
            city: fold(a.city.trim()),
            district: fold(a.district.trim()),
            street: fold(a.street.trim()),
            number_in_street: fold(a.number_in_street.trim()),
            number_in_municipality: fold(a.number_in_municipality.trim()),
            zip: digits(&a.zip_code),
            state: fold(a.state.trim()),
            birth_date: o.birth_date.trim().to_owned(),
            birth_city: fold(o.birth_city.trim()),
            ic: digits(&o.ic),
        }
    }

    fn fields(&self) -> [&String; 13] {
        [
            &self.firm,
            &self.first,
            &self.last,
            &self.city,
            &self.district,
            &self.street,
            &self.number_in_street,
            &self.number_in_municipality,
            &self.zip,
            &self.state,
            &self.birth_date,
            &self.birth_city,
            &self.ic,
        ]
    }

    fn encode(&self, summary: Summary) -> Vec<u8> {
        let mut out = summary.encode().to_vec();
        let text = self
            .fields()
            .iter()
            .map(|f| f.replace(FIELD_SEP, " "))
            .collect::<Vec<_>>()
            .join(&FIELD_SEP.to_string());
        out.extend_from_slice(text.as_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<(Summary, Doc)> {
        let summary = Summary::decode(bytes)?;
        let text = std::str::from_utf8(bytes.get(3..)?).ok()?;
        let mut f = text.split(FIELD_SEP).map(str::to_owned);
        let mut next = || f.next().unwrap_or_default();
        let doc = Doc {
            firm: next(),
            first: next(),
            last: next(),
            city: next(),
            district: next(),
            street: next(),
            number_in_street: next(),
            number_in_municipality: next(),
            zip: next(),
            state: next(),
            birth_date: next(),
            birth_city: next(),
            ic: next(),
        };
        Some((summary, doc))
    }

    /// The tokens of the name: firm name and the owner's names.
    pub fn name_tokens(&self) -> Vec<String> {
        let mut t = tokens(&self.firm);
        t.extend(tokens(&self.first));
        t.extend(tokens(&self.last));
        t
    }

    /// The tokens of the address.
    pub fn address_tokens(&self) -> Vec<String> {
        let mut t = tokens(&self.city);
        t.extend(tokens(&self.district));
        t.extend(tokens(&self.street));
        t.extend(tokens(&self.number_in_street));
        t.extend(tokens(&self.number_in_municipality));
        t.extend(tokens(&self.zip));
        t
    }
}

/// The index keys of one box, by tree.
struct Keys {
    name: BTreeSet<String>,
    addr: BTreeSet<String>,
    ic: Option<String>,
}

fn keys_of(id: &str, doc: &Doc) -> Keys {
    let posting = |t: String| format!("{t}/{id}");
    Keys {
        name: doc.name_tokens().into_iter().map(posting).collect(),
        addr: doc.address_tokens().into_iter().map(posting).collect(),
        ic: (!doc.ic.is_empty()).then(|| format!("{}/{id}", doc.ic)),
    }
}

/// Stages the index entries of a new box.
pub fn stage_insert(batch: &mut Batch, b: &DataBox) {
    let id = b.id.as_str();
    let doc = Doc::of(b);
    let summary = Summary::of(b);
    let value = summary.encode();
    let keys = keys_of(id, &doc);
    for k in keys.name {
        batch.put(IDX_NAME, k, value.to_vec());
    }
    for k in keys.addr {
        batch.put(IDX_ADDR, k, value.to_vec());
    }
    if let Some(k) = keys.ic {
        batch.put(IDX_IC, k, value.to_vec());
    }
    batch.put(IDX_DOC, id, doc.encode(summary));
}

/// Stages the index changes of a box rewritten from `old` to `new` (same
/// ID): entries that went away are deleted, the others written with the
/// new summary.
pub fn stage_update(batch: &mut Batch, old: &DataBox, new: &DataBox) {
    let id = new.id.as_str();
    let old_doc = Doc::of(old);
    let new_doc = Doc::of(new);
    let old_summary = Summary::of(old);
    let new_summary = Summary::of(new);
    if old_doc == new_doc && old_summary == new_summary {
        return;
    }
    let value = new_summary.encode();
    let same_summary = old_summary == new_summary;
    let old_keys = keys_of(old.id.as_str(), &old_doc);
    let new_keys = keys_of(id, &new_doc);
    let mut sync = |tree: &str, old: &BTreeSet<String>, new: &BTreeSet<String>| {
        for k in old.difference(new) {
            batch.delete(tree, k.as_bytes());
        }
        for k in new {
            if !same_summary || !old.contains(k) {
                batch.put(tree, k.as_bytes(), value.to_vec());
            }
        }
    };
    sync(IDX_NAME, &old_keys.name, &new_keys.name);
    sync(IDX_ADDR, &old_keys.addr, &new_keys.addr);
    let old_ic: BTreeSet<String> = old_keys.ic.into_iter().collect();
    let new_ic: BTreeSet<String> = new_keys.ic.into_iter().collect();
    sync(IDX_IC, &old_ic, &new_ic);
    batch.put(IDX_DOC, id, new_doc.encode(new_summary));
}

/// Stages the removal of every index entry of `b`.
pub fn stage_remove(batch: &mut Batch, b: &DataBox) {
    let id = b.id.as_str();
    let keys = keys_of(id, &Doc::of(b));
    for k in keys.name {
        batch.delete(IDX_NAME, k.as_bytes());
    }
    for k in keys.addr {
        batch.delete(IDX_ADDR, k.as_bytes());
    }
    if let Some(k) = keys.ic {
        batch.delete(IDX_IC, k.as_bytes());
    }
    batch.delete(IDX_DOC, id);
}

/// Builds the index of a store whose boxes were written before the index
/// existed (the index is empty but boxes exist); returns how many boxes
/// it indexed (0 when the index was there). Runs at start, before the
/// gateway serves.
pub fn index_missing(store: &dyn Store) -> Result<u64, crate::domain::boxes::repo::RepoError> {
    let indexed = store
        .tree(IDX_DOC)?
        .first_in(KeyRange::all(), Order::Ascending)?
        .is_some();
    if indexed || !crate::domain::boxes::repo::has_any_box(store)? {
        return Ok(0);
    }
    let mut batch = Batch::new();
    let mut n = 0u64;
    crate::domain::boxes::repo::for_each_box(store, |b| {
        stage_insert(&mut batch, b);
        n += 1;
        if n.is_multiple_of(10_000) {
            store.apply(std::mem::take(&mut batch))?;
        }
        Ok(())
    })?;
    store.apply(batch)?;
    store.flush_durable()?;
    Ok(n)
}

/// Which posting tree a search reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Address,
    Ic,
}

impl Field {
    fn tree(self) -> &'static str {
        match self {
            Field::Name => IDX_NAME,
            Field::Address => IDX_ADDR,
            Field::Ic => IDX_IC,
        }
    }
}

/// One entry of a posting list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    /// The box ID.
    pub id: String,
    pub summary: Summary,
    /// The token equals the searched word (not only starts with it).
    pub exact: bool,
}

/// A posting list read with a bound.
#[derive(Debug, Clone, Default)]
pub struct Postings {
    pub items: Vec<Posting>,
    /// More entries exist than were read.
    pub truncated: bool,
}

/// The postings of `field` whose token starts with `prefix` (or equals it,
/// with `exact`), in key order, at most `limit` of them (`truncated` tells
/// whether more exist). Reads at most `limit + 1` keys.
pub fn postings(
    store: &dyn Store,
    field: Field,
    prefix: &str,
    exact: bool,
    limit: usize,
) -> Result<Postings, StoreError> {
    let mut out = Postings::default();
    if prefix.is_empty() {
        return Ok(out);
    }
    let scan = if exact {
        format!("{prefix}/")
    } else {
        prefix.to_owned()
    };
    let tree = store.tree(field.tree())?;
    for entry in tree.iter(KeyRange::prefix(scan.as_bytes()), Order::Ascending) {
        let (key, value) = entry?;
        if out.items.len() >= limit {
            out.truncated = true;
            break;
        }
        let Some(posting) = parse_posting(&key, &value, prefix) else {
            continue;
        };
        out.items.push(posting);
    }
    Ok(out)
}

fn parse_posting(key: &[u8], value: &[u8], prefix: &str) -> Option<Posting> {
    let key = std::str::from_utf8(key).ok()?;
    let (token, id) = key.rsplit_once('/')?;
    Some(Posting {
        id: id.to_owned(),
        summary: Summary::decode(value)?,
        exact: token == prefix,
    })
}

/// The summary and folded fields of box `id`, if it is indexed.
pub fn doc(store: &dyn Store, id: &str) -> Result<Option<(Summary, Doc)>, StoreError> {
    Ok(store
        .tree(IDX_DOC)?
        .get(id.as_bytes())?
        .and_then(|v| Doc::decode(&v)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::boxes::databox::{BoxAddress, BoxId, Owner};
    use crate::store::open_memory;

    fn a_box(id: &str, firm: &str, city: &str) -> DataBox {
        DataBox {
            id: BoxId::parse(id).unwrap(),
            box_type: BoxType::PO,
            state: BoxState::Accessible,
            owner: Owner {
                firm_name: firm.into(),
                ic: "27074358".into(),
                address: BoxAddress {
                    city: city.into(),
                    street: "Údolní".into(),
                    number_in_street: "53".into(),
                    zip_code: "602 00".into(),
                    ..BoxAddress::default()
                },
                ..Owner::default()
            },
            effective_ovm: false,
            open_addressing: true,
            attachment_limit_mb: 20,
            unlimited_password_validity: false,
            public_listing: true,
        }
    }

    #[test]
    fn folding_and_tokens() {
        assert_eq!(fold("Nováková ŠŤASTNÁ Ďáblice"), "novakova stastna dablice");
        assert_eq!(fold("Straße Łódź Ærø Őrség"), "strasse lodz aero orseg");
        assert_eq!(
            tokens("Účetnictví Novák s.r.o., Brno-Líšeň 602 00"),
            ["ucetnictvi", "novak", "brno", "lisen", "602", "00"]
        );
        assert_eq!(digits("602 00"), "60200");
    }

    #[test]
    fn summaries_and_docs_round_trip() {
        let b = a_box("abcdefg", "Ač|\u{1f}x", "Brno");
        let s = Summary::of(&b);
        assert_eq!(Summary::decode(&s.encode()), Some(s));
        let doc = Doc::of(&b);
        let (s2, d2) = Doc::decode(&doc.encode(s)).unwrap();
        assert_eq!(s2, s);
        assert_eq!(d2.firm, "ac| x");
        assert_eq!(d2.zip, "60200");
        assert_eq!(d2.ic, "27074358");
    }

    #[test]
    fn updates_keep_the_index_in_step() {
        let store = open_memory();
        let b = a_box("abcdefg", "Novák Stavby s.r.o.", "Brno");
        let mut batch = Batch::new();
        stage_insert(&mut batch, &b);
        store.apply(batch).unwrap();
        let p = postings(store.as_ref(), Field::Name, "nov", false, 10).unwrap();
        assert_eq!(p.items.len(), 1);
        assert!(!p.items[0].exact);
        let p = postings(store.as_ref(), Field::Name, "novak", true, 10).unwrap();
        assert!(p.items[0].exact);

        let mut c = b.clone();
        c.owner.firm_name = "Dvořák Stavby s.r.o.".into();
        c.state = BoxState::TemporarilyInaccessible;
        let mut batch = Batch::new();
        stage_update(&mut batch, &b, &c);
        store.apply(batch).unwrap();
        assert!(
            postings(store.as_ref(), Field::Name, "novak", false, 10)
                .unwrap()
                .items
                .is_empty()
        );
        let p = postings(store.as_ref(), Field::Name, "stavby", true, 10).unwrap();
        assert_eq!(p.items[0].summary.state, BoxState::TemporarilyInaccessible);
        let p = postings(store.as_ref(), Field::Address, "udol", false, 10).unwrap();
        assert_eq!(p.items[0].summary.state, BoxState::TemporarilyInaccessible);
        let (s, d) = doc(store.as_ref(), "abcdefg").unwrap().unwrap();
        assert_eq!(s.state, BoxState::TemporarilyInaccessible);
        assert_eq!(d.firm, "dvorak stavby s.r.o.");

        let mut batch = Batch::new();
        stage_remove(&mut batch, &c);
        store.apply(batch).unwrap();
        for tree in TREES {
            let t = store.tree(tree).unwrap();
            assert!(
                t.first_in(KeyRange::all(), Order::Ascending)
                    .unwrap()
                    .is_none()
            );
        }
    }

    #[test]
    fn a_store_without_an_index_gets_one() {
        let store = open_memory();
        let mut batch = Batch::new();
        batch.put(
            "boxes",
            "abcdefg",
            serde_json::to_vec(&a_box("abcdefg", "Stará firma", "Brno")).unwrap(),
        );
        store.apply(batch).unwrap();
        assert_eq!(index_missing(store.as_ref()).unwrap(), 1);
        assert_eq!(index_missing(store.as_ref()).unwrap(), 0);
        let p = postings(store.as_ref(), Field::Name, "stara", true, 10).unwrap();
        assert_eq!(p.items.len(), 1);
    }

    #[test]
    fn postings_are_bounded() {
        let store = open_memory();
        let mut batch = Batch::new();
        for i in 0..5 {
            stage_insert(&mut batch, &a_box(&format!("abcdef{i}"), "Novák", "Brno"));
        }
        store.apply(batch).unwrap();
        let p = postings(store.as_ref(), Field::Address, "brno", true, 3).unwrap();
        assert_eq!(p.items.len(), 3);
        assert!(p.truncated);
        let p = postings(store.as_ref(), Field::Ic, "27074358", true, 10).unwrap();
        assert_eq!(p.items.len(), 5);
        assert!(!p.truncated);
    }
}
