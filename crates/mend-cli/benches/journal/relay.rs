//! `mend relay`: its memory with many reservations held (on loopback), and sync through it
//! between two laptops behind NATs (tests/netns/relay.sh, in network namespaces).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mend_net::{NetConfig, NetEvent, Pairing};

pub struct Reservations {
    pub held: usize,
    pub asked: usize,
    /// The relay's resident memory with them held, and its peak (VmRSS, VmHWM), KiB.
    pub rss_kib: u64,
    pub peak_kib: u64,
    pub took: Duration,
}

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Start `mend relay` on loopback and have `n` devices (each with an identity of its own, all in
/// this process) hold a reservation on it; the relay's memory then.
pub fn reservations(tmp: &std::path::Path, n: usize) -> Reservations {
    let mut relay = Command::new(env!("CARGO_BIN_EXE_mend"))
        .arg("--home")
        .arg(tmp.join("relay-home"))
        .args(["relay", "--listen", "/ip4/127.0.0.1/tcp/0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mend relay");
    let mut lines = BufReader::new(relay.stdout.take().expect("stdout")).lines();
    let addr = loop {
        let line = lines.next().expect("relay output").expect("relay output");
        if let Some(a) = line.trim().strip_prefix("/ip4/127.0.0.1/") {
            break format!("/ip4/127.0.0.1/{a}");
        }
    };
    let relay_addr: mend_net::Multiaddr = addr.parse().expect("relay address");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    let (held, _nodes) = rt.block_on(async {
        let mut nodes = Vec::new();
        let (tx, mut rx) = tokio::sync::mpsc::channel(n.max(1));
        for i in 0..n {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            seed[31] = 0x5a;
            let (handle, mut events) = mend_net::start(NetConfig {
                identity_seed: seed,
                listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("address")],
                mdns: false,
                mdns_interval: Duration::from_secs(60),
                request_timeout: Duration::from_secs(30),
                ping_interval: Duration::from_secs(15),
                ping_timeout: Duration::from_secs(20),
                allowed: Some(Vec::new()),
                pairing: Pairing::Off,
                relays: vec![relay_addr.clone()],
                reserve: true,
            })
            .await
            .expect("start a device");
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(ev) = events.recv().await {
                    if let NetEvent::Reachable(_) = ev {
                        let _ = tx.send(()).await;
                    }
                }
            });
            nodes.push(handle);
        }
        let mut held = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while held < n {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(())) => held += 1,
                _ => break,
            }
        }
        // Let the relay settle with them held.
        tokio::time::sleep(Duration::from_secs(2)).await;
        (held, nodes)
    });
    let took = started.elapsed();
    let rss_kib = status_kib(relay.id(), "VmRSS:");
    let peak_kib = status_kib(relay.id(), "VmHWM:");
    let _ = relay.kill();
    let _ = relay.wait();
    drop(rt);
    Reservations {
        held,
        asked: n,
        rss_kib,
        peak_kib,
        took,
    }
}

/// tests/netns/relay.sh with a journal of `entries`: its "relay: " lines.
pub fn through_nats(entries: usize) -> Result<Vec<String>, String> {
    super::served::netns_lines("relay", &[&entries.to_string()])
}

/// A figure in a line such as "… whole mend join 1234 ms …" or "… median 40 ms …".
fn ms_after(lines: &[String], start: &str, word: &str) -> Option<f64> {
    let line = lines.iter().find(|l| l.starts_with(start))?;
    let rest = &line[line.find(word)? + word.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// The relay section of docs/benchmarks.md.
pub fn section(r: &Reservations, nat: &Result<Vec<String>, String>, entries: usize) -> String {
    let met = |ok: bool| if ok { "met" } else { "**missed**" };
    let mut md = String::from(
        "\n## Through a relay (`mend relay`)\n\n\
         Measured with `cargo bench -p mend-cli --bench journal -- --relay-only` (also part of the\n\
         full run).\n\n\
         Reservations: `mend relay --listen /ip4/127.0.0.1/tcp/0`, and devices in one process (each\n\
         its own identity, listening on loopback) each holding a reservation on it, as `mend serve\n\
         --relay` does; the relay's memory read from /proc with them held.\n\n\
         Sync: `tests/netns/relay.sh`, with each laptop behind its own home router (a network\n\
         namespace masquerading with nftables) on a simulated internet holding the relay; the\n\
         links add no delay (this machine's kernel has no netem). The routers pick a random port per connection, so hole punching\n\
         fails and everything goes through the relay; then routers that keep ports, where it\n\
         works. The first pull is a new device's whole `mend join` through the relay; the\n\
         incremental figure is the session (`elapsed` of `mend sync --json`, one new entry).\n\n\
         | figure | value | target | |\n|---|---|---|---|\n",
    );
    md.push_str(&format!(
        "| relay RSS with {} reservations held (of {} asked; in {:.1} s) | {:.1} MB (peak {:.1} MB) | ≤ 50 MB | {} |\n",
        r.held,
        r.asked,
        r.took.as_secs_f64(),
        r.rss_kib as f64 / 1024.0,
        r.peak_kib as f64 / 1024.0,
        met(r.held == r.asked && r.rss_kib <= 50 * 1024)
    ));
    match nat {
        Ok(lines) => {
            let pull = ms_after(lines, "first pull", "whole mend join ");
            let inc = ms_after(
                lines,
                "incremental sync session through the relay",
                "median ",
            );
            md.push_str(&format!(
                "| first pull of a {entries}-entry journal through the relay (whole `mend join`) | {} | ≤ 5 s | {} |\n",
                pull.map_or("not found".into(), |v| format!("{v:.0} ms")),
                met(pull.is_some_and(|v| v <= 5000.0))
            ));
            md.push_str(&format!(
                "| incremental sync session through the relay | {} | ≤ 500 ms | {} |\n",
                inc.map_or("not found".into(), |v| format!("{v:.0} ms")),
                met(inc.is_some_and(|v| v <= 500.0))
            ));
            let clean = lines.iter().any(|l| l.contains("holds no entry text"));
            md.push_str(&format!(
                "| a capture on the relay's interface holds no entry text or tag | {} | none | {} |\n",
                if clean { "none found" } else { "not checked" },
                met(clean)
            ));
            md.push_str("\nWhat the test printed:\n\n");
            for l in lines {
                md.push_str(&format!("- {l}\n"));
            }
        }
        Err(why) => md.push_str(&format!(
            "\nSync through the relay not measured in this run: {why}\n"
        )),
    }
    md
}
