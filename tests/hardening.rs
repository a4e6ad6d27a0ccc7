//! Hardening against hostile or careless clients and hosts, through the
//! real interface: the password lockout under a burst, idle and slow
//! connections, a full disk, amplifying request bodies, private files and
//! fixture paths. Everything runs on loopback, bounded in count and time.

mod common;

use common::*;

const DUMMY: &str = r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20"/>"#;

/// Held for writing by the tests that measure the process's peak memory
/// and by those that move much data, and for reading by the others, so a
/// measurement never counts another test's gateway, bodies or password
/// hashes (the tests of one file run in one process, in parallel).
static MEMORY: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn message_code(resp: &SoapResponse) -> String {
    assert_eq!(resp.status, 401, "{}", resp.text);
    resp.headers
        .get("x-response-message-code")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// 200 parallel wrong guesses block the login before the right password
/// that follows them can get in; an unknown login and the operator's are
/// blocked after as many failures and answer the same code.
#[tokio::test]
async fn the_lockout_holds_under_a_burst_and_tells_no_logins_apart() {
    let _light = MEMORY.read().await;
    let t = TestGateway::start_with(|c| {
        c.operator = Some(isds_gateway::config::OperatorConfig {
            login: "provozovatel".into(),
            password: "Tajne-Heslo-1".into(),
        });
    })
    .await;
    let t = std::sync::Arc::new(t);
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..200 {
        let t = t.clone();
        burst.spawn(async move {
            let guess = format!("wrong-{i}");
            message_code(&t.soap_as(("po_jednatel", &guess), "/DS/dz", DUMMY).await)
        });
    }
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    while let Some(code) = burst.join_next().await {
        *codes.entry(code.expect("guess task")).or_default() += 1;
    }
    // Exactly the first four failures are plain refusals.
    assert_eq!(
        codes.get("authentication.error.userIsNotAuthenticated"),
        Some(&4),
        "{codes:?}"
    );
    let resp = t.soap_as(PO_LOGIN, "/DS/dz", DUMMY).await;
    assert_eq!(message_code(&resp), "authentication.error.intruderDetected");

    // An unknown login, and the operator's, behave exactly like a user's.
    for login in ["nikdo_takovy", "provozovatel"] {
        for attempt in 0..5 {
            let code = message_code(&t.soap_as((login, "bad"), "/DS/dz", DUMMY).await);
            let expected = if attempt < 4 {
                "authentication.error.userIsNotAuthenticated"
            } else {
                "authentication.error.intruderDetected"
            };
            assert_eq!(code, expected, "{login} attempt {attempt}");
        }
    }
    let resp = t
        .soap_as(("provozovatel", "Tajne-Heslo-1"), "/DS/dz", DUMMY)
        .await;
    assert_eq!(message_code(&resp), "authentication.error.intruderDetected");
    let t = std::sync::Arc::into_inner(t).expect("no other owner");
    t.stop().await;
}

/// Raises this process's open-file limit (the flood test holds thousands
/// of sockets on both ends).
fn raise_fd_limit(wanted: u64) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct given.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < wanted {
                lim.rlim_cur = wanted.min(lim.rlim_max);
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = wanted;
}

/// Whether the server closes `stream` within `within` (reads until EOF or
/// an error, ignoring anything it sends).
async fn closed_within<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    within: std::time::Duration,
) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

async fn tls_connect(t: &TestGateway) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let ca = std::fs::read(t.gw.ca_cert_path.as_ref().expect("generated CA")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut ca.as_slice()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(t.gw.https_addr.unwrap())
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.expect("TLS handshake")
}

/// A connection that sends nothing, a TLS connection idle after its
/// handshake, an HTTP/2 connection idle after its preface and an HTTP/1
/// connection idle after a request are all closed after the configured
/// times; a half-done TLS handshake is cut off at its own deadline.
#[tokio::test]
async fn idle_connections_are_closed_after_their_timeouts() {
    let _light = MEMORY.read().await;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;
    let t = TestGateway::start_with(|c| {
        c.limits.first_byte_timeout_secs = 1;
        c.limits.header_read_timeout_secs = 2;
        c.limits.idle_timeout_secs = 2;
        c.limits.tls_handshake_timeout_secs = 2;
    })
    .await;
    let bound = Duration::from_secs(6);

    let mut silent = TcpStream::connect(t.gw.http_addr).await.unwrap();
    let mut silent_tls = TcpStream::connect(t.gw.https_addr.unwrap()).await.unwrap();
    let mut after_handshake = tls_connect(&t).await;
    let mut h2c = TcpStream::connect(t.gw.http_addr).await.unwrap();
    // The HTTP/2 preface and an empty SETTINGS frame, then nothing.
    h2c.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    let mut half_tls = TcpStream::connect(t.gw.https_addr.unwrap()).await.unwrap();
    // The first bytes of a TLS record header: a handshake never finished.
    half_tls.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
    let mut keep_alive = TcpStream::connect(t.gw.http_addr).await.unwrap();
    keep_alive
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();

    assert!(closed_within(&mut silent, bound).await, "silent plain");
    assert!(closed_within(&mut silent_tls, bound).await, "silent TLS");
    assert!(
        closed_within(&mut after_handshake, bound).await,
        "TLS idle after the handshake"
    );
    assert!(
        closed_within(&mut h2c, bound).await,
        "h2c after the preface"
    );
    assert!(
        closed_within(&mut half_tls, bound).await,
        "half a handshake"
    );
    assert!(
        closed_within(&mut keep_alive, bound).await,
        "HTTP/1 idle after a request"
    );

    // A connection in use is not cut off: a request after one second of
    // silence is answered.
    let client = reqwest::Client::new();
    let health = client.get(t.http_url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    t.stop().await;
}

/// 1,024 silent sockets on each listener and a slowloris of 1,030
/// reconnecting clients for 50 seconds (request headers dripped a byte a
/// second on HTTP, a ClientHello dripped likewise on HTTPS) do not stop a
/// DummyOperation on either listener, each on a new connection, from being
/// answered within a second: at the connection cap the longest-idle
/// connection makes room. (`HARDENING_FLOOD_SECS` shortens the 50 seconds
/// for a quick run.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_and_slow_connections_does_not_block_requests() {
    let _heavy = MEMORY.write().await;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;
    const IDLE_PER_LISTENER: usize = 1024;
    const SLOWLORIS_CLIENTS: usize = 1030;
    let flood = Duration::from_secs(
        std::env::var("HARDENING_FLOOD_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(50),
    );
    raise_fd_limit(16_384);
    let t = TestGateway::start_with(|c| {
        c.limits.max_connections = 1024;
        // Long enough that only making room, not expiry, can help.
        c.limits.first_byte_timeout_secs = 120;
        c.limits.header_read_timeout_secs = 120;
        c.limits.tls_handshake_timeout_secs = 120;
    })
    .await;
    // Fresh connections for every probe, so each must get past the cap.
    let ca = std::fs::read(t.gw.ca_cert_path.as_ref().expect("generated CA")).unwrap();
    let fresh = |tls: bool| {
        let mut b = reqwest::Client::builder().pool_max_idle_per_host(0);
        if tls {
            b = b.add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap());
        }
        b.build().unwrap()
    };
    let probe = |tls: bool| {
        let (client, url) = if tls {
            (fresh(true), t.https_url("/DS/dz"))
        } else {
            (fresh(false), t.http_url("/DS/dz"))
        };
        async move {
            let req = client
                .post(&url)
                .header("authorization", basic(OVM_LOGIN.0, OVM_LOGIN.1));
            let started = Instant::now();
            let resp = tokio::time::timeout(
                Duration::from_secs(10),
                send(req, soap11(DUMMY), "text/xml; charset=utf-8"),
            )
            .await
            .unwrap_or_else(|_| panic!("{url} not answered in 10 s"));
            assert_eq!(resp.status().0, "0000", "{url}");
            started.elapsed()
        }
    };
    // The login's first (slow, hashed) check happens before the flood.
    probe(false).await;
    probe(true).await;

    let mut idle = Vec::new();
    for _ in 0..IDLE_PER_LISTENER {
        idle.push(TcpStream::connect(t.gw.http_addr).await.unwrap());
        idle.push(TcpStream::connect(t.gw.https_addr.unwrap()).await.unwrap());
    }
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let mut slowloris = tokio::task::JoinSet::new();
    for i in 0..SLOWLORIS_CLIENTS {
        let tls = i % 2 == 1;
        let addr = if tls {
            t.gw.https_addr.unwrap()
        } else {
            t.gw.http_addr
        };
        let stop = stop.clone();
        slowloris.spawn(async move {
            // A request head that never ends, or a TLS record announcing
            // a 512-byte ClientHello that never arrives.
            let drip: Vec<u8> = if tls {
                [
                    0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
                ]
                .into_iter()
                .chain(std::iter::repeat(0x2a))
                .take(20)
                .collect()
            } else {
                b"POST /DS/dz HTTP/1.1\r\nHost: localhost\r\nX-Slow: "
                    .iter()
                    .copied()
                    .cycle()
                    .take(20)
                    .collect()
            };
            // Spread the clients' starts over the first second.
            tokio::time::sleep(Duration::from_millis((i % 1000) as u64)).await;
            while !stop.load(Ordering::Relaxed) {
                let Ok(mut s) = TcpStream::connect(addr).await else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                for b in &drip {
                    if stop.load(Ordering::Relaxed) || s.write_all(&[*b]).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                // Cut off (or done dripping): reconnect after a moment.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }
    let began = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut probes = 0;
    while began.elapsed() < flood {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let tls = probes % 2 == 1;
        let took = probe(tls).await;
        probes += 1;
        slowest = slowest.max(took);
        assert!(
            took < Duration::from_secs(1),
            "a DummyOperation over {} took {took:?} after {:?} of the flood",
            if tls { "HTTPS" } else { "HTTP" },
            began.elapsed()
        );
    }
    eprintln!(
        "{probes} DummyOperations during {flood:?} of {SLOWLORIS_CLIENTS} slowloris clients and {} idle sockets; slowest {slowest:?}",
        2 * IDLE_PER_LISTENER
    );
    stop.store(true, Ordering::Relaxed);
    while slowloris.join_next().await.is_some() {}
    drop(idle);
    t.stop().await;
}

/// Permission bits of a path (Unix).
#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Every file and directory under `dir` is its owner's only.
#[cfg(unix)]
fn assert_private_tree(dir: &std::path::Path) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let m = mode(&path);
        assert_eq!(m & 0o077, 0, "{} has mode {m:o}", path.display());
        if path.is_dir() {
            assert_private_tree(&path);
        }
    }
}

/// Under umask 000 the data directory, the store, document files and a
/// recording are created for their owner only, and a recording of
/// NewAccessData holds no generated password.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[tokio::test]
async fn private_files_stay_private_and_recordings_hold_no_passwords() {
    let _light = MEMORY.read().await;
    // SAFETY: umask only sets this process's file creation mask.
    let old = unsafe { libc::umask(0) };
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("recording");
    let t = TestGateway::start_in(dir, |c| c.record = Some(record.clone())).await;
    let new_access = op(
        "NewAccessData2",
        "<dbID>po4demo</dbID><isdsID>000000poeu01</isdsID><dbFeePaid>false</dbFeePaid>",
    );
    let resp = t.soap_as(PO_LOGIN, "/DS/DsManage", &new_access).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let token = resp
        .body()
        .elements()
        .find(|e| e.name == "dbAccessDataId")
        .map(|e| e.text())
        .expect("dbAccessDataId");
    let password = token.rsplit(':').next().unwrap().to_owned();
    assert!(password.len() >= 8, "{token}");
    // A message with a document, so a document file exists.
    // A 300 KiB document is kept as a file of its own.
    let big = base64_of(&vec![b'x'; 300 * 1024]);
    let send = format!(
        r#"<CreateMessage xmlns="{ISDS_NS}"><dmEnvelope><dbIDRecipient>ovm4dem</dbIDRecipient><dmAnnotation>Soukromé</dmAnnotation></dmEnvelope><dmFiles><dmFile dmMimeType="text/plain" dmFileMetaType="main" dmFileDescr="a.txt"><dmEncodedContent>{big}</dmEncodedContent></dmFile></dmFiles></CreateMessage>"#
    );
    let sent = t.soap_as(PO_LOGIN, "/DS/dz", &send).await;
    let data = t.dir.path().join("data");
    let recorded: Vec<_> = std::fs::read_dir(&record)
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    unsafe { libc::umask(old) };
    assert!(!recorded.is_empty());
    for text in &recorded {
        assert!(
            !text.contains(&password),
            "a recording holds the password:\n{text}"
        );
    }
    assert!(
        recorded
            .iter()
            .any(|t| t.contains("{{capture:dbAccessDataId_1}}")),
        "{recorded:?}"
    );
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&record), 0o700);
    // (Certificates, public by nature, may stay readable inside it.)
    for private in ["store", "documents"] {
        assert_eq!(mode(&data.join(private)), 0o700);
        assert_private_tree(&data.join(private));
    }
    assert!(
        std::fs::read_dir(data.join("documents")).unwrap().count() > 0,
        "a document file was written: {}",
        sent.text
    );
    assert_private_tree(&record);
    t.stop().await;

    // An existing data directory open to others is tightened at start.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let t = TestGateway::start_in(dir, |_| {}).await;
    assert_eq!(mode(&data), 0o700);
    t.stop().await;
}

/// A world fixture naming a document outside its directory (by `..`, an
/// absolute path or a symbolic link), or a FIFO, is refused at start; an
/// absolute path is read only with `allow_absolute_fixture_paths`.
#[tokio::test]
async fn fixture_files_stay_inside_the_fixture_directory() {
    let _light = MEMORY.read().await;
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("secret.txt"), b"not for the gateway").unwrap();
    let world = root.path().join("world");
    std::fs::create_dir_all(&world).unwrap();
    std::fs::write(world.join("ok.txt"), b"fine").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.path().join("secret.txt"), world.join("link.txt")).unwrap();
    let fixture = |file: &str| {
        format!(
            r#"
[[messages]]
from = "ovm4dem"
to = "po4demo"
annotation = "Cesta"
submitted = "2026-02-27T09:00:00Z"
[[messages.documents]]
file = "{file}"
"#
        )
    };
    let abs = root.path().join("secret.txt").display().to_string();
    let mut refused = vec!["../secret.txt", abs.as_str()];
    if cfg!(unix) {
        refused.push("link.txt");
    }
    for (i, file) in refused.iter().chain(["ok.txt"].iter()).enumerate() {
        let path = world.join(format!("w{i}.toml"));
        std::fs::write(&path, fixture(file)).unwrap();
        let data = tempfile::tempdir().unwrap();
        let mut config = isds_gateway::config::Config::ephemeral(data.path().join("data"));
        config.tls_listen = None;
        config.fixtures = vec![path];
        let started = isds_gateway::http::start(config).await;
        if *file == "ok.txt" {
            started
                .expect("a file inside the directory is read")
                .shutdown()
                .await
                .unwrap();
        } else {
            let err = started.err().expect("refused").to_string();
            assert!(err.contains("document 1"), "{file}: {err}");
            assert!(!err.contains("not for the gateway"), "{err}");
        }
    }

    // With the flag an absolute path is read; `..` stays refused.
    for (i, file) in [abs.as_str(), "../secret.txt"].iter().enumerate() {
        let path = world.join(format!("flag{i}.toml"));
        std::fs::write(&path, fixture(file)).unwrap();
        let data = tempfile::tempdir().unwrap();
        let mut config = isds_gateway::config::Config::ephemeral(data.path().join("data"));
        config.tls_listen = None;
        config.fixtures = vec![path];
        config.allow_absolute_fixture_paths = true;
        let started = isds_gateway::http::start(config).await;
        if i == 0 {
            started
                .expect("an absolute path is read with the flag")
                .shutdown()
                .await
                .unwrap();
        } else {
            let err = started.err().expect("refused").to_string();
            assert!(err.contains("document 1"), "{file}: {err}");
        }
    }
}

/// Fills the file system holding `dir` with a file of its own, up to the
/// last block; returns the file.
fn fill_disk(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 64 * 1024];
    loop {
        if f.write_all(&block).is_err() {
            break;
        }
    }
    let small = [0u8; 512];
    while f.write_all(&small).is_ok() {}
    let _ = f.sync_all();
    path
}

/// The body element's `dmID` text, if any.
fn dm_id(resp: &SoapResponse) -> Option<String> {
    if resp.status != 200 {
        return None;
    }
    resp.body()
        .elements()
        .find(|e| e.name == "dmID")
        .map(|e| e.text())
}

/// A big message (its document kept as a file) from PO to the OVM box.
fn big_message(annotation: &str) -> String {
    let doc = base64_of(&vec![b'y'; 400 * 1024]);
    format!(
        r#"<CreateMessage xmlns="{ISDS_NS}"><dmEnvelope><dbIDRecipient>ovm4dem</dbIDRecipient><dmAnnotation>{annotation}</dmAnnotation></dmEnvelope><dmFiles><dmFile dmMimeType="text/plain" dmFileMetaType="main" dmFileDescr="a.txt"><dmEncodedContent>{doc}</dmEncodedContent></dmFile></dmFiles></CreateMessage>"#
    )
}

/// A full disk (a small tmpfs where one can be mounted, else the store's
/// full-disk hook) answers a write with a clear fault and no dmID, in
/// bounded time; logins, reads of stored messages and /health keep
/// working, /health says the disk is full; once space returns, messages are
/// accepted again without a restart.
#[tokio::test]
async fn a_full_disk_is_answered_with_a_fault_and_recovered_from() {
    let _heavy = MEMORY.write().await;
    use std::time::Duration;
    let root = tempfile::tempdir().unwrap();
    let disk = root.path().join("disk");
    std::fs::create_dir_all(&disk).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=48m", "tmpfs"])
        .arg(&disk)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    eprintln!(
        "full disk by: {}",
        if mounted {
            "a 48 MB tmpfs"
        } else {
            "the store's hook"
        }
    );
    let trigger = root.path().join("disk-full");
    let t = TestGateway::start_in(root, |c| {
        c.data_dir = disk.join("data");
        c.tls_listen = None;
        c.simulate_full_disk_while = Some(trigger.clone());
    })
    .await;
    let bounded = Duration::from_secs(30);
    let call = |login: (&'static str, &'static str), path: &'static str, body: String| {
        let t = &t;
        async move {
            tokio::time::timeout(bounded, t.soap_as(login, path, &body))
                .await
                .expect("answered in bounded time")
        }
    };
    let health = || async {
        let resp = tokio::time::timeout(bounded, t.http.get(t.http_url("/health")).send())
            .await
            .expect("/health answers in bounded time")
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    };
    assert_eq!(
        health().await,
        (200, r#"{"status":"ok","store":"ok"}"#.to_owned())
    );
    let before = call(PO_LOGIN, "/DS/dz", big_message("Před zaplněním")).await;
    let stored = dm_id(&before).expect("a message is accepted on a free disk");
    // Delivered by the recipient's listing (the one call that delivers),
    // so that its download would record a state change.
    let listed = call(
        OVM_LOGIN,
        "/DS/dx",
        common::messages::list("GetListOfReceivedMessages"),
    )
    .await;
    assert_eq!(listed.status().0, "0000", "{}", listed.text);

    let filler = if mounted {
        fill_disk(&disk)
    } else {
        std::fs::write(&trigger, b"").unwrap();
        trigger.clone()
    };
    let refused = call(PO_LOGIN, "/DS/dz", big_message("Na plném disku")).await;
    assert_eq!(dm_id(&refused), None, "{}", refused.text);
    assert_eq!(refused.status, 500, "{}", refused.text);
    assert!(refused.text.contains("storage is full"), "{}", refused.text);
    assert!(
        !refused.text.contains(&disk.display().to_string()),
        "{}",
        refused.text
    );
    // Logins and reads of what is stored go on.
    let dummy = call(OVM_LOGIN, "/DS/dz", DUMMY.to_owned()).await;
    assert_eq!(dummy.status().0, "0000");
    let download = call(
        OVM_LOGIN,
        "/DS/dz",
        op("MessageDownload", &format!("<dmID>{stored}</dmID>")),
    )
    .await;
    assert_eq!(download.status().0, "0000", "{}", download.text);
    // (/health reuses a probe for a second.)
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        health().await,
        (
            503,
            r#"{"status":"degraded","store":"disk full"}"#.to_owned()
        )
    );

    std::fs::remove_file(&filler).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let recovered = health().await;
    let t = if recovered.0 == 200 {
        eprintln!("recovered without a restart");
        t
    } else {
        // The store engine keeps its write error: /health says a restart
        // is needed, and a restart loses nothing acknowledged.
        assert_eq!(
            recovered,
            (
                503,
                r#"{"status":"degraded","store":"failed after a full disk; restart the gateway"}"#
                    .to_owned()
            )
        );
        let TestGateway { gw, dir, .. } = t;
        let _ = gw.shutdown().await;
        let data = disk.join("data");
        TestGateway::serve_on(dir, ("provozovatel", "Tajne-Heslo-1"), move |c| {
            c.data_dir = data.clone();
        })
        .await
    };
    let after = t
        .soap_as(PO_LOGIN, "/DS/dz", &big_message("Po uvolnění"))
        .await;
    assert!(dm_id(&after).is_some(), "{}", after.text);
    let download = t
        .soap_as(
            OVM_LOGIN,
            "/DS/dz",
            &op("MessageDownload", &format!("<dmID>{stored}</dmID>")),
        )
        .await;
    assert_eq!(download.status().0, "0000", "{}", download.text);
    t.stop().await;
    if mounted {
        let _ = std::process::Command::new("umount").arg(&disk).status();
    }
}

/// The peak resident memory of this process so far, in bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Sends a request head with `Content-Length: declared` and then `sent`
/// (all or part of the body); returns the stream.
async fn raw_post(
    addr: std::net::SocketAddr,
    login: (&str, &str),
    declared: usize,
    sent: &[u8],
) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /DS/dz HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nAuthorization: {}\r\nContent-Length: {declared}\r\n\r\n",
        basic(login.0, login.1)
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(sent).await.unwrap();
    s
}

/// Reads an HTTP/1 answer's head and as much of its body as arrives in a
/// moment.
async fn raw_answer(s: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {
                out.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&out);
                if text.contains("</SOAP-ENV:Envelope>") || text.contains("Envelope>") {
                    break;
                }
            }
            _ => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// 63 empty attributes on each of `count` elements `name`.
fn attribute_heavy(name: &str, size: usize) -> String {
    let attrs: String = (0..63).map(|i| format!(" a{i}=\"\"")).collect();
    // (Each ` aN=""` of 5-6 bytes is three strings in memory.)
    let element = format!("<{name}{attrs}/>");
    element.repeat(size / element.len())
}

/// ~3,500 namespace prefixes in scope: 58 nested elements declaring 60
/// each.
fn prefix_heavy() -> String {
    let mut nested = String::from("<x/>");
    for level in 0..58 {
        let declarations: String = (0..60)
            .map(|i| format!(" xmlns:p{level}_{i}=\"urn:x:{level}:{i}\""))
            .collect();
        nested = format!("<w{declarations}>{nested}</w>");
    }
    nested
}

/// Markup that would cost many times its size is refused cheaply: elements
/// the operation has no place for (here with 63 empty attributes each, or
/// thousands of namespace prefixes inside) are kept by name only while
/// parsing and refused by the schema check, within a few times the body's
/// size in memory; elements it knows, loaded with attributes, are refused
/// while parsed once they would cost too much; so are thousands of
/// namespace prefixes where the request's own markup is built (the SOAP
/// header).
#[tokio::test]
async fn amplifying_markup_is_refused_early_and_cheaply() {
    let _heavy = MEMORY.write().await;
    let t = TestGateway::start().await;
    let body = format!(
        r#"<DummyOperation xmlns="{ISDS_NS}">{}</DummyOperation>"#,
        attribute_heavy("e", 20 * 1024 * 1024)
    );
    let size = body.len() as u64;
    let before = peak_rss();
    let resp = t.soap_as(OVM_LOGIN, "/DS/dz", &body).await;
    drop(body);
    assert_eq!(resp.status, 500, "{}", resp.text);
    assert!(
        resp.text.contains("unexpected element e in DummyOperation"),
        "{}",
        resp.text
    );
    if let (Some(before), Some(after)) = (before, peak_rss()) {
        // The client's envelope and the server's buffer; no structure
        // (before: about eleven times the body, the whole partial tree).
        let grown = after.saturating_sub(before);
        assert!(
            grown < 5 * size,
            "peak memory grew by {grown} bytes for a body of {size}"
        );
    }

    // Elements the operation knows, each with 63 empty attributes its
    // schema has no place for: the attributes are left out while parsed
    // (the first kept) and the schema refuses the elements for what they
    // lack.
    let files = attribute_heavy("dmFile", 20 * 1024 * 1024);
    let body = format!(
        r#"<CreateMessage xmlns="{ISDS_NS}"><dmEnvelope><dbIDRecipient>po4demo</dbIDRecipient><dmAnnotation>A</dmAnnotation></dmEnvelope><dmFiles>{files}</dmFiles></CreateMessage>"#
    );
    drop(files);
    let size = body.len() as u64;
    let before = peak_rss();
    let resp = t.soap_as(OVM_LOGIN, "/DS/dz", &body).await;
    drop(body);
    assert_ne!(resp.status, 200, "{}", resp.text);
    assert!(resp.text.contains("dmMimeType"), "{}", resp.text);
    if let (Some(before), Some(after)) = (before, peak_rss()) {
        // The client's envelope, the server's buffer and one small
        // element per dmFile (before: about eleven times the body, when
        // every attribute was built until a bound refused the structure).
        let grown = after.saturating_sub(before);
        assert!(
            grown < 5 * size,
            "peak memory grew by {grown} bytes for a body of {size}"
        );
    }

    // Prefixes inside an element the operation has no place for cost
    // nothing; in the SOAP header they are refused while parsed.
    let nested = prefix_heavy();
    let body = format!(r#"<DummyOperation xmlns="{ISDS_NS}">{nested}</DummyOperation>"#);
    let resp = t.soap_as(OVM_LOGIN, "/DS/dz", &body).await;
    assert!(
        resp.text.contains("unexpected element w in DummyOperation"),
        "{}",
        resp.text
    );
    let envelope = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP11_NS}"><soapenv:Header>{nested}</soapenv:Header><soapenv:Body>{DUMMY}</soapenv:Body></soapenv:Envelope>"#
    );
    let resp = t
        .post(
            &t.http,
            &t.http_url("/DS/dz"),
            envelope,
            "text/xml; charset=utf-8",
        )
        .await;
    assert_ne!(resp.status, 200, "{}", resp.text);
    assert!(
        resp.text.contains("namespace declarations"),
        "{}",
        resp.text
    );
    t.stop().await;
}

/// Attributes the schema has no place for, on elements it knows, are
/// ignored (a leniency real clients need), whatever their namespace, and
/// the attributes it declares and `xsi:nil` keep working beside them.
#[tokio::test]
async fn undeclared_attributes_on_known_elements_are_ignored() {
    let _light = MEMORY.read().await;
    let t = TestGateway::start().await;
    let content = base64_of(b"attributes");
    let body = format!(
        r#"<CreateMessage xmlns="{ISDS_NS}" xmlns:x="urn:extra" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dmEnvelope x:id="e1" extra="1"><dbIDRecipient note="" x:n="2">po4demo</dbIDRecipient><dmToHands xsi:nil="true" unknown=""/><dmAnnotation a="1" b="2" c="3">Attributes</dmAnnotation></dmEnvelope><dmFiles><dmFile x:a="" dmMimeType="text/plain" b="" dmFileMetaType="main" c="" dmFileDescr="a.txt"><dmEncodedContent z="">{content}</dmEncodedContent></dmFile></dmFiles></CreateMessage>"#
    );
    let resp = t.soap_as(OVM_LOGIN, "/DS/dz", &body).await;
    assert_eq!(
        resp.status(),
        ("0000".into(), "Provedeno úspěšně.".into()),
        "{}",
        resp.text
    );
    let id = dm_id(&resp).expect("a dmID");
    common::messages::deliver(&t, PO_LOGIN).await;
    let download = t
        .soap_as(
            PO_LOGIN,
            "/DS/dz",
            &op("MessageDownload", &format!("<dmID>{id}</dmID>")),
        )
        .await;
    assert_eq!(download.status().0, "0000", "{}", download.text);
    let xml = download.body_xml();
    assert!(xml.contains("Attributes"), "{xml}");
    assert!(xml.contains(&content), "{xml}");
    assert!(xml.contains(r#"dmFileDescr="a.txt""#), "{xml}");
    t.stop().await;
}

/// A request refused by the per-user limit (3008) is answered before its
/// body is read; a flood of bodies beyond the global bound is answered
/// 503.
#[tokio::test]
async fn refusals_cost_nothing_and_bodies_in_flight_are_bounded() {
    let _heavy = MEMORY.write().await;
    let t = TestGateway::start_with(|c| {
        c.limits.max_parallel_requests_per_user = 1;
        c.limits.max_body_bytes_in_flight = 1024 * 1024;
    })
    .await;
    let body = soap11(DUMMY);
    // One request in flight: its body is still arriving.
    let _busy = raw_post(
        t.gw.http_addr,
        OVM_LOGIN,
        body.len(),
        &body.as_bytes()[..20],
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // A second one declares 50 MB but sends only its start: refused at once.
    let start = soap11(r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20"><x>"#);
    let mut refused = raw_post(
        t.gw.http_addr,
        OVM_LOGIN,
        50 * 1024 * 1024,
        start.as_bytes(),
    )
    .await;
    let answer = raw_answer(&mut refused).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("DummyOperationResponse"), "{answer}");
    assert!(answer.contains("3008"), "{answer}");

    // Another user's 2 MB body does not fit in the 1 MB bound.
    let mut big = raw_post(t.gw.http_addr, PO_LOGIN, 2 * 1024 * 1024, b"<").await;
    let answer = raw_answer(&mut big).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    t.stop().await;
}

/// A box may have at most 15 asynchronous requests waiting (messages
/// manual 2.8): the 16th list of erased messages is refused with 3014 and
/// the official text, another box is not affected, and picking one
/// response up makes room again.
#[tokio::test]
async fn asynchronous_requests_per_box_are_capped() {
    let _light = MEMORY.read().await;
    let t = TestGateway::start().await;
    let erased = format!(
        r#"<GetListOfErasedMessages xmlns="{ISDS_NS}"><dmFromDate>2020-01-01</dmFromDate><dmToDate>2020-01-31</dmToDate><dmMessageType>RECEIVED</dmMessageType><dmOutFormat>XML</dmOutFormat></GetListOfErasedMessages>"#
    );
    let mut ids = Vec::new();
    for i in 0..15 {
        let resp = t.soap_as(OVM_LOGIN, "/DS/dx", &erased).await;
        assert_eq!(resp.status().0, "0000", "request {i}: {}", resp.text);
        let id = resp
            .body()
            .elements()
            .find(|e| e.name == "asyncID")
            .map(|e| e.text())
            .expect("asyncID");
        ids.push(id);
    }
    let resp = t.soap_as(OVM_LOGIN, "/DS/dx", &erased).await;
    assert_eq!(
        resp.status(),
        (
            "3014".to_owned(),
            "Příliš mnoho zadaných asynchronních požadavků z jedné schránky.".to_owned()
        ),
        "{}",
        resp.text
    );
    // The refusal is shaped as the official schema says.
    assert_valid(&resp.body_xml(), Xsd::Dm);
    assert!(
        !resp.body().elements().any(|e| e.name == "asyncID"),
        "{}",
        resp.text
    );
    // Another box has its own count.
    let resp = t.soap_as(PO_LOGIN, "/DS/dx", &erased).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    // A response picked up no longer waits.
    let pick = format!(
        r#"<PickUpAsyncResponse xmlns="{ISDS_NS}"><asyncID>{}</asyncID><asyncReqType>LIST_ERASED</asyncReqType></PickUpAsyncResponse>"#,
        ids[0]
    );
    let resp = t.soap_as(OVM_LOGIN, "/DS/dx", &pick).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let resp = t.soap_as(OVM_LOGIN, "/DS/dx", &erased).await;
    assert_eq!(resp.status().0, "0000", "{}", resp.text);
    let resp = t.soap_as(OVM_LOGIN, "/DS/dx", &erased).await;
    assert_eq!(resp.status().0, "3014", "{}", resp.text);
    t.stop().await;
}

/// A field of `/proc/PID/status` (Linux), in bytes.
#[cfg(target_os = "linux")]
fn proc_status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("a number of kB");
    kib * 1024
}

/// The gateway binary, as it is deployed (its own allocator settings),
/// returns near its baseline memory after a burst of hostile bodies:
/// amplifying markup, thousands of namespace prefixes, bodies cut off
/// and bodies over the size limit. Bounds are generous; the figures are
/// printed.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn memory_returns_near_its_baseline_after_hostile_bodies() {
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;
    let _heavy = MEMORY.write().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = spawn_gateway(dir.path(), "server.log", &["--no-ui"], &[]).await;
    let pid = child.id();
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/DS/dz");
    let post = |body: String| {
        let req = client
            .post(&url)
            .header("authorization", basic(OVM_LOGIN.0, OVM_LOGIN.1));
        async move { send(req, body, "text/xml; charset=utf-8").await }
    };
    // Warm up: the first login's hash, the first requests' buffers.
    for _ in 0..20 {
        assert_eq!(post(soap11(DUMMY)).await.status().0, "0000");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let baseline = proc_status_bytes(pid, "VmRSS:");

    let unknown = soap11(&format!(
        r#"<DummyOperation xmlns="{ISDS_NS}">{}</DummyOperation>"#,
        attribute_heavy("e", 20 * 1024 * 1024)
    ));
    let amplifying = soap11(&format!(
        r#"<CreateMessage xmlns="{ISDS_NS}"><dmEnvelope><dbIDRecipient>po4demo</dbIDRecipient><dmAnnotation>A</dmAnnotation></dmEnvelope><dmFiles>{}</dmFiles></CreateMessage>"#,
        attribute_heavy("dmFile", 20 * 1024 * 1024)
    ));
    let prefixes = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP11_NS}"><soapenv:Header>{}</soapenv:Header><soapenv:Body>{DUMMY}</soapenv:Body></soapenv:Envelope>"#,
        prefix_heavy()
    );
    for round in 0..3 {
        for body in [&unknown, &amplifying, &prefixes] {
            let resp = post(body.clone()).await;
            assert_ne!(resp.status, 200, "round {round}: {}", resp.text);
        }
        // Declared larger than sent, then cut off.
        let mut cut = raw_post(
            addr,
            OVM_LOGIN,
            30 * 1024 * 1024,
            &amplifying.as_bytes()[..1 << 20],
        )
        .await;
        let _ = cut.shutdown().await;
        drop(cut);
        // Over the 80 MiB limit, refused from its Content-Length.
        let mut over = raw_post(addr, OVM_LOGIN, 90 * 1024 * 1024, b"<").await;
        let answer = raw_answer(&mut over).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    }
    drop((unknown, amplifying));
    // A few ordinary requests after the burst, then a moment to settle.
    for _ in 0..5 {
        assert_eq!(post(soap11(DUMMY)).await.status().0, "0000");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = proc_status_bytes(pid, "VmRSS:");
    let peak = proc_status_bytes(pid, "VmHWM:");
    let _ = child.kill();
    let _ = child.wait();
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    eprintln!(
        "gateway RSS: baseline {:.1} MiB, peak {:.1} MiB, after the burst {:.1} MiB",
        mib(baseline),
        mib(peak),
        mib(after)
    );
    assert!(
        after <= baseline + 48 * 1024 * 1024,
        "RSS {:.1} MiB after the burst, baseline {:.1} MiB",
        mib(after),
        mib(baseline)
    );
}
