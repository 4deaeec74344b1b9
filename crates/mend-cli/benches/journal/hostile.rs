//! A serving laptop under the weight of strangers: 20 unpaired devices that keep dialling it
//! and asking to sync, and 10 connections that trickle bytes into it and never finish a
//! handshake. Measured: `mend write` (through serve) idle and under that weight, whether the
//! partner's sync still succeeds, and serve's peak memory.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{mend, pair, Background, LOOPBACK};

pub struct Hostile {
    /// Whether the strangers ran on a core of their own (serve and the commands on the other),
    /// as they would from another machine; otherwise all share both cores.
    pub apart: bool,
    pub idle_write: Duration,
    pub hammered_write: Duration,
    pub partner_synced: bool,
    pub partner_sync: Duration,
    pub serve_rss_kib: u64,
    /// Connection attempts the strangers made meanwhile, and answers they got.
    pub attempts: u64,
    pub answers: u64,
    pub runs: usize,
}

/// Keep the calling thread (and the threads and processes it starts from now on) on `cpus`.
fn pin_self(cpus: &[usize]) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the calls only read it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Keep every thread of process `pid` on `cpus`.
fn pin_process(pid: u32, cpus: &[usize]) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return;
    };
    for task in tasks.flatten() {
        let Some(tid) = task
            .file_name()
            .to_str()
            .and_then(|t| t.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: as in `pin_self`, for another thread id.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            for &c in cpus {
                libc::CPU_SET(c, &mut set);
            }
            libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn peak_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// One stranger: a fresh identity each round, dial, ask to sync, repeat until `stop`.
async fn stranger(
    addr: mend_net::Multiaddr,
    stop: Arc<AtomicBool>,
    tries: Arc<AtomicU64>,
    got: Arc<AtomicU64>,
) {
    while !stop.load(Ordering::Relaxed) {
        let seed: [u8; 32] = rand::random();
        let Ok((net, _events)) = mend_net::start(mend_net::NetConfig {
            identity_seed: seed,
            listen: Vec::new(),
            mdns: false,
            mdns_interval: Duration::from_secs(60),
            request_timeout: Duration::from_secs(5),
            ping_interval: Duration::from_secs(5),
            ping_timeout: Duration::from_secs(20),
            allowed: None,
            pairing: mend_net::Pairing::Off,
        })
        .await
        else {
            continue;
        };
        tries.fetch_add(1, Ordering::Relaxed);
        if let Ok(peer) = net.dial(addr.clone()).await {
            let request = mend_sync::Request::Sync {
                journal_id: [0; 16],
                session: 1,
                message: vec![0; 1024],
                signatures: Vec::new(),
            };
            if net
                .request(peer, mend_net::Protocol::Sync, request)
                .await
                .is_ok()
            {
                got.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// One trickler: a raw TCP connection that sends a byte now and then and never completes the
/// handshake (a frame that claims to be large and never ends), reopened when closed.
async fn trickler(port: u16, stop: Arc<AtomicBool>) {
    use tokio::io::AsyncWriteExt;
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let _ = s.write_all(&[0xff, 0xff]).await;
        while !stop.load(Ordering::Relaxed) {
            if s.write_all(&[0x42]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// `apart`: the strangers on core 1, serve and the commands on core 0 (a machine with at least
/// two cores); otherwise everything shares every core.
pub fn measure(tmp: &Path, runs: usize, apart: bool) -> Hostile {
    let a = tmp.join(if apart {
        "hostile-apart-a"
    } else {
        "hostile-a"
    });
    let b = tmp.join(if apart {
        "hostile-apart-b"
    } else {
        "hostile-b"
    });
    mend(&a, &["init", "--name", "Alex"], true);
    pair(&a, &b);
    for i in 0..200 {
        mend(
            &a,
            &[
                "write",
                &format!("entry {i} written before the strangers came"),
            ],
            true,
        );
    }
    let serve = Background::start(&a, &["serve", "--listen", LOOPBACK, "--no-mdns"]);
    let addr = serve.address();
    serve.wait_for("Ctrl-C stops.");
    if apart {
        pin_process(serve.child.id(), &[0]);
        pin_self(&[0]);
    }
    let write = |text: &str| mend(&a, &["write", text], false).wall;
    write("warming up");
    let idle_write = median((0..runs).map(|i| write(&format!("idle {i}"))).collect());

    let target: mend_net::Multiaddr = addr.parse().expect("serve's address");
    let port: u16 = addr
        .split("/tcp/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .expect("a TCP port");
    let stop = Arc::new(AtomicBool::new(false));
    let (tries, got) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    if apart {
        pin_self(&[1]); // the runtime's threads start here, on the strangers' core
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if apart {
        pin_self(&[0]); // the commands run from here start on serve's core
        pin_process(serve.child.id(), &[0]); // threads serve started meanwhile
    }
    for _ in 0..20 {
        rt.spawn(stranger(
            target.clone(),
            stop.clone(),
            tries.clone(),
            got.clone(),
        ));
    }
    for _ in 0..10 {
        rt.spawn(trickler(port, stop.clone()));
    }
    std::thread::sleep(Duration::from_secs(2));
    let hammered_write = median((0..runs).map(|i| write(&format!("hammered {i}"))).collect());
    mend(
        &b,
        &["write", "from the partner, while strangers knock"],
        true,
    );
    let started = Instant::now();
    let partner_synced = std::process::Command::new(env!("CARGO_BIN_EXE_mend"))
        .arg("--home")
        .arg(&b)
        .args(["sync", "--peer", &addr, "--timeout", "60"])
        .env("MEND_PASSPHRASE", super::PASS)
        .env("MEND_INSECURE_TEST_KDF", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let partner_sync = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let serve_rss_kib = peak_kib(serve.child.id());
    rt.shutdown_timeout(Duration::from_secs(2));
    let all: Vec<usize> =
        (0..std::thread::available_parallelism().map_or(2, |n| n.get())).collect();
    pin_self(&all);
    Hostile {
        apart,
        idle_write,
        hammered_write,
        partner_synced,
        partner_sync,
        serve_rss_kib,
        attempts: tries.load(Ordering::Relaxed),
        answers: got.load(Ordering::Relaxed),
        runs,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The section of docs/reliability.md: the strangers sharing the cores, then on their own.
pub fn section(runs: &[Hostile]) -> String {
    let verdict = |ok: bool| if ok { "met" } else { "**missed**" };
    let mut md = String::from(
        "| figure | where the strangers ran | measured | target |\n|---|---|---|---|\n",
    );
    for h in runs {
        let ratio = h.hammered_write.as_secs_f64() / h.idle_write.as_secs_f64();
        let place = if h.apart {
            "their own core (serve and the commands on the other)"
        } else {
            "the same two cores as serve"
        };
        md.push_str(&format!(
            "| `mend write` through serve, idle (median of {runs}) | {place} | {idle} | |\n\
             | `mend write` through serve, 20 strangers dialling + 10 trickling connections (median of {runs}) | {place} | {hammered} ({ratio:.2}×) | ≤ 2× idle, {v1} |\n\
             | the partner's `mend sync` meanwhile | {place} | {synced} in {sync} | succeeds, {v2} |\n\
             | serve's peak RSS | {place} | {rss} MB | ≤ 200 MB, {v3} |\n\
             | strangers' connection attempts / answers they got | {place} | {attempts} / {answers} | 0 answers, {v4} |\n",
            runs = h.runs,
            idle = ms(h.idle_write),
            hammered = ms(h.hammered_write),
            v1 = verdict(ratio <= 2.0),
            synced = if h.partner_synced { "succeeded" } else { "failed" },
            sync = ms(h.partner_sync),
            v2 = verdict(h.partner_synced),
            rss = h.serve_rss_kib / 1024,
            v3 = verdict(h.serve_rss_kib <= 200 * 1024),
            attempts = h.attempts,
            answers = h.answers,
            v4 = verdict(h.answers == 0),
        ));
    }
    md
}
