//! A server on a free loopback port and a raw HTTP/1.1 client: the tests see exactly the bytes an
//! SDK would.

#![allow(dead_code)] // Each test file uses a different part of this module.

use std::net::SocketAddr;

use quicksight_emulator::{Emulator, Server};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

pub const ACCOUNT: &str = "123456789012";

pub struct Running {
    pub addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

/// Starts an emulator that stops when the returned handle is dropped.
pub async fn start_emulator() -> Running {
    let server = Server::bind("127.0.0.1", 0)
        .await
        .expect("bind a free port");
    let addr = server.local_addr().expect("local address");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.run(Emulator::new("us-east-1"), async {
        let _ = stopped.await;
    }));
    Running { addr, _stop: stop }
}

#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("body is not JSON ({error}): {:?}", self.body))
    }

    pub fn error_type(&self) -> Option<&str> {
        self.header("x-amzn-errortype")
    }

    /// The reply is the modelled error: its HTTP status and `X-Amzn-ErrorType`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, error_type: &str) {
        assert_eq!(
            (self.status, self.error_type()),
            (status, Some(error_type)),
            "{}",
            self.body
        );
    }
}

/// Sends one request on a fresh connection and reads until the server closes it. `None` means the
/// server closed the connection without sending a byte.
pub async fn send(addr: SocketAddr, method: &str, path: &str, body: &str) -> Option<HttpReply> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261128/us-east-1/quicksight/aws4_request, SignedHeaders=host, Signature=00\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    let mut raw = Vec::new();
    // A reset connection counts as "no reply", like a clean close.
    let _ = stream.read_to_end(&mut raw).await;
    if raw.is_empty() {
        return None;
    }
    Some(parse_reply(&raw))
}

fn parse_reply(raw: &[u8]) -> HttpReply {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete HTTP head");
    let mut lines = head.lines();
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("status code");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    HttpReply {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// A GET that must be answered.
pub async fn get(addr: SocketAddr, path: &str) -> HttpReply {
    call(addr, "GET", path, "").await
}

/// Like `send`, for calls that must be answered.
pub async fn call(addr: SocketAddr, method: &str, path: &str, body: &str) -> HttpReply {
    send(addr, method, path, body)
        .await
        .unwrap_or_else(|| panic!("{method} {path}: connection closed without a reply"))
}

pub fn jobs_path(dashboard: &str) -> String {
    format!("/accounts/{ACCOUNT}/dashboards/{dashboard}/snapshot-jobs")
}

pub fn job_path(dashboard: &str, job_id: &str) -> String {
    format!("{}/{job_id}", jobs_path(dashboard))
}

pub fn start_request(job_id: &str) -> String {
    serde_json::json!({
        "SnapshotJobId": job_id,
        "UserConfiguration": { "AnonymousUsers": [{ "RowLevelPermissionTags": [
            { "Key": "region", "Value": "EMEA" }
        ]}]},
        "SnapshotConfiguration": {
            "FileGroups": [
                { "Files": [{ "FormatType": "PDF", "SheetSelections": [
                    { "SheetId": "sheet1", "SelectionScope": "ALL_VISUALS" }
                ]}]},
                { "Files": [{ "FormatType": "CSV", "SheetSelections": [
                    { "SheetId": "sheet1", "SelectionScope": "SELECTED_VISUALS", "VisualIds": ["v1"] }
                ]}]}
            ],
            "DestinationConfiguration": { "S3Destinations": [{ "BucketConfiguration": {
                "BucketName": "exports", "BucketPrefix": "nightly", "BucketRegion": "us-east-1"
            }}]}
        }
    })
    .to_string()
}

pub async fn describe_status(addr: SocketAddr, dashboard: &str, job_id: &str) -> String {
    let reply = call(addr, "GET", &job_path(dashboard, job_id), "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["JobStatus"]
        .as_str()
        .unwrap_or("<missing>")
        .to_owned()
}

/// Scripts a job through the control API.
pub async fn add_job(addr: SocketAddr, spec: Value) -> Value {
    let reply = call(addr, "POST", "/_emulator/jobs", &spec.to_string()).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json()
}
