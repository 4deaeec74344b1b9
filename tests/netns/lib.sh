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
