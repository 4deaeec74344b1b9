# Mend's everyday recipes. `cargo install just` if you do not have it.

# Run every test (unit, model, store and end-to-end).
test:
    cargo test --workspace

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all --check
    cargo clippy --all-targets -- -D warnings

# Run the benchmarks and record them in docs/benchmarks.md.
bench entries="20000":
    cargo bench -p mend-cli --bench journal -- --entries {{entries}} --out docs/benchmarks.md
    cat docs/benchmarks.md

# Pairing and sync between two network namespaces over real mDNS (needs root and iproute2).
lan:
    cargo build --bin mend
    bash tests/netns/lan.sh target/debug/mend

# The full crash run: 500 SIGKILL trials on one laptop's commands and 200 on sync and serve
# between two (figures go to docs/reliability.md).
crash trials="500" sync_trials="200" seed="7":
    MEND_CRASH_TRIALS={{trials}} MEND_CRASH_SYNC_TRIALS={{sync_trials}} MEND_CRASH_SEED={{seed}} cargo test --release -p mend-cli --test crash -- --nocapture --test-threads 1

# Partitions: the link cut mid-sync and restored, Ctrl-C, the serving side killed (needs root).
partition entries="5000" rounds="3":
    cargo build --bin mend
    bash tests/netns/partition.sh target/debug/mend {{entries}} {{rounds}}

# A soak: two serving laptops in network namespaces writing every few seconds for MINUTES with
# the link cut every minute; nothing may be lost and neither serve may grow (needs root).
soak minutes="30":
    cargo build --release --bin mend
    bash tests/netns/soak.sh target/release/mend {{minutes}}

# Run every fuzz target (cargo-fuzz with the stable toolchain's nightly features unlocked).
fuzz seconds="60":
    cargo install cargo-fuzz --locked
    for t in keyfile records wire sync_message pairing import signed_changes saved_formats; do RUSTC_BOOTSTRAP=1 cargo fuzz run -O $t -- -max_total_time={{seconds}}; done

# Everything CI runs.
ci:
    bash .ci/run

# The walkthrough on a throwaway journal.
demo:
    cargo run --release -- demo
