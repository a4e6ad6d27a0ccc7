//! Connection and per-user limits: too many parallel requests (3008), too
//! many requests a minute (3009), slow bodies (408), the connection cap.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const DUMMY: &str = r#"<DummyOperation xmlns="http://isds.czechpoint.cz/v20"/>"#;

/// Opens a raw connection and sends a request whose body stops halfway.
async fn half_sent(addr: std::net::SocketAddr, login: (&str, &str)) -> (TcpStream, String) {
    let body = soap11(DUMMY);
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /DS/dz HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/xml\r\nAuthorization: {}\r\nContent-Length: {}\r\n\r\n",
        basic(login.0, login.1),
        body.len()
    );
    let (first, rest) = body.split_at(body.len() / 2);
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    (stream, rest.to_owned())
}

async fn finish(mut stream: TcpStream, rest: &str) -> String {
    stream.write_all(rest.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
        .await
        .expect("answer in time")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn a_users_parallel_requests_beyond_the_limit_get_3008() {
    let t = TestGateway::start_with(|c| c.limits.max_parallel_requests_per_user = 1).await;
    let (held, rest) = half_sent(t.gw.http_addr, OVM_LOGIN).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let resp = t.soap("/DS/dz", DUMMY).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.body().name, "DummyOperationResponse");
    assert_eq!(resp.status().0, "3008");
    assert_valid(&resp.body_xml(), Xsd::Dm);
    // Other users are not affected.
    assert_eq!(
        t.soap_as(PO_LOGIN, "/DS/dz", DUMMY).await.status().0,
        "0000"
    );

    let answer = finish(held, &rest).await;
    assert!(
        answer.contains("<q:dmStatusCode>0000</q:dmStatusCode>"),
        "{answer}"
    );
    // The slot is free again.
    assert_eq!(t.soap("/DS/dz", DUMMY).await.status().0, "0000");
    t.stop().await;
}

#[tokio::test]
async fn requests_beyond_the_rate_get_3009_in_the_operations_status_block() {
    let t = TestGateway::start_with(|c| c.limits.max_requests_per_user_per_minute = 3).await;
    for _ in 0..3 {
        assert_eq!(t.soap("/DS/dz", DUMMY).await.status().0, "0000");
    }
    let resp = t.soap("/DS/dz", DUMMY).await;
    assert_eq!(resp.status().0, "3009");
    assert_valid(&resp.body_xml(), Xsd::Dm);
    let body = r#"<GetOwnerInfoFromLogin xmlns="http://isds.czechpoint.cz/v20"><dbDummy/></GetOwnerInfoFromLogin>"#;
    let resp = t.soap("/DS/DsManage", body).await;
    assert_eq!(resp.body().name, "GetOwnerInfoFromLoginResponse");
    assert_eq!(resp.status().0, "3009");
    assert_valid(&resp.body_xml(), Xsd::Db);
    assert_eq!(
        t.soap_as(PO_LOGIN, "/DS/dz", DUMMY).await.status().0,
        "0000"
    );
    t.stop().await;
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_gets_408() {
    let t = TestGateway::start_with(|c| c.limits.body_read_timeout_secs = 1).await;
    let (mut held, _rest) = half_sent(t.gw.http_addr, OVM_LOGIN).await;
    let mut buf = vec![0u8; 16 * 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), held.read(&mut buf))
        .await
        .expect("the gateway gives up on the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("did not arrive within 1 seconds"),
        "{answer}"
    );
    t.stop().await;
}

#[tokio::test]
async fn at_the_cap_idle_connections_make_room_and_busy_ones_do_not() {
    let t = TestGateway::start_with(|c| c.limits.max_connections = 2).await;
    // Two idle connections: a third client takes the place of the older.
    let mut a = TcpStream::connect(t.gw.http_addr).await.unwrap();
    let _b = TcpStream::connect(t.gw.http_addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = reqwest::Client::new();
    let status = tokio::time::timeout(
        Duration::from_secs(5),
        client.get(t.http_url("/health")).send(),
    )
    .await
    .expect("served at once")
    .unwrap()
    .status();
    assert_eq!(status, 200);
    let mut buf = [0u8; 16];
    let closed = tokio::time::timeout(Duration::from_secs(5), a.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "the oldest idle connection was closed"
    );
    drop(client);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Two connections with a request in flight (a body still arriving):
    // a third client waits until one of them closes.
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(t.gw.http_addr).await.unwrap();
        let head = format!(
            "POST /DS/dz HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\n\
             Content-Type: text/xml\r\nContent-Length: 1000\r\n\r\n<x",
            basic(OVM_LOGIN.0, OVM_LOGIN.1)
        );
        s.write_all(head.as_bytes()).await.unwrap();
        busy.push(s);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let client = reqwest::Client::new();
    let url = t.http_url("/health");
    let waiting = tokio::spawn(async move { client.get(url).send().await.map(|r| r.status()) });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "a third connection is not served");

    drop(busy.pop());
    let status = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("served once a connection closed")
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
    drop(busy);
    t.stop().await;
}
