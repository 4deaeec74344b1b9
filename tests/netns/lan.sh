#!/usr/bin/env bash
# End-to-end test on a real (virtual) LAN: two network namespaces joined by a veth pair, one
# `mend` device in each. They pair by code over real mDNS, write while apart, sync, and must end
# with the same shared journal. libp2p-mdns ignores loopback, so only this tests discovery.
#
# Usage: tests/netns/lan.sh PATH/TO/mend     (as root; needs iproute2 and python3)
# Exit codes: 0 passed, 1 failed, 2 could not run here (said plainly, never a silent pass).
set -uo pipefail

MEND=${1:?usage: lan.sh PATH/TO/mend}
TEST_NAME=lan
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"

export MEND_INSECURE_TEST_KDF=1 MEND_PASSPHRASE="lan test passphrase" NO_COLOR=1 TZ=UTC
unset MEND_HOME RUST_LOG

A init --name Alex --device alex-laptop >/dev/null 2>&1 || fail "init"
A write "Alex, before pairing @trust" >/dev/null || fail "write"

say "pairing by code over mDNS"
pair_by_code
say "paired ($VERIFIER on both sides)"

say "writing on both sides while apart"
A write "Alex, apart" >/dev/null || fail "write"
B write "Sam, apart @honesty" >/dev/null || fail "write"
B write --private "Sam's private draft" >/dev/null || fail "write"

say "syncing: Alex serves, Sam syncs, both found by mDNS"
# Started directly (not through a shell function) so that $! is mend itself.
ip netns exec "$NS_A" "$MEND" --home "$WORK/alex" serve >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVE=$!; PIDS+=("$SERVE")
wait_for "$WORK/serve.out" "Ctrl-C stops" 20 || fail "serve did not start"
B sync --timeout 60 >"$WORK/sync.out" 2>"$WORK/sync.err" || fail "sync"
cat "$WORK/sync.out"
kill -TERM "$SERVE"; wait "$SERVE" || fail "serve did not stop cleanly"
grep -q "Stopped." "$WORK/serve.out" || fail "serve did not say it stopped"

A list --json >"$WORK/a.json" || fail "list on Alex's side"
B list --json >"$WORK/b.json" || fail "list on Sam's side"
python3 - "$WORK/a.json" "$WORK/b.json" <<'PY' || fail "the journals differ"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
shared = lambda l: sorted((e["id"], e["author"], e["text"]) for e in l if not e["private"])
assert shared(a) == shared(b), (shared(a), shared(b))
assert len(shared(a)) == 3, shared(a)
assert not any("private draft" in e["text"] for e in a), "a private entry left its device"
assert any(e["private"] for e in b)
print("lan: both devices hold the same", len(shared(a)), "shared entries")
PY
say "PASSED"
