//! The executable as scripts use it: one `listening on` line on stdout, a jobs file, SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

/// Kills the emulator if a test fails before stopping it.
struct Emulator(Child);

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn launch(extra: &[&str]) -> (Emulator, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_quicksight-emulator"))
        .args(["--port", "0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the emulator");
    let mut emulator = Emulator(child);
    let stdout = emulator.0.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the first line");
    (emulator, line)
}

fn get(address: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(address).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("read");
    reply
}

#[test]
fn the_binary_prints_where_it_listens_and_exits_cleanly_on_sigterm() {
    let (mut emulator, line) = launch(&[]);
    let address = line
        .trim_end()
        .strip_prefix("listening on http://127.0.0.1:")
        .map(|port| format!("127.0.0.1:{port}"))
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    assert!(get(&address, "/_emulator/health").contains("{\"ok\":true}"));

    let status = Command::new("kill")
        .args(["-TERM", &emulator.0.id().to_string()])
        .status()
        .expect("send SIGTERM");
    assert!(status.success());
    let exit = emulator.0.wait().expect("wait for exit");
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn jobs_from_the_jobs_file_exist_at_start() {
    let path = std::env::temp_dir().join(format!("emulator-jobs-{}.json", std::process::id()));
    std::fs::write(
        &path,
        r#"[{"awsAccountId":"123456789012","dashboardId":"d1","snapshotJobId":"seeded",
             "queuedPolls":0,"runningPolls":0,"outcome":"COMPLETED"}]"#,
    )
    .expect("write the jobs file");
    let path_text = path.to_string_lossy().into_owned();
    let (_emulator, line) = launch(&["--jobs", &path_text, "--region", "eu-central-1"]);
    let _ = std::fs::remove_file(&path);
    let address = line
        .trim_end()
        .trim_start_matches("listening on http://")
        .to_owned();

    let reply = get(
        &address,
        "/accounts/123456789012/dashboards/d1/snapshot-jobs/seeded",
    );
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("\"JobStatus\":\"COMPLETED\""), "{reply}");
    assert!(
        reply.contains("arn:aws:quicksight:eu-central-1:"),
        "{reply}"
    );
}

#[test]
fn a_broken_jobs_file_stops_the_emulator_with_a_usage_error() {
    let status = Command::new(env!("CARGO_BIN_EXE_quicksight-emulator"))
        .args(["--jobs", "/nonexistent/jobs.json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run the emulator");
    assert_eq!(status.code(), Some(2));
}
