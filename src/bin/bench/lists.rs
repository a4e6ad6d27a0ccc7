//! The rows of a big box: a store seeded (before the gateway starts) with
//! 100,000 messages to `po4demo`, all waiting to be delivered; the first
//! listing delivers them (the operator's rule: only
//! GetListOfReceivedMessages delivers), timed with its peak RSS; then
//! pages of 100 at offsets 1, 50,000 and 99,901 of that box and a page of
//! 1 at offset 50,000, with one and with many clients.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use isds_gateway::domain::clock::SystemClock;
use isds_gateway::domain::messages::message::{Message, MessageId, Party, Timestamp};
use isds_gateway::domain::messages::wire::compute_hash;
use isds_gateway::domain::{BoxId, BoxType, messages};
use isds_gateway::store::{self, Batch};

use super::{Bench, Figures, Floor, ISDS_NS, basic, envelope, proc_cpu_s, proc_mb, reset_peak};

/// Messages in the big box.
pub const BIG_BOX: usize = 100_000;

/// Writes `n` messages from ovm4dem to po4demo into the store under
/// `data`, one millisecond apart and ending an hour ago, all delivered (4)
/// and not yet listed.
pub fn seed_waiting(data: &Path, n: usize) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let store = store::open_sled(&data.join("store")).map_err(|e| err(&e))?;
    let party = |id: &str, name: &str, box_type: BoxType| -> Result<Party, String> {
        Ok(Party {
            box_id: BoxId::parse(id).map_err(|e| err(&e))?,
            name: name.into(),
            address: "Náměstí Míru 1, 74766 Dolní Lhota".into(),
            box_type,
            system: false,
        })
    };
    let sender = party("ovm4dem", "Městský úřad Dolní Lhota", BoxType::OVM)?;
    let recipient = party("po4demo", "Účetnictví Novák s.r.o.", BoxType::PO)?;
    let now = Timestamp::now(&SystemClock);
    let start = now.plus_micros(-3_600_000_000 - (n as i64) * 1_000);
    let doc = b"%PDF-1.4 seeded document".to_vec();
    let mut batch = Batch::new();
    for i in 0..n {
        let at = start.plus_micros(i as i64 * 1_000);
        let mut m = Message::seeded_delivered(
            MessageId(MessageId::BASE + 1_000_000_000 + i as u64),
            sender.clone(),
            recipient.clone(),
            format!("Zpráva číslo {i}"),
            "zprava.pdf",
            doc.len() as u64,
            at,
        );
        m.envelope.ovm = true;
        m.hash = compute_hash(&m, &[doc.as_slice()]).map_err(|e| err(&e))?;
        messages::repo::stage_insert_message(&mut batch, &m, std::slice::from_ref(&doc));
        if batch.len() >= 20_000 {
            store
                .apply(std::mem::take(&mut batch))
                .map_err(|e| err(&e))?;
        }
    }
    store.apply_durable(batch).map_err(|e| err(&e))?;
    Ok(())
}

fn list_page(offset: usize, limit: usize) -> Vec<u8> {
    envelope(&format!(
        r#"<GetListOfReceivedMessages xmlns="{ISDS_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dmFromTime xsi:nil="true"/><dmToTime xsi:nil="true"/><dmRecipientOrgUnitNum xsi:nil="true"/><dmStatusFilter>-1</dmStatusFilter><dmOffset>{offset}</dmOffset><dmLimit>{limit}</dmLimit></GetListOfReceivedMessages>"#
    ))
}

/// A page of 100 records came back (each record has one `dmOrdinal`,
/// an opening and a closing tag).
fn hundred_records(body: &[u8]) -> bool {
    super::ok_status(body) && count(body, b"dmOrdinal>") == 200
}

/// The CPU time (user and system) a process has used so far, from
/// /proc (Linux; clock ticks of 1/100 s).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// A page of 1 record came back.
fn one_record(body: &[u8]) -> bool {
    super::ok_status(body) && count(body, b"dmOrdinal>") == 2
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

/// The big-box rows, on a gateway of their own.
pub async fn run(clients: usize, budget: std::time::Duration, figures: &Figures) {
    let t = Instant::now();
    let gw = match super::start_gateway_seeded(&["--no-ui"], |data| seed_waiting(data, BIG_BOX)) {
        Ok(gw) => gw,
        Err(e) => {
            println!("big box: {e}");
            return;
        }
    };
    println!(
        "(big box: {BIG_BOX} waiting messages seeded and the gateway started in {:.1} s)",
        t.elapsed().as_secs_f64()
    );
    let mut b = Bench {
        gw,
        only: None,
        budget,
        figures: Figures {
            hyper_rps: figures.hyper_rps,
            b64_mbps: figures.b64_mbps,
            peak_rss: 0.0,
        },
    };
    let po = basic("po_jednatel", "Demo-Po-2026!");
    let before = proc_mb(b.pid(), "VmRSS:").unwrap_or(0.0);
    reset_peak(b.pid());
    let cpu_before = proc_cpu_s(b.pid());
    let t0 = Instant::now();
    let answer = b.one("/DS/dx", &po, &list_page(1, 1)).await;
    let took = t0.elapsed();
    let cpu = proc_cpu_s(b.pid())
        .zip(cpu_before)
        .map(|(after, before)| format!(" ({:.2} s CPU)", after - before))
        .unwrap_or_default();
    let peak = proc_mb(b.pid(), "VmHWM:").unwrap_or(0.0);
    let ok = answer.is_some_and(|(status, body)| status == 200 && super::ok_status(&body));
    println!(
        "first listing of the big box, delivering {BIG_BOX} waiting messages: {:.2} s{cpu}{}, RSS {before:.0} MB before, peak {peak:.0} MB",
        took.as_secs_f64(),
        if ok { "" } else { " (FAILED)" }
    );
    // Pages of 100 at three offsets, then a page of 1 in the middle: what
    // a list costs whatever its length (the request, the login, finding
    // the offset), against which the pages' 100 records stand.
    let pages = [
        (1, 100),
        (BIG_BOX / 2, 100),
        (BIG_BOX - 99, 100),
        (BIG_BOX / 2, 1),
    ];
    for (offset, limit) in pages {
        for n in [1, clients] {
            let name = format!("List {limit} @{offset} of 100k");
            let pid = b.pid();
            let rss = proc_mb(pid, "VmRSS:").unwrap_or(0.0);
            reset_peak(pid);
            let req = Arc::new(super::load::Request::soap(
                b.gw.http,
                "/DS/dx",
                &po,
                &list_page(offset, limit),
            ));
            let check: fn(&[u8]) -> bool = if limit == 1 {
                one_record
            } else {
                hundred_records
            };
            let cpu_before = cpu_seconds(pid);
            let m = super::load::run(b.gw.http, req, n, 1_000_000, b.budget, check).await;
            let cpu = cpu_seconds(pid).zip(cpu_before).map(|(a, b)| a - b);
            let grown = proc_mb(pid, "VmHWM:").unwrap_or(0.0) - rss;
            super::row(&name, n, &m, Floor::Hyper, &b.figures, grown);
            // The gateway's CPU time per request: what a page costs,
            // whatever else runs on the machine.
            if let Some(cpu) = cpu
                && m.requests > 0
            {
                println!(
                    "    gateway CPU per request: {:.3} ms",
                    cpu * 1000.0 / m.requests as f64
                );
            }
        }
    }
    b.figures.peak_rss = b.figures.peak_rss.max(peak);
}
