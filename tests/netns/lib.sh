# Shared set-up for the network-namespace tests: two namespaces joined by a veth pair, with
# addresses from a private test range that exist only inside them. Sourced, not run.
# Expects MEND (path to the binary); defines NS_A, NS_B, VETH_A, VETH_B, WORK, PIDS, say,
# cannot, fail, cleanup (installed as the EXIT trap) and wait_for.
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

say() { printf '%s [%ss]: %s\n' "${TEST_NAME:-netns}" "$SECONDS" "$*"; }
cannot() { say "CANNOT RUN: $*"; say "the test did NOT run"; exit 2; }
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
[ -n "${KEEP_WORK:-}" ] && trap "ip netns del $NS_A 2>/dev/null; ip netns del $NS_B 2>/dev/null; for p in \${PIDS[@]}; do kill -9 \$p 2>/dev/null; done" EXIT

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


wait_for() { # file pattern seconds
    for _ in $(seq 1 $(( $3 * 10 ))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}

# Each test's two devices: Alex's home in the first namespace, Sam's in the second.
A() { ip netns exec "$NS_A" "$MEND" --home "$WORK/alex" "$@"; }
B() { ip netns exec "$NS_B" "$MEND" --home "$WORK/sam" "$@"; }

# Pair Sam's device with Alex's journal by invite code, found over mDNS; both sides must show
# the same verifier. Alex's journal must exist. Sets VERIFIER.
pair_by_code() {
    A invite --yes --timeout 90 >"$WORK/invite.out" 2>"$WORK/invite.err" &
    local invite=$!; PIDS+=("$invite")
    wait_for "$WORK/invite.out" "Invite code:" 20 || fail "no invite code"
    local code; code=$(grep "Invite code:" "$WORK/invite.out" | awk '{print $3}')
    timeout 90 bash -c "$(declare -f B); NS_B=$NS_B MEND=$MEND WORK=$WORK; B join '$code' --name Sam --device sam-laptop --timeout 60" \
        >"$WORK/join.out" 2>"$WORK/join.err" || fail "join"
    wait "$invite" || fail "invite exited with an error"
    local v1 v2
    v1=$(grep -o "Verifier: [0-9]* [0-9]*" "$WORK/invite.out" | head -1)
    v2=$(grep -o "Verifier: [0-9]* [0-9]*" "$WORK/join.out" | head -1)
    [ -n "$v1" ] && [ "$v1" = "$v2" ] || fail "verifiers differ: '$v1' vs '$v2'"
    VERIFIER=$v1
}

