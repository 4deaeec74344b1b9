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
    /// CPU time serve spent while the strangers were at it, the strangers' own CPU time
    /// meanwhile, and how long that was.
    pub serve_cpu: Duration,
    pub strangers_cpu: Duration,
    pub hammered_for: Duration,
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

/// User and system CPU time of process `pid` so far.
fn cpu_of(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at its closing parenthesis.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    // SAFETY: sysconf only reads a constant.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 1000 / tick)
}

/// CPU time of this process's own threads so far (here: the strangers' runtime).
fn own_cpu() -> Duration {
    // SAFETY: a zeroed rusage is valid for getrusage to fill.
    let u = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(us(u.ru_utime) + us(u.ru_stime))
}

/// One stranger: from its own source address, a fresh identity each round, dial, ask to sync,
/// repeat until `stop`.
async fn stranger(
    source: std::net::IpAddr,
    addr: mend_net::Multiaddr,
    stop: Arc<AtomicBool>,
    tries: Arc<AtomicU64>,
    got: Arc<AtomicU64>,
) {
    while !stop.load(Ordering::Relaxed) {
        tries.fetch_add(1, Ordering::Relaxed);
        if super::stranger::attempt(source, &addr).await == super::stranger::Outcome::Answered {
            got.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One trickler: a raw TCP connection that sends a byte now and then and never completes the
/// handshake (a frame that claims to be large and never ends), reopened when closed.
async fn trickler(source: std::net::IpAddr, port: u16, stop: Arc<AtomicBool>) {
    use tokio::io::AsyncWriteExt;
    while !stop.load(Ordering::Relaxed) {
        let connected = async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind((source, 0).into())?;
            socket.connect(([127, 0, 0, 1], port).into()).await
        };
        let Ok(mut s) = connected.await else {
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
    // Each stranger and each trickler from its own address (127.0.0.2 on), as other machines
    // on the Wi-Fi would be; the partner's laptop dials from 127.0.0.1.
    let ip = |n: u8| std::net::IpAddr::from([127, 0, 0, n]);
    for i in 0..20 {
        rt.spawn(stranger(
            ip(2 + i),
            target.clone(),
            stop.clone(),
            tries.clone(),
            got.clone(),
        ));
    }
    for i in 0..10 {
        rt.spawn(trickler(ip(30 + i), port, stop.clone()));
    }
    // Long enough for every source to use up its burst: what follows is the steady state.
    // Over the next five seconds, nothing but the strangers: what they cost serve.
    std::thread::sleep(Duration::from_secs(5));
    let (serve_cpu0, own_cpu0, hammer_start) =
        (cpu_of(serve.child.id()), own_cpu(), Instant::now());
    std::thread::sleep(Duration::from_secs(5));
    let hammered_for = hammer_start.elapsed();
    let serve_cpu = cpu_of(serve.child.id()).saturating_sub(serve_cpu0);
    let strangers_cpu = own_cpu().saturating_sub(own_cpu0);
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
        serve_cpu,
        strangers_cpu,
        hammered_for,
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
             | CPU time over {secs:.1} s of strangers alone (after 5 s of them): serve / the strangers' own | {place} | {serve_cpu:.2} s / {strangers_cpu:.2} s | |\n\
             | strangers' connection attempts / answers they got | {place} | {attempts} / {answers} | 0 answers, {v4} |\n",
            runs = h.runs,
            idle = ms(h.idle_write),
            hammered = ms(h.hammered_write),
            v1 = verdict(ratio <= 2.0),
            synced = if h.partner_synced { "succeeded" } else { "failed" },
            sync = ms(h.partner_sync),
            v2 = verdict(h.partner_synced),
            rss = h.serve_rss_kib / 1024,
            secs = h.hammered_for.as_secs_f64(),
            serve_cpu = h.serve_cpu.as_secs_f64(),
            strangers_cpu = h.strangers_cpu.as_secs_f64(),
            v3 = verdict(h.serve_rss_kib <= 200 * 1024),
            attempts = h.attempts,
            answers = h.answers,
            v4 = verdict(h.answers == 0),
        ));
    }
    md
}
