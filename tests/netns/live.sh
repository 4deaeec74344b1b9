#!/usr/bin/env bash
# Live propagation between two serving laptops on a real (virtual) LAN: two network
# namespaces joined by a veth pair, `mend serve` running in each, found by mDNS. An entry
# written on one laptop (through its serve: no passphrase) must become listable on the other
# while nobody runs `mend sync`. Writes alternate between the two laptops; the time from the
# end of each write to the first `mend list` on the other side that shows it is printed, with
# the median. Figures only: the bounded wait (20 s per write) is what passes or fails.
#
# With IDLE (seconds, default 0) it then waits that long, past the time after which an idle
# connection is closed, and checks that one more entry still arrives (the side with the change
# dials).
#
# Usage: tests/netns/live.sh PATH/TO/mend [WRITES] [IDLE]   (as root; iproute2 and python3)
# Exit codes: 0 passed, 1 failed, 2 could not run here (said plainly, never a silent pass).
set -uo pipefail

MEND=${1:?usage: live.sh PATH/TO/mend [WRITES]}
WRITES=${2:-6}
IDLE=${3:-0}
TEST_NAME=live
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"

export MEND_INSECURE_TEST_KDF=1 MEND_PASSPHRASE="live test passphrase" NO_COLOR=1 TZ=UTC
unset MEND_HOME RUST_LOG

A init --name Alex --device alex-laptop >/dev/null 2>&1 || fail "init"
A write "Alex, before pairing" >/dev/null || fail "write"
pair_by_code
say "paired ($VERIFIER on both sides)"

for side in alex sam; do
    ns=$NS_A; [ "$side" = sam ] && ns=$NS_B
    RUST_LOG=${LIVE_LOG:-} ip netns exec "$ns" "$MEND" --home "$WORK/$side" serve >"$WORK/serve-$side.out" 2>"$WORK/serve-$side.err" &
    PIDS+=("$!")
    wait_for "$WORK/serve-$side.out" "Ctrl-C stops" 20 || fail "serve did not start on $side's laptop"
done
say "both laptops serving; waiting for them to find each other"
# The first session between them (after mDNS) carries nothing new; the side that dials
# reports it. Wait for it on either side.
for _ in $(seq 1 300); do
    grep -q "Synced with" "$WORK/serve-alex.out" "$WORK/serve-sam.out" 2>/dev/null && break
    sleep 0.1
done

# Commands run through serve: no passphrase.
unset MEND_PASSPHRASE
python3 - "$MEND" "$WORK" "$NS_A" "$NS_B" "$WRITES" "$IDLE" <<'PY' || fail "propagation"
import json, statistics, subprocess, sys, time
mend, work, ns_a, ns_b, writes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
idle = int(sys.argv[6])
def run(ns, home, *args):
    return subprocess.run(["ip", "netns", "exec", ns, mend, "--home", f"{work}/{home}", *args],
                          capture_output=True, text=True, timeout=30)
sides = [(ns_a, "alex"), (ns_b, "sam")]
times = []
for i in range(writes):
    (wns, whome), (rns, rhome) = sides[i % 2], sides[(i + 1) % 2]
    text = f"live entry {i} from {whome}"
    w = run(wns, whome, "write", text)
    assert w.returncode == 0, w.stderr
    written = time.monotonic()
    while True:
        r = run(rns, rhome, "list", "--json", "-n", "5")
        assert r.returncode == 0, r.stderr
        if any(e["text"] == text for e in json.loads(r.stdout)):
            times.append((time.monotonic() - written) * 1000)
            break
        if time.monotonic() - written > 20:
            sys.exit(f"entry {i} written on {whome}'s laptop never reached {rhome}'s in 20 s")
        time.sleep(0.01)
    print(f"live: entry {i} {whome} -> {rhome}: {times[-1]:.0f} ms")
print(f"live: median propagation {statistics.median(times):.0f} ms over {len(times)} writes "
      f"(min {min(times):.0f}, max {max(times):.0f})")
if idle:
    # Past the 30 s after which an idle connection is closed: the side with the change dials.
    time.sleep(idle)
    (wns, whome), (rns, rhome) = sides[0], sides[1]
    text = "live entry after the connection went idle"
    assert run(wns, whome, "write", text).returncode == 0
    written = time.monotonic()
    while not any(e["text"] == text for e in json.loads(run(rns, rhome, "list", "--json", "-n", "5").stdout)):
        if time.monotonic() - written > 20:
            sys.exit(f"after {idle} s idle, an entry written on {whome}'s laptop never reached {rhome}'s")
        time.sleep(0.01)
    print(f"live: after {idle} s idle, {whome} -> {rhome}: {(time.monotonic() - written) * 1000:.0f} ms")
PY
say "PASSED"
