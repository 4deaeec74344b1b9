#!/usr/bin/env bash
# Partners apart: each laptop behind its own home router (NAT, nftables masquerade) on a
# simulated internet that also holds a `mend relay`. The laptops cannot reach each other:
# they pair and sync through the relay. Two kinds of NAT are tried:
#   1. a NAT that picks a random port for every connection (hole punching cannot work): the
#      invite, the join and every sync go through the relay ("via relay ADDR");
#   2. a NAT that keeps the laptop's port (as most home routers do): the relayed connection is
#      upgraded to a direct one by hole punching (DCUtR), reported as "hole-punched".
# Also measured: the first pull of a journal of ENTRIES entries through the relay (the join),
# incremental sync sessions through it, and a capture on the relay's interface, which must
# hold no entry text.
#
# Usage: tests/netns/relay.sh PATH/TO/mend [ENTRIES]   (as root; needs iproute2, nftables,
#        python3; tcpdump for the capture). ENTRIES: 2000 unless given.
# Exit codes: 0 passed, 1 failed, 2 could not run here (said plainly, never a silent pass).
set -uo pipefail

MEND=$(realpath "${1:?usage: relay.sh PATH/TO/mend [ENTRIES]}")
ENTRIES=${2:-2000}
TEST_NAME=relay
ID=$$
NS_NET="mend-net-$ID"   # the "internet": the relay, and each router's outside
NS_RA="mend-ra-$ID"     # Alex's home router
NS_RB="mend-rb-$ID"     # Sam's home router
NS_A="mend-a-$ID"       # Alex's laptop
NS_B="mend-b-$ID"       # Sam's laptop
ALL_NS=("$NS_NET" "$NS_RA" "$NS_RB" "$NS_A" "$NS_B")
# Addresses from the documentation and private ranges, only ever inside these namespaces.
NET_RELAY=198.51.100.1
NET_RA=198.51.100.2
NET_RB=198.51.100.3
WORK=$(mktemp -d)
PIDS=()

say() { printf '%s [%ss]: %s\n' "$TEST_NAME" "$SECONDS" "$*"; }
cannot() { say "CANNOT RUN: $*"; say "the test did NOT run"; exit 2; }
fail() { say "FAILED: $*"; for f in "$WORK"/*.out "$WORK"/*.err; do [ -f "$f" ] && { echo "--- $f"; tail -40 "$f"; }; done; exit 1; }
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.3
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    for ns in "${ALL_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || cannot "network namespaces need root"
command -v ip >/dev/null || cannot "iproute2 (ip) is not installed"
command -v nft >/dev/null || cannot "nftables (nft) is not installed"
command -v python3 >/dev/null || cannot "python3 is not installed"

wait_for() { # file pattern seconds
    for _ in $(seq 1 $(( $3 * 10 ))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}

# --- the networks ---------------------------------------------------------------------------
for ns in "${ALL_NS[@]}"; do
    ip netns add "$ns" 2>/dev/null || cannot "ip netns add failed (no namespace support here)"
    ip -n "$ns" link set lo up
done
ip -n "$NS_NET" link add br0 type bridge || cannot "cannot create a bridge"
ip -n "$NS_NET" addr add "$NET_RELAY/24" dev br0
ip -n "$NS_NET" link set br0 up
# link NAME_IN_A NS_A ADDR_A NAME_IN_B NS_B ADDR_B: a veth pair between two namespaces.
link() {
    ip link add "$1" type veth peer name "$4" || cannot "cannot create a veth pair"
    ip link set "$1" netns "$2" && ip link set "$4" netns "$5" || cannot "cannot move veth ends"
    [ -n "$3" ] && ip -n "$2" addr add "$3" dev "$1"
    [ -n "$6" ] && ip -n "$5" addr add "$6" dev "$4"
    ip -n "$2" link set "$1" up && ip -n "$5" link set "$4" up
}
# Each router: its outside on the internet's bridge, its inside to the laptop.
link "wa$ID" "$NS_RA" "$NET_RA/24" "pa$ID" "$NS_NET" ""
link "wb$ID" "$NS_RB" "$NET_RB/24" "pb$ID" "$NS_NET" ""
ip -n "$NS_NET" link set "pa$ID" master br0
ip -n "$NS_NET" link set "pb$ID" master br0
link "la$ID" "$NS_RA" "10.77.1.1/24" "ea$ID" "$NS_A" "10.77.1.2/24"
link "lb$ID" "$NS_RB" "10.77.2.1/24" "eb$ID" "$NS_B" "10.77.2.2/24"
ip -n "$NS_A" route add default via 10.77.1.1
ip -n "$NS_B" route add default via 10.77.2.1
for r in "$NS_RA" "$NS_RB"; do ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1; done

# nat ROUTER WAN_DEV KIND: masquerade out of WAN_DEV; nothing enters from outside unless it
# belongs to a connection from inside, and what is refused is dropped silently. KIND "random": a fresh random port per connection.
nat() {
    local how="masquerade"
    [ "$3" = random ] && how="masquerade random"
    ip netns exec "$1" nft -f - <<EOF || cannot "nftables rules could not be loaded"
flush ruleset
table ip home {
    chain outbound { type nat hook postrouting priority srcnat; oifname "$2" $how; }
    chain through {
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        iifname != "$2" accept
    }
    # What reaches the router itself from outside and is no reply is dropped without a word,
    # as home routers do (a reset would end a hole-punching attempt at once).
    chain to_router {
        type filter hook input priority filter; policy accept;
        iifname "$2" ct state established,related accept
        iifname "$2" drop
    }
}
EOF
}
say "internet $NS_NET with the relay at $NET_RELAY; Alex behind $NS_RA, Sam behind $NS_RB"

export MEND_INSECURE_TEST_KDF=1 MEND_PASSPHRASE="relay test passphrase" NO_COLOR=1 TZ=UTC
unset MEND_HOME
export RUST_LOG=${RELAY_TEST_LOG:-}
A() { ip netns exec "$NS_A" "$MEND" --home "$WORK/alex" "$@"; }
B() { ip netns exec "$NS_B" "$MEND" --home "$WORK/sam" "$@"; }

# --- the relay ------------------------------------------------------------------------------
ip netns exec "$NS_NET" "$MEND" --home "$WORK/relay" relay --listen "/ip4/$NET_RELAY/tcp/4001" \
    >"$WORK/relay.out" 2>"$WORK/relay.err" &
RELAY_PID=$!; PIDS+=("$RELAY_PID")
wait_for "$WORK/relay.out" "/ip4/$NET_RELAY/tcp/4001/p2p/" 20 || fail "the relay did not start"
RELAY=$(grep -o "/ip4/$NET_RELAY/tcp/4001/p2p/[A-Za-z0-9]*" "$WORK/relay.out" | head -1)
say "relay: $RELAY"

# The laptops cannot reach each other's networks.
ip netns exec "$NS_B" python3 - <<'PY' && fail "Sam's laptop reached Alex's directly"
import socket
s = socket.socket(); s.settimeout(1.0)
try:
    s.connect(("10.77.1.2", 9)); raise SystemExit(0)
except OSError:
    raise SystemExit(1)
PY

# --- 1. a NAT that hole punching cannot pass: everything through the relay -----------------
nat "$NS_RA" "wa$ID" random
nat "$NS_RB" "wb$ID" random
A init --name Alex --device alex-laptop >/dev/null 2>&1 || fail "init"
# A journal of ENTRIES entries (a jrnl export, imported), so the join is a real first pull.
python3 - "$WORK/import.json" "$ENTRIES" <<'PY' || fail "generating the journal"
import json, sys, random
rng = random.Random(7)
words = "trust honest listen promise morning walk kitchen letter slow patient kind open".split()
entries = [{
    "title": f"Day {i}",
    "body": " ".join(rng.choice(words) for _ in range(30)),
    "date": f"{2016 + i % 10}-{1 + i % 12:02d}-{1 + i % 28:02d}",
    "time": f"{i % 24:02d}:{i % 60:02d}",
    "tags": [], "starred": False,
} for i in range(int(sys.argv[2]) - 1)]
json.dump({"tags": {}, "entries": entries}, open(sys.argv[1], "w"))
PY
A import "$WORK/import.json" >/dev/null 2>"$WORK/import.err" || fail "import"
A write "Alex, before pairing @trust" >/dev/null || fail "write"

say "pairing through the relay"
A invite --yes --timeout 90 --no-mdns --relay "$RELAY" >"$WORK/invite.out" 2>"$WORK/invite.err" &
INVITE=$!; PIDS+=("$INVITE")
wait_for "$WORK/invite.out" "Waiting up to" 30 || fail "no invite"
CODE=$(grep "Invite code:" "$WORK/invite.out" | awk '{print $3}')
THROUGH=$(grep -o -- "--peer .*/p2p-circuit/p2p/[A-Za-z0-9]*" "$WORK/invite.out" | head -1 | awk '{print $2}')
[ -n "$THROUGH" ] || fail "the invite printed no address through the relay"
ALEX_ID=${THROUGH##*/}
# Sam gives the relay and Alex's id, as a person reading the invite would.
JOIN_START=$(date +%s%N)
timeout 90 ip netns exec "$NS_B" "$MEND" --home "$WORK/sam" join "$CODE" --name Sam \
    --device sam-laptop --timeout 60 --no-mdns --relay "$RELAY" --peer "/p2p/$ALEX_ID" \
    >"$WORK/join.out" 2>"$WORK/join.err" || fail "join through the relay"
JOIN_MS=$(( ($(date +%s%N) - JOIN_START) / 1000000 ))
wait "$INVITE" || fail "invite exited with an error"
grep -q "Received the journal: $ENTRIES entries" "$WORK/join.out" \
    || fail "the join did not receive the $ENTRIES entries"
echo "relay: first pull of $ENTRIES entries through the relay: whole mend join $JOIN_MS ms ($(grep -o 'Received the journal.*' "$WORK/join.out"))"
say "paired through the relay"

# serve_alex NAME: Alex's `mend serve` through the relay (output in NAME.out), once it holds
# a reservation; SERVE is its pid. Started directly, so that $! is mend itself.
serve_alex() {
    ip netns exec "$NS_A" "$MEND" --home "$WORK/alex" serve --no-mdns --relay "$RELAY" \
        >"$WORK/$1.out" 2>"$WORK/$1.err" &
    SERVE=$!; PIDS+=("$SERVE")
    wait_for "$WORK/$1.out" "Reachable through the relay" 30 || fail "serve got no reservation"
}

say "Alex serves (a reservation on the relay); Sam writes and syncs"
serve_alex serve
B write "Sam, from the other side of town" >/dev/null || fail "write"
B sync --no-mdns --relay "$RELAY" --json --timeout 60 >"$WORK/sync1.out" 2>"$WORK/sync1.err" \
    || fail "sync through the relay"
python3 - "$WORK/sync1.out" "$RELAY" <<'PY' || fail "the first sync did not go through the relay"
import json, sys
(s,) = json.load(open(sys.argv[1]))
assert s["path"] == "via relay " + sys.argv[2], s["path"]
assert s["entries_sent"] == 1, s
print("relay: first sync", s["path"], s["elapsed"], "ms")
PY

say "incremental syncs through the relay"
for i in 1 2 3 4 5; do
    B write "Sam, a small thing $i" >/dev/null || fail "write"
    B sync --no-mdns --relay "$RELAY" --json --timeout 60 >"$WORK/inc$i.out" 2>"$WORK/inc$i.err" \
        || fail "incremental sync $i"
done
python3 - "$WORK"/inc[1-5].out <<'PY' || fail "the incremental syncs"
import json, sys, statistics
sessions = [json.load(open(p))[0] for p in sys.argv[1:]]
for s in sessions:
    assert s["path"].startswith("via relay "), s["path"]
    assert s["entries_sent"] == 1, s
ms = sorted(s["elapsed"] for s in sessions)
print(f"relay: incremental sync session through the relay, one new entry: median {statistics.median(ms):.0f} ms (runs {ms})")
PY
say "an incremental sync through the relay, captured on the relay's side"
CAPTURE=""
if command -v tcpdump >/dev/null; then
    ip netns exec "$NS_NET" tcpdump -i br0 -U -w "$WORK/relay.pcap" tcp port 4001 \
        >/dev/null 2>"$WORK/tcpdump.err" &
    CAPTURE=$!; PIDS+=("$CAPTURE")
    sleep 1
fi
MARKER="MARKER-words-only-the-two-of-them-may-read-$ID"
B write "$MARKER @private-tag-$ID" >/dev/null || fail "write"
B sync --no-mdns --relay "$RELAY" --json --timeout 60 >"$WORK/sync2.out" 2>"$WORK/sync2.err" \
    || fail "second sync"
python3 - "$WORK/sync2.out" <<'PY' || fail "the incremental sync"
import json, sys
(s,) = json.load(open(sys.argv[1]))
assert s["path"].startswith("via relay "), s["path"]
assert s["entries_sent"] == 1, s
print("relay: incremental sync session", s["elapsed"], "ms,", s["rounds"], "rounds,", s["path"])
PY
A list --json >"$WORK/a.json" || fail "list on Alex's side"
grep -q "$MARKER" "$WORK/a.json" || fail "Alex's laptop did not get the entry"
if [ -n "$CAPTURE" ]; then
    sleep 0.5; kill -INT "$CAPTURE"; wait "$CAPTURE" 2>/dev/null
    python3 - "$WORK/relay.pcap" "$MARKER" "private-tag-$ID" <<'PY' || fail "entry text crossed the relay in the clear"
import sys
data = open(sys.argv[1], "rb").read()
assert len(data) > 2000, f"the capture holds only {len(data)} bytes: nothing was captured"
for needle in sys.argv[2:]:
    for enc in ("utf-8", "utf-16-le"):
        assert needle.encode(enc) not in data, f"{needle!r} ({enc}) is in the capture"
print(f"relay: the capture ({len(data)} bytes) holds no entry text or tag")
PY
fi

# --- 2. a NAT that keeps ports: hole punched ------------------------------------------------
say "routers that keep the laptop's port: the relayed connection is upgraded"
nat "$NS_RA" "wa$ID" keep
nat "$NS_RB" "wb$ID" keep
kill -TERM "$SERVE"; wait "$SERVE"
serve_alex serve2
B write "Sam, hole punched" >/dev/null || fail "write"
B sync --no-mdns --relay "$RELAY" --json --timeout 60 >"$WORK/sync3.out" 2>"$WORK/sync3.err" \
    || fail "sync behind port-keeping NATs"
python3 - "$WORK/sync3.out" <<'PY' || fail "the sync was not upgraded to a direct connection"
import json, sys
(s,) = json.load(open(sys.argv[1]))
assert s["path"] == "hole-punched", s["path"]
print("relay: behind port-keeping NATs the sync went", s["path"], "in", s["elapsed"], "ms")
PY
# --- 3. both serving: what one writes reaches the other, also once the direct connection
# has closed as idle (its NAT mapping gone with it: the relay is used again) ---------------
say "both laptops serving: an entry goes across, and again after the connection idled out"
ip netns exec "$NS_B" "$MEND" --home "$WORK/sam" serve --no-mdns --relay "$RELAY" \
    >"$WORK/serve-sam.out" 2>"$WORK/serve-sam.err" &
SAM_SERVE=$!; PIDS+=("$SAM_SERVE")
wait_for "$WORK/serve-sam.out" "Reachable through the relay" 30 || fail "Sam's serve got no reservation"
# seen_by_sam TEXT SECONDS: Sam's laptop lists an entry with TEXT within SECONDS.
seen_by_sam() {
    for _ in $(seq 1 $(( $2 * 5 ))); do
        # Into a file first: grep -q stopping early would fail the pipeline (pipefail).
        B list --json >"$WORK/seen.json" 2>/dev/null && grep -q "$1" "$WORK/seen.json" && return 0
        sleep 0.2
    done
    return 1
}
A write "Alex, while both serve" >/dev/null || fail "write"
seen_by_sam "Alex, while both serve" 30 || fail "Sam's serving laptop did not get Alex's entry"
say "idle for 40 s (connections close after 30 s idle)"
sleep 40
A write "Alex, after the idle close" >/dev/null || fail "write"
seen_by_sam "Alex, after the idle close" 40 \
    || fail "after the idle close, Sam's laptop did not get Alex's entry"
echo "relay: two serving laptops behind NATs reach each other again after the direct connection idled out"
kill -TERM "$SAM_SERVE"; wait "$SAM_SERVE" || fail "Sam's serve did not stop cleanly"
kill -TERM "$SERVE"; wait "$SERVE" || fail "serve did not stop cleanly"

A list --json >"$WORK/a.json" || fail "list on Alex's side"
B list --json >"$WORK/b.json" || fail "list on Sam's side"
python3 - "$WORK/a.json" "$WORK/b.json" "$ENTRIES" <<'PY' || fail "the journals differ"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
shared = lambda l: sorted((e["id"], e["author"], e["text"]) for e in l if not e["private"])
assert shared(a) == shared(b), (shared(a), shared(b))
assert len(shared(a)) == int(sys.argv[3]) + 10, (len(shared(a)), sys.argv[3])
print("relay: both laptops hold the same", len(shared(a)), "shared entries")
PY
grep -q "holds a reservation" "$WORK/relay.err" || fail "the relay never said it held a reservation"
say "PASSED"
