#!/usr/bin/env bash
# Partitions on a real (virtual) LAN: the link between two namespaces is cut in the middle of a
# large sync (each round brings a fresh batch of ENTRIES/2, pushed or pulled) and restored, and
# the sync is run again, several times; the serving side is killed
# and restarted mid-sync; a sync is interrupted with Ctrl-C (SIGINT). Both sides must converge with
# nothing lost and no duplicate entries.
#
# Usage: tests/netns/partition.sh PATH/TO/mend [ENTRIES_PER_SIDE] [ROUNDS]   (as root)
# Exit codes: 0 passed, 1 failed, 2 could not run here.
set -uo pipefail

MEND=${1:?usage: partition.sh PATH/TO/mend [ENTRIES_PER_SIDE] [ROUNDS]}
ENTRIES=${2:-5000}
ROUNDS=${3:-3}
TEST_NAME=partition
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"

export MEND_INSECURE_TEST_KDF=1 MEND_PASSPHRASE="partition test passphrase" NO_COLOR=1 TZ=UTC
unset MEND_HOME RUST_LOG
PORT_INVITE=4101
PORT_SERVE=4102
SERVE_ADDR=/ip4/10.213.77.1/tcp/$PORT_SERVE

SERVES=0
start_serve() { # each start has its own output files, so waiting for one never sees another's
    SERVES=$((SERVES + 1))
    SERVE_OUT="$WORK/serve-$SERVES.out"
    ip netns exec "$NS_A" "$MEND" --home "$WORK/alex" serve --no-mdns \
        --listen /ip4/0.0.0.0/tcp/$PORT_SERVE >"$SERVE_OUT" 2>"$WORK/serve-$SERVES.err" &
    SERVE=$!; PIDS+=("$SERVE")
    wait_for "$SERVE_OUT" "Ctrl-C stops" 20 || fail "serve did not start"
}

export_file() { # file author_id prefix count
    python3 - "$@" <<'PY'
import json, sys
path, author, prefix, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
entries = [{"id": f"{prefix}{i:024x}", "author": "x", "author_id": author,
            "created_at": "2026-01-01T00:00:00Z", "written_at": "2026-01-01T00:00:00Z",
            "text": f"{prefix} entry {i} " + "words " * 30, "tags": [], "mood": None,
            "kind": "entry", "private": False} for i in range(n)]
json.dump({"format": "mend-export", "version": 1, "journal_id": "0",
           "exported_at": "2026-01-01T00:00:00Z", "people": [], "entries": entries}, open(path, "w"))
PY
}

A init --name Alex --device alex-laptop >/dev/null 2>&1 || fail "init"
say "pairing over the link (--peer, no mDNS)"
A invite --yes --no-mdns --listen /ip4/0.0.0.0/tcp/$PORT_INVITE --timeout 60 >"$WORK/invite.out" 2>"$WORK/invite.err" &
INVITE=$!; PIDS+=("$INVITE")
wait_for "$WORK/invite.out" "Invite code:" 20 || fail "no invite code"
CODE=$(grep "Invite code:" "$WORK/invite.out" | awk '{print $3}')
B join "$CODE" --name Sam --device sam-laptop --peer /ip4/10.213.77.1/tcp/$PORT_INVITE --timeout 60 \
    >"$WORK/join.out" 2>"$WORK/join.err" || fail "join"
wait "$INVITE" || fail "invite"

say "both import $ENTRIES entries while apart"
export_file "$WORK/a.json" "$(printf 'a%.0s' $(seq 32))" "aaaaaaaa" "$ENTRIES"
export_file "$WORK/b.json" "$(printf 'b%.0s' $(seq 32))" "bbbbbbbb" "$ENTRIES"
A import "$WORK/a.json" >/dev/null || fail "import on Alex's side"
B import "$WORK/b.json" >/dev/null || fail "import on Sam's side"
start_serve

BATCH=$((ENTRIES / 2))
for round in $(seq 1 "$ROUNDS"); do
    A write "alex round $round" >/dev/null || fail "write"
    B write "sam round $round" >/dev/null || fail "write"
    # Every round's sync is a large one: a fresh batch on Sam's side (pushed) or Alex's (pulled).
    export_file "$WORK/round.json" "$(printf 'c%.0s' $(seq 32))" "$(printf '%08x' $((0xd0000000 + round)))" "$BATCH"
    if [ $((round % 2)) = 1 ]; then B import "$WORK/round.json" >/dev/null; else A import "$WORK/round.json" >/dev/null; fi \
        || fail "round $round: import"
    # Started directly so that $! is mend itself, which the Ctrl-C below must reach.
    ip netns exec "$NS_B" "$MEND" --home "$WORK/sam" sync --peer "$SERVE_ADDR" --timeout 60 \
        >"$WORK/cut-$round.out" 2>"$WORK/cut-$round.err" &
    SYNC=$!; PIDS+=("$SYNC")
    sleep "0.$((RANDOM % 8 + 1))"
    ip -n "$NS_A" link set "$VETH_A" down
    say "round $round: link cut during the sync"
    sleep 1
    kill -INT "$SYNC" 2>/dev/null   # Ctrl-C on the syncing side if it is still waiting
    wait "$SYNC" 2>/dev/null
    if grep -q "interrupted" "$WORK/cut-$round.err"; then say "round $round: the sync stopped on Ctrl-C"; fi
    ip -n "$NS_A" link set "$VETH_A" up multicast on
    B sync --peer "$SERVE_ADDR" --timeout 60 >"$WORK/heal-$round.out" 2>"$WORK/heal-$round.err" \
        || fail "round $round: sync after the link came back"
    say "round $round: link restored, synced: $(cat "$WORK/heal-$round.out")"
done

say "the serving side is killed mid-sync and restarted"
B write "sam before the restart" >/dev/null || fail "write"
ip netns exec "$NS_B" "$MEND" --home "$WORK/sam" sync --peer "$SERVE_ADDR" --timeout 30 \
    >"$WORK/restart.out" 2>"$WORK/restart.err" &
SYNC=$!; PIDS+=("$SYNC")
sleep 0.2
kill -KILL "$SERVE"; wait "$SERVE" 2>/dev/null
wait "$SYNC" 2>/dev/null
start_serve
B sync --peer "$SERVE_ADDR" --timeout 60 >"$WORK/after-restart.out" 2>"$WORK/after-restart.err" \
    || fail "sync after the restart"
A write "alex after the restart" >/dev/null || fail "write"

say "the serving side is stopped with Ctrl-C in the middle of a large sync"
export_file "$WORK/b2.json" "$(printf 'b%.0s' $(seq 32))" "cccccccc" "$ENTRIES"
B import "$WORK/b2.json" >/dev/null || fail "second import on Sam's side"
ip netns exec "$NS_B" "$MEND" --home "$WORK/sam" sync --peer "$SERVE_ADDR" --timeout 30 \
    >"$WORK/stopped.out" 2>"$WORK/stopped.err" &
SYNC=$!; PIDS+=("$SYNC")
sleep "0.$((RANDOM % 5 + 2))"
kill -INT "$SERVE"
wait "$SERVE" || fail "serve did not stop cleanly on Ctrl-C"
grep -q "Stopped." "$SERVE_OUT" || fail "serve did not say it stopped"
wait "$SYNC" 2>/dev/null
say "the sync meanwhile: $(cat "$WORK/stopped.out" "$WORK/stopped.err" | grep -E 'Synced|error' | head -1)"
start_serve
B sync --peer "$SERVE_ADDR" --timeout 60 >/dev/null 2>&1 || fail "final sync"
kill -TERM "$SERVE"; wait "$SERVE"

A list --json >"$WORK/a-list.json" || fail "Alex's journal does not open"
B list --json >"$WORK/b-list.json" || fail "Sam's journal does not open"
python3 - "$WORK/a-list.json" "$WORK/b-list.json" "$ENTRIES" "$ROUNDS" "$BATCH" <<'PY' || fail "the journals differ or lost entries"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
n, rounds, batch = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
ids_a = [e["id"] for e in a]
ids_b = [e["id"] for e in b]
assert len(ids_a) == len(set(ids_a)) and len(ids_b) == len(set(ids_b)), "duplicate entries"
assert sorted(ids_a) == sorted(ids_b), "the two journals differ"
texts = {e["text"] for e in a}
expected = 3 * n + rounds * batch + 2 * rounds + 2
assert len(ids_a) == expected, f"{len(ids_a)} entries, expected {expected}"
for r in range(1, rounds + 1):
    assert f"alex round {r}" in texts and f"sam round {r}" in texts, r
assert "sam before the restart" in texts and "alex after the restart" in texts
print(f"partition: both sides hold the same {len(ids_a)} entries, no duplicates, nothing lost")
PY
say "PASSED"
