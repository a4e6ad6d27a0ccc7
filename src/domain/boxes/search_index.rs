//! The box search index: a forward index in the store, and a term
//! dictionary with posting lists in memory built from it, that answer box
//! searches without reading every box.
//!
//! # In the store (tree: key → value)
//! - `idx_doc`: `<box ID>` → the summary and the box's searchable fields,
//!   folded ([`Doc`]). Written in the same atomic batch as the box record:
//!   it never disagrees with the boxes it describes.
//! - `idx_log`: `<box ID>` → the same value (empty for a removed box), for
//!   every box written since the in-memory index was built.
//! - `idx_meta`: `snapshot` → the token of the in-memory index built from
//!   this store in this process.
//!
//! # In memory
//! A [`Snapshot`] holds, for every box of `idx_doc` at the time it was
//! built, numbered in box-ID order: the summary, the folded fields, and
//! for the name, the address and the identification number a sorted term
//! dictionary (each distinct token once) with the posting list of every
//! token (box numbers, ascending) and, per box, the ordinals of its tokens.
//! It also keeps every box's record as the store held it when the snapshot
//! was built, packed in postcard's compact binary form, so answers (up to a hundred
//! boxes) are built without reading the store.
//! A prefix search is a binary search for the dictionary's range of tokens
//! starting with the prefix; the postings of a prefix come in (token, box
//! ID) order — the order the earlier posting trees in the store gave, so
//! searches and their truncation points are unchanged.
//!
//! The boxes written after the snapshot are in `idx_log`; every search
//! reads it (usually empty: the gateway builds the snapshot and empties the
//! log when it starts, [`prepare`]) and lays it over the snapshot as an
//! [`Overlay`], cached while the log does not change (while the store's
//! count of writes to the log stands still, the log is not even read). So a
//! search always sees every committed box write, whichever thread wrote
//! it. Every change of a box record goes to the log, also one no search
//! reads: the snapshot's copy of a record is used only while the log does
//! not name its box.
//!
//! A search counts the postings of its words without reading them
//! ([`View::count`]: the dictionary's offsets, with the log laid over less
//! the postings of the boxes it supersedes plus its own) to choose the
//! clause that drives it, so a few boxes in the log cost a few lookups, not
//! a read of every clause.
//!
//! Why in memory and not a search-engine library: the searches need exact
//! (token, box ID) posting order, prefix ranges and per-candidate checks
//! against folded fields, which a sorted dictionary over flat arrays gives
//! in a few hundred lines; a million boxes take about 200 MB and a few
//! seconds to load, and no on-disk index has to be kept consistent with
//! the store (the store's `idx_doc` is the only copy that persists).
//!
//! A *token* is a run of letters and digits, lower-cased with its
//! diacritics folded (`Nováková` → `novakova`, `Šťastný` → `stastny`),
//! at least [`MIN_TOKEN_LEN`] characters long.
//!
//! The *summary* (type code, state, flags) is what searches filter on —
//! type scopes, states, visibility — so filtering needs no further read.
//!
//! # Folding
//! A small table folds the Latin letters of Czech, Slovak, German, Polish,
//! Hungarian and the rest of Latin-1/Latin-2 (`ř`→`r`, `ß`→`ss`, `ł`→`l`,
//! `æ`→`ae` …). Other scripts are treated as separators. A table of a few
//! dozen letters is all Czech names and addresses need, so no Unicode
//! normalisation crate is pulled in.

use std::collections::{BTreeMap, HashMap, HashSet};

use fixedbitset::FixedBitSet;
use std::sync::{Arc, Mutex, OnceLock};

use crate::domain::boxes::databox::{BoxState, BoxType, DataBox};
use crate::store::{Batch, Entry, KeyRange, Order, Store, StoreError};

pub const IDX_DOC: &str = "idx_doc";
pub const IDX_LOG: &str = "idx_log";
pub const IDX_META: &str = "idx_meta";

/// Every tree of the index, for size reports.
pub const TREES: [&str; 3] = [IDX_DOC, IDX_LOG, IDX_META];

/// The key of `idx_meta` naming the in-memory index of the store.
const SNAPSHOT_KEY: &[u8] = b"snapshot";

/// Boxes per batch when the forward index is written in bulk.
const BULK_BATCH: usize = 10_000;

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

/// A box's folded fields, borrowed from a [`Doc`] or an `idx_doc` value
/// (what a parametric search compares, without copying).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fields<'a> {
    pub firm: &'a str,
    pub first: &'a str,
    pub last: &'a str,
    pub city: &'a str,
    pub district: &'a str,
    pub street: &'a str,
    pub number_in_street: &'a str,
    pub number_in_municipality: &'a str,
    pub zip: &'a str,
    pub state: &'a str,
    pub birth_date: &'a str,
    pub birth_city: &'a str,
    pub ic: &'a str,
}

impl<'a> Fields<'a> {
    /// The fields of the text of an `idx_doc` value, after its summary
    /// (as [`Doc::decode`] reads them).
    fn of_text(text: &'a str) -> Fields<'a> {
        let mut f = text.split(FIELD_SEP);
        let mut next = || f.next().unwrap_or("");
        Fields {
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
        }
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
        let text = Doc::text_of(bytes)?;
        Some((summary, Doc::decode_text(text)))
    }

    /// The text of an `idx_doc` value: its fields after the summary.
    fn text_of(bytes: &[u8]) -> Option<&str> {
        std::str::from_utf8(bytes.get(3..)?).ok()
    }

    /// The fields of the text of an `idx_doc` value.
    fn decode_text(text: &str) -> Doc {
        let mut f = text.split(FIELD_SEP).map(str::to_owned);
        let mut next = || f.next().unwrap_or_default();
        Doc {
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
        }
    }

    /// The fields, borrowed.
    pub fn borrowed(&self) -> Fields<'_> {
        Fields {
            firm: &self.firm,
            first: &self.first,
            last: &self.last,
            city: &self.city,
            district: &self.district,
            street: &self.street,
            number_in_street: &self.number_in_street,
            number_in_municipality: &self.number_in_municipality,
            zip: &self.zip,
            state: &self.state,
            birth_date: &self.birth_date,
            birth_city: &self.birth_city,
            ic: &self.ic,
        }
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

// ---- Writes: staged with the box record ----

/// Stages the index entries of a new box.
pub fn stage_insert(batch: &mut Batch, b: &DataBox) {
    let value = Doc::of(b).encode(Summary::of(b));
    batch.put(IDX_LOG, b.id.as_str(), value.clone());
    batch.put(IDX_DOC, b.id.as_str(), value);
}

/// Stages the forward-index entry of a new box written in bulk, without
/// the log: the bulk writer calls [`forget`] before and after its writes,
/// so the next search builds the in-memory index anew.
pub fn stage_bulk_insert(batch: &mut Batch, b: &DataBox) {
    batch.put(IDX_DOC, b.id.as_str(), Doc::of(b).encode(Summary::of(b)));
}

/// Stages the index changes of a box rewritten from `old` to `new` (same
/// ID): nothing when the record stays; the log alone when only fields no
/// search reads change (the snapshot's copy of the record, which answers
/// use, is then superseded); the forward index too otherwise.
pub fn stage_update(batch: &mut Batch, old: &DataBox, new: &DataBox) {
    if old == new {
        return;
    }
    let old_value = Doc::of(old).encode(Summary::of(old));
    let new_value = Doc::of(new).encode(Summary::of(new));
    batch.put(IDX_LOG, new.id.as_str(), new_value.clone());
    if old_value != new_value {
        batch.put(IDX_DOC, new.id.as_str(), new_value);
    }
}

/// Stages the removal of the index entries of `b`. Box records are never
/// deleted (a removed box keeps its record in state 5); this exists for
/// completeness.
pub fn stage_remove(batch: &mut Batch, b: &DataBox) {
    batch.delete(IDX_DOC, b.id.as_str());
    batch.put(IDX_LOG, b.id.as_str(), Vec::new());
}

/// Writes the forward index of every box anew when it disagrees with the
/// boxes (a store written before the index existed, or a bulk load cut
/// short): returns how many boxes it indexed (0 when both agree).
pub fn index_missing(store: &dyn Store) -> Result<u64, crate::domain::boxes::repo::RepoError> {
    let count = |tree: &str| -> Result<u64, StoreError> {
        let mut n = 0u64;
        for entry in store.tree(tree)?.iter(KeyRange::all(), Order::Ascending) {
            entry?;
            n += 1;
        }
        Ok(n)
    };
    let boxes = count("boxes")?;
    if boxes == count(IDX_DOC)? {
        return Ok(0);
    }
    forget(store)?;
    let docs = store.tree(IDX_DOC)?;
    let mut batch = Batch::new();
    for entry in docs.iter(KeyRange::all(), Order::Ascending) {
        let (key, _) = entry?;
        batch.delete(IDX_DOC, key);
        if batch.len() >= BULK_BATCH {
            store.apply(std::mem::take(&mut batch))?;
        }
    }
    store.apply(std::mem::take(&mut batch))?;
    let mut n = 0u64;
    crate::domain::boxes::repo::for_each_box(store, |b| {
        stage_bulk_insert(&mut batch, b);
        n += 1;
        if batch.len() >= BULK_BATCH {
            store.apply(std::mem::take(&mut batch))?;
        }
        Ok(())
    })?;
    store.apply(batch)?;
    store.flush_durable()?;
    Ok(n)
}

/// Readies the index before the gateway serves: writes the forward index
/// where it disagrees with the boxes ([`index_missing`]), builds the
/// in-memory index and empties the log, which the new snapshot covers.
/// Nothing else may write the store meanwhile. Returns how many boxes were
/// indexed anew.
pub fn prepare(store: &dyn Store) -> Result<u64, crate::domain::boxes::repo::RepoError> {
    let n = index_missing(store)?;
    forget(store)?;
    snapshot(store)?;
    let log = store.tree(IDX_LOG)?;
    let mut batch = Batch::new();
    for entry in log.iter(KeyRange::all(), Order::Ascending) {
        let (key, _) = entry?;
        batch.delete(IDX_LOG, key);
        if batch.len() >= BULK_BATCH {
            store.apply(std::mem::take(&mut batch))?;
        }
    }
    store.apply(batch)?;
    Ok(n)
}

/// Drops the in-memory index of `store`: the next search builds it from
/// `idx_doc`. Bulk writers that bypass the log call this.
pub fn forget(store: &dyn Store) -> Result<(), StoreError> {
    let meta = store.tree(IDX_META)?;
    if let Some(token) = meta.remove(SNAPSHOT_KEY)?.as_deref().and_then(token_of) {
        registry()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&token);
    }
    Ok(())
}

// ---- Box records kept for answers ----

/// Appends `b` to `out` in postcard's compact binary form: the record's
/// own serde derive, so a field added to it is kept without a change
/// here, and no field names as in the store's JSON (at a million boxes
/// about as small as the fields' text alone).
fn pack_record(b: &DataBox, out: &mut Vec<u8>) {
    // Encoding into a Vec fails only for types serde cannot describe; on
    // failure nothing is kept and the record is read from the store.
    let start = out.len();
    match postcard::to_extend(b, std::mem::take(out)) {
        Ok(extended) => *out = extended,
        Err(_) => out.truncate(start),
    }
}

/// The record [`pack_record`] packed.
fn unpack_record(packed: &[u8]) -> Option<DataBox> {
    postcard::from_bytes(packed).ok()
}

// ---- The in-memory index ----

/// The in-memory indexes of this process, by the token their store keeps
/// in `idx_meta`.
fn registry() -> &'static Mutex<HashMap<u64, Arc<Snapshot>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<u64, Arc<Snapshot>>>> = OnceLock::new();
    REGISTRY.get_or_init(Mutex::default)
}

/// Held while an index is built, so two searches do not build it twice.
static BUILDING: Mutex<()> = Mutex::new(());

fn token_of(raw: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(raw.try_into().ok()?))
}

fn registered(store: &dyn Store) -> Result<Option<Arc<Snapshot>>, StoreError> {
    let Some(token) = store
        .tree(IDX_META)?
        .get(SNAPSHOT_KEY)?
        .as_deref()
        .and_then(token_of)
    else {
        return Ok(None);
    };
    Ok(registry()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&token)
        .cloned())
}

/// The in-memory index of `store`, built from `idx_doc` if this process
/// has none for it yet.
fn snapshot(store: &dyn Store) -> Result<Arc<Snapshot>, StoreError> {
    if let Some(s) = registered(store)? {
        return Ok(s);
    }
    let _building = BUILDING.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = registered(store)? {
        return Ok(s);
    }
    let snap = Arc::new(Snapshot::build(store)?);
    // A random token: a store left by another process (or a memory store
    // at a reused address) never names an index of this one.
    let token = rand_core::RngCore::next_u64(&mut rand_core::OsRng);
    registry()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(token, Arc::clone(&snap));
    store
        .tree(IDX_META)?
        .insert(SNAPSHOT_KEY, &token.to_be_bytes())?;
    Ok(snap)
}

/// The index of `store` as of now: its snapshot with the log laid over it.
pub fn view(store: &dyn Store) -> Result<View, StoreError> {
    let snap = snapshot(store)?;
    let overlay = snap.overlay(store)?;
    Ok(View { snap, overlay })
}

/// A sorted term dictionary and the posting list of each term.
#[derive(Default)]
struct Terms {
    /// The tokens, concatenated in ascending order.
    text: Vec<u8>,
    /// Token `i` is `text[text_starts[i]..text_starts[i + 1]]`.
    text_starts: Vec<u32>,
    /// Its postings are `postings[post_starts[i]..post_starts[i + 1]]`.
    post_starts: Vec<u32>,
    /// Box numbers, ascending within a token.
    postings: Vec<u32>,
}

impl Terms {
    fn len(&self) -> usize {
        self.text_starts.len().saturating_sub(1)
    }

    fn token(&self, i: usize) -> &str {
        let bytes = &self.text[self.text_starts[i] as usize..self.text_starts[i + 1] as usize];
        // Tokens are ASCII (folded letters and digits).
        std::str::from_utf8(bytes).unwrap_or("")
    }

    fn postings_of(&self, i: usize) -> &[u32] {
        &self.postings[self.post_starts[i] as usize..self.post_starts[i + 1] as usize]
    }

    /// The postings of the tokens of `range`, which lie one after another.
    fn postings_of_range(&self, range: std::ops::Range<usize>) -> &[u32] {
        if range.is_empty() {
            return &[];
        }
        &self.postings[self.post_starts[range.start] as usize..self.post_starts[range.end] as usize]
    }

    /// How many postings the tokens of `range` have together.
    fn postings_in(&self, range: std::ops::Range<usize>) -> usize {
        self.postings_of_range(range).len()
    }

    /// The first ordinal `i` for which `below(token(i))` is false (the
    /// tokens for which it holds come first).
    fn partition(&self, below: impl Fn(&str) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if below(self.token(mid)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The ordinals of the tokens starting with `prefix` (equal to it,
    /// with `exact`).
    fn range(&self, prefix: &str, exact: bool) -> std::ops::Range<usize> {
        let lo = self.partition(|t| t < prefix);
        let hi = if exact {
            if lo < self.len() && self.token(lo) == prefix {
                lo + 1
            } else {
                lo
            }
        } else {
            self.partition(|t| t < prefix || t.starts_with(prefix))
        };
        lo..hi
    }
}

/// Collects tokens and postings box by box (boxes in ascending order).
#[derive(Default)]
struct TermsBuilder {
    ids: HashMap<String, u32>,
    tokens: Vec<String>,
    postings: Vec<Vec<u32>>,
}

impl TermsBuilder {
    /// Adds `token` of box `n`; returns the token's provisional number.
    fn add(&mut self, token: &str, n: u32) -> u32 {
        let id = match self.ids.get(token) {
            Some(&id) => id,
            None => {
                let id = self.tokens.len() as u32;
                self.ids.insert(token.to_owned(), id);
                self.tokens.push(token.to_owned());
                self.postings.push(Vec::new());
                id
            }
        };
        self.postings[id as usize].push(n);
        id
    }

    /// The dictionary and, by provisional number, each token's ordinal.
    fn finish(self) -> (Terms, Vec<u32>) {
        let TermsBuilder {
            tokens, postings, ..
        } = self;
        let mut order: Vec<u32> = (0..tokens.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| tokens[a as usize].cmp(&tokens[b as usize]));
        let mut rank = vec![0u32; tokens.len()];
        let mut terms = Terms {
            text: Vec::new(),
            text_starts: Vec::with_capacity(tokens.len() + 1),
            post_starts: Vec::with_capacity(tokens.len() + 1),
            postings: Vec::with_capacity(postings.iter().map(Vec::len).sum()),
        };
        terms.text_starts.push(0);
        terms.post_starts.push(0);
        for (ordinal, &id) in order.iter().enumerate() {
            rank[id as usize] = ordinal as u32;
            terms.text.extend_from_slice(tokens[id as usize].as_bytes());
            terms.text_starts.push(terms.text.len() as u32);
            terms.postings.extend_from_slice(&postings[id as usize]);
            terms.post_starts.push(terms.postings.len() as u32);
        }
        (terms, rank)
    }
}

/// Per box, a list of token ordinals.
#[derive(Default)]
struct Forward {
    ords: Vec<u32>,
    /// Box `n`'s ordinals are `ords[starts[n]..starts[n + 1]]`.
    starts: Vec<u32>,
}

impl Forward {
    fn of(&self, n: usize) -> &[u32] {
        &self.ords[self.starts[n] as usize..self.starts[n + 1] as usize]
    }
}

/// The index of every box of `idx_doc` at one moment, boxes numbered in
/// box-ID order.
pub struct Snapshot {
    /// Box `n`'s ID is `ids[id_starts[n]..id_starts[n + 1]]`.
    ids: String,
    id_starts: Vec<u32>,
    summaries: Vec<Summary>,
    /// The text of box `n`'s `idx_doc` value (its fields, checked UTF-8
    /// once when built) is `docs[doc_starts[n]..doc_starts[n + 1]]`.
    docs: String,
    doc_starts: Vec<usize>,
    name: Terms,
    address: Terms,
    ic: Terms,
    name_of: Forward,
    address_of: Forward,
    /// The ordinal of box `n`'s IČ in `ic`, `u32::MAX` without one.
    ic_of: Vec<u32>,
    /// Box `n`'s record as the store held it when the snapshot was built,
    /// packed ([`pack_record`]), is `records[record_starts[n]..record_starts[n + 1]]`
    /// (empty when the store had none or it could not be packed): what
    /// answers show, without reading the store.
    records: Vec<u8>,
    record_starts: Vec<usize>,
    /// The last overlay built, reused while the log is unchanged.
    overlay: Mutex<Option<Arc<Overlay>>>,
}

impl Snapshot {
    fn build(store: &dyn Store) -> Result<Snapshot, StoreError> {
        let mut s = Snapshot {
            ids: String::new(),
            id_starts: vec![0],
            summaries: Vec::new(),
            docs: String::new(),
            doc_starts: vec![0],
            name: Terms::default(),
            address: Terms::default(),
            ic: Terms::default(),
            name_of: Forward {
                ords: Vec::new(),
                starts: vec![0],
            },
            address_of: Forward {
                ords: Vec::new(),
                starts: vec![0],
            },
            ic_of: Vec::new(),
            records: Vec::new(),
            record_starts: vec![0],
            overlay: Mutex::new(None),
        };
        // The box records, in the same (box ID) order as `idx_doc`: each
        // index entry takes the record of its key, if any.
        let mut records = store
            .tree(crate::domain::boxes::repo::BOXES)?
            .iter(KeyRange::all(), Order::Ascending)
            .peekable();
        let mut names = TermsBuilder::default();
        let mut addresses = TermsBuilder::default();
        let mut ics = TermsBuilder::default();
        for entry in store.tree(IDX_DOC)?.iter(KeyRange::all(), Order::Ascending) {
            let (key, value) = entry?;
            let (Some(summary), Some(text)) = (Summary::decode(&value), Doc::text_of(&value))
            else {
                continue;
            };
            let doc = Doc::decode_text(text);
            let n = s.summaries.len() as u32;
            // Box IDs are ASCII; the search treats one that is not text
            // as empty.
            s.ids.push_str(std::str::from_utf8(&key).unwrap_or(""));
            s.id_starts.push(s.ids.len() as u32);
            s.summaries.push(summary);
            s.docs.push_str(text);
            s.doc_starts.push(s.docs.len());
            while let Some(Ok((k, _))) = records.peek()
                && k.as_slice() < key.as_slice()
            {
                records.next();
            }
            if let Some(Ok((k, raw))) = records.peek()
                && k.as_slice() == key.as_slice()
                && let Ok(b) = serde_json::from_slice::<DataBox>(raw)
            {
                pack_record(&b, &mut s.records);
            }
            s.record_starts.push(s.records.len());
            for (tokens, builder, forward) in [
                (doc.name_tokens(), &mut names, &mut s.name_of),
                (doc.address_tokens(), &mut addresses, &mut s.address_of),
            ] {
                let mut tokens = tokens;
                tokens.sort_unstable();
                tokens.dedup();
                for t in &tokens {
                    forward.ords.push(builder.add(t, n));
                }
                forward.starts.push(forward.ords.len() as u32);
            }
            s.ic_of.push(if doc.ic.is_empty() {
                u32::MAX
            } else {
                ics.add(&doc.ic, n)
            });
        }
        let (name, rank) = names.finish();
        s.name_of
            .ords
            .iter_mut()
            .for_each(|o| *o = rank[*o as usize]);
        s.name = name;
        let (address, rank) = addresses.finish();
        s.address_of
            .ords
            .iter_mut()
            .for_each(|o| *o = rank[*o as usize]);
        s.address = address;
        let (ic, rank) = ics.finish();
        s.ic_of
            .iter_mut()
            .filter(|o| **o != u32::MAX)
            .for_each(|o| *o = rank[*o as usize]);
        s.ic = ic;
        s.ids.shrink_to_fit();
        s.docs.shrink_to_fit();
        s.records.shrink_to_fit();
        Ok(s)
    }

    /// Box `n`'s record as packed when the snapshot was built.
    fn record(&self, n: usize) -> Option<DataBox> {
        let packed = self
            .records
            .get(self.record_starts[n]..self.record_starts[n + 1])?;
        if packed.is_empty() {
            return None;
        }
        unpack_record(packed)
    }

    fn len(&self) -> usize {
        self.summaries.len()
    }

    /// The fields of box `n`, as `idx_doc` holds them after the summary.
    fn doc_text(&self, n: usize) -> &str {
        self.docs
            .get(self.doc_starts[n]..self.doc_starts[n + 1])
            .unwrap_or("")
    }

    fn id(&self, n: usize) -> &str {
        self.ids
            .get(self.id_starts[n] as usize..self.id_starts[n + 1] as usize)
            .unwrap_or("")
    }

    /// The number of the box with this ID.
    fn find(&self, id: &str) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.id(mid).cmp(id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    fn terms(&self, field: Field) -> &Terms {
        match field {
            Field::Name => &self.name,
            Field::Address => &self.address,
            Field::Ic => &self.ic,
        }
    }

    /// The overlay of the current log: the one built last while the
    /// store's count of writes to the log has not moved since (no read of
    /// the log then), else the log read anew (and laid over the snapshot
    /// again only when it changed).
    fn overlay(&self, store: &dyn Store) -> Result<Arc<Overlay>, StoreError> {
        let log = store.tree(IDX_LOG)?;
        // Read before the log, so a write that lands meanwhile moves it.
        // The count is that handle's: it is compared only for the same
        // handle of the log (a store opened again counts afresh).
        let writes = store.writes_to(IDX_LOG);
        let handle = Arc::downgrade(&log);
        {
            let cached = self.overlay.lock().unwrap_or_else(|p| p.into_inner());
            if let (Some(o), Some(w)) = (cached.as_ref(), writes)
                && o.writes == Some(w)
                && o.log.as_ref().is_some_and(|l| l.ptr_eq(&handle))
            {
                return Ok(Arc::clone(o));
            }
        }
        let raw = log
            .iter(KeyRange::all(), Order::Ascending)
            .collect::<Result<Vec<Entry>, StoreError>>()?;
        let mut cached = self.overlay.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(o) = cached.as_ref()
            && o.raw == raw
        {
            let o = Arc::new(Overlay {
                writes,
                log: Some(handle),
                ..Overlay::clone(o)
            });
            *cached = Some(Arc::clone(&o));
            return Ok(o);
        }
        let mut o = Overlay::build(self, raw);
        o.writes = writes;
        o.log = Some(handle);
        let o = Arc::new(o);
        *cached = Some(Arc::clone(&o));
        Ok(o)
    }
}

/// A box written after the snapshot.
#[derive(Clone)]
struct LoggedBox {
    id: String,
    summary: Summary,
    doc: Doc,
    name: Vec<String>,
    address: Vec<String>,
}

/// The boxes of the log, laid over a snapshot.
#[derive(Default, Clone)]
struct Overlay {
    raw: Vec<Entry>,
    /// The store's count of writes to the log read before `raw` was, and
    /// the handle of the log it counts for (held weakly: it keeps no
    /// store open, but its address is not reused while held).
    writes: Option<u64>,
    log: Option<std::sync::Weak<dyn crate::store::Tree>>,
    /// The boxes that exist, in box-ID order.
    boxes: Vec<LoggedBox>,
    /// Snapshot numbers of boxes the log rewrote or removed.
    superseded: HashSet<u32>,
    /// Token → indices into `boxes`, ascending.
    name: BTreeMap<String, Vec<u32>>,
    address: BTreeMap<String, Vec<u32>>,
    ic: BTreeMap<String, Vec<u32>>,
}

impl Overlay {
    fn build(snap: &Snapshot, raw: Vec<Entry>) -> Overlay {
        let mut o = Overlay::default();
        for (key, value) in &raw {
            let Ok(id) = std::str::from_utf8(key) else {
                continue;
            };
            if let Some(n) = snap.find(id) {
                o.superseded.insert(n as u32);
            }
            let Some((summary, doc)) = Doc::decode(value) else {
                continue;
            };
            let i = o.boxes.len() as u32;
            let mut name = doc.name_tokens();
            name.sort_unstable();
            name.dedup();
            let mut address = doc.address_tokens();
            address.sort_unstable();
            address.dedup();
            for t in &name {
                o.name.entry(t.clone()).or_default().push(i);
            }
            for t in &address {
                o.address.entry(t.clone()).or_default().push(i);
            }
            if !doc.ic.is_empty() {
                o.ic.entry(doc.ic.clone()).or_default().push(i);
            }
            o.boxes.push(LoggedBox {
                id: id.to_owned(),
                summary,
                doc,
                name,
                address,
            });
        }
        o.raw = raw;
        o
    }

    /// Whether the log holds nothing (no box written since the snapshot).
    fn is_empty(&self) -> bool {
        self.boxes.is_empty() && self.superseded.is_empty()
    }

    fn terms(&self, field: Field) -> &BTreeMap<String, Vec<u32>> {
        match field {
            Field::Name => &self.name,
            Field::Address => &self.address,
            Field::Ic => &self.ic,
        }
    }
}

/// A switch for tests: with counting off, [`View::count`] gives `None`
/// and the searches read every clause's postings to choose the driver, so
/// tests can compare that evaluation with the counted one.
#[cfg(test)]
pub(crate) mod counting {
    use std::cell::Cell;

    thread_local! {
        static OFF: Cell<bool> = const { Cell::new(false) };
    }

    pub(crate) fn on() -> bool {
        !OFF.with(Cell::get)
    }

    /// Runs `f` on this thread with counting off.
    pub(crate) fn off<T>(f: impl FnOnce() -> T) -> T {
        OFF.with(|c| c.set(true));
        let out = f();
        OFF.with(|c| c.set(false));
        out
    }
}

/// Which part of a box a search reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Address,
    Ic,
}

/// The place of a field in [`Word::fields`].
fn field_slot(field: Field) -> usize {
    match field {
        Field::Name => 0,
        Field::Address => 1,
        Field::Ic => 2,
    }
}

/// [`View::matches_of`] walks the lists of at most this many tokens.
const MAX_WALKED_TOKENS: usize = 4_096;

/// What testing one box on its tokens costs, in the units of
/// [`walk_cost`]: one random read against entries read in order. Measured
/// on FindDataBox by name at a million boxes (see docs/search.md).
const RANDOM_READ_COST: usize = 24;

/// What testing one box on its tokens costs against marking one posting
/// in a set ([`View::retain_having`]). Measured on FindDataBox by name at
/// a million boxes (see docs/search.md).
const MARK_COST: usize = 40;

/// What finding where a token's postings begin and end costs, in postings
/// marked ([`View::retain_having`]): two binary searches of its list.
const SEEK_COST: usize = 32;

/// The cost of walking a sorted list of `len` entries along `n` sorted
/// boxes: the shorter side is stepped through and the longer searched by
/// galloping, about `log2` of the gap per step.
fn walk_cost(len: usize, n: usize) -> usize {
    let (short, long) = if len < n { (len, n) } else { (n, len) };
    if short == 0 {
        return 1;
    }
    let gap = long / short;
    short * (1 + (usize::BITS - gap.leading_zeros()) as usize) + 1
}

/// Calls `hit(i)` for every `a[i]` that is also in `b`; both ascending
/// without repeats. The shorter steps, the longer gallops (doubling
/// steps, then a binary search), so the work is about the shorter length
/// times the logarithm of the gap.
fn intersect_sorted(a: &[u32], b: &[u32], mut hit: impl FnMut(usize)) {
    // The first index at or after `from` whose entry is not below `x`.
    fn gallop(s: &[u32], from: usize, x: u32) -> usize {
        let mut lo = from;
        let mut step = 1;
        let mut hi = from;
        while hi < s.len() && s[hi] < x {
            lo = hi + 1;
            hi = from + step;
            step *= 2;
        }
        let hi = hi.min(s.len());
        lo + s[lo..hi].partition_point(|&v| v < x)
    }
    if a.len() <= b.len() {
        let mut j = 0;
        for (i, &x) in a.iter().enumerate() {
            j = gallop(b, j, x);
            if j == b.len() {
                return;
            }
            if b[j] == x {
                hit(i);
            }
        }
    } else {
        let mut i = 0;
        for &y in b {
            i = gallop(a, i, y);
            if i == a.len() {
                return;
            }
            if a[i] == y {
                hit(i);
            }
        }
    }
}

/// A box of a [`View`]: snapshot numbers first, then the log's boxes.
pub type BoxNo = u32;

/// One entry of a posting list: the box's number alone. Its
/// [`View::summary`] is read only where a search needs it: reading it for
/// every posting of a long list is a random read each (the summaries of a
/// million boxes are megabytes), and most postings of the driving list
/// fail another clause before their type or state matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posting {
    pub no: BoxNo,
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

/// The box numbers of a word's postings as the snapshot stores them
/// ([`View::postings_slice`]).
#[derive(Debug, Clone, Copy)]
pub struct PostingSlice<'a> {
    /// In (token, box number) order: each token's list ascending.
    pub nos: &'a [BoxNo],
    /// How many tokens' lists `nos` joins: with more than one, a box may
    /// occur more than once, and the whole is not in box order.
    pub lists: usize,
}

/// A search word located in the dictionaries ([`View::word`]).
pub struct Word {
    text: String,
    /// Per field (name, address, IČ): the ordinals of the tokens starting
    /// with the word, and the one equal to it.
    fields: [(std::ops::Range<usize>, Option<usize>); 3],
}

impl Word {
    /// `word` located in the dictionary of `field` alone: the ordinals of
    /// the tokens starting with it and the one equal to it.
    fn in_one(
        word: &str,
        field: Field,
        range: std::ops::Range<usize>,
        equal: Option<usize>,
    ) -> Word {
        let mut fields: [(std::ops::Range<usize>, Option<usize>); 3] =
            [(0..0, None), (0..0, None), (0..0, None)];
        fields[field_slot(field)] = (range, equal);
        Word {
            text: word.to_owned(),
            fields,
        }
    }

    /// The word itself.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// How a word matches the tokens of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    None,
    /// A token starts with the word.
    Prefix,
    /// A token equals the word.
    Exact,
}

/// The index as one search sees it.
pub struct View {
    snap: Arc<Snapshot>,
    overlay: Arc<Overlay>,
}

/// Where a box of a view lives.
enum Place<'a> {
    Snapshot(usize),
    Log(&'a LoggedBox),
}

impl View {
    /// How many boxes the index holds.
    pub fn len(&self) -> usize {
        self.snap.len() - self.overlay.superseded.len() + self.overlay.boxes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One more than the highest box number of the view: a set of its
    /// boxes indexed by number needs this many places.
    pub fn numbers_end(&self) -> usize {
        self.snap.len() + self.overlay.boxes.len()
    }

    /// The bytes the snapshot's arrays take (for size reports).
    pub fn heap_bytes(&self) -> usize {
        let s = &self.snap;
        let terms = |t: &Terms| {
            t.text.capacity()
                + 4 * (t.text_starts.capacity() + t.post_starts.capacity() + t.postings.capacity())
        };
        let forward = |f: &Forward| 4 * (f.ords.capacity() + f.starts.capacity());
        s.ids.capacity()
            + 4 * s.id_starts.capacity()
            + std::mem::size_of::<Summary>() * s.summaries.capacity()
            + s.docs.capacity()
            + std::mem::size_of::<usize>() * s.doc_starts.capacity()
            + terms(&s.name)
            + terms(&s.address)
            + terms(&s.ic)
            + forward(&s.name_of)
            + forward(&s.address_of)
            + 4 * s.ic_of.capacity()
            + s.records.capacity()
            + std::mem::size_of::<usize>() * s.record_starts.capacity()
    }

    fn place(&self, no: BoxNo) -> Place<'_> {
        let n = no as usize;
        match n.checked_sub(self.snap.len()) {
            None => Place::Snapshot(n),
            Some(i) => Place::Log(&self.overlay.boxes[i]),
        }
    }

    /// The box ID.
    pub fn id(&self, no: BoxNo) -> &str {
        match self.place(no) {
            Place::Snapshot(n) => self.snap.id(n),
            Place::Log(b) => &b.id,
        }
    }

    /// Reads the first bytes of what a search reads of each box of `nos`
    /// (its summary, its searchable fields and its ID) in one tight pass:
    /// the reads of many boxes then wait for memory together rather than
    /// one after another, and the work that follows finds them in the
    /// cache. Only a matter of speed; the snapshot's boxes alone.
    pub fn warm(&self, nos: &[BoxNo]) {
        let s = &self.snap;
        let (docs, ids) = (s.docs.as_bytes(), s.ids.as_bytes());
        let mut touched = 0u8;
        for &no in nos {
            let n = no as usize;
            let (Some(summary), Some(&doc), Some(&id)) =
                (s.summaries.get(n), s.doc_starts.get(n), s.id_starts.get(n))
            else {
                continue;
            };
            touched ^= u8::from(summary.public_listing)
                ^ docs.get(doc).copied().unwrap_or(0)
                ^ ids.get(id as usize).copied().unwrap_or(0);
        }
        std::hint::black_box(touched);
    }

    /// [`View::warm`] for the records of the boxes of `nos` (every cache
    /// line of each), which [`View::record_at`] reads.
    pub fn warm_records(&self, nos: &[BoxNo]) {
        let s = &self.snap;
        let mut touched = 0u8;
        for &no in nos {
            let n = no as usize;
            let (Some(&start), Some(&end)) = (s.record_starts.get(n), s.record_starts.get(n + 1))
            else {
                continue;
            };
            for at in (start..end).step_by(64) {
                touched ^= s.records.get(at).copied().unwrap_or(0);
            }
        }
        std::hint::black_box(touched);
    }

    /// [`View::warm`] for the tokens of `field` of each box of `nos`, which
    /// [`View::word_in`] reads.
    fn warm_tokens(&self, field: Field, nos: &[BoxNo]) {
        let s = &self.snap;
        let forward = match field {
            Field::Name => &s.name_of,
            Field::Address => &s.address_of,
            Field::Ic => return,
        };
        let mut touched = 0u32;
        for &no in nos {
            if let Some(&start) = forward.starts.get(no as usize) {
                touched ^= forward.ords.get(start as usize).copied().unwrap_or(0);
            }
        }
        std::hint::black_box(touched);
    }

    pub fn summary(&self, no: BoxNo) -> Summary {
        match self.place(no) {
            Place::Snapshot(n) => self.snap.summaries[n],
            Place::Log(b) => b.summary,
        }
    }

    /// The folded fields.
    pub fn doc(&self, no: BoxNo) -> Doc {
        match self.place(no) {
            Place::Snapshot(n) => Doc::decode_text(self.snap.doc_text(n)),
            Place::Log(b) => b.doc.clone(),
        }
    }

    /// The folded fields, borrowed.
    pub fn fields(&self, no: BoxNo) -> Fields<'_> {
        match self.place(no) {
            Place::Snapshot(n) => Fields::of_text(self.snap.doc_text(n)),
            Place::Log(b) => b.doc.borrowed(),
        }
    }

    /// The distinct tokens of the name or address, or the IČ.
    pub fn tokens(&self, no: BoxNo, field: Field) -> Vec<&str> {
        match self.place(no) {
            Place::Snapshot(n) => {
                let s = &self.snap;
                match field {
                    Field::Name => s
                        .name_of
                        .of(n)
                        .iter()
                        .map(|&o| s.name.token(o as usize))
                        .collect(),
                    Field::Address => s
                        .address_of
                        .of(n)
                        .iter()
                        .map(|&o| s.address.token(o as usize))
                        .collect(),
                    Field::Ic => match s.ic_of[n] {
                        u32::MAX => Vec::new(),
                        o => vec![s.ic.token(o as usize)],
                    },
                }
            }
            Place::Log(b) => match field {
                Field::Name => b.name.iter().map(String::as_str).collect(),
                Field::Address => b.address.iter().map(String::as_str).collect(),
                Field::Ic if b.doc.ic.is_empty() => Vec::new(),
                Field::Ic => vec![b.doc.ic.as_str()],
            },
        }
    }

    /// Where `word` lies in each dictionary, to match boxes against it
    /// with [`View::word_in`].
    pub fn word(&self, word: &str) -> Word {
        let at = |terms: &Terms| {
            let range = terms.range(word, false);
            let exact = (range.start < range.end && terms.token(range.start) == word)
                .then_some(range.start);
            (range, exact)
        };
        Word {
            text: word.to_owned(),
            fields: [
                at(&self.snap.name),
                at(&self.snap.address),
                at(&self.snap.ic),
            ],
        }
    }

    /// Whether a token of `field` of box `no` equals `word` or starts with
    /// it.
    pub fn word_in(&self, word: &Word, no: BoxNo, field: Field) -> Match {
        let slot = field_slot(field);
        match self.place(no) {
            Place::Snapshot(n) => {
                let (range, exact) = &word.fields[slot];
                if range.is_empty() {
                    return Match::None;
                }
                let s = &self.snap;
                let ic;
                let ords: &[u32] = match field {
                    Field::Name => s.name_of.of(n),
                    Field::Address => s.address_of.of(n),
                    Field::Ic => {
                        ic = [s.ic_of[n]];
                        &ic
                    }
                };
                let mut found = Match::None;
                for &o in ords {
                    let o = o as usize;
                    if Some(o) == *exact {
                        return Match::Exact;
                    }
                    if range.contains(&o) {
                        found = Match::Prefix;
                    }
                }
                found
            }
            Place::Log(_) => {
                let mut found = Match::None;
                for t in self.tokens(no, field) {
                    if t == word.text {
                        return Match::Exact;
                    }
                    if t.starts_with(word.text.as_str()) {
                        found = Match::Prefix;
                    }
                }
                found
            }
        }
    }

    /// How each box of `nos` (box numbers in ascending order) has `word`
    /// in `field`, as [`View::word_in`] tells box by box: [`Match::Exact`]
    /// for a token equal to it, [`Match::Prefix`] for one starting with it
    /// (with `exact`, equal tokens only count, so never `Prefix`). The
    /// answer is the same whichever way it is found; the cheaper one is
    /// taken. Testing box by box costs a random read of each box's tokens
    /// (a cache and often a TLB miss in a forward index of hundreds of
    /// megabytes at a million boxes); walking the sorted posting lists of
    /// the word's tokens along the sorted boxes reads memory in order, so
    /// it is chosen while those lists are not much longer than that.
    pub fn matches_of(&self, field: Field, word: &str, exact: bool, nos: &[BoxNo]) -> Vec<Match> {
        let mut out = vec![Match::None; nos.len()];
        if word.is_empty() || nos.is_empty() {
            return out;
        }
        let terms = self.snap.terms(field);
        let range = terms.range(word, exact);
        let equal =
            (range.start < range.end && terms.token(range.start) == word).then_some(range.start);
        // Snapshot boxes come first in `nos`; the log's after them.
        let in_snap = nos.partition_point(|&no| (no as usize) < self.snap.len());
        let cheaper_walking = range.len() <= MAX_WALKED_TOKENS && {
            let n = in_snap;
            let walked: usize = range
                .clone()
                .map(|t| walk_cost(terms.postings_in(t..t + 1), n))
                .sum();
            walked <= n.saturating_mul(RANDOM_READ_COST)
        };
        let word_of = || Word::in_one(word, field, range.clone(), equal);
        let mut located: Option<Word> = None;
        let mut by_box = |i: usize, out: &mut Vec<Match>| {
            let w = located.get_or_insert_with(word_of);
            out[i] = match self.word_in(w, nos[i], field) {
                Match::Prefix if exact => Match::None,
                m => m,
            };
        };
        if cheaper_walking {
            for t in range.clone() {
                let found = if Some(t) == equal {
                    Match::Exact
                } else {
                    Match::Prefix
                };
                intersect_sorted(&nos[..in_snap], terms.postings_of(t), |i| {
                    if out[i] != Match::Exact {
                        out[i] = found;
                    }
                });
            }
        } else {
            for i in 0..in_snap {
                by_box(i, &mut out);
            }
        }
        for i in in_snap..nos.len() {
            by_box(i, &mut out);
        }
        out
    }

    /// Keeps of `nos` (box numbers in any order, each once; the order is
    /// kept) the boxes that have a token of `field` starting with `word`
    /// (equal to it, with `exact`): those for which [`View::matches_of`]
    /// finds a match, without telling how. The snapshot's boxes are found
    /// by marking the postings of the word's tokens that fall between the
    /// lowest and the highest of them in `set` (reading the lists in
    /// order, a bit per posting in a set that stays in the cache), unless
    /// testing each box on its own tokens costs less ([`MARK_COST`]); the
    /// log's boxes are tested on their tokens. `set` holds this view's box
    /// numbers, comes empty and is left empty.
    pub fn retain_having(
        &self,
        field: Field,
        word: &str,
        exact: bool,
        nos: &mut Vec<BoxNo>,
        set: &mut FixedBitSet,
    ) {
        if nos.is_empty() {
            return;
        }
        if word.is_empty() {
            nos.clear();
            return;
        }
        let terms = self.snap.terms(field);
        let range = terms.range(word, exact);
        let equal =
            (range.start < range.end && terms.token(range.start) == word).then_some(range.start);
        let located = Word::in_one(word, field, range.clone(), equal);
        let has = |no: BoxNo| match self.word_in(&located, no, field) {
            Match::None => false,
            Match::Prefix => !exact,
            Match::Exact => true,
        };
        let snap_len = self.snap.len();
        // The snapshot's boxes among `nos`, and the span of their numbers.
        let (mut first, mut last, mut in_snap) = (BoxNo::MAX, 0, 0usize);
        for &no in nos.iter() {
            if (no as usize) < snap_len {
                first = first.min(no);
                last = last.max(no);
                in_snap += 1;
            }
        }
        // The postings between the lowest and the highest box, estimated
        // as their share of all boxes, each a bit set in order, and a
        // dictionary search per token to find them; against a random read
        // of each box's tokens.
        let window = if in_snap == 0 {
            0
        } else {
            (last - first) as usize + 1
        };
        let marked = terms
            .postings_in(range.clone())
            .saturating_mul(window)
            .checked_div(snap_len)
            .unwrap_or(0);
        let marking = marked + range.len() * SEEK_COST;
        if in_snap == 0 || marking > in_snap.saturating_mul(MARK_COST) {
            self.warm_tokens(field, nos);
            nos.retain(|&no| has(no));
            return;
        }
        let hi = first as usize + window - 1;
        for t in range {
            let list = terms.postings_of(t);
            let from = list.partition_point(|&no| no < first);
            let to = from + list[from..].partition_point(|&no| no as usize <= hi);
            for &no in &list[from..to] {
                set.insert(no as usize);
            }
        }
        nos.retain(|&no| {
            if (no as usize) < snap_len {
                set.contains(no as usize)
            } else {
                has(no)
            }
        });
        // Only the window's bits were set: its blocks are cleared whole
        // (a fill the compiler turns into a memset; `remove_range` masks
        // block by block).
        let bits = usize::BITS as usize;
        match set
            .as_mut_slice()
            .get_mut(first as usize / bits..=hi / bits)
        {
            Some(blocks) => blocks.fill(0),
            None => set.clear(),
        }
    }

    /// How many postings [`View::postings`] would give without a limit,
    /// without reading the postings: the snapshot's count from its
    /// dictionary's offsets, less the postings of the boxes the log
    /// supersedes (from their own tokens: each token of a box is one
    /// posting), plus the log's own postings. `None` only where a test
    /// turns counting off to exercise the evaluation that reads.
    pub fn count(&self, field: Field, prefix: &str, exact: bool) -> Option<usize> {
        #[cfg(test)]
        if !counting::on() {
            return None;
        }
        if prefix.is_empty() {
            return Some(0);
        }
        let terms = self.snap.terms(field);
        let range = terms.range(prefix, exact);
        let mut n = terms.postings_in(range.clone());
        if self.overlay.is_empty() {
            return Some(n);
        }
        let s = &self.snap;
        for &b in &self.overlay.superseded {
            let b = b as usize;
            let ic;
            let ords: &[u32] = match field {
                Field::Name => s.name_of.of(b),
                Field::Address => s.address_of.of(b),
                Field::Ic => {
                    ic = [s.ic_of[b]];
                    &ic
                }
            };
            // A box without an IČ has `u32::MAX`, outside every range.
            n -= ords
                .iter()
                .filter(|&&o| range.contains(&(o as usize)))
                .count();
        }
        n += self
            .overlay
            .terms(field)
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(t, _)| {
                if exact {
                    t.as_str() == prefix
                } else {
                    t.starts_with(prefix)
                }
            })
            .map(|(_, list)| list.len())
            .sum::<usize>();
        Some(n)
    }

    /// Orders two boxes by box ID: snapshot numbers follow box-ID order, so
    /// only boxes of the log need their IDs compared (as text).
    pub fn cmp_ids(&self, a: BoxNo, b: BoxNo) -> std::cmp::Ordering {
        let base = self.snap.len() as BoxNo;
        if a < base && b < base {
            a.cmp(&b)
        } else {
            self.id(a).cmp(self.id(b))
        }
    }

    /// The record of the box with this ID as the snapshot keeps it, when
    /// no write since the snapshot replaced it (the log names every box
    /// whose record changed); `None` otherwise: the store has it.
    pub fn record(&self, id: &str) -> Option<DataBox> {
        let n = self.snap.find(id)?;
        if self.overlay.superseded.contains(&(n as u32)) {
            return None;
        }
        self.snap.record(n)
    }

    /// [`View::record`] of the box `id`, read at `no` when that snapshot
    /// number still names it (a number from a search of this view, or of
    /// an earlier one whose snapshot is still current), found by its ID
    /// otherwise.
    pub fn record_at(&self, id: &str, no: BoxNo) -> Option<DataBox> {
        let n = no as usize;
        if n < self.snap.len() && self.snap.id(n) == id {
            if self.overlay.superseded.contains(&no) {
                return None;
            }
            return self.snap.record(n);
        }
        self.record(id)
    }

    /// The box with exactly this ID.
    pub fn find(&self, id: &str) -> Option<BoxNo> {
        let logged = self
            .overlay
            .boxes
            .binary_search_by(|b| b.id.as_str().cmp(id))
            .ok()
            .map(|i| (self.snap.len() + i) as BoxNo);
        logged.or_else(|| {
            self.snap
                .find(id)
                .map(|n| n as BoxNo)
                .filter(|n| !self.overlay.superseded.contains(n))
        })
    }

    /// The box numbers of [`View::postings`] (without a bound) where they
    /// lie, when the snapshot alone holds them: the lists of a field's
    /// tokens are stored one after another in token order, so those of
    /// the tokens starting with `prefix` are one slice, read without a
    /// copy. `None` while the log holds boxes ([`View::postings`] merges
    /// the two).
    pub fn postings_slice(
        &self,
        field: Field,
        prefix: &str,
        exact: bool,
    ) -> Option<PostingSlice<'_>> {
        if !self.overlay.is_empty() {
            return None;
        }
        if prefix.is_empty() {
            return Some(PostingSlice { nos: &[], lists: 0 });
        }
        let terms = self.snap.terms(field);
        let range = terms.range(prefix, exact);
        Some(PostingSlice {
            lists: range.len(),
            nos: terms.postings_of_range(range),
        })
    }

    /// The postings of `field` whose token starts with `prefix` (or equals
    /// it, with `exact`), in (token, box ID) order, at most `limit` of them
    /// (`truncated` tells whether more exist).
    pub fn postings(&self, field: Field, prefix: &str, exact: bool, limit: usize) -> Postings {
        let mut out = Postings::default();
        if prefix.is_empty() {
            return out;
        }
        let base = self.snap.terms(field);
        let mut b = base.range(prefix, exact);
        if self.overlay.is_empty() {
            // The snapshot alone: its lists in token order, copied as they
            // are (the general merge below gives the same, slower).
            out.items.reserve(limit.min(base.postings_in(b.clone())));
            for t in b {
                let exact = base.token(t) == prefix;
                let list = base.postings_of(t);
                let room = limit - out.items.len();
                let taken = &list[..list.len().min(room)];
                out.items
                    .extend(taken.iter().map(|&no| Posting { no, exact }));
                if taken.len() < list.len() {
                    out.truncated = true;
                    return out;
                }
            }
            return out;
        }
        let logged = self.overlay.terms(field);
        let mut l = logged
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(t, _)| {
                if exact {
                    t.as_str() == prefix
                } else {
                    t.starts_with(prefix)
                }
            })
            .peekable();
        let superseded = &self.overlay.superseded;
        let log_base = self.snap.len() as u32;
        let push = |out: &mut Postings, no: BoxNo, token: &str| -> bool {
            if out.items.len() >= limit {
                out.truncated = true;
                return false;
            }
            out.items.push(Posting {
                no,
                exact: token == prefix,
            });
            true
        };
        loop {
            let base_token = (b.start < b.end).then(|| base.token(b.start));
            let log_token = l.peek().map(|(t, _)| t.as_str());
            let (from_base, from_log) = match (base_token, log_token) {
                (None, None) => return out,
                (Some(_), None) => (true, false),
                (None, Some(_)) => (false, true),
                (Some(x), Some(y)) => (x <= y, y <= x),
            };
            let token = if from_base {
                base_token.unwrap_or_default()
            } else {
                log_token.unwrap_or_default()
            };
            let base_list: &[u32] = if from_base {
                base.postings_of(b.start)
            } else {
                &[]
            };
            let log_list: &[u32] = match (from_log, l.peek()) {
                (true, Some((_, list))) => list.as_slice(),
                _ => &[],
            };
            let mut bi = base_list
                .iter()
                .copied()
                .filter(|n| superseded.is_empty() || !superseded.contains(n))
                .peekable();
            let mut li = log_list.iter().map(|&i| log_base + i).peekable();
            loop {
                let next = match (bi.peek(), li.peek()) {
                    (None, None) => break,
                    (Some(_), None) => bi.next(),
                    (None, Some(_)) => li.next(),
                    (Some(&x), Some(&y)) => {
                        if self.id(x) < self.id(y) {
                            bi.next()
                        } else {
                            li.next()
                        }
                    }
                };
                if let Some(no) = next
                    && !push(&mut out, no, token)
                {
                    return out;
                }
            }
            if from_base {
                b.start += 1;
            }
            if from_log {
                l.next();
            }
        }
    }
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

    fn ids(v: &View, p: &Postings) -> Vec<String> {
        p.items.iter().map(|i| v.id(i.no).to_owned()).collect()
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
        let v = view(store.as_ref()).unwrap();
        let p = v.postings(Field::Name, "nov", false, 10);
        assert_eq!(p.items.len(), 1);
        assert!(!p.items[0].exact);
        let p = v.postings(Field::Name, "novak", true, 10);
        assert!(p.items[0].exact);

        let mut c = b.clone();
        c.owner.firm_name = "Dvořák Stavby s.r.o.".into();
        c.state = BoxState::TemporarilyInaccessible;
        let mut batch = Batch::new();
        stage_update(&mut batch, &b, &c);
        store.apply(batch).unwrap();
        let v = view(store.as_ref()).unwrap();
        assert!(v.postings(Field::Name, "novak", false, 10).items.is_empty());
        let p = v.postings(Field::Name, "stavby", true, 10);
        assert_eq!(
            v.summary(p.items[0].no).state,
            BoxState::TemporarilyInaccessible
        );
        let p = v.postings(Field::Address, "udol", false, 10);
        assert_eq!(
            v.summary(p.items[0].no).state,
            BoxState::TemporarilyInaccessible
        );
        let no = v.find("abcdefg").unwrap();
        assert_eq!(v.summary(no).state, BoxState::TemporarilyInaccessible);
        assert_eq!(v.doc(no).firm, "dvorak stavby s.r.o.");

        let mut batch = Batch::new();
        stage_remove(&mut batch, &c);
        store.apply(batch).unwrap();
        let v = view(store.as_ref()).unwrap();
        assert!(v.find("abcdefg").is_none());
        assert!(
            v.postings(Field::Name, "stavby", false, 10)
                .items
                .is_empty()
        );
    }

    #[test]
    fn the_log_over_a_snapshot_keeps_box_id_order_and_hides_old_versions() {
        let store = open_memory();
        let mut batch = Batch::new();
        for id in ["aaaaaa1", "aaaaaa3", "aaaaaa5"] {
            batch.put(
                "boxes",
                id,
                serde_json::to_vec(&a_box(id, "Novák", "Brno")).unwrap(),
            );
            stage_bulk_insert(&mut batch, &a_box(id, "Novák", "Brno"));
        }
        store.apply(batch).unwrap();
        assert_eq!(prepare(store.as_ref()).unwrap(), 0);
        // After the snapshot: a new box between two old ones, one old box
        // renamed, one with a longer word of the same prefix.
        let mut batch = Batch::new();
        let (new, renamed, longer) = (
            a_box("aaaaaa2", "Novák", "Brno"),
            a_box("aaaaaa3", "Dvořák", "Brno"),
            a_box("aaaaaa0", "Nováková", "Brno"),
        );
        stage_insert(&mut batch, &new);
        stage_update(&mut batch, &a_box("aaaaaa3", "Novák", "Brno"), &renamed);
        stage_insert(&mut batch, &longer);
        for b in [&new, &renamed, &longer] {
            batch.put("boxes", b.id.as_str(), serde_json::to_vec(b).unwrap());
        }
        store.apply(batch).unwrap();
        let v = view(store.as_ref()).unwrap();
        let p = v.postings(Field::Name, "novak", false, 10);
        assert_eq!(ids(&v, &p), ["aaaaaa1", "aaaaaa2", "aaaaaa5", "aaaaaa0"]);
        assert_eq!(
            p.items.iter().map(|i| i.exact).collect::<Vec<_>>(),
            [true, true, true, false]
        );
        let p = v.postings(Field::Name, "novak", false, 2);
        assert_eq!(ids(&v, &p), ["aaaaaa1", "aaaaaa2"]);
        assert!(p.truncated);
        // Counted with the log laid over: what reading gives, for the
        // words the log adds (dvorak), moves (novak, novakova) and leaves.
        for (field, word, exact) in [
            (Field::Name, "novak", false),
            (Field::Name, "novak", true),
            (Field::Name, "novakova", true),
            (Field::Name, "dvorak", false),
            (Field::Name, "n", false),
            (Field::Name, "zz", false),
            (Field::Address, "brno", true),
            (Field::Address, "br", false),
            (Field::Ic, "27074358", true),
            (Field::Ic, "2707", false),
        ] {
            assert_eq!(
                v.count(field, word, exact),
                Some(v.postings(field, word, exact, usize::MAX).items.len()),
                "{word} {exact}"
            );
        }
        assert_eq!(v.count(Field::Name, "novak", false), Some(4));
        assert_eq!(v.count(Field::Name, "dvorak", true), Some(1));
        // Records: the snapshot's copy for a box the log left alone, none
        // for one it rewrote (the store has that).
        assert_eq!(v.record("aaaaaa1"), Some(a_box("aaaaaa1", "Novák", "Brno")));
        assert_eq!(v.record("aaaaaa3"), None);
        assert_eq!(v.record("aaaaaa2"), None);
        assert_eq!(v.doc(v.find("aaaaaa3").unwrap()).firm, "dvorak");
        // A new start folds the log into the snapshot.
        prepare(store.as_ref()).unwrap();
        assert!(
            store
                .tree(IDX_LOG)
                .unwrap()
                .first_in(KeyRange::all(), Order::Ascending)
                .unwrap()
                .is_none()
        );
        let v = view(store.as_ref()).unwrap();
        let p = v.postings(Field::Name, "novak", false, 10);
        assert_eq!(ids(&v, &p), ["aaaaaa1", "aaaaaa2", "aaaaaa5", "aaaaaa0"]);
    }

    #[test]
    fn records_pack_and_unpack_whole() {
        let mut b = a_box("abcdefg", "Firma", "Brno");
        let o = &mut b.owner;
        for (i, f) in [
            &mut o.first_name,
            &mut o.last_name,
            &mut o.birth_date,
            &mut o.birth_city,
            &mut o.birth_county,
            &mut o.birth_state,
            &mut o.last_name_at_birth,
            &mut o.address_code,
            &mut o.nationality,
            &mut o.email,
            &mut o.telephone,
            &mut o.identifier,
            &mut o.registry_code,
            &mut o.id_ovm,
            &mut o.address.district,
            &mut o.address.number_in_municipality,
            &mut o.address.state,
        ]
        .into_iter()
        .enumerate()
        {
            *f = format!("Žluťoučký {i}");
        }
        b.box_type = BoxType::OVM_PFO;
        b.state = BoxState::TemporarilyInaccessible;
        b.effective_ovm = true;
        b.open_addressing = false;
        b.attachment_limit_mb = 400;
        b.unlimited_password_validity = true;
        b.public_listing = false;
        let mut packed = Vec::new();
        pack_record(&b, &mut packed);
        assert_eq!(unpack_record(&packed), Some(b.clone()));
        // Any text is kept whole, the index's field separator included,
        // and records packed one after another unpack each alone.
        let mut other = b.clone();
        other.owner.email = "a\u{1f}b".into();
        let first = packed.len();
        pack_record(&other, &mut packed);
        assert_eq!(unpack_record(&packed[..first]), Some(b));
        assert_eq!(unpack_record(&packed[first..]), Some(other));
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
        assert_eq!(prepare(store.as_ref()).unwrap(), 1);
        assert_eq!(prepare(store.as_ref()).unwrap(), 0);
        let v = view(store.as_ref()).unwrap();
        let p = v.postings(Field::Name, "stara", true, 10);
        assert_eq!(p.items.len(), 1);
    }

    #[test]
    fn narrowing_keeps_the_boxes_that_matching_finds() {
        // A snapshot of boxes named from a few words, some renamed and some
        // added in the log after it.
        let words = ["Novák", "Nováková", "Novotný", "Dvořák", "Stavby", "Brno"];
        let name = |i: usize| format!("{} {}", words[i % 6], words[(i / 6) % 6]);
        let id = |i: usize| format!("a{i:06}");
        let store = open_memory();
        let mut batch = Batch::new();
        for i in 0..400 {
            let b = a_box(&id(i), &name(i), if i % 3 == 0 { "Brno" } else { "Praha" });
            batch.put("boxes", b.id.as_str(), serde_json::to_vec(&b).unwrap());
            stage_bulk_insert(&mut batch, &b);
        }
        store.apply(batch).unwrap();
        prepare(store.as_ref()).unwrap();
        let mut batch = Batch::new();
        for i in (0..400).step_by(7) {
            let (old, new) = (
                a_box(&id(i), &name(i), if i % 3 == 0 { "Brno" } else { "Praha" }),
                a_box(&id(i), &name(i + 1), "Brno"),
            );
            stage_update(&mut batch, &old, &new);
            batch.put("boxes", new.id.as_str(), serde_json::to_vec(&new).unwrap());
        }
        for i in 400..430 {
            let b = a_box(&id(i), &name(i), "Praha");
            stage_insert(&mut batch, &b);
            batch.put("boxes", b.id.as_str(), serde_json::to_vec(&b).unwrap());
        }
        store.apply(batch).unwrap();
        let v = view(store.as_ref()).unwrap();
        let all: Vec<BoxNo> = (0..v.numbers_end() as BoxNo)
            .filter(|&no| v.find(v.id(no)) == Some(no))
            .collect();
        let mut set = FixedBitSet::with_capacity(v.numbers_end());
        for (field, word, exact) in [
            (Field::Name, "novak", false),
            (Field::Name, "novak", true),
            (Field::Name, "nov", false),
            (Field::Name, "stavby", true),
            (Field::Name, "zz", false),
            (Field::Address, "brno", true),
            (Field::Address, "pr", false),
        ] {
            // Every box, a few, one, and the same in a scattered order:
            // marking postings for the many, each box's tokens for the few.
            let few: Vec<BoxNo> = all.iter().copied().step_by(37).collect();
            let one = vec![all[all.len() / 2]];
            let mut scattered = all.clone();
            scattered.reverse();
            scattered.rotate_left(all.len() / 3);
            for nos in [all.clone(), few, one, scattered] {
                let mut sorted = nos.clone();
                sorted.sort_unstable();
                let found = v.matches_of(field, word, exact, &sorted);
                let expected: Vec<BoxNo> = nos
                    .iter()
                    .copied()
                    .filter(|no| found[sorted.binary_search(no).unwrap()] != Match::None)
                    .collect();
                let mut kept = nos.clone();
                v.retain_having(field, word, exact, &mut kept, &mut set);
                assert_eq!(kept, expected, "{word} {exact} of {} boxes", nos.len());
                assert!(set.is_clear(), "{word}: the set is left empty");
            }
        }
    }

    #[test]
    fn sorted_lists_intersect_as_a_plain_search_would() {
        // Lists of every density against each other, both ways round.
        let lists: Vec<Vec<u32>> = vec![
            vec![],
            vec![7],
            (0..50).map(|i| i * 3).collect(),
            (0..400).map(|i| i * 2 + 1).collect(),
            (0..1000).collect(),
            vec![0, 1, 2, 500, 998, 999, 5000],
        ];
        for a in &lists {
            for b in &lists {
                let mut hits = Vec::new();
                intersect_sorted(a, b, |i| hits.push(i));
                let want: Vec<usize> = (0..a.len()).filter(|&i| b.contains(&a[i])).collect();
                assert_eq!(hits, want, "{a:?} against {b:?}");
            }
        }
    }

    #[test]
    fn postings_are_bounded() {
        let store = open_memory();
        let mut batch = Batch::new();
        for i in 0..5 {
            stage_insert(&mut batch, &a_box(&format!("abcdef{i}"), "Novák", "Brno"));
        }
        store.apply(batch).unwrap();
        let v = view(store.as_ref()).unwrap();
        let p = v.postings(Field::Address, "brno", true, 3);
        assert_eq!(p.items.len(), 3);
        assert!(p.truncated);
        let p = v.postings(Field::Ic, "27074358", true, 10);
        assert_eq!(p.items.len(), 5);
        assert!(!p.truncated);
    }
}
