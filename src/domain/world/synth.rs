//! Synthetic populations of boxes for load and search tests: a
//! deterministic, realistic-looking Czech register of any size.
//!
//! Everything derives from a seed and the box's ordinal with a small
//! splitmix64 generator, so `generate(n, seed)` always writes the same
//! boxes. The population has:
//! - every box type, in proportions close to the real register (about
//!   43 % PO, 38 % FO, 10 % PFO kinds, 5 % PO_REQ, 2 % OVM kinds); the
//!   first 22 boxes take one type each, so even a small population has
//!   them all;
//! - people with Czech first names and the matching female or male form
//!   of their surname (Novák / Nováková, Němec / Němcová);
//! - companies, associations and authorities with plausible names and
//!   valid identification numbers (IČ, eight digits with the mod-11 check
//!   digit);
//! - addresses in real Czech municipalities (weighted by population) and
//!   common street names;
//! - states (about 93 % accessible), open addressing (PDZ) settings, FO
//!   owners who forbade public listing, and some prepaid credit.
//!
//! Box IDs, user IDs and IČ come from bijections of the ordinal (an
//! affine map modulo 36⁷, 36⁶ and 10⁷), so they are unique without a
//! lookup table. IDs the store already holds are skipped.
//!
//! Each box gets one primary user whose login is its user ID. All of them
//! share the password [`SYNTH_PASSWORD`], hashed once: hashing a million
//! Argon2 passwords would take hours. This is for synthetic data only.
//!
//! Into an empty store every tree is written in key order, key by key
//! without a durable flush: boxes, their search index entries, credit and
//! box-user entries in box-ID order on one thread, users and logins in
//! user-ID order on another. sled appends ordered keys at the right edge
//! of a tree (random ones split pages all over it and, once the tree
//! outgrows the page cache, read them back), and a write of its own lets
//! sled reclaim the pages it replaced at once (a batch of 10,000 boxes
//! held them all until it ended). A store that holds boxes or users gets
//! [`SynthOptions::batch_boxes`] boxes at a time, each batch one bulk
//! write per tree ([`Store::apply_bulk`]), every ID checked against the
//! store. One flush at the end makes the population durable. A load cut
//! short leaves some boxes without their users or index entries: the
//! gateway's start rewrites the search index when it disagrees with the
//! boxes.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::domain::boxes::credentials::{HashError, PasswordHash};
use crate::domain::boxes::credit::{self, CreditKind, NewCredit};
use crate::domain::boxes::databox::{
    BoxAddress, BoxId, BoxState, BoxType, DataBox, Owner, SYSTEM_BOX_ID,
};
use crate::domain::boxes::repo::{self, RepoError};
use crate::domain::boxes::search_index;
use crate::domain::boxes::user::{PersonName, Privileges, User, UserId, UserType};
use crate::store::{Batch, BatchOp, KeyRange, Order, Store, StoreError, Tree};

/// The password of every synthetic user (synthetic data only).
pub const SYNTH_PASSWORD: &str = "Synteticke-Heslo-2026";

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    pub boxes: u64,
    pub seed: u64,
    /// One primary user per box (default); without, boxes only.
    pub users: bool,
    /// Boxes generated before they are written (into a store with data:
    /// per bulk write).
    pub batch_boxes: usize,
    /// Unix time stamped on passwords and credit events.
    pub now: i64,
}

impl SynthOptions {
    pub fn new(boxes: u64, seed: u64, now: i64) -> Self {
        SynthOptions {
            boxes,
            seed,
            users: true,
            batch_boxes: 10_000,
            now,
        }
    }
}

/// What was generated.
#[derive(Debug, Clone, Default)]
pub struct SynthReport {
    pub boxes: u64,
    pub users: u64,
    /// Generated IDs the store held already, replaced by others.
    pub id_collisions: u64,
    /// Boxes per type, in [`BoxType::ALL`] order.
    pub by_type: Vec<(BoxType, u64)>,
    pub elapsed: Duration,
}

/// Generating failed; the batches written before stay.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Credit(#[from] credit::CreditError),
}

/// splitmix64: a tiny, fast, well-mixed generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }

    /// True with probability `per_mille / 1000`.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An item chosen with the given weights.
    pub fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut x = self.below(total);
        for (item, w) in items {
            let w = u64::from(*w);
            if x < w {
                return item;
            }
            x -= w;
        }
        &items[items.len() - 1].0
    }

    /// An item of a list ranked by frequency (a flattened Zipf law: rank
    /// r weighs about 1/(r+20), so the first of a hundred takes about 3 %).
    pub fn zipf<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        // Inverse of the continuous CDF ln((x+k)/k) / ln((n+k)/k).
        const K: f64 = 20.0;
        let n = items.len() as f64;
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let r = (K * ((n + K) / K).powf(u) - K).floor() as usize;
        &items[r.min(items.len() - 1)]
    }
}

/// The IČ check digit of seven digits (weights 8 to 2, modulo 11).
pub fn ic_check_digit(first7: &[u8; 7]) -> u8 {
    let sum: u32 = first7
        .iter()
        .zip((2..=8).rev())
        .map(|(d, w)| u32::from(*d) * w)
        .sum();
    match sum % 11 {
        0 => 1,
        1 => 0,
        r => (11 - r) as u8,
    }
}

/// Whether `ic` is eight digits with a valid check digit.
pub fn ic_is_valid(ic: &str) -> bool {
    let d: Vec<u8> = ic.bytes().map(|b| b.wrapping_sub(b'0')).collect();
    if d.len() != 8 || d.iter().any(|x| *x > 9) {
        return false;
    }
    let first7 = [d[0], d[1], d[2], d[3], d[4], d[5], d[6]];
    ic_check_digit(&first7) == d[7]
}

/// A valid IČ from seven digits given as a number below 10⁷.
pub fn ic_from(base: u64) -> String {
    let s = format!("{:07}", base % 10_000_000);
    let mut d = [0u8; 7];
    for (slot, b) in d.iter_mut().zip(s.bytes()) {
        *slot = b - b'0';
    }
    format!("{s}{}", ic_check_digit(&d))
}

const ID_ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

fn base36(mut v: u64, len: usize) -> String {
    let mut out = vec![b'a'; len];
    for slot in out.iter_mut().rev() {
        *slot = ID_ALPHABET[(v % 36) as usize];
        v /= 36;
    }
    String::from_utf8(out).unwrap_or_default()
}

/// An affine bijection of `0..modulus` (the multiplier is coprime to
/// the modulus: odd and not divisible by 3 or 5).
fn scatter(i: u64, modulus: u64, mult: u64, offset: u64) -> u64 {
    ((u128::from(i) * u128::from(mult) + u128::from(offset)) % u128::from(modulus)) as u64
}

const BOX_SPACE: u64 = 78_364_164_096; // 36^7
const USER_SPACE: u64 = 2_176_782_336; // 36^6

/// The offset of bijection number `which` for `seed`.
fn offset(seed: u64, which: u64, modulus: u64) -> u64 {
    let mut rng = Rng::new(seed ^ which.wrapping_mul(0x51_7CC1_B727_220A));
    rng.next_u64() % modulus
}

fn box_id_for(i: u64, seed: u64) -> String {
    base36(
        scatter(i, BOX_SPACE, 48_271_103_917, offset(seed, 1, BOX_SPACE)),
        7,
    )
}

fn user_id_for(i: u64, seed: u64) -> String {
    base36(
        scatter(i, USER_SPACE, 1_103_515_243, offset(seed, 2, USER_SPACE)),
        6,
    )
}

fn ic_for(i: u64, seed: u64) -> String {
    ic_from(scatter(
        i,
        10_000_000,
        7_654_321,
        offset(seed, 3, 10_000_000),
    ))
}

/// User IDs that stand for no stored user (the operator's, a box
/// application's).
fn reserved_user_id(s: &str) -> bool {
    s == "aaaaaa" || s == crate::domain::boxes::certificates::APPLICATION_USER_ID
}

/// Box types with their weights (per 100 000 boxes).
const TYPE_WEIGHTS: &[(BoxType, u32)] = &[
    (BoxType::FO, 38_000),
    (BoxType::PO, 43_000),
    (BoxType::PO_REQ, 4_500),
    (BoxType::PO_ZAK, 300),
    (BoxType::PFO, 8_000),
    (BoxType::PFO_ADVOK, 1_200),
    (BoxType::PFO_DANPOR, 500),
    (BoxType::PFO_INSSPR, 60),
    (BoxType::PFO_AUDITOR, 100),
    (BoxType::PFO_ZNALEC, 300),
    (BoxType::PFO_TLUMOCNIK, 300),
    (BoxType::PFO_ARCH, 300),
    (BoxType::PFO_AIAT, 300),
    (BoxType::PFO_AZI, 50),
    (BoxType::PFO_REQ, 800),
    (BoxType::OVM, 1_200),
    (BoxType::OVM_REQ, 400),
    (BoxType::OVM_PO, 500),
    (BoxType::OVM_PFO, 100),
    (BoxType::OVM_FO, 20),
    (BoxType::OVM_NOTAR, 10),
    (BoxType::OVM_EXEKUT, 10),
];

const STATE_WEIGHTS: &[(BoxState, u32)] = &[
    (BoxState::Accessible, 930),
    (BoxState::TemporarilyInaccessible, 25),
    (BoxState::NotYetActive, 5),
    (BoxState::PermanentlyInaccessible, 20),
    (BoxState::Removed, 15),
    (BoxState::InaccessibleByLaw, 5),
];

const MALE_NAMES: &[&str] = &[
    "Jiří",
    "Jan",
    "Petr",
    "Josef",
    "Pavel",
    "Martin",
    "Jaroslav",
    "Tomáš",
    "Miroslav",
    "Zdeněk",
    "František",
    "Václav",
    "Michal",
    "Milan",
    "Karel",
    "Jakub",
    "Lukáš",
    "David",
    "Vladimír",
    "Ladislav",
    "Ondřej",
    "Roman",
    "Stanislav",
    "Marek",
    "Radek",
    "Daniel",
    "Antonín",
    "Vojtěch",
    "Filip",
    "Adam",
    "Matěj",
    "Aleš",
    "Libor",
    "Jindřich",
    "Vít",
    "Dominik",
    "Štěpán",
    "Luboš",
];

const FEMALE_NAMES: &[&str] = &[
    "Marie",
    "Jana",
    "Eva",
    "Hana",
    "Anna",
    "Lenka",
    "Kateřina",
    "Lucie",
    "Věra",
    "Alena",
    "Petra",
    "Veronika",
    "Jaroslava",
    "Tereza",
    "Martina",
    "Michaela",
    "Jitka",
    "Helena",
    "Ludmila",
    "Zdeňka",
    "Ivana",
    "Monika",
    "Eliška",
    "Zuzana",
    "Markéta",
    "Jarmila",
    "Barbora",
    "Kristýna",
    "Klára",
    "Dagmar",
    "Simona",
    "Božena",
    "Adéla",
    "Natálie",
    "Šárka",
    "Radka",
];

/// Surnames by frequency, male and female form.
const SURNAMES: &[(&str, &str)] = &[
    ("Novák", "Nováková"),
    ("Svoboda", "Svobodová"),
    ("Novotný", "Novotná"),
    ("Dvořák", "Dvořáková"),
    ("Černý", "Černá"),
    ("Procházka", "Procházková"),
    ("Kučera", "Kučerová"),
    ("Veselý", "Veselá"),
    ("Horák", "Horáková"),
    ("Němec", "Němcová"),
    ("Marek", "Marková"),
    ("Pospíšil", "Pospíšilová"),
    ("Pokorný", "Pokorná"),
    ("Hájek", "Hájková"),
    ("Král", "Králová"),
    ("Jelínek", "Jelínková"),
    ("Růžička", "Růžičková"),
    ("Beneš", "Benešová"),
    ("Fiala", "Fialová"),
    ("Sedláček", "Sedláčková"),
    ("Doležal", "Doležalová"),
    ("Zeman", "Zemanová"),
    ("Kolář", "Kolářová"),
    ("Navrátil", "Navrátilová"),
    ("Čermák", "Čermáková"),
    ("Vaněk", "Vaňková"),
    ("Urban", "Urbanová"),
    ("Blažek", "Blažková"),
    ("Kříž", "Křížová"),
    ("Kovář", "Kovářová"),
    ("Kratochvíl", "Kratochvílová"),
    ("Bartoš", "Bartošová"),
    ("Vlček", "Vlčková"),
    ("Polák", "Poláková"),
    ("Musil", "Musilová"),
    ("Kopecký", "Kopecká"),
    ("Šimek", "Šimková"),
    ("Konečný", "Konečná"),
    ("Malý", "Malá"),
    ("Holub", "Holubová"),
    ("Čech", "Čechová"),
    ("Štěpánek", "Štěpánková"),
    ("Staněk", "Staňková"),
    ("Kadlec", "Kadlecová"),
    ("Dostál", "Dostálová"),
    ("Soukup", "Soukupová"),
    ("Šťastný", "Šťastná"),
    ("Mareš", "Marešová"),
    ("Moravec", "Moravcová"),
    ("Sýkora", "Sýkorová"),
    ("Tichý", "Tichá"),
    ("Valenta", "Valentová"),
    ("Vávra", "Vávrová"),
    ("Matoušek", "Matoušková"),
    ("Bláha", "Bláhová"),
    ("Říha", "Říhová"),
    ("Ševčík", "Ševčíková"),
    ("Bureš", "Burešová"),
    ("Hruška", "Hrušková"),
    ("Mašek", "Mašková"),
    ("Pavlík", "Pavlíková"),
    ("Havlíček", "Havlíčková"),
    ("Janda", "Jandová"),
    ("Hrubý", "Hrubá"),
    ("Jireš", "Jirešová"),
    ("Žák", "Žáková"),
    ("Kubíček", "Kubíčková"),
    ("Vondráček", "Vondráčková"),
    ("Řezníček", "Řezníčková"),
    ("Ďuriš", "Ďurišová"),
    ("Bednář", "Bednářová"),
    ("Dušek", "Dušková"),
    ("Kubát", "Kubátová"),
    ("Pešek", "Pešková"),
    ("Kalina", "Kalinová"),
    ("Adámek", "Adámková"),
    ("Hudec", "Hudcová"),
    ("Vacek", "Vacková"),
    ("Vrba", "Vrbová"),
    ("Tůma", "Tůmová"),
    ("Zelenka", "Zelenková"),
    ("Šindelář", "Šindelářová"),
    ("Strnad", "Strnadová"),
    ("Smejkal", "Smejkalová"),
    ("Kašpar", "Kašparová"),
    ("Toman", "Tomanová"),
    ("Koubek", "Koubková"),
    ("Brož", "Brožová"),
    ("Chalupa", "Chalupová"),
    ("Skála", "Skálová"),
    ("Macháček", "Macháčková"),
    ("Michálek", "Michálková"),
    ("Horáček", "Horáčková"),
    ("Souček", "Součková"),
    ("Šebesta", "Šebestová"),
    ("Kopřiva", "Kopřivová"),
    ("Hanák", "Hanáková"),
    ("Fišer", "Fišerová"),
    ("Vojtíšek", "Vojtíšková"),
    ("Pech", "Pechová"),
    ("Janoušek", "Janoušková"),
    ("Klíma", "Klímová"),
    ("Slabý", "Slabá"),
    ("Nedbal", "Nedbalová"),
    ("Barták", "Bartáková"),
    // Surnames that do not change for women.
    ("Krejčí", "Krejčí"),
    ("Janů", "Janů"),
    ("Jiroušek", "Jiroušková"),
];

/// A municipality: name, postal code, population in thousands (the
/// weight), and parts with their own postal codes.
struct Town {
    name: &'static str,
    zip: &'static str,
    weight: u32,
    parts: &'static [(&'static str, &'static str)],
    streets: &'static [&'static str],
}

const PRAHA_STREETS: &[&str] = &[
    "Vinohradská",
    "Národní",
    "Karlovo náměstí",
    "Milady Horákové",
    "Evropská",
    "Budějovická",
    "Bělehradská",
    "Korunní",
    "Sokolovská",
    "Jugoslávských partyzánů",
    "Na Příkopě",
    "Vodičkova",
    "Spálená",
    "Dejvická",
    "Plzeňská",
    "Kodaňská",
    "Záhřebská",
    "Jankovcova",
    "Chodovská",
    "Na Pankráci",
];

const BRNO_STREETS: &[&str] = &[
    "Údolní",
    "Kounicova",
    "Lidická",
    "Cejl",
    "Veveří",
    "Bašty",
    "Husova",
    "Masarykova",
    "Křenová",
    "Štefánikova",
    "Palackého třída",
    "Bystrcká",
    "Vídeňská",
    "Hybešova",
];

const OSTRAVA_STREETS: &[&str] = &[
    "Nádražní",
    "Sokolská třída",
    "Českobratrská",
    "Hlavní třída",
    "Opavská",
    "Výškovická",
    "Horní",
    "Místecká",
    "28. října",
    "Na Jízdárně",
];

/// Street names found in most Czech towns.
const STREETS: &[&str] = &[
    "Nádražní",
    "Školní",
    "Husova",
    "Palackého",
    "Masarykova",
    "Komenského",
    "Jiráskova",
    "Havlíčkova",
    "Tyršova",
    "Smetanova",
    "Sokolská",
    "Zahradní",
    "Polní",
    "Lesní",
    "Krátká",
    "Dlouhá",
    "Luční",
    "Nová",
    "Revoluční",
    "Žižkova",
    "Riegrova",
    "Nerudova",
    "Mánesova",
    "Purkyňova",
    "Svatopluka Čecha",
    "Pražská",
    "Brněnská",
    "Okružní",
    "Družstevní",
    "Sadová",
    "Na Výsluní",
    "U Školy",
    "Kostelní",
    "Náměstí Míru",
    "Masarykovo náměstí",
    "28. října",
    "17. listopadu",
    "Čs. armády",
    "Bezručova",
    "Fügnerova",
    "Dukelská",
    "Wolkerova",
    "Vrchlického",
    "Alšova",
    "Jungmannova",
    "Mlýnská",
    "Říční",
    "Průmyslová",
    "Tovární",
    "Lidická",
    "Štefánikova",
    "Nábřežní",
    "K Rybníku",
    "Pod Lesem",
    "Za Humny",
];

const TOWNS: &[Town] = &[
    Town {
        name: "Praha",
        zip: "11000",
        weight: 1300,
        parts: &[
            ("Praha 1", "11000"),
            ("Praha 2", "12000"),
            ("Praha 3", "13000"),
            ("Praha 4", "14000"),
            ("Praha 5", "15000"),
            ("Praha 6", "16000"),
            ("Praha 7", "17000"),
            ("Praha 8", "18000"),
            ("Praha 9", "19000"),
            ("Praha 10", "10000"),
        ],
        streets: PRAHA_STREETS,
    },
    Town {
        name: "Brno",
        zip: "60200",
        weight: 380,
        parts: &[
            ("Brno-střed", "60200"),
            ("Brno-Líšeň", "62800"),
            ("Brno-Žabovřesky", "61600"),
            ("Brno-Královo Pole", "61200"),
            ("Brno-sever", "61300"),
            ("Brno-Bystrc", "63500"),
        ],
        streets: BRNO_STREETS,
    },
    Town {
        name: "Ostrava",
        zip: "70200",
        weight: 285,
        parts: &[
            ("Moravská Ostrava", "70200"),
            ("Poruba", "70800"),
            ("Zábřeh", "70030"),
            ("Vítkovice", "70300"),
        ],
        streets: OSTRAVA_STREETS,
    },
    town("Plzeň", "30100", 170),
    town("Liberec", "46001", 104),
    town("Olomouc", "77900", 100),
    town("České Budějovice", "37001", 94),
    town("Hradec Králové", "50002", 92),
    town("Ústí nad Labem", "40001", 92),
    town("Pardubice", "53002", 91),
    town("Zlín", "76001", 74),
    town("Havířov", "73601", 70),
    town("Kladno", "27201", 69),
    town("Most", "43401", 66),
    town("Opava", "74601", 56),
    town("Frýdek-Místek", "73801", 55),
    town("Karviná", "73301", 51),
    town("Jihlava", "58601", 51),
    town("Teplice", "41501", 49),
    town("Děčín", "40502", 48),
    town("Karlovy Vary", "36001", 48),
    town("Chomutov", "43001", 48),
    town("Jablonec nad Nisou", "46601", 45),
    town("Mladá Boleslav", "29301", 44),
    town("Prostějov", "79601", 43),
    town("Přerov", "75002", 43),
    town("Česká Lípa", "47001", 37),
    town("Třebíč", "67401", 35),
    town("Třinec", "73961", 35),
    town("Tábor", "39002", 34),
    town("Znojmo", "66902", 33),
    town("Příbram", "26101", 32),
    town("Cheb", "35002", 31),
    town("Kolín", "28002", 31),
    town("Trutnov", "54101", 30),
    town("Písek", "39701", 30),
    town("Kroměříž", "76701", 28),
    town("Orlová", "73514", 28),
    town("Vsetín", "75501", 25),
    town("Šumperk", "78701", 25),
    town("Uherské Hradiště", "68601", 25),
    town("Břeclav", "69002", 24),
    town("Hodonín", "69501", 24),
    town("Český Těšín", "73701", 24),
    town("Litoměřice", "41201", 23),
    town("Havlíčkův Brod", "58001", 23),
    town("Nový Jičín", "74101", 23),
    town("Chrudim", "53701", 23),
    town("Krnov", "79401", 23),
    town("Litvínov", "43601", 23),
    town("Strakonice", "38601", 22),
    town("Valašské Meziříčí", "75701", 22),
    town("Sokolov", "35601", 22),
    town("Klatovy", "33901", 22),
    town("Kopřivnice", "74221", 22),
    town("Jindřichův Hradec", "37701", 21),
    town("Žďár nad Sázavou", "59101", 20),
    town("Beroun", "26601", 20),
    town("Říčany", "25101", 16),
    town("Mikulov", "69201", 7),
    town("Telč", "58856", 5),
    town("Slavkov u Brna", "68401", 7),
    town("Humpolec", "39601", 11),
    town("Holešov", "76901", 11),
    town("Lipník nad Bečvou", "75131", 8),
    village("Dolní Lhota", "74766", 2),
    village("Horní Bříza", "33012", 4),
    village("Lhota", "27601", 2),
    village("Ves Touškov", "33301", 2),
    village("Kunčice pod Ondřejníkem", "73913", 3),
    village("Velké Losiny", "78815", 3),
    village("Ořechov", "66444", 3),
    village("Dobřichovice", "25229", 4),
    village("Černá v Pošumaví", "38223", 1),
    village("Škrdlovice", "59202", 1),
    village("Žďárec", "59456", 1),
    village("Újezd", "78396", 1),
];

const fn town(name: &'static str, zip: &'static str, weight: u32) -> Town {
    Town {
        name,
        zip,
        weight,
        parts: &[],
        streets: STREETS,
    }
}

/// A village: addresses often have no street, only a building number.
const fn village(name: &'static str, zip: &'static str, weight: u32) -> Town {
    Town {
        name,
        zip,
        weight,
        parts: &[],
        streets: &["Hlavní", "Na Návsi", "Polní", "U Kapličky", "Lesní"],
    }
}

fn pick_town(rng: &mut Rng) -> &'static Town {
    let total: u64 = TOWNS.iter().map(|t| u64::from(t.weight)).sum();
    let mut x = rng.below(total);
    for t in TOWNS {
        if x < u64::from(t.weight) {
            return t;
        }
        x -= u64::from(t.weight);
    }
    &TOWNS[0]
}

fn address(rng: &mut Rng, town: &Town) -> BoxAddress {
    let (district, zip) = if town.parts.is_empty() {
        ("", town.zip)
    } else {
        *rng.pick(town.parts)
    };
    let small = town.weight <= 5;
    let street = if small && rng.chance(400) {
        String::new()
    } else {
        rng.pick(town.streets).to_string()
    };
    let nim = if small {
        1 + rng.below(400)
    } else {
        1 + rng.below(2999)
    };
    let nis = if !street.is_empty() && rng.chance(700) {
        (1 + rng.below(150)).to_string()
    } else {
        String::new()
    };
    BoxAddress {
        city: town.name.to_owned(),
        district: district.to_owned(),
        street,
        number_in_street: nis,
        number_in_municipality: nim.to_string(),
        zip_code: zip.to_owned(),
        state: "CZ".to_owned(),
    }
}

/// A person: first name, surname in the matching form.
fn person(rng: &mut Rng) -> (String, String) {
    let (male, female) = *rng.zipf(SURNAMES);
    if rng.chance(500) {
        (rng.pick(MALE_NAMES).to_string(), male.to_owned())
    } else {
        (rng.pick(FEMALE_NAMES).to_string(), female.to_owned())
    }
}

fn birth_date(rng: &mut Rng) -> String {
    let year = 1935 + rng.below(72);
    let month = 1 + rng.below(12);
    let day = 1 + rng.below(28);
    format!("{year:04}-{month:02}-{day:02}")
}

const COMPANY_HEADS: &[&str] = &[
    "Agro", "Stav", "Elektro", "Auto", "Kovo", "Dřevo", "Tech", "Trans", "Eko", "Bio", "Medi",
    "Info", "Geo", "Hydro", "Termo", "Plast", "Sklo", "Textil", "Mont", "Real", "Stroj", "Chem",
    "Energo", "Inter", "Euro", "Fin", "Invest", "Pro", "Alfa", "Delta",
];

const COMPANY_TAILS: &[&str] = &[
    "servis", "mont", "tech", "stav", "trade", "com", "sys", "real", "plan", "projekt", "log",
    "data", "net", "soft", "mat", "kov", "trans", "flex", "pro", "invest", "consult", "tex",
    "print", "design", "media", "energy", "med", "pharm", "food",
];

const COMPANY_PLACES: &[&str] = &[
    "Morava",
    "Bohemia",
    "CZ",
    "Group",
    "plus",
    "Česko",
    "Praha",
    "Brno",
    "Slezsko",
    "Vysočina",
];

const ACTIVITIES: &[&str] = &[
    "Stavební firma",
    "Účetní kancelář",
    "Realitní kancelář",
    "Cestovní kancelář",
    "Autoservis",
    "Zahradnictví",
    "Truhlářství",
    "Instalatérství",
    "Pekařství",
    "Projekční kancelář",
    "Reklamní agentura",
    "Autodoprava",
    "Strojírny",
    "Pivovar",
    "Vinařství",
    "Farma",
    "Řeznictví",
    "Kadeřnictví",
];

const LEGAL_FORMS: &[(&str, u32)] = &[
    ("s.r.o.", 750),
    ("spol. s r.o.", 50),
    ("a.s.", 100),
    ("v.o.s.", 30),
    ("k.s.", 20),
    ("družstvo", 50),
];

/// A company name. Names repeat (as they do across the register's
/// municipalities), but rarely: about a million combinations.
fn company(rng: &mut Rng, town: &Town) -> String {
    let form = rng.weighted(LEGAL_FORMS);
    match rng.below(20) {
        0..=6 => {
            let (male, _) = *rng.zipf(SURNAMES);
            match rng.below(3) {
                0 => {
                    let (other, _) = *rng.zipf(SURNAMES);
                    format!("{male} & {other} {form}")
                }
                1 => {
                    let what = rng.pick(&["a syn", "a spol.", "a partneři", "group"]);
                    format!("{male} {what} {form}")
                }
                _ => {
                    let what = rng.pick(&["stavby", "servis", "obchod", "doprava", "reality"]);
                    format!("{male} {what} {} {form}", pick_town(rng).name)
                }
            }
        }
        7..=14 => {
            let head = rng.pick(COMPANY_HEADS);
            let tail = rng.pick(COMPANY_TAILS);
            match rng.below(5) {
                0 => format!("{head}{tail} {form}"),
                1 => format!("{head}{tail} {} {form}", rng.pick(COMPANY_PLACES)),
                _ => format!("{head}{tail} {} {form}", pick_town(rng).name),
            }
        }
        _ => {
            let activity = rng.pick(ACTIVITIES);
            if rng.chance(400) {
                format!("{activity} {} {form}", town.name)
            } else {
                let (male, _) = *rng.zipf(SURNAMES);
                format!("{activity} {male} {} {form}", pick_town(rng).name)
            }
        }
    }
}

fn association(rng: &mut Rng, town: &Town, a: &BoxAddress) -> String {
    match rng.below(6) {
        0 => format!("Sbor dobrovolných hasičů {}", town.name),
        1 => format!("Tělovýchovná jednota {}", town.name),
        2 => format!("Myslivecký spolek {}", town.name),
        3 => format!(
            "Společenství vlastníků jednotek {} {}, {}",
            if a.street.is_empty() {
                town.name
            } else {
                a.street.as_str()
            },
            a.number_in_municipality,
            town.name
        ),
        4 => format!("Spolek přátel {}", town.name),
        _ => format!("Sportovní klub {} z.s.", town.name),
    }
}

fn authority(rng: &mut Rng, t: BoxType, town: &Town) -> String {
    match t {
        BoxType::OVM => match rng.below(8) {
            0..=3 if town.weight <= 5 => format!("Obec {}", town.name),
            0..=3 => format!("Město {}", town.name),
            4 => format!("Městský úřad {}", town.name),
            5 => format!("Okresní soud v {}", town.name),
            6 => format!("Finanční úřad {}", town.name),
            _ => format!("Katastrální pracoviště {}", town.name),
        },
        BoxType::OVM_REQ => match rng.below(3) {
            0 => format!("Hasičský záchranný sbor, stanice {}", town.name),
            1 => format!("Krajská hygienická stanice, pracoviště {}", town.name),
            _ => format!("Úřad práce, kontaktní pracoviště {}", town.name),
        },
        _ => match rng.below(3) {
            0 => format!("Základní škola {}, příspěvková organizace", town.name),
            1 => format!("Nemocnice {}", town.name),
            _ => format!("Technické služby {}", town.name),
        },
    }
}

/// The credit of a box that has some: one charge of 100 to 5 000 Kč.
fn opening_credit(rng: &mut Rng, now: i64) -> NewCredit {
    NewCredit {
        at: now - rng.below(300 * 86_400) as i64,
        amount: 10_000 * (1 + rng.below(500)),
        kind: CreditKind::Charged {
            trans_id: format!("synth-{}", rng.next_u64() % 1_000_000_000),
        },
    }
}

/// A synthetic box: the box, its opening credit, its primary user's name.
pub struct SynthBox {
    pub databox: DataBox,
    pub credit: Option<NewCredit>,
    pub user_name: PersonName,
}

/// Box `i` of the population of `seed`.
pub fn synth_box(i: u64, seed: u64, id: BoxId, ic: &str, now: i64) -> SynthBox {
    let mut rng = Rng::new(seed ^ i.wrapping_mul(0xD6E8_FEB8_6659_FD93));
    let box_type = if (i as usize) < BoxType::ALL.len() {
        BoxType::ALL[i as usize]
    } else {
        *rng.weighted(TYPE_WEIGHTS)
    };
    let state = *rng.weighted(STATE_WEIGHTS);
    let town = pick_town(&mut rng);
    let addr = address(&mut rng, town);
    let mut owner = Owner {
        address: addr,
        ..Owner::default()
    };
    let g = crate::domain::search::gross(box_type);
    use crate::domain::search::Gross;
    match (g, box_type) {
        (Gross::Fo, _) | (_, BoxType::OVM_FO) => {
            let (first, last) = person(&mut rng);
            owner.first_name = first;
            owner.last_name = last;
            owner.birth_date = birth_date(&mut rng);
            owner.birth_city = pick_town(&mut rng).name.to_owned();
        }
        (_, BoxType::OVM_PFO | BoxType::OVM_NOTAR | BoxType::OVM_EXEKUT) => {
            let (first, last) = person(&mut rng);
            let office = if box_type == BoxType::OVM_EXEKUT || rng.chance(500) {
                "Exekutorský úřad"
            } else {
                "Notářský úřad"
            };
            owner.firm_name = format!("{office} {} - JUDr. {first} {last}", town.name);
            owner.first_name = first;
            owner.last_name = last;
            owner.birth_date = birth_date(&mut rng);
            owner.ic = ic.to_owned();
        }
        (Gross::Pfo, _) => {
            let (first, last) = person(&mut rng);
            if box_type == BoxType::PFO && rng.chance(250) {
                let activity = rng.pick(ACTIVITIES);
                owner.firm_name = format!("{first} {last} - {activity}");
            }
            owner.first_name = first;
            owner.last_name = last;
            owner.birth_date = birth_date(&mut rng);
            owner.ic = ic.to_owned();
        }
        (Gross::Po, BoxType::PO_REQ) => {
            owner.firm_name = association(&mut rng, town, &owner.address);
            owner.ic = ic.to_owned();
        }
        (Gross::Po, BoxType::PO_ZAK) => {
            owner.firm_name = if rng.chance(500) {
                format!("Nadace {}", rng.zipf(SURNAMES).0)
            } else {
                format!("{} o.p.s.", company(&mut rng, town).replace(" s.r.o.", ""))
            };
            owner.ic = ic.to_owned();
        }
        (Gross::Po, _) => {
            owner.firm_name = company(&mut rng, town);
            owner.ic = ic.to_owned();
        }
        (Gross::Ovm, _) => {
            owner.firm_name = authority(&mut rng, box_type, town);
            owner.ic = ic.to_owned();
        }
    }
    let open_addressing = match g {
        Gross::Po if box_type == BoxType::PO_REQ => rng.chance(200),
        Gross::Po => rng.chance(350),
        Gross::Pfo => rng.chance(300),
        Gross::Fo => rng.chance(80),
        Gross::Ovm => rng.chance(50),
    };
    let public_listing = g != Gross::Fo || rng.chance(850);
    let effective_ovm = box_type.is_ovm() || rng.chance(3);
    let credit = (g != Gross::Fo && rng.chance(100)).then(|| opening_credit(&mut rng, now));
    // Organisations are run by someone: their primary user.
    let (first, last) = if owner.last_name.is_empty() {
        person(&mut rng)
    } else {
        (owner.first_name.clone(), owner.last_name.clone())
    };
    let user_name = PersonName {
        first_name: first,
        middle_name: String::new(),
        last_name: last,
    };
    let databox = DataBox {
        id,
        box_type,
        state,
        owner,
        effective_ovm,
        open_addressing,
        attachment_limit_mb: 20,
        unlimited_password_validity: false,
        public_listing,
    };
    SynthBox {
        databox,
        credit,
        user_name,
    }
}

/// The primary user of a synthetic box.
fn synth_user(b: &DataBox, id: UserId, name: PersonName, hash: &PasswordHash, now: i64) -> User {
    User {
        login: id.to_string(),
        id,
        box_id: b.id.clone(),
        user_type: UserType::PrimaryUser,
        privileges: Privileges::ALL,
        name,
        password: hash.clone(),
        password_set_at: now,
        must_change_password: false,
        personal: Default::default(),
    }
}

/// Writes a synthetic population into `store`; `progress` hears the
/// number of boxes written (with their users) as the load goes on.
pub fn generate(
    store: &dyn Store,
    opts: &SynthOptions,
    mut progress: impl FnMut(u64),
) -> Result<SynthReport, SynthError> {
    let started = Instant::now();
    let hash = if opts.users {
        Some(PasswordHash::new(SYNTH_PASSWORD)?)
    } else {
        None
    };
    let mut report = SynthReport {
        by_type: BoxType::ALL.iter().map(|t| (*t, 0)).collect(),
        ..SynthReport::default()
    };
    let boxes_tree = store.tree("boxes")?;
    let users_tree = store.tree("users")?;
    let logins_tree = store.tree("logins")?;
    // In an empty store the bijections alone keep the IDs unique: no
    // lookups needed.
    let empty = |t: &Arc<dyn Tree>| {
        t.first_in(KeyRange::all(), Order::Ascending)
            .map(|e| e.is_none())
    };
    let fresh = empty(&boxes_tree)? && empty(&users_tree)? && empty(&logins_tree)?;
    // The boxes bypass the search index's log: the index is built anew
    // from the store by the next search (or the gateway's start).
    search_index::forget(store)?;
    if fresh {
        generate_fresh(store, opts, hash.as_ref(), &mut report, &mut progress)?;
    } else {
        generate_among(
            store,
            opts,
            hash.as_ref(),
            [&boxes_tree, &users_tree, &logins_tree],
            &mut report,
            &mut progress,
        )?;
    }
    search_index::forget(store)?;
    store.flush_durable()?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Box ID of ordinal `n` in an empty store: the ordinal's, else further
/// along; with the number of candidates skipped.
fn fresh_box_id(n: u64, opts: &SynthOptions) -> (BoxId, u64) {
    let mut attempt = 0u64;
    loop {
        let s = box_id_for(n + attempt * opts.boxes.max(1), opts.seed);
        if s != SYSTEM_BOX_ID
            && let Ok(id) = BoxId::parse(&s)
        {
            return (id, attempt);
        }
        attempt += 1;
    }
}

/// User ID of ordinal `n` in an empty store, as [`fresh_box_id`].
fn fresh_user_id(n: u64, opts: &SynthOptions) -> (UserId, u64) {
    let mut attempt = 0u64;
    loop {
        let s = user_id_for(n + attempt * opts.boxes.max(1), opts.seed);
        if !reserved_user_id(&s)
            && let Ok(id) = UserId::parse(&s)
        {
            return (id, attempt);
        }
        attempt += 1;
    }
}

/// Ordinals `0..n` sorted by the key `key_of` gives them.
fn ordinals_by<const N: usize>(n: u64, key_of: impl Fn(u64) -> [u8; N]) -> Vec<u64> {
    let mut keyed: Vec<([u8; N], u64)> = (0..n).map(|i| (key_of(i), i)).collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, i)| i).collect()
}

fn key_bytes<const N: usize>(s: &str) -> [u8; N] {
    let mut key = [0u8; N];
    let len = s.len().min(N);
    key[..len].copy_from_slice(&s.as_bytes()[..len]);
    key
}

/// Writes the puts and deletes of `batch` key by key (each its own sled
/// operation, so the memory of replaced pages is reclaimed as the load
/// goes instead of once per batch); preconditions are the caller's.
fn insert_each(
    store: &dyn Store,
    trees: &mut HashMap<String, Arc<dyn Tree>>,
    batch: &Batch,
) -> Result<(), StoreError> {
    for op in batch.ops() {
        let tree = match trees.get(op.tree()) {
            Some(t) => t,
            None => {
                let t = store.tree(op.tree())?;
                trees.entry(op.tree().to_owned()).or_insert(t)
            }
        };
        match op {
            BatchOp::Put { key, value, .. } => {
                tree.insert(key, value)?;
            }
            BatchOp::Delete { key, .. } => {
                tree.remove(key)?;
            }
            BatchOp::Expect { .. } => {}
            BatchOp::Add { tree, key, .. } => {
                return Err(StoreError::Conflict {
                    tree: tree.clone(),
                    key: key.clone(),
                });
            }
        }
    }
    Ok(())
}

/// What one writer of [`generate_fresh`] wrote.
#[derive(Default)]
struct Written {
    boxes: u64,
    users: u64,
    id_collisions: u64,
    by_type: Vec<(BoxType, u64)>,
}

/// Stages box `n` of the population under `id` (the box with its search
/// entry, and its credit): what both ways of writing a population share.
/// Returns the box and the name of its user.
fn stage_synth_box(
    batch: &mut Batch,
    n: u64,
    id: BoxId,
    opts: &SynthOptions,
) -> Result<(DataBox, PersonName), SynthError> {
    let ic = ic_for(n, opts.seed);
    let SynthBox {
        databox,
        credit,
        user_name,
    } = synth_box(n, opts.seed, id, &ic, opts.now);
    repo::stage_insert_box_unchecked(batch, &databox);
    if let Some(c) = credit {
        credit::stage_new_ledger(batch, &databox.id, &[c])?;
    }
    Ok((databox, user_name))
}

/// Writes into an empty store, every tree in key order: sled appends
/// ordered keys at the right edge of a tree instead of splitting (and,
/// once the tree outgrows its page cache, reading back) pages all over
/// it. Boxes, their search index entries, credit and box-user entries go
/// in box-ID order on one thread; users and logins in user-ID order on
/// another (each user derives from its box's ordinal alone), so the two
/// cores share the work. The population is the same as box by box.
fn generate_fresh(
    store: &dyn Store,
    opts: &SynthOptions,
    hash: Option<&PasswordHash>,
    report: &mut SynthReport,
    progress: &mut impl FnMut(u64),
) -> Result<(), SynthError> {
    let boxes_done = AtomicU64::new(0);
    let users_done = AtomicU64::new(if hash.is_some() { 0 } else { opts.boxes });
    let failed = AtomicBool::new(false);
    let per_batch = opts.batch_boxes.max(1);
    let boxes_writer = || -> Result<Written, SynthError> {
        let order = ordinals_by::<7>(opts.boxes, |n| key_bytes(fresh_box_id(n, opts).0.as_str()));
        let mut written = Written {
            by_type: BoxType::ALL.iter().map(|t| (*t, 0)).collect(),
            ..Written::default()
        };
        let mut trees = HashMap::new();
        for chunk in order.chunks(per_batch) {
            if failed.load(Ordering::Relaxed) {
                break;
            }
            let mut batch = Batch::new();
            for &n in chunk {
                let (id, skipped) = fresh_box_id(n, opts);
                written.id_collisions += skipped;
                let (b, user_name) = stage_synth_box(&mut batch, n, id, opts)?;
                if let Some(hash) = hash {
                    let u = synth_user(&b, fresh_user_id(n, opts).0, user_name, hash, opts.now);
                    repo::stage_box_user(&mut batch, &u);
                }
                if let Some(slot) = written.by_type.iter_mut().find(|(t, _)| *t == b.box_type) {
                    slot.1 += 1;
                }
                written.boxes += 1;
            }
            insert_each(store, &mut trees, &batch)?;
            boxes_done.store(written.boxes, Ordering::Relaxed);
        }
        Ok(written)
    };
    let users_writer = |hash: &PasswordHash| -> Result<Written, SynthError> {
        let order = ordinals_by::<6>(opts.boxes, |n| key_bytes(fresh_user_id(n, opts).0.as_str()));
        let mut written = Written::default();
        let mut trees = HashMap::new();
        for chunk in order.chunks(per_batch) {
            if failed.load(Ordering::Relaxed) {
                break;
            }
            let mut batch = Batch::new();
            for &n in chunk {
                let (uid, skipped) = fresh_user_id(n, opts);
                written.id_collisions += skipped;
                let id = fresh_box_id(n, opts).0;
                let ic = ic_for(n, opts.seed);
                let sb = synth_box(n, opts.seed, id, &ic, opts.now);
                let u = synth_user(&sb.databox, uid, sb.user_name, hash, opts.now);
                repo::stage_user_record_unchecked(&mut batch, &u);
                written.users += 1;
            }
            insert_each(store, &mut trees, &batch)?;
            users_done.store(written.users, Ordering::Relaxed);
        }
        Ok(written)
    };
    let stop_on_error = |r: Result<Written, SynthError>| {
        if r.is_err() {
            failed.store(true, Ordering::Relaxed);
        }
        r
    };
    let (boxes_writer, users_writer, stop_on_error) =
        (&boxes_writer, &users_writer, &stop_on_error);
    let (boxes, users) = std::thread::scope(|s| {
        let boxes = s.spawn(move || stop_on_error(boxes_writer()));
        let users = hash.map(|h| s.spawn(move || stop_on_error(users_writer(h))));
        let mut shown = 0;
        loop {
            let finished = boxes.is_finished() && users.as_ref().is_none_or(|u| u.is_finished());
            let done = boxes_done
                .load(Ordering::Relaxed)
                .min(users_done.load(Ordering::Relaxed));
            if done != shown {
                shown = done;
                progress(done);
            }
            if finished {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let join = |h: std::thread::ScopedJoinHandle<'_, Result<Written, SynthError>>| {
            h.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        };
        (join(boxes), users.map(join))
    });
    let boxes = boxes?;
    let users = users.transpose()?.unwrap_or_default();
    report.boxes = boxes.boxes;
    report.users = users.users;
    report.id_collisions = boxes.id_collisions + users.id_collisions;
    report.by_type = boxes.by_type;
    Ok(())
}

/// Adds to a store that holds boxes or users already: box by box, each
/// ID checked against the store, [`SynthOptions::batch_boxes`] boxes per
/// bulk write (one per tree, [`Store::apply_bulk`]).
fn generate_among(
    store: &dyn Store,
    opts: &SynthOptions,
    hash: Option<&PasswordHash>,
    [boxes_tree, users_tree, logins_tree]: [&Arc<dyn Tree>; 3],
    report: &mut SynthReport,
    progress: &mut impl FnMut(u64),
) -> Result<(), SynthError> {
    let per_batch = opts.batch_boxes.max(1) as u64;
    let mut n = 0u64;
    while n < opts.boxes {
        let end = (n + per_batch).min(opts.boxes);
        let mut batch = Batch::new();
        for n in n..end {
            // A free box ID: the ordinal's, else further along.
            let mut attempt = 0u64;
            let id = loop {
                let s = box_id_for(n + attempt * opts.boxes.max(1), opts.seed);
                if s != SYSTEM_BOX_ID
                    && !boxes_tree.contains_key(s.as_bytes())?
                    && let Ok(id) = BoxId::parse(&s)
                {
                    break id;
                }
                attempt += 1;
                report.id_collisions += 1;
            };
            let (b, user_name) = stage_synth_box(&mut batch, n, id, opts)?;
            if let Some(hash) = hash {
                let mut attempt = 0u64;
                let uid = loop {
                    let s = user_id_for(n + attempt * opts.boxes.max(1), opts.seed);
                    if !reserved_user_id(&s)
                        && !users_tree.contains_key(s.as_bytes())?
                        && !logins_tree.contains_key(s.as_bytes())?
                        && let Ok(id) = UserId::parse(&s)
                    {
                        break id;
                    }
                    attempt += 1;
                    report.id_collisions += 1;
                };
                let u = synth_user(&b, uid, user_name, hash, opts.now);
                repo::stage_insert_user_unchecked(&mut batch, &u);
                report.users += 1;
            }
            if let Some(slot) = report.by_type.iter_mut().find(|(t, _)| *t == b.box_type) {
                slot.1 += 1;
            }
            report.boxes += 1;
        }
        // Fresh IDs and logins were checked above; one bulk write per
        // tree, not a transaction over all.
        batch.drop_preconditions();
        store.apply_bulk(batch)?;
        n = end;
        progress(report.boxes);
    }
    Ok(())
}

/// The login of synthetic box number `i` of the population of `seed`
/// (for benchmarks and tests that log in as one), if no collision moved
/// it.
pub fn login_of(i: u64, seed: u64) -> String {
    user_id_for(i, seed)
}

/// The IČ synthetic box number `i` of the population of `seed` gets if its
/// type has one.
pub fn ic_of(i: u64, seed: u64) -> String {
    ic_for(i, seed)
}

/// The box ID of synthetic box number `i` of the population of `seed`, if
/// no collision moved it.
pub fn box_id_of(i: u64, seed: u64) -> String {
    box_id_for(i, seed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::open_memory;

    #[test]
    fn ic_check_digits() {
        assert!(ic_is_valid("27074358"));
        assert!(ic_is_valid("00231401"));
        assert!(!ic_is_valid("27074359"));
        assert!(!ic_is_valid("2707435"));
        for base in [0, 1, 9_999_999, 1_234_567, 7_777_777] {
            assert!(ic_is_valid(&ic_from(base)), "{}", ic_from(base));
        }
    }

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut boxes = std::collections::HashSet::new();
        let mut users = std::collections::HashSet::new();
        let mut ics = std::collections::HashSet::new();
        for i in 0..20_000 {
            let b = box_id_for(i, 7);
            assert!(BoxId::parse(&b).is_ok(), "{b}");
            assert!(boxes.insert(b));
            let u = user_id_for(i, 7);
            assert!(UserId::parse(&u).is_ok(), "{u}");
            assert!(users.insert(u));
            assert!(ics.insert(ic_for(i, 7)));
        }
    }

    #[test]
    fn generation_adds_to_a_store_with_a_world() {
        let store = open_memory();
        let world = crate::domain::world::World::parse(crate::domain::world::DEMO_WORLD, "demo", 0)
            .unwrap();
        crate::domain::world::store::insert_world(store.as_ref(), &world).unwrap();
        let report = generate(store.as_ref(), &SynthOptions::new(50, 3, 0), |_| {}).unwrap();
        assert_eq!(report.boxes, 50);
        assert_eq!(repo::all_boxes(store.as_ref()).unwrap().len(), 53);
        assert!(
            repo::user_by_login(store.as_ref(), "po_jednatel")
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn an_empty_store_gets_the_population_a_used_one_gets() {
        // The empty store takes the ordered two-thread path, the one with
        // a world the checked box-by-box one: the same boxes, users and
        // credit either way.
        let empty = open_memory();
        let used = open_memory();
        let world = crate::domain::world::World::parse(crate::domain::world::DEMO_WORLD, "demo", 0)
            .unwrap();
        crate::domain::world::store::insert_world(used.as_ref(), &world).unwrap();
        let mut opts = SynthOptions::new(200, 5, 1_700_000_000);
        opts.batch_boxes = 30;
        let a = generate(empty.as_ref(), &opts, |_| {}).unwrap();
        let b = generate(used.as_ref(), &opts, |_| {}).unwrap();
        assert_eq!((a.boxes, a.users, a.id_collisions), (200, 200, 0));
        assert_eq!((b.boxes, b.users, b.by_type), (200, 200, a.by_type));
        for i in 0..200 {
            let id = BoxId::parse(&box_id_of(i, 5)).unwrap();
            let boxed = repo::get_box(empty.as_ref(), &id).unwrap();
            assert!(boxed.is_some());
            assert_eq!(boxed, repo::get_box(used.as_ref(), &id).unwrap());
            let users = repo::users_of_box(empty.as_ref(), &id).unwrap();
            assert_eq!(users.len(), 1);
            assert_eq!(users[0].login, login_of(i, 5));
            assert_eq!(
                repo::user_by_login(empty.as_ref(), &login_of(i, 5)).unwrap(),
                Some(users[0].clone())
            );
            // Each load hashes the shared password with a salt of its own.
            let mut users_used = repo::users_of_box(used.as_ref(), &id).unwrap();
            for u in &mut users_used {
                u.password = users[0].password.clone();
            }
            assert_eq!(users, users_used);
            assert_eq!(
                credit::balance(empty.as_ref(), &id).unwrap(),
                credit::balance(used.as_ref(), &id).unwrap()
            );
        }
    }

    #[test]
    fn generation_is_deterministic_and_covers_every_type() {
        let a = open_memory();
        let b = open_memory();
        let mut opts = SynthOptions::new(300, 42, 1_700_000_000);
        opts.batch_boxes = 64;
        let ra = generate(a.as_ref(), &opts, |_| {}).unwrap();
        generate(b.as_ref(), &opts, |_| {}).unwrap();
        assert_eq!(ra.boxes, 300);
        assert_eq!(ra.users, 300);
        assert!(ra.by_type.iter().all(|(_, n)| *n > 0), "{:?}", ra.by_type);
        let all_a = repo::all_boxes(a.as_ref()).unwrap();
        let all_b = repo::all_boxes(b.as_ref()).unwrap();
        assert_eq!(all_a, all_b);
        for bx in &all_a {
            if !bx.owner.ic.is_empty() {
                assert!(ic_is_valid(&bx.owner.ic), "{}", bx.owner.ic);
            }
            assert!(!bx.display_name().is_empty());
        }
        // Female owners carry the female form of the surname.
        let female = all_a
            .iter()
            .filter(|b| b.box_type == BoxType::FO)
            .filter(|b| FEMALE_NAMES.contains(&b.owner.first_name.as_str()))
            .all(|b| SURNAMES.iter().any(|(_, f)| *f == b.owner.last_name));
        assert!(female);
        // The first user logs in with the shared password.
        let u = repo::user_by_login(a.as_ref(), &login_of(0, 42))
            .unwrap()
            .unwrap();
        assert_eq!(u.box_id.as_str(), box_id_of(0, 42));
        assert!(u.password.verify(SYNTH_PASSWORD));
    }
}
