//! README's Install section, done as a person would: `cargo install --locked --path
//! crates/mend-cli` into a temporary root; the installed `mend` runs, writes its completions and
//! man pages, starts a journal, and `cargo uninstall` takes it away again.

use std::path::Path;
use std::process::Command;

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

#[test]
fn cargo_install_puts_a_working_mend_in_the_root_and_cargo_uninstall_takes_it_away() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = tempfile::tempdir().unwrap();
    // A debug build into the workspace's own target directory: the README's command with
    // `--debug`, so the test reuses what `cargo test` built instead of a release build.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let out = cargo()
        .current_dir(&workspace)
        .args([
            "install",
            "--locked",
            "--debug",
            "--path",
            "crates/mend-cli",
            "--root",
        ])
        .arg(root.path())
        .arg("--target-dir")
        .arg(&target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo install failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mend = root.path().join("bin/mend");
    assert!(mend.is_file(), "no {}", mend.display());
    let installed: Vec<_> = std::fs::read_dir(root.path().join("bin"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        installed,
        vec![std::ffi::OsString::from("mend")],
        "one program"
    );

    let run = |args: &[&str], home: &Path| {
        Command::new(&mend)
            .args(args)
            .env("MEND_HOME", home)
            .env("MEND_PASSPHRASE", "install test passphrase")
            .env("MEND_INSECURE_TEST_KDF", "1")
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let home = root.path().join("home");
    let version = run(&["--version"], &home);
    assert!(
        String::from_utf8_lossy(&version.stdout).starts_with("mend "),
        "{version:?}"
    );
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let c = run(&["completions", shell], &home);
        assert!(c.status.success(), "{shell}: {c:?}");
        assert!(
            String::from_utf8_lossy(&c.stdout).contains("mend"),
            "{shell}"
        );
    }
    let man = root.path().join("man1");
    let m = run(&["man", "--out-dir", man.to_str().unwrap()], &home);
    assert!(m.status.success(), "{m:?}");
    for page in [
        "mend.1",
        "mend-write.1",
        "mend-relay.1",
        "mend-service-install.1",
    ] {
        let text = std::fs::read_to_string(man.join(page)).unwrap_or_default();
        assert!(text.contains(".TH"), "{page} is not a man page");
    }
    let init = run(&["init", "--name", "Alex"], &home);
    assert!(init.status.success(), "{init:?}");
    let w = run(&["write", "Installed, and it works"], &home);
    assert!(w.status.success(), "{w:?}");
    let list = run(&["list"], &home);
    assert!(String::from_utf8_lossy(&list.stdout).contains("Installed, and it works"));

    let out = cargo()
        .args(["uninstall", "mend-cli", "--root"])
        .arg(root.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(!mend.exists(), "cargo uninstall left mend behind");
}
