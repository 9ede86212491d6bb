//! The `metaoffice` binary stops gracefully on SIGTERM, as service managers
//! and container runtimes ask it to, not only on Ctrl-C.

#![cfg(unix)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn healthy(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200") && answer.contains("\"demo\"")
}

#[test]
fn sigterm_stops_the_server_gracefully() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let data = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_metaoffice"))
        .current_dir(&root)
        .env("METAOFFICE_LISTEN", format!("127.0.0.1:{port}"))
        .env("METAOFFICE_MAPS", root.join("maps"))
        .env("METAOFFICE_DATA_DIR", data.path())
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server starts");
    let started = Instant::now();
    while !healthy(port) {
        assert!(
            server.try_wait().expect("status").is_none(),
            "the server exited before serving"
        );
        assert!(started.elapsed() < Duration::from_secs(60), "never healthy");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The shell's own `kill`: nothing to install.
    let killed = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", server.id())])
        .status()
        .expect("sh runs");
    assert!(killed.success());
    let stopping = Instant::now();
    let status = loop {
        if let Some(status) = server.try_wait().expect("status") {
            break status;
        }
        if stopping.elapsed() > Duration::from_secs(30) {
            let _ = server.kill();
            panic!("the server did not stop within 30 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut log = String::new();
    for pipe in [
        server.stdout.take().map(|p| Box::new(p) as Box<dyn Read>),
        server.stderr.take().map(|p| Box::new(p) as Box<dyn Read>),
    ]
    .into_iter()
    .flatten()
    {
        let mut pipe = pipe;
        let _ = pipe.read_to_string(&mut log);
    }
    assert!(status.success(), "exit status {status:?}; log:\n{log}");
    assert!(log.contains("office closed"), "{log}");
    assert!(log.contains("stopped"), "{log}");
}
