#!/usr/bin/env bash
# End-to-end test on a real (virtual) LAN: two network namespaces joined by a veth pair, one
# `mend` device in each. They pair by code over real mDNS, write while apart, sync, and must end
# with the same shared journal. libp2p-mdns ignores loopback, so only this tests discovery.
#
# Usage: tests/netns/lan.sh PATH/TO/mend     (as root; needs iproute2 and python3)
# Exit codes: 0 passed, 1 failed, 2 could not run here (said plainly, never a silent pass).
set -uo pipefail

MEND=${1:?usage: lan.sh PATH/TO/mend}
MEND=$(realpath "$MEND")
ID=$$
NS_A="mend-a-$ID"
NS_B="mend-b-$ID"
VETH_A="mva$ID"
VETH_B="mvb$ID"
# Addresses from a private test range, only ever inside the two namespaces made here.
ADDR_A=10.213.77.1/24
ADDR_B=10.213.77.2/24
WORK=$(mktemp -d)
PIDS=()

say() { printf 'lan: %s\n' "$*"; }
cannot() { say "CANNOT RUN: $*"; say "the LAN test did NOT run"; exit 2; }
fail() { say "FAILED: $*"; for f in "$WORK"/*.out "$WORK"/*.err; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done; exit 1; }

cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.3
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    ip netns del "$NS_A" 2>/dev/null
    ip netns del "$NS_B" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || cannot "network namespaces need root"
command -v ip >/dev/null || cannot "iproute2 (ip) is not installed"
command -v python3 >/dev/null || cannot "python3 is not installed"
ip netns add "$NS_A" 2>/dev/null || cannot "ip netns add failed (no namespace support here)"
ip netns add "$NS_B" || cannot "ip netns add failed"
ip link add "$VETH_A" type veth peer name "$VETH_B" || cannot "cannot create a veth pair"
ip link set "$VETH_A" netns "$NS_A" && ip link set "$VETH_B" netns "$NS_B" || cannot "cannot move veth ends"
ip -n "$NS_A" addr add "$ADDR_A" dev "$VETH_A"
ip -n "$NS_B" addr add "$ADDR_B" dev "$VETH_B"
for ns_dev in "$NS_A:$VETH_A" "$NS_B:$VETH_B"; do
    ns=${ns_dev%%:*}; dev=${ns_dev##*:}
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "$dev" up multicast on
done
say "namespaces $NS_A and $NS_B joined by $VETH_A <-> $VETH_B"

export MEND_INSECURE_TEST_KDF=1 MEND_PASSPHRASE="lan test passphrase" NO_COLOR=1 TZ=UTC
unset MEND_HOME RUST_LOG
A() { ip netns exec "$NS_A" "$MEND" --home "$WORK/alex" "$@"; }
B() { ip netns exec "$NS_B" "$MEND" --home "$WORK/sam" "$@"; }
wait_for() { # file pattern seconds
    for _ in $(seq 1 $(( $3 * 10 ))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}

A init --name Alex --device alex-laptop >/dev/null 2>&1 || fail "init"
A write "Alex, before pairing @trust" >/dev/null || fail "write"

say "pairing by code over mDNS"
A invite --timeout 90 >"$WORK/invite.out" 2>"$WORK/invite.err" &
INVITE=$!; PIDS+=("$INVITE")
wait_for "$WORK/invite.out" "Invite code:" 20 || fail "no invite code"
CODE=$(grep "Invite code:" "$WORK/invite.out" | awk '{print $3}')
timeout 90 bash -c "$(declare -f B); NS_B=$NS_B MEND=$MEND WORK=$WORK; B join '$CODE' --name Sam --device sam-laptop --timeout 60" \
    >"$WORK/join.out" 2>"$WORK/join.err" || fail "join"
wait "$INVITE" || fail "invite exited with an error"
V1=$(grep -o "Verifier: [0-9]* [0-9]*" "$WORK/invite.out")
V2=$(grep -o "Verifier: [0-9]* [0-9]*" "$WORK/join.out")
[ -n "$V1" ] && [ "$V1" = "$V2" ] || fail "verifiers differ: '$V1' vs '$V2'"
say "paired ($V1 on both sides)"

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
