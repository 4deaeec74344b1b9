#!/usr/bin/env bash
# A soak: two serving laptops in two network namespaces, each writing every few seconds (in
# turn) for MINUTES, while the link between them is cut for 5 s every minute. Every minute the
# resident memory and open files of both serves are sampled. At the end both laptops must hold
# every entry written (nothing lost, none twice), and neither serve may have grown: memory at
# the end at most 1.5 times (plus 10 MB) what it was after the first minute, open files at most
# 8 more.
#
# Usage: tests/netns/soak.sh PATH/TO/mend [MINUTES]   (as root; iproute2 and python3)
# Exit codes: 0 passed, 1 failed, 2 could not run here (said plainly, never a silent pass).
set -uo pipefail

MEND=${1:?usage: soak.sh PATH/TO/mend [MINUTES]}
MINUTES=${2:-30}
TEST_NAME=soak
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"

export MEND_INSECURE_TEST_KDF=1 MEND_PASSPHRASE="soak test passphrase" NO_COLOR=1 TZ=UTC
unset MEND_HOME RUST_LOG

A init --name Alex --device alex-laptop >/dev/null 2>&1 || fail "init"
pair_by_code
say "paired ($VERIFIER on both sides)"

SERVES=()
for side in alex sam; do
    ns=$NS_A; [ "$side" = sam ] && ns=$NS_B
    ip netns exec "$ns" "$MEND" --home "$WORK/$side" serve >"$WORK/serve-$side.out" 2>"$WORK/serve-$side.err" &
    PIDS+=("$!")
    SERVES+=("$!")
    wait_for "$WORK/serve-$side.out" "Ctrl-C stops" 20 || fail "serve did not start on $side's laptop"
done
say "both laptops serving for $MINUTES minutes, writing in turn, the link cut every minute"

unset MEND_PASSPHRASE
python3 - "$MEND" "$WORK" "$NS_A" "$NS_B" "$VETH_A" "$MINUTES" "${SERVES[0]}" "${SERVES[1]}" <<'PY' || fail "soak"
import json, os, random, subprocess, sys, time
mend, work, ns_a, ns_b, veth_a = sys.argv[1:6]
minutes = int(sys.argv[6])
serves = {"alex": int(sys.argv[7]), "sam": int(sys.argv[8])}
def run(ns, home, *args, timeout=60):
    return subprocess.run(["ip", "netns", "exec", ns, mend, "--home", f"{work}/{home}", *args],
                          capture_output=True, text=True, timeout=timeout)
def sample(pid):
    # The serve is the child of `ip netns exec`, which execs it: the same pid.
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))
sides = [(ns_a, "alex"), (ns_b, "sam")]
written = []
samples = []
rng = random.Random(7)
start = time.monotonic()
next_flap = start + 60
next_sample = start + 60
i = 0
while time.monotonic() - start < minutes * 60:
    ns, home = sides[i % 2]
    text = f"soak entry {i} from {home}"
    w = run(ns, home, "write", text)
    if w.returncode != 0:
        sys.exit(f"write {i} on {home}'s laptop failed: {w.stderr}")
    written.append(text)
    i += 1
    now = time.monotonic()
    if now >= next_flap:
        subprocess.run(["ip", "-n", ns_a, "link", "set", veth_a, "down"], check=True)
        time.sleep(5)
        subprocess.run(["ip", "-n", ns_a, "link", "set", veth_a, "up", "multicast", "on"], check=True)
        next_flap += 60
    if now >= next_sample:
        s = {side: sample(pid) for side, pid in serves.items()}
        samples.append(s)
        print(f"soak: minute {len(samples)}: {i} written; "
              + "; ".join(f"{side} {rss // 1024} MB, {fds} files" for side, (rss, fds) in s.items()),
              flush=True)
        next_sample += 60
    time.sleep(rng.uniform(1.0, 5.0))
# Both hold everything, once.
deadline = time.monotonic() + 120
while True:
    held = {}
    for ns, home in sides:
        r = run(ns, home, "list", "--json", "-n", "1000000")
        texts = [e["text"] for e in json.loads(r.stdout) if e["text"].startswith("soak entry")]
        held[home] = texts
    if all(sorted(t) == sorted(written) for t in held.values()):
        break
    if time.monotonic() > deadline:
        for home, texts in held.items():
            missing = set(written) - set(texts)
            twice = len(texts) - len(set(texts))
            print(f"soak: {home}: {len(texts)} held, {len(missing)} missing, {twice} twice")
        sys.exit("the laptops did not converge on every entry within 120 s of the end")
    time.sleep(1)
print(f"soak: both laptops hold all {len(written)} entries, none twice")
if len(samples) >= 2:
    first, last = samples[0], samples[-1]
    for side in serves:
        (rss0, fd0), (rss1, fd1) = first[side], last[side]
        print(f"soak: {side}'s serve: {rss0 // 1024} -> {rss1 // 1024} MB, {fd0} -> {fd1} open files")
        if rss1 > rss0 * 1.5 + 10 * 1024:
            sys.exit(f"{side}'s serve grew from {rss0 // 1024} MB to {rss1 // 1024} MB")
        if fd1 > fd0 + 8:
            sys.exit(f"{side}'s serve went from {fd0} to {fd1} open files")
PY
say "PASSED"
