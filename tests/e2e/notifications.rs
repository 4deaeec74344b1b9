//! Desktop notifications from `mend serve`: a private session bus (dbus-daemon, as
//! dbus-run-session starts one) with a small service of the test's own owning
//! `org.freedesktop.Notifications` and recording every notification it is sent.

use std::collections::HashMap;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::util::{pair, Background, Device, LOOPBACK};

/// What the recorder saw: (app name, summary, body).
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

struct Recorder {
    seen: Seen,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Recorder {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        _hints: HashMap<String, zbus::zvariant::OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut seen = self.seen.lock().unwrap();
        seen.push((app_name, summary, body));
        seen.len() as u32
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "recorder".into(),
            "mend-tests".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

/// A session bus of the test's own, stopped when dropped.
struct Bus {
    daemon: Child,
    address: String,
}

impl Bus {
    /// `None` where dbus-daemon is missing (said; CI installs it).
    fn start() -> Option<Self> {
        let mut daemon = match Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(d) => d,
            Err(e) => {
                eprintln!("NOT RUN: no dbus-daemon here ({e}); CI installs it");
                return None;
            }
        };
        let mut line = String::new();
        std::io::BufReader::new(daemon.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Some(Self {
            daemon,
            address: line.trim().to_owned(),
        })
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

fn wait_for_count(seen: &Seen, n: usize) -> Vec<(String, String, String)> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(15) {
        if seen.lock().unwrap().len() >= n {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // A moment more, so a second notification that should not come would be seen.
    std::thread::sleep(Duration::from_millis(500));
    seen.lock().unwrap().clone()
}

fn serve_with_bus(alex: &Device, bus: &Bus, config: &std::path::Path) -> (Background, String) {
    let mut cmd = alex.command(&["serve", "--listen", LOOPBACK, "--no-mdns"]);
    cmd.env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .env("MEND_CONFIG", config);
    let mut serve = Background::spawn(cmd);
    let addr = serve.address();
    serve.wait_for("Ctrl-C stops.");
    (serve, addr)
}

#[test]
fn a_partners_request_for_reassurance_raises_exactly_one_notification_without_its_words() {
    let Some(bus) = Bus::start() else {
        return;
    };
    let seen: Seen = Arc::default();
    let _service = zbus::blocking::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .name("org.freedesktop.Notifications")
        .unwrap()
        .serve_at(
            "/org/freedesktop/Notifications",
            Recorder { seen: seen.clone() },
        )
        .unwrap()
        .build()
        .unwrap();
    let alex = Device::new("Alex");
    let sam = Device::uninitialised();
    pair(&alex, &sam, "Sam");
    let config = alex.home().with_extension("config.toml");

    let (serve, addr) = serve_with_bus(&alex, &bus, &config);
    const WORDS: &str = "MARKER-please-tell-me-we-are-okay";
    sam.write(&["Sam's plain entry, which asks for nothing"]);
    sam.ok(&["reassure", "ask", WORDS]);
    sam.ok(&["sync", "--peer", &addr]);
    let got = wait_for_count(&seen, 1);
    assert_eq!(got.len(), 1, "exactly one notification: {got:?}");
    let (app, summary, body) = &got[0];
    assert_eq!(app, "Mend");
    assert_eq!(summary, "Sam asked for reassurance");
    assert!(!summary.contains(WORDS) && !body.contains(WORDS), "{got:?}");
    // What Alex writes raises nothing on Alex's own laptop.
    drop(serve);

    // With notify = "full" the request's words are shown too.
    let set = alex
        .command(&["config", "set", "notify", "full"])
        .env("MEND_CONFIG", &config)
        .output()
        .unwrap();
    assert!(set.status.success(), "{set:?}");
    let (serve, addr) = serve_with_bus(&alex, &bus, &config);
    sam.ok(&["reassure", "ask", "MARKER-second-request"]);
    sam.ok(&["sync", "--peer", &addr]);
    let got = wait_for_count(&seen, 2);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1].1, "Sam asked for reassurance");
    assert_eq!(got[1].2, "MARKER-second-request");
    drop(serve);

    // --no-notify: nothing.
    let mut cmd = alex.command(&["serve", "--listen", LOOPBACK, "--no-mdns", "--no-notify"]);
    cmd.env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .env("MEND_CONFIG", &config);
    let mut serve = Background::spawn(cmd);
    let addr = serve.address();
    serve.wait_for("Ctrl-C stops.");
    sam.ok(&["reassure", "ask", "MARKER-third-request"]);
    let synced = sam.ok(&["sync", "--peer", &addr]);
    assert!(synced.contains("Synced with Alex's"), "{synced}");
    assert_eq!(wait_for_count(&seen, 3).len(), 2, "--no-notify raised one");
}

#[test]
fn without_a_session_bus_serve_syncs_and_says_nothing_of_notifications() {
    let alex = Device::new("Alex");
    let sam = Device::uninitialised();
    pair(&alex, &sam, "Sam");
    let mut cmd = alex.command(&["serve", "--listen", LOOPBACK, "--no-mdns"]);
    cmd.env(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/mend-test-bus",
    )
    .env("MEND_CONFIG", alex.home().with_extension("config.toml"));
    let mut serve = Background::spawn(cmd);
    let addr = serve.address();
    serve.wait_for("Ctrl-C stops.");
    sam.ok(&["reassure", "ask", "Are we okay?"]);
    let out = sam.ok(&["sync", "--peer", &addr]);
    assert!(out.contains("Synced with Alex's"), "{out}");
    serve.wait_for("synced with this laptop: received 1 new entry");
    let (ok, printed) = serve.terminate();
    assert!(ok, "{printed}");
    assert!(!printed.to_lowercase().contains("notif"), "{printed}");
    assert!(!printed.contains("error"), "{printed}");
}
