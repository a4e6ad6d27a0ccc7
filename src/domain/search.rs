//! Box search as ISDS does it: who sees which boxes, the type scopes, what
//! a searcher may send to a box found, and the evaluation of parametric
//! (FindDataBox) and full-text (ISDSSearch2/3) searches over the index of
//! [`crate::domain::boxes::search_index`].
//!
//! # Who sees what
//! The owner of a box may forbid listing it in the public list of boxes
//! (in ISDS only FO owners can). Following ISDS's description of the
//! full-text search, searchers whose own box is not (effectively) OVM do
//! not find a non-OVM box that forbade listing and accepts no commercial
//! messages (`dbOpenAddressing` false): such a box is reachable only by
//! its exact ID (FindDataBox by `dbID`, CheckDataBox, full-text search of
//! type DBID). OVM searchers find every box. Inaccessible boxes (states
//! 2–6) are found with their state; the full-text results mark them
//! `DISABLED`.
//!
//! # Evaluation
//! A search is a conjunction of *clauses* (a query word, a criterion's
//! word), each a union of index scans (*terms*). The clause with the
//! smallest posting list drives: clauses are scanned in turn, each only as
//! far as the smallest seen so far ([`CANDIDATE_LIMIT`] at most), so a
//! common word costs no more than a rare one. While no box was written
//! since the in-memory index was built (the usual case), the dictionary
//! gives every clause's posting count without reading it, so the same
//! driver is chosen from the counts and only the lists used are read. The driver's postings are
//! filtered by their summaries (type scope, visibility) and the remaining
//! candidates checked against every other clause, the rarest first
//! ([`View::matches_of`]): by walking the sorted posting lists of the
//! clause's tokens along the candidates sorted by box number (memory read
//! in order) or, where those lists are far longer, on each candidate's own
//! tokens. Both give the same answer. The work is bounded by [`CANDIDATE_LIMIT`] whatever
//! the size of the store; a search whose every clause matches more boxes
//! than that is answered from the first [`CANDIDATE_LIMIT`] candidates and
//! reported as truncated.

use crate::domain::boxes::databox::{BoxId, BoxState, BoxType, DataBox};
use crate::domain::boxes::repo::{self, RepoError};
use crate::domain::boxes::search_index::{
    self as idx, BoxNo, Field, Fields, Match, Posting, Summary, View, digits, fold, tokens,
};
use crate::store::{Store, StoreError};
use fixedbitset::FixedBitSet;
use std::cell::RefCell;

/// The most postings a search reads from its driving clause.
pub const CANDIDATE_LIMIT: usize = 20_000;

/// The most boxes FindDataBox, FindDataBox2 and FindPersonalDataBox
/// return; more matches are reported as truncated (0003). No public source
/// gives ISDS's number; 100 is the gateway's choice.
pub const FIND_LIMIT: usize = 100;

/// The driving postings a parametric search narrows and reads first; each
/// further run is twice the one before (see [`find`]).
const FIRST_RUN: usize = 1_024;

/// How many of a run's surviving candidates are warmed ([`View::warm`])
/// and read at a time: enough cache misses overlap, and an answer that is
/// full early leaves the rest of the run untouched.
const WARMED_AT_ONCE: usize = 128;

/// Who searches: whether their box is (effectively) OVM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Searcher {
    pub ovm: bool,
}

/// Whether `searcher` finds a box with summary `s` by anything but its
/// exact ID.
pub fn visible(s: &Summary, searcher: Searcher) -> bool {
    searcher.ovm || is_ovm(s) || s.public_listing || s.open_addressing
}

/// OVM by type or in the role of an OVM (`dbEffectiveOVM`).
pub fn is_ovm(s: &Summary) -> bool {
    s.box_type.is_ovm() || s.effective_ovm
}

/// What a searcher can send to a box (`dbSendOptions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOptions {
    /// Public (non-commercial) messages only.
    Dz,
    /// Public and commercial messages.
    All,
    /// Commercial messages only.
    Pdz,
    /// Nothing.
    None,
    /// The box is not accessible.
    Disabled,
}

impl SendOptions {
    pub fn name(self) -> &'static str {
        match self {
            SendOptions::Dz => "DZ",
            SendOptions::All => "ALL",
            SendOptions::Pdz => "PDZ",
            SendOptions::None => "NONE",
            SendOptions::Disabled => "DISABLED",
        }
    }
}

/// What `searcher` can send to the box of summary `target`: public
/// messages go to OVM boxes from anyone and from OVM boxes to anyone;
/// commercial messages to boxes that accept them (open addressing). Only
/// accessible boxes receive anything.
pub fn send_options(target: &Summary, searcher: Searcher) -> SendOptions {
    if target.state != BoxState::Accessible {
        return SendOptions::Disabled;
    }
    let public = searcher.ovm || is_ovm(target);
    let commercial = target.open_addressing;
    match (public, commercial) {
        (true, true) => SendOptions::All,
        (true, false) => SendOptions::Dz,
        (false, true) => SendOptions::Pdz,
        (false, false) => SendOptions::None,
    }
}

/// The gross type of a box type (the four families ISDS's search rules
/// distinguish).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gross {
    Ovm,
    Po,
    Pfo,
    Fo,
}

pub fn gross(t: BoxType) -> Gross {
    match t.code() {
        10..=19 => Gross::Ovm,
        20..=29 => Gross::Po,
        40 => Gross::Fo,
        _ => Gross::Pfo,
    }
}

/// A restriction of box types (`searchScope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every type.
    All,
    /// OVM boxes of every kind and boxes in the role of an OVM.
    Ovm,
    /// Main OVM boxes (type OVM) only.
    OvmMain,
    /// Legal persons, those in the role of an OVM too (PO, PO_ZAK, PO_REQ,
    /// OVM_PO).
    Po,
    /// Persons in business, those in the role of an OVM too (PFO*,
    /// OVM_PFO).
    Pfo,
    /// Exactly this type.
    Type(BoxType),
}

impl Scope {
    /// The scope named `name`; nil or empty is ALL. `None` for an unknown
    /// name.
    ///
    /// The search manual (WS_vyhledavani_datovych_schranek, ISDSSearch2,
    /// "Vstupní parametry") keeps the old types working: PO_ZAK searches
    /// among PO, OVM_NOTAR and OVM_EXEKUT among OVM_PFO, and OVM_PO among
    /// OVM. PFO_INSSPR, which 3.11's list dropped, still names its type.
    /// PO_BASE and PFO_BASE (3.11) are virtual types the manuals do not
    /// describe; the XSD's change log names them next to OVM_MAIN ("only
    /// main OVM boxes, without subordinate ones"), so the gateway reads
    /// them alike: the base type PO or PFO alone, without its subtypes.
    pub fn parse(name: Option<&str>) -> Option<Scope> {
        let name = name.map(str::trim).unwrap_or("");
        Some(match name {
            "" | "ALL" => Scope::All,
            "OVM" | "OVM_PO" => Scope::Ovm,
            "OVM_MAIN" => Scope::OvmMain,
            "PO" | "PO_ZAK" => Scope::Po,
            "PFO" => Scope::Pfo,
            "PO_BASE" => Scope::Type(BoxType::PO),
            "PFO_BASE" => Scope::Type(BoxType::PFO),
            "OVM_NOTAR" | "OVM_EXEKUT" => Scope::Type(BoxType::OVM_PFO),
            other => Scope::Type(BoxType::from_name(other)?),
        })
    }

    pub fn contains(self, s: &Summary) -> bool {
        let t = s.box_type;
        match self {
            Scope::All => true,
            Scope::Ovm => is_ovm(s),
            Scope::OvmMain => t == BoxType::OVM,
            Scope::Po => gross(t) == Gross::Po || t == BoxType::OVM_PO,
            Scope::Pfo => gross(t) == Gross::Pfo || t == BoxType::OVM_PFO,
            Scope::Type(x) => t == x,
        }
    }
}

/// One index scan of a clause.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Index {
        field: Field,
        word: String,
        exact: bool,
    },
    /// The box of this exact ID.
    BoxId(String),
}

/// Boxes matching any of its terms.
type Clause = Vec<Term>;

/// A posting with the term that produced it.
#[derive(Debug, Clone)]
struct Candidate {
    posting: Posting,
    field: Option<Field>,
}

/// The postings of a clause, at most `limit` (`.1`: more exist).
fn collect(view: &View, clause: &Clause, limit: usize) -> (Vec<Candidate>, bool) {
    let mut out = Vec::new();
    for term in clause {
        let room = limit.saturating_sub(out.len());
        match term {
            Term::Index { field, word, exact } => {
                let p = view.postings(*field, word, *exact, room);
                out.extend(p.items.into_iter().map(|posting| Candidate {
                    posting,
                    field: Some(*field),
                }));
                if p.truncated {
                    return (out, true);
                }
            }
            Term::BoxId(id) => {
                if let Some(no) = view.find(id) {
                    if room == 0 {
                        return (out, true);
                    }
                    out.push(Candidate {
                        posting: Posting { no, exact: true },
                        field: None,
                    });
                }
            }
        }
    }
    (out, false)
}

/// The result of scanning one clause.
#[derive(Debug, Clone, Default)]
struct Scan {
    candidates: Vec<Candidate>,
    /// The clause has more postings than were read.
    truncated: bool,
}

/// The driving clause (the one with the fewest postings) and what was read
/// or counted of every clause while finding it, so nothing is read twice.
struct Driver {
    clause: usize,
    candidates: Vec<Candidate>,
    truncated: bool,
}

/// Scans the clauses in the given order, each only as far as the shortest
/// so far.
fn drive(view: &View, clauses: &[Clause], order: &[usize]) -> Option<Driver> {
    if let Some(driver) = drive_counted(view, clauses, order) {
        return driver;
    }
    let mut scans: Vec<Option<Scan>> = vec![None; clauses.len()];
    let mut best: Option<usize> = None;
    for &i in order {
        let limit = match best.and_then(|b| scans[b].as_ref()) {
            Some(b) if !b.truncated => b.candidates.len(),
            _ => CANDIDATE_LIMIT,
        };
        let (candidates, truncated) = collect(view, &clauses[i], limit);
        let better = match best.and_then(|b| scans[b].as_ref()) {
            None => true,
            Some(b) => !truncated && (b.truncated || candidates.len() < b.candidates.len()),
        };
        let empty = candidates.is_empty() && !truncated;
        scans[i] = Some(Scan {
            candidates,
            truncated,
        });
        if better {
            best = Some(i);
        }
        if empty {
            break;
        }
    }
    let clause = best?;
    let scan = scans[clause].take().unwrap_or_default();
    Some(Driver {
        clause,
        candidates: scan.candidates,
        truncated: scan.truncated,
    })
}

/// How many postings a clause has, from the dictionary alone; `None` when
/// the index cannot count them ([`View::count`]).
fn clause_count(view: &View, clause: &Clause) -> Option<usize> {
    let mut n = 0usize;
    for term in clause {
        n += match term {
            Term::Index { field, word, exact } => view.count(*field, word, *exact)?,
            Term::BoxId(id) => usize::from(view.find(id).is_some()),
        };
    }
    Some(n)
}

/// [`drive`] from the clauses' posting counts: the same choice of driver
/// (a clause read up to `limit` is truncated exactly when it has more than
/// `limit` postings), reading only the driver's postings. `None` when the
/// counts are not known.
fn drive_counted(view: &View, clauses: &[Clause], order: &[usize]) -> Option<Option<Driver>> {
    Some(choose_counted(view, clauses, order)?.map(|choice| choice.read(view, clauses)))
}

/// The driving clause [`drive_counted`] reads: its postings up to `limit`,
/// more than `limit` exist exactly when `truncated`.
struct Choice {
    clause: usize,
    limit: usize,
    truncated: bool,
}

impl Choice {
    /// The chosen clause's postings, collected.
    fn read(&self, view: &View, clauses: &[Clause]) -> Driver {
        let (candidates, truncated) = collect(view, &clauses[self.clause], self.limit);
        Driver {
            clause: self.clause,
            candidates,
            truncated,
        }
    }
}

/// [`drive`]'s choice of driver from the clauses' posting counts alone
/// (nothing read); `None` when the counts are not known, `Some(None)` when
/// there is no clause.
fn choose_counted(view: &View, clauses: &[Clause], order: &[usize]) -> Option<Option<Choice>> {
    let counts = clauses
        .iter()
        .map(|c| clause_count(view, c))
        .collect::<Option<Vec<usize>>>()?;
    let mut limits: Vec<Option<usize>> = vec![None; clauses.len()];
    // The best so far: (clause, postings read, truncated).
    let mut best: Option<(usize, usize, bool)> = None;
    for &i in order {
        let limit = match best {
            Some((_, len, false)) => len,
            _ => CANDIDATE_LIMIT,
        };
        let truncated = counts[i] > limit;
        let len = counts[i].min(limit);
        let better = match best {
            None => true,
            Some((_, best_len, best_truncated)) => !truncated && (best_truncated || len < best_len),
        };
        limits[i] = Some(limit);
        if better {
            best = Some((i, len, truncated));
        }
        if len == 0 && !truncated {
            break;
        }
    }
    let Some((clause, _, truncated)) = best else {
        return Some(None);
    };
    Some(Some(Choice {
        clause,
        limit: limits[clause]?,
        truncated,
    }))
}

/// The driving postings of [`find`], which needs their box numbers alone.
struct Driving<'v> {
    clause: usize,
    /// At most the clause's limit of them, in posting order.
    nos: std::borrow::Cow<'v, [BoxNo]>,
    /// `nos` may hold a box more than once (see [`idx::PostingSlice`]).
    several_lists: bool,
    /// The clause has more postings than `nos`.
    truncated: bool,
}

/// [`drive`]'s driver for [`find`]: where the counts choose a one-word
/// clause and the snapshot alone holds its postings, the numbers are read
/// where they lie ([`View::postings_slice`]) rather than copied (a driver
/// of 20,000 postings whose answer is full after the first run reads a
/// thousand of them); otherwise [`drive`]'s, collected.
fn driving<'v>(view: &'v View, clauses: &[Clause], order: &[usize]) -> Option<Driving<'v>> {
    let driver = match choose_counted(view, clauses, order) {
        None => drive(view, clauses, order)?,
        Some(choice) => {
            let choice = choice?;
            if let [Term::Index { field, word, exact }] = clauses[choice.clause].as_slice()
                && let Some(slice) = view.postings_slice(*field, word, *exact)
            {
                let nos = &slice.nos[..slice.nos.len().min(choice.limit)];
                return Some(Driving {
                    clause: choice.clause,
                    nos: std::borrow::Cow::Borrowed(nos),
                    several_lists: slice.lists > 1,
                    truncated: choice.truncated,
                });
            }
            choice.read(view, clauses)
        }
    };
    let nos: Vec<BoxNo> = driver.candidates.iter().map(|c| c.posting.no).collect();
    Some(Driving {
        clause: driver.clause,
        several_lists: !nos.windows(2).all(|w| w[0] < w[1]),
        nos: std::borrow::Cow::Owned(nos),
        truncated: driver.truncated,
    })
}

/// Clause order: exact identifiers first, then longer words (rarer, as a
/// rule) before shorter.
fn order_of(clauses: &[Clause]) -> Vec<usize> {
    let weight = |c: &Clause| {
        c.iter()
            .map(|t| match t {
                Term::BoxId(_) => 1000,
                Term::Index {
                    field: Field::Ic,
                    exact: true,
                    ..
                } => 900,
                Term::Index { word, .. } => word.len(),
            })
            .max()
            .unwrap_or(0)
    };
    let mut order: Vec<usize> = (0..clauses.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(weight(&clauses[i])));
    order
}

/// A box found, with its relevance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub id: String,
    /// The box's number in the index view that found it: [`records`]
    /// reads the record there when that number still names the box.
    pub no: BoxNo,
    pub summary: Summary,
    pub score: u32,
}

/// The boxes a search found, best first.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub hits: Vec<Hit>,
    /// How many boxes it found: more than `hits` holds when only the best
    /// were asked for ([`full_text_first`]).
    pub total: usize,
    /// The search matched more than it could examine
    /// ([`CANDIDATE_LIMIT`]) or return.
    pub truncated: bool,
}

/// Where the words of a full-text search are looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextTarget {
    /// Names, addresses, identification numbers and box IDs.
    General,
    /// Addresses only.
    Address,
}

/// A full-text search (searchType GENERAL or ADDRESS).
#[derive(Debug, Clone)]
pub struct TextQuery {
    /// The folded words, each at least two characters.
    pub words: Vec<String>,
    pub target: TextTarget,
    pub scope: Scope,
}

impl TextQuery {
    /// The words of a search phrase: its tokens, each once.
    pub fn words_of(phrase: &str) -> Vec<String> {
        let mut words = Vec::new();
        for t in tokens(phrase) {
            if !words.contains(&t) {
                words.push(t);
            }
        }
        words
    }
}

fn looks_like_box_id(w: &str) -> bool {
    w.len() == 7
        && w.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn looks_like_ic(w: &str) -> bool {
    w.len() == 8 && w.bytes().all(|b| b.is_ascii_digit())
}

/// The points of a candidate for the word of the clause that produced it.
fn posting_score(c: &Candidate) -> u32 {
    match c.field {
        None => 5,
        Some(field) => field_score(field, c.posting.exact),
    }
}

/// The points of a posting of `field`; `exact`: its token equals the word.
fn field_score(field: Field, exact: bool) -> u32 {
    match (field, exact) {
        (Field::Ic, _) => 5,
        (Field::Name, true) => 4,
        (Field::Name, false) => 3,
        (Field::Address, true) => 2,
        (Field::Address, false) => 1,
    }
}

/// Evaluates a full-text search: every word must be found in the box's
/// name or address (not necessarily the same one, in any order), as the
/// beginning of one of its words (which stands in for ISDS's
/// lemmatisation: `brn` finds Brno, `novak` finds Nováková); a word of
/// eight digits also matches the identification number, one of seven
/// letters and digits the box ID. Hits are ordered by relevance (the sum
/// of [`word_score`]), then box ID.
pub fn full_text(store: &dyn Store, q: &TextQuery, who: Searcher) -> Result<Found, StoreError> {
    full_text_first(store, q, who, usize::MAX)
}

/// [`full_text`] returning only the best `first` hits (and the count of
/// all in [`Found::total`]): what a page of results needs.
pub fn full_text_first(
    store: &dyn Store,
    q: &TextQuery,
    who: Searcher,
    first: usize,
) -> Result<Found, StoreError> {
    let view = idx::view(store)?;
    let clauses: Vec<Clause> = q
        .words
        .iter()
        .map(|w| {
            let mut c = vec![Term::Index {
                field: Field::Address,
                word: w.clone(),
                exact: false,
            }];
            if q.target == TextTarget::General {
                c.insert(
                    0,
                    Term::Index {
                        field: Field::Name,
                        word: w.clone(),
                        exact: false,
                    },
                );
                if looks_like_ic(w) {
                    c.push(Term::Index {
                        field: Field::Ic,
                        word: w.clone(),
                        exact: true,
                    });
                }
                if looks_like_box_id(w) {
                    c.push(Term::BoxId(w.clone()));
                }
            }
            c
        })
        .collect();
    let Some(driver) = drive(&view, &clauses, &order_of(&clauses)) else {
        return Ok(Found::default());
    };
    // One entry per box, with the best points of the driving word and
    // whether its exact ID was the word (which finds a box the searcher
    // may not otherwise see).
    let mut boxes: Vec<(BoxNo, u32, bool)> = driver
        .candidates
        .iter()
        .map(|c| (c.posting.no, posting_score(c), c.field.is_none()))
        .collect();
    boxes.sort_unstable_by_key(|b| b.0);
    boxes.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 = kept.1.max(later.1);
            kept.2 |= later.2;
        }
        same
    });
    // Every other word must be found too, and adds its best points: the
    // rarest first, so the later ones test fewer boxes.
    let mut others: Vec<usize> = (0..clauses.len()).filter(|&i| i != driver.clause).collect();
    others.sort_by_key(|&i| clause_count(&view, &clauses[i]).unwrap_or(usize::MAX));
    for i in others {
        if boxes.is_empty() {
            break;
        }
        let nos: Vec<BoxNo> = boxes.iter().map(|b| b.0).collect();
        let points = clause_points(&view, &clauses[i], &nos);
        let mut next = points.into_iter();
        boxes.retain_mut(|b| match next.next().unwrap_or(0) {
            0 => false,
            p => {
                b.1 += p;
                true
            }
        });
    }
    // The scope and who may see a box are read only for the boxes every
    // word found (see [`Posting`]).
    let mut scored: Vec<(BoxNo, Summary, u32)> = boxes
        .into_iter()
        .filter_map(|(no, points, by_id)| {
            let s = view.summary(no);
            (q.scope.contains(&s) && (visible(&s, who) || by_id)).then_some((no, s, points))
        })
        .collect();
    // Only the best `first` are ordered and named: a page needs no more,
    // and the order is total (box IDs are unique), so they are the same.
    let total = scored.len();
    let order = |a: &(BoxNo, Summary, u32), b: &(BoxNo, Summary, u32)| {
        b.2.cmp(&a.2).then_with(|| view.cmp_ids(a.0, b.0))
    };
    if first < scored.len() {
        if first > 0 {
            scored.select_nth_unstable_by(first - 1, order);
        }
        scored.truncate(first);
    }
    scored.sort_unstable_by(order);
    Ok(Found {
        hits: scored
            .into_iter()
            .map(|(no, summary, score)| Hit {
                id: view.id(no).to_owned(),
                no,
                summary,
                score,
            })
            .collect(),
        total,
        truncated: driver.truncated,
    })
}

/// The points of each box of `nos` in `clause` (as [`posting_score`]
/// gives them for its postings; 0 when the clause has none of it): the
/// best of its terms. `nos` ascend, each box once, so that
/// [`View::matches_of`] can walk the terms' posting lists along them.
fn clause_points(view: &View, clause: &Clause, nos: &[BoxNo]) -> Vec<u32> {
    debug_assert!(nos.windows(2).all(|w| w[0] < w[1]));
    let mut points = vec![0u32; nos.len()];
    for term in clause {
        match term {
            Term::BoxId(id) => {
                if let Some(k) = view
                    .find(id)
                    .and_then(|found| nos.binary_search(&found).ok())
                {
                    points[k] = points[k].max(5);
                }
            }
            Term::Index { field, word, exact } => {
                let found = view.matches_of(*field, word, *exact, nos);
                for (point, m) in points.iter_mut().zip(found) {
                    let p = match m {
                        Match::None => 0,
                        m => field_score(*field, m == Match::Exact),
                    };
                    *point = (*point).max(p);
                }
            }
        }
    }
    points
}

/// Keeps of `candidates` (box numbers in any order, each once; the order
/// is kept) the boxes with a posting in `clause`: of any of its terms.
/// `marks` is an empty set of the view's box numbers, left empty.
fn narrow(view: &View, clause: &Clause, candidates: &mut Vec<BoxNo>, marks: &mut FixedBitSet) {
    if let [Term::Index { field, word, exact }] = clause.as_slice() {
        view.retain_having(*field, word, *exact, candidates, marks);
        return;
    }
    // Several terms: each keeps its boxes of all the candidates.
    let mut kept = vec![false; candidates.len()];
    for term in clause {
        match term {
            Term::BoxId(id) => {
                if let Some(found) = view.find(id) {
                    for (k, &no) in kept.iter_mut().zip(candidates.iter()) {
                        *k |= no == found;
                    }
                }
            }
            Term::Index { field, word, exact } => {
                let mut having: Vec<BoxNo> = candidates.clone();
                view.retain_having(*field, word, *exact, &mut having, marks);
                for &no in &having {
                    marks.insert(no as usize);
                }
                for (k, &no) in kept.iter_mut().zip(candidates.iter()) {
                    *k |= marks.contains(no as usize);
                }
                for &no in &having {
                    marks.set(no as usize, false);
                }
            }
        }
    }
    let mut kept = kept.into_iter();
    candidates.retain(|_| kept.next().unwrap_or(false));
}

/// Runs `f` with this thread's two sets of box numbers, sized for `len`
/// numbers and empty; `f` leaves them empty again (a set of a million
/// bits is cleared faster bit by bit, for the few it held, than whole).
/// Sets that `f` left dirty by unwinding are cleared whole on the next
/// use.
fn with_box_sets<R>(len: usize, f: impl FnOnce(&mut FixedBitSet, &mut FixedBitSet) -> R) -> R {
    thread_local! {
        static SETS: RefCell<(FixedBitSet, FixedBitSet, bool)> =
            const { RefCell::new((FixedBitSet::new(), FixedBitSet::new(), false)) };
    }
    SETS.with(|cell| {
        let mut guard = cell.borrow_mut();
        let (a, b, dirty) = &mut *guard;
        if *dirty {
            a.clear();
            b.clear();
        }
        a.grow(len);
        b.grow(len);
        *dirty = true;
        let r = f(a, b);
        debug_assert!(a.is_clear() && b.is_clear());
        *dirty = false;
        r
    })
}

/// Boxes whose identification number is exactly `ic` (8 digits), visible
/// to `who`; with `ovm_only` only OVM boxes (the search for an OVM
/// identifier, which the gateway takes to be the OVM's IČ).
pub fn by_ic(
    store: &dyn Store,
    ic: &str,
    who: Searcher,
    ovm_only: bool,
) -> Result<Found, StoreError> {
    let view = idx::view(store)?;
    let p = view.postings(Field::Ic, ic, true, CANDIDATE_LIMIT);
    let hits = p
        .items
        .into_iter()
        .map(|p| (p.no, view.summary(p.no)))
        .filter(|(_, s)| visible(s, who) && (!ovm_only || is_ovm(s)))
        .map(|(no, summary)| Hit {
            id: view.id(no).to_owned(),
            no,
            summary,
            score: 5,
        })
        .collect::<Vec<_>>();
    Ok(Found {
        total: hits.len(),
        hits,
        truncated: p.truncated,
    })
}

/// The records of the boxes `hits` found, in that order (`None` for a box
/// that does not exist): from the index's snapshot, which keeps what
/// answers show, or from the store for a box written since.
pub fn records<'a>(
    store: &dyn Store,
    hits: impl IntoIterator<Item = &'a Hit>,
) -> Result<Vec<Option<DataBox>>, RepoError> {
    let view = idx::view(store)?;
    let hits: Vec<&Hit> = hits.into_iter().collect();
    view.warm_records(&hits.iter().map(|hit| hit.no).collect::<Vec<_>>());
    hits.into_iter()
        .map(|hit| (hit.id.as_str(), view.record_at(&hit.id, hit.no)))
        .map(|(id, record)| match record {
            Some(b) => Ok(Some(b)),
            None => match BoxId::parse(id) {
                Ok(id) => repo::get_box(store, &id),
                Err(_) => Ok(None),
            },
        })
        .collect()
}

/// The box of exactly this ID, whoever searches.
pub fn by_id(store: &dyn Store, id: &str) -> Result<Found, StoreError> {
    let view = idx::view(store)?;
    let hits = view
        .find(id)
        .map(|no| Hit {
            id: id.to_owned(),
            no,
            summary: view.summary(no),
            score: 5,
        })
        .into_iter()
        .collect::<Vec<_>>();
    Ok(Found {
        total: hits.len(),
        hits,
        truncated: false,
    })
}

/// The criteria of a parametric search (FindDataBox, FindDataBox2,
/// FindPersonalDataBox); empty strings are criteria not given.
#[derive(Debug, Clone, Default)]
pub struct Criteria {
    /// `dbType`: a gross type (OVM, PO, PFO) also matches its subtypes
    /// (see [`find_type`]).
    pub box_type: Option<BoxType>,
    /// Only `box_type` itself, none of its subtypes (the virtual types
    /// OVM_MAIN, PO_BASE and PFO_BASE).
    pub base_only: bool,
    pub ic: String,
    pub firm_name: String,
    /// First and middle names.
    pub first_name: String,
    pub last_name: String,
    pub city: String,
    pub district: String,
    pub street: String,
    pub number_in_street: String,
    pub number_in_municipality: String,
    pub zip: String,
    pub state: String,
    pub birth_date: String,
    pub birth_city: String,
}

/// How criteria compare with a box's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matching {
    /// FindDataBox: firm name, municipality, its part, street and birth
    /// place as substrings, the rest as prefixes; case and diacritics
    /// ignored.
    Find,
    /// FindPersonalDataBox: every criterion equal, case and diacritics
    /// ignored.
    Personal,
}

/// The outcome of a parametric search.
#[derive(Debug, Clone)]
pub enum FindOutcome {
    Found(Found),
    /// The criteria are not specific enough for the box type (ISDS
    /// answers such a search as too general).
    TooGeneral,
}

/// Criteria folded for comparison.
struct Folded {
    ic: String,
    firm: String,
    first: String,
    last: String,
    city: String,
    district: String,
    street: String,
    nis: String,
    nim: String,
    zip: String,
    state: String,
    birth_date: String,
    birth_city: String,
}

impl Folded {
    fn of(c: &Criteria) -> Folded {
        let f = |s: &str| fold(s.trim());
        Folded {
            ic: digits(&c.ic),
            firm: f(&c.firm_name),
            first: f(&c.first_name),
            last: f(&c.last_name),
            city: f(&c.city),
            district: f(&c.district),
            street: f(&c.street),
            nis: f(&c.number_in_street),
            nim: f(&c.number_in_municipality),
            zip: digits(&c.zip),
            state: f(&c.state),
            birth_date: c.birth_date.trim().to_owned(),
            birth_city: f(&c.birth_city),
        }
    }

    fn matches(&self, d: &Fields<'_>, how: Matching) -> bool {
        let sub = |want: &str, have: &str| match how {
            Matching::Find => have.contains(want),
            Matching::Personal => have == want,
        };
        let pre = |want: &str, have: &str| match how {
            Matching::Find => have.starts_with(want),
            Matching::Personal => have == want,
        };
        type Check<'a> = (&'a str, &'a str, &'a dyn Fn(&str, &str) -> bool);
        let checks: [Check<'_>; 13] = [
            (&self.ic, d.ic, &pre),
            (&self.firm, d.firm, &sub),
            (&self.first, d.first, &pre),
            (&self.last, d.last, &pre),
            (&self.city, d.city, &sub),
            (&self.district, d.district, &sub),
            (&self.street, d.street, &sub),
            (&self.nis, d.number_in_street, &pre),
            (&self.nim, d.number_in_municipality, &pre),
            (&self.zip, d.zip, &pre),
            (&self.state, d.state, &pre),
            (&self.birth_date, d.birth_date, &pre),
            (&self.birth_city, d.birth_city, &sub),
        ];
        checks
            .iter()
            .all(|(want, have, ok)| want.is_empty() || ok(want, have))
    }
}

/// Whether the criteria name enough for a search of their box type, as
/// ISDS requires: FO the last name; PFO the IČ or the last name; PO the IČ
/// or at least three characters of the firm name; OVM the IČ or the firm
/// name.
fn specific_enough(c: &Criteria, t: BoxType) -> bool {
    let has = |s: &str| !s.trim().is_empty();
    match gross(t) {
        Gross::Fo => has(&c.last_name),
        Gross::Pfo => has(&c.ic) || has(&c.last_name),
        Gross::Po => has(&c.ic) || fold(c.firm_name.trim()).chars().count() >= 3,
        Gross::Ovm => has(&c.ic) || has(&c.firm_name),
    }
}

/// The `dbType` of FindDataBox and FindDataBox2 as a type and whether
/// only that type itself is wanted; `None` for an unknown name. The
/// search manual (WS_vyhledavani_datovych_schranek 2.1, "Typy DS použité
/// na vstupu") translates the old types: PO_ZAK to PO, OVM_EXEKUT and
/// OVM_NOTAR to OVM_PFO, OVM_PO to OVM. The virtual types of 3.11,
/// OVM_MAIN, PO_BASE and PFO_BASE, take the base type alone (the manuals
/// are silent on them; see [`Scope::parse`]).
pub fn find_type(name: &str) -> Option<(BoxType, bool)> {
    Some(match name.trim() {
        "OVM_MAIN" => (BoxType::OVM, true),
        "PO_BASE" => (BoxType::PO, true),
        "PFO_BASE" => (BoxType::PFO, true),
        "PO_ZAK" => (BoxType::PO, false),
        "OVM_EXEKUT" | "OVM_NOTAR" => (BoxType::OVM_PFO, false),
        "OVM_PO" => (BoxType::OVM, false),
        other => (BoxType::from_name(other)?, false),
    })
}

/// Whether box type `have` matches the searched type `want`, as the
/// search manual's table of input types gives it (2.1): OVM takes every
/// OVM kind, OVM_FO and OVM_PFO each other, PO also PO_REQ and OVM_PO, PFO
/// its professional kinds, every other type itself alone.
fn type_matches(want: BoxType, have: BoxType, base_only: bool) -> bool {
    if base_only {
        return want == have;
    }
    match want {
        BoxType::OVM | BoxType::PFO => gross(want) == gross(have),
        BoxType::OVM_FO | BoxType::OVM_PFO => have == BoxType::OVM_FO || have == BoxType::OVM_PFO,
        BoxType::PO => gross(have) == Gross::Po || have == BoxType::OVM_PO,
        exact => exact == have,
    }
}

/// Evaluates a parametric search for boxes of the criteria's type (which
/// the caller made sure is given), returning at most `limit` boxes
/// visible to `who`, ordered by name, then ID. Personal matching takes
/// accessible FO boxes only.
pub fn find(
    store: &dyn Store,
    c: &Criteria,
    who: Searcher,
    how: Matching,
    limit: usize,
) -> Result<FindOutcome, StoreError> {
    let want = match how {
        Matching::Personal => BoxType::FO,
        Matching::Find => match c.box_type {
            Some(t) => t,
            None => return Ok(FindOutcome::TooGeneral),
        },
    };
    if !specific_enough(c, want) {
        return Ok(FindOutcome::TooGeneral);
    }
    let folded = Folded::of(c);
    let mut clauses: Vec<Clause> = Vec::new();
    let index = |field: Field, word: String, exact: bool| vec![Term::Index { field, word, exact }];
    if !folded.ic.is_empty() {
        let exact = folded.ic.len() == 8;
        clauses.push(index(Field::Ic, folded.ic.clone(), exact));
    }
    let exact_words = how == Matching::Personal;
    // The clauses of the names, which compare as prefixes (or whole): a box
    // whose last name starts with the criterion has a token beginning with
    // each of its words, so the criteria match only boxes of these clauses.
    let mut of_names = Vec::new();
    for (text, field, name) in [
        (&c.firm_name, Field::Name, false),
        (&c.last_name, Field::Name, true),
        (&c.first_name, Field::Name, true),
        (&c.city, Field::Address, false),
        (&c.district, Field::Address, false),
        (&c.street, Field::Address, false),
    ] {
        for t in tokens(text) {
            if name {
                of_names.push(clauses.len());
            }
            clauses.push(index(field, t, exact_words));
        }
    }
    if folded.zip.len() >= 2 {
        clauses.push(index(Field::Address, folded.zip.clone(), exact_words));
    }
    if clauses.is_empty() {
        return Ok(FindOutcome::TooGeneral);
    }
    let view = idx::view(store)?;
    let Some(driver) = driving(&view, &clauses, &order_of(&clauses)) else {
        return Ok(FindOutcome::TooGeneral);
    };
    // Every word of the criteria must begin a word of its field (the
    // criteria compared as substrings, firm name, municipality and street,
    // then also contain the criterion whole): each other clause narrows
    // the candidates, the shortest first, before their fields are read.
    let mut others: Vec<usize> = (0..clauses.len()).filter(|&i| i != driver.clause).collect();
    others.sort_by_key(|&i| clause_count(&view, &clauses[i]).unwrap_or(usize::MAX));
    // The driving postings in their order, which decides the boxes a
    // truncated answer holds: each box where its first posting was. One
    // list alone has each box once; the lists of several tokens may share
    // boxes, kept at their first posting only.
    let driving: &[BoxNo] = &driver.nos;
    let several_lists = driver.several_lists;
    let mut matched: Vec<(String, String, BoxNo, Summary)> = Vec::new();
    let mut truncated = driver.truncated;
    let mut full = false;
    // The driving postings are taken in growing runs, each narrowed and
    // read before the next: an answer of `limit` boxes is usually full
    // long before the last of them (a truncated answer no longer reads
    // them all), while an answer that takes every run pays little more
    // than one run would cost.
    let mut run = FIRST_RUN;
    let mut start = 0;
    with_box_sets(view.numbers_end(), |seen, marks| {
        while start < driving.len() {
            let end = driving.len().min(start + run);
            let part = &driving[start..end];
            start = end;
            run = run.saturating_mul(2);
            let part = part.iter().copied();
            let mut candidates: Vec<BoxNo> = if several_lists {
                part.filter(|&no| !seen.put(no as usize)).collect()
            } else {
                part.collect()
            };
            for &i in &others {
                if candidates.is_empty() {
                    break;
                }
                narrow(&view, &clauses[i], &mut candidates, marks);
            }
            // Read a slice at a time, each warmed first: a full answer
            // stops within the first slices, the rest of a long run
            // never touched.
            'read: for slice in candidates.chunks(WARMED_AT_ONCE) {
                view.warm(slice);
                for &no in slice {
                    // The type, who may see the box and its state are read
                    // only for the boxes every word found (see [`Posting`]).
                    let s = view.summary(no);
                    if !type_matches(want, s.box_type, c.base_only) || !visible(&s, who) {
                        continue;
                    }
                    if how == Matching::Personal && s.state != BoxState::Accessible {
                        continue;
                    }
                    let doc = view.fields(no);
                    if !folded.matches(&doc, how) {
                        continue;
                    }
                    if matched.len() == limit {
                        full = true;
                        break 'read;
                    }
                    let name = if doc.firm.is_empty() {
                        format!("{} {}", doc.last, doc.first)
                    } else {
                        doc.firm.to_owned()
                    };
                    matched.push((name, view.id(no).to_owned(), no, s));
                }
            }
            if full {
                truncated = true;
                break;
            }
        }
        if several_lists {
            for &no in &driving[..start] {
                seen.set(no as usize, false);
            }
        }
    });
    matched.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    Ok(FindOutcome::Found(Found {
        total: matched.len(),
        hits: matched
            .into_iter()
            .map(|(_, id, no, summary)| Hit {
                id,
                no,
                summary,
                score: 0,
            })
            .collect(),
        truncated,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::boxes::databox::{BoxAddress, BoxId, DataBox, Owner};
    use crate::domain::boxes::repo;
    use crate::store::{Batch, open_memory};

    fn boxed(id: &str, t: BoxType, owner: Owner, listed: bool, open: bool) -> DataBox {
        DataBox {
            id: BoxId::parse(id).unwrap(),
            box_type: t,
            state: BoxState::Accessible,
            owner,
            effective_ovm: t.is_ovm(),
            open_addressing: open,
            attachment_limit_mb: 20,
            unlimited_password_validity: false,
            public_listing: listed,
        }
    }

    fn person(first: &str, last: &str, city: &str) -> Owner {
        Owner {
            first_name: first.into(),
            last_name: last.into(),
            address: BoxAddress {
                city: city.into(),
                ..BoxAddress::default()
            },
            ..Owner::default()
        }
    }

    fn firm(name: &str, ic: &str, city: &str) -> Owner {
        Owner {
            firm_name: name.into(),
            ic: ic.into(),
            address: BoxAddress {
                city: city.into(),
                ..BoxAddress::default()
            },
            ..Owner::default()
        }
    }

    fn store() -> std::sync::Arc<dyn Store> {
        let store = open_memory();
        let mut batch = Batch::new();
        for b in [
            boxed(
                "fo00001",
                BoxType::FO,
                person("Jan", "Novák", "Brno"),
                true,
                false,
            ),
            boxed(
                "fo00002",
                BoxType::FO,
                person("Jana", "Nováková", "Praha"),
                true,
                false,
            ),
            boxed(
                "fo00003",
                BoxType::FO,
                person("Petr", "Novák", "Brno"),
                false,
                false,
            ),
            boxed(
                "po00001",
                BoxType::PO,
                firm("Novák Stavby s.r.o.", "27074358", "Brno"),
                true,
                true,
            ),
            boxed(
                "ovm0001",
                BoxType::OVM,
                firm("Město Brno", "44992785", "Brno"),
                true,
                false,
            ),
        ] {
            repo::stage_insert_box(&mut batch, &b);
        }
        store.apply(batch).unwrap();
        store
    }

    fn ids(f: &Found) -> Vec<&str> {
        f.hits.iter().map(|h| h.id.as_str()).collect()
    }

    const PERSON: Searcher = Searcher { ovm: false };
    const AUTHORITY: Searcher = Searcher { ovm: true };

    #[test]
    fn full_text_ignores_case_and_diacritics_and_hides_unlisted_boxes() {
        let s = store();
        let q = |text: &str, scope| TextQuery {
            words: TextQuery::words_of(text),
            target: TextTarget::General,
            scope,
        };
        let f = full_text(s.as_ref(), &q("NOVAK brno", Scope::All), PERSON).unwrap();
        assert_eq!(ids(&f), ["fo00001", "po00001"], "equal points: by box ID");
        let f = full_text(s.as_ref(), &q("novák BRNO", Scope::All), AUTHORITY).unwrap();
        assert_eq!(ids(&f), ["fo00001", "fo00003", "po00001"]);
        let f = full_text(s.as_ref(), &q("nov", Scope::Type(BoxType::FO)), PERSON).unwrap();
        assert_eq!(ids(&f), ["fo00001", "fo00002"]);
        let f = full_text(s.as_ref(), &q("brno", Scope::Ovm), PERSON).unwrap();
        assert_eq!(ids(&f), ["ovm0001"]);
        let f = full_text(s.as_ref(), &q("27074358", Scope::All), PERSON).unwrap();
        assert_eq!(ids(&f), ["po00001"]);
        let f = full_text(s.as_ref(), &q("fo00003", Scope::All), PERSON).unwrap();
        assert_eq!(
            ids(&f),
            ["fo00003"],
            "an exact box ID finds even an unlisted box"
        );
        let f = full_text(s.as_ref(), &q("zlin", Scope::All), PERSON).unwrap();
        assert!(f.hits.is_empty());
    }

    /// What a search answered, for comparing two evaluations.
    type Answer = (Vec<String>, usize, bool);

    fn answers(s: &dyn Store) -> Vec<Answer> {
        let mut out = Vec::new();
        for (text, scope) in [
            ("novak", Scope::All),
            ("nov praha", Scope::All),
            ("jan novak brno", Scope::Type(BoxType::FO)),
            ("stavby", Scope::Po),
            ("stavby praha", Scope::All),
            ("pra", Scope::All),
            ("10000003", Scope::All),
            ("s000123", Scope::All),
            ("dvorak plzen", Scope::All),
        ] {
            for who in [PERSON, AUTHORITY] {
                let q = TextQuery {
                    words: TextQuery::words_of(text),
                    target: TextTarget::General,
                    scope,
                };
                let f = full_text(s, &q, who).unwrap();
                let page = full_text_first(s, &q, who, 20).unwrap();
                assert_eq!(page.total, f.total, "{text}");
                assert_eq!(ids(&page), ids(&f)[..f.hits.len().min(20)], "{text}");
                out.push((
                    ids(&f).into_iter().map(str::to_owned).collect(),
                    f.total,
                    f.truncated,
                ));
            }
        }
        let criteria = [
            (BoxType::FO, "", "Novák", "Praha"),
            (BoxType::FO, "", "Nov", "Brno"),
            (BoxType::FO, "", "Dvořák", ""),
            (BoxType::PO, "Stavby", "", ""),
            (BoxType::PO, "Novák Stavby", "", "Plzeň"),
        ];
        for (t, firm_name, last_name, city) in criteria {
            let c = Criteria {
                box_type: Some(t),
                firm_name: firm_name.into(),
                last_name: last_name.into(),
                city: city.into(),
                ..Criteria::default()
            };
            for who in [PERSON, AUTHORITY] {
                match find(s, &c, who, Matching::Find, FIND_LIMIT).unwrap() {
                    FindOutcome::Found(f) => out.push((
                        ids(&f).into_iter().map(str::to_owned).collect(),
                        f.total,
                        f.truncated,
                    )),
                    FindOutcome::TooGeneral => out.push((Vec::new(), 0, true)),
                }
            }
        }
        out
    }

    #[test]
    fn counted_and_read_evaluations_agree() {
        // Enough boxes that common words have more postings than a search
        // examines: the evaluation from posting counts and the one that
        // reads every clause must pick the same driving clause and answer
        // alike, truncation included, with the log empty and with boxes in
        // it (counted then with the log laid over the snapshot).
        let store = open_memory();
        let firsts = ["Jan", "Jana", "Petr", "Pavel", "Marie"];
        let lasts = ["Novák", "Nováková", "Dvořák", "Svoboda", "Novotný", "Černý"];
        let cities = [
            "Praha", "Praha 2", "Brno", "Praha 4", "Plzeň", "Praha 9", "Praha",
        ];
        let mut batch = Batch::new();
        for i in 0..30_000usize {
            let id = format!("s{i:06}");
            let (first, last, city) = (firsts[i % 5], lasts[i % 6], cities[i % 7]);
            let b = if i % 3 == 0 {
                let name = format!("{last} Stavby s.r.o.");
                let ic = format!("{}", 10_000_000 + i);
                boxed(&id, BoxType::PO, firm(&name, &ic, city), true, i % 2 == 0)
            } else {
                boxed(
                    &id,
                    BoxType::FO,
                    person(first, last, city),
                    i % 4 != 0,
                    false,
                )
            };
            repo::stage_insert_box_unchecked(&mut batch, &b);
        }
        store.apply(batch).unwrap();
        idx::prepare(store.as_ref()).unwrap();
        let view = idx::view(store.as_ref()).unwrap();
        assert!(view.count(Field::Address, "praha", true).unwrap() > CANDIDATE_LIMIT);
        // The read evaluation runs where counting is off.
        idx::counting::off(|| assert_eq!(view.count(Field::Address, "praha", true), None));
        // The counted evaluation reads a one-word driver where it lies:
        // the same numbers, in the same order, as the postings read.
        for (field, word, exact, lists) in [
            (Field::Name, "novak", false, 2),
            (Field::Name, "novak", true, 1),
            (Field::Address, "praha", true, 1),
            (Field::Address, "pl", false, 1),
            (Field::Name, "zzz", false, 0),
        ] {
            let slice = view.postings_slice(field, word, exact).unwrap();
            let read: Vec<BoxNo> = view
                .postings(field, word, exact, usize::MAX)
                .items
                .iter()
                .map(|p| p.no)
                .collect();
            assert_eq!(slice.nos, read.as_slice(), "{word}");
            assert_eq!(slice.lists, lists, "{word}");
        }
        let counted = answers(store.as_ref());
        assert!(counted.iter().any(|a| a.2), "some searches are truncated");
        assert_eq!(idx::counting::off(|| answers(store.as_ref())), counted);

        // A change the searches above do not see puts a box in the log:
        // counted over the log, the answers stay.
        let id = BoxId::parse("s000001").unwrap();
        let old = repo::get_box_stored(store.as_ref(), &id).unwrap().unwrap();
        let mut new = old.value.clone();
        new.owner.address.district = "Zzz".into();
        let mut batch = Batch::new();
        repo::stage_update_box(&mut batch, &old, &new);
        store.apply(batch).unwrap();
        let view = idx::view(store.as_ref()).unwrap();
        assert!(view.count(Field::Address, "praha", true).unwrap() > CANDIDATE_LIMIT);
        assert!(
            view.postings_slice(Field::Name, "novak", false).is_none(),
            "with the log, postings are merged, not read in place"
        );
        assert_eq!(answers(store.as_ref()), counted);
        assert_eq!(idx::counting::off(|| answers(store.as_ref())), counted);

        // Changes the searches see: boxes renamed and moved out of and
        // into the words searched, a box removed and boxes added. The
        // counted and read evaluations still agree, and the answers moved.
        let mut batch = Batch::new();
        for (k, i) in [2usize, 4, 7, 12, 20, 27, 33, 301, 4_242, 29_999]
            .into_iter()
            .enumerate()
        {
            let id = BoxId::parse(&format!("s{i:06}")).unwrap();
            let old = repo::get_box_stored(store.as_ref(), &id).unwrap().unwrap();
            let mut new = old.value.clone();
            if k % 2 == 0 {
                new.owner.last_name = "Dvořáková".into();
                new.owner.firm_name = "Dvořák Stavby s.r.o.".into();
                new.owner.address.city = "Plzeň".into();
            } else {
                new.owner.last_name = "Nováček".into();
                new.owner.firm_name = "Novák a syn Stavby s.r.o.".into();
                new.owner.address.city = "Praha".into();
            }
            repo::stage_update_box(&mut batch, &old, &new);
        }
        let gone = BoxId::parse("s000005").unwrap();
        let gone = repo::get_box_stored(store.as_ref(), &gone)
            .unwrap()
            .unwrap();
        idx::stage_remove(&mut batch, &gone.value);
        batch.delete(repo::BOXES, gone.value.id.as_str());
        for i in 0..40usize {
            let b = if i % 2 == 0 {
                boxed(
                    &format!("n{i:06}"),
                    BoxType::FO,
                    person("Jan", "Novák", "Praha"),
                    true,
                    false,
                )
            } else {
                let ic = format!("{}", 10_000_000 + i);
                boxed(
                    &format!("n{i:06}"),
                    BoxType::PO,
                    firm("Stavby Dvořák a.s.", &ic, "Brno"),
                    true,
                    true,
                )
            };
            repo::stage_insert_box_unchecked(&mut batch, &b);
        }
        store.apply(batch).unwrap();
        let view = idx::view(store.as_ref()).unwrap();
        for (field, word, exact) in [
            (Field::Name, "novak", false),
            (Field::Name, "dvorak", true),
            (Field::Name, "stavby", true),
            (Field::Address, "praha", true),
            (Field::Address, "pl", false),
            (Field::Ic, "1000", false),
        ] {
            assert_eq!(
                view.count(field, word, exact),
                Some(view.postings(field, word, exact, usize::MAX).items.len()),
                "{word}"
            );
        }
        let logged = answers(store.as_ref());
        assert_ne!(logged, counted);
        assert_eq!(idx::counting::off(|| answers(store.as_ref())), logged);
    }

    #[test]
    fn name_criteria_find_what_their_fields_match() {
        // A rare last name drives; the first name is too common to be
        // intersected, so its clause is tested on each candidate's tokens
        // before the fields: the answer must be exactly the boxes whose
        // names start with the criteria.
        let store = open_memory();
        let mut batch = Batch::new();
        for i in 0..6_000usize {
            let first = ["Jan", "Jana", "Petr"][i % 3];
            let b = boxed(
                &format!("s{i:06}"),
                BoxType::FO,
                person(first, "Svoboda", "Praha"),
                true,
                false,
            );
            repo::stage_insert_box_unchecked(&mut batch, &b);
        }
        for (id, first, last) in [
            ("z000001", "Jan", "Zedník"),
            ("z000002", "Jana Marie", "Zedníková"),
            ("z000003", "Petr", "Zedník Jan"),
            ("z000004", "Marie Jana", "Zedník"),
            ("z000005", "Janek", "Zedníček"),
            ("z000006", "Jan", "Kozedník"),
        ] {
            let b = boxed(id, BoxType::FO, person(first, last, "Brno"), true, false);
            repo::stage_insert_box_unchecked(&mut batch, &b);
        }
        store.apply(batch).unwrap();
        idx::prepare(store.as_ref()).unwrap();
        let view = idx::view(store.as_ref()).unwrap();
        assert!(view.count(Field::Name, "jan", false).unwrap() > 1_000);
        let c = Criteria {
            box_type: Some(BoxType::FO),
            first_name: "JAN".into(),
            last_name: "zedn".into(),
            ..Criteria::default()
        };
        let FindOutcome::Found(f) = find(store.as_ref(), &c, PERSON, Matching::Find, 10).unwrap()
        else {
            panic!("specific enough");
        };
        assert_eq!(ids(&f), ["z000005", "z000001", "z000002"]);
        // Every box, compared field by field, gives the same.
        let folded = Folded::of(&c);
        let mut all: Vec<(String, String)> = (0..view.len() as BoxNo)
            .filter(|&no| folded.matches(&view.fields(no), Matching::Find))
            .map(|no| {
                let d = view.fields(no);
                (format!("{} {}", d.last, d.first), view.id(no).to_owned())
            })
            .collect();
        all.sort();
        let expected: Vec<&str> = all.iter().map(|(_, id)| id.as_str()).collect();
        assert_eq!(ids(&f), expected);
    }

    #[test]
    fn a_truncated_answer_holds_the_first_boxes_of_the_driving_lists() {
        // "nov" begins three tokens; their lists, in token order (novak,
        // novakova, novotny), give the boxes b c, a b c, d: b, c, a, d
        // once each. A limit of two keeps the first two of that order, not
        // the two lowest box IDs.
        let store = open_memory();
        let mut batch = Batch::new();
        for (id, name) in [
            ("poa0001", "Nováková Trade"),
            ("pob0001", "Novák a Nováková"),
            ("poc0001", "Novák Nováková Stavby"),
            ("pod0001", "Novotný Trans"),
        ] {
            let b = boxed(id, BoxType::PO, firm(name, "", "Brno"), true, false);
            repo::stage_insert_box(&mut batch, &b);
        }
        store.apply(batch).unwrap();
        let c = Criteria {
            box_type: Some(BoxType::PO),
            firm_name: "nov".into(),
            ..Criteria::default()
        };
        let found = |limit| match find(store.as_ref(), &c, PERSON, Matching::Find, limit).unwrap() {
            FindOutcome::Found(f) => f,
            FindOutcome::TooGeneral => panic!("specific enough"),
        };
        let f = found(2);
        assert!(f.truncated);
        // Sorted by name for the answer.
        assert_eq!(ids(&f), ["pob0001", "poc0001"]);
        let f = found(3);
        assert_eq!(ids(&f), ["pob0001", "poc0001", "poa0001"]);
        let f = found(4);
        assert!(!f.truncated);
        assert_eq!(ids(&f), ["pob0001", "poc0001", "poa0001", "pod0001"]);
    }

    #[test]
    fn parametric_search_follows_the_type_rules() {
        let s = store();
        let mut c = Criteria {
            box_type: Some(BoxType::FO),
            last_name: "novak".into(),
            ..Criteria::default()
        };
        let found = |c: &Criteria, who| match find(s.as_ref(), c, who, Matching::Find, 10).unwrap()
        {
            FindOutcome::Found(f) => ids(&f).into_iter().map(str::to_owned).collect::<Vec<_>>(),
            FindOutcome::TooGeneral => vec!["too general".to_owned()],
        };
        assert_eq!(found(&c, PERSON), ["fo00001", "fo00002"]);
        assert_eq!(found(&c, AUTHORITY), ["fo00001", "fo00003", "fo00002"]);
        c.city = "BRN".into();
        assert_eq!(found(&c, PERSON), ["fo00001"]);
        c.last_name.clear();
        assert_eq!(found(&c, PERSON), ["too general"]);
        let c = Criteria {
            box_type: Some(BoxType::PO),
            firm_name: "st".into(),
            ..Criteria::default()
        };
        assert_eq!(found(&c, PERSON), ["too general"]);
        let c = Criteria {
            box_type: Some(BoxType::PO),
            firm_name: "stavby".into(),
            ..Criteria::default()
        };
        assert_eq!(found(&c, PERSON), ["po00001"]);
        let c = Criteria {
            box_type: Some(BoxType::PO),
            ic: "27074358".into(),
            ..Criteria::default()
        };
        assert_eq!(found(&c, PERSON), ["po00001"]);
        let c = Criteria {
            last_name: "Nováková".into(),
            ..Criteria::default()
        };
        match find(s.as_ref(), &c, AUTHORITY, Matching::Personal, 10).unwrap() {
            FindOutcome::Found(f) => assert_eq!(ids(&f), ["fo00002"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn send_options_follow_roles_and_states() {
        let mut s = Summary {
            box_type: BoxType::PO,
            state: BoxState::Accessible,
            effective_ovm: false,
            open_addressing: true,
            public_listing: true,
        };
        assert_eq!(send_options(&s, PERSON), SendOptions::Pdz);
        assert_eq!(send_options(&s, AUTHORITY), SendOptions::All);
        s.open_addressing = false;
        assert_eq!(send_options(&s, PERSON), SendOptions::None);
        assert_eq!(send_options(&s, AUTHORITY), SendOptions::Dz);
        s.state = BoxState::TemporarilyInaccessible;
        assert_eq!(send_options(&s, AUTHORITY), SendOptions::Disabled);
        assert!(Scope::Po.contains(&Summary {
            box_type: BoxType::OVM_PO,
            ..s
        }));
        assert_eq!(Scope::parse(Some("NOPE")), None);
        assert_eq!(Scope::parse(None), Some(Scope::All));
    }

    #[test]
    fn virtual_and_old_type_names_translate_as_the_manual_says() {
        use BoxType as T;
        assert_eq!(Scope::parse(Some("PO_BASE")), Some(Scope::Type(T::PO)));
        assert_eq!(Scope::parse(Some("PFO_BASE")), Some(Scope::Type(T::PFO)));
        assert_eq!(Scope::parse(Some("PO_ZAK")), Some(Scope::Po));
        assert_eq!(Scope::parse(Some("OVM_PO")), Some(Scope::Ovm));
        assert_eq!(
            Scope::parse(Some("OVM_NOTAR")),
            Some(Scope::Type(T::OVM_PFO))
        );
        assert_eq!(find_type("OVM_MAIN"), Some((T::OVM, true)));
        assert_eq!(find_type(" PO_BASE "), Some((T::PO, true)));
        assert_eq!(find_type("PO_ZAK"), Some((T::PO, false)));
        assert_eq!(find_type("OVM_EXEKUT"), Some((T::OVM_PFO, false)));
        assert_eq!(find_type("PFO_AZI"), Some((T::PFO_AZI, false)));
        assert_eq!(find_type("NOPE"), None);
        let all = |want, base_only| {
            BoxType::ALL
                .iter()
                .copied()
                .filter(|&have| type_matches(want, have, base_only))
                .collect::<Vec<_>>()
        };
        assert_eq!(all(T::PO, false), [T::OVM_PO, T::PO, T::PO_ZAK, T::PO_REQ]);
        assert_eq!(all(T::PO, true), [T::PO]);
        assert_eq!(all(T::OVM_FO, false), [T::OVM_FO, T::OVM_PFO]);
        assert_eq!(all(T::FO, false), [T::FO]);
        assert!(all(T::PFO, false).contains(&T::PFO_AZI));
        assert_eq!(all(T::PFO, true), [T::PFO]);
    }
}
