//! Shared set-up of scgan's fuzz targets.
//!
//! Every target writes the fuzzer's bytes to a file in a per-process scratch folder (on tmpfs when there is one)
//! and calls the same public reader a user's file goes through, so what is fuzzed is exactly what `scgan` runs.

use std::path::PathBuf;
use std::sync::OnceLock;

/// Memory the readers may plan for while fuzzing: larger claims are refused by scgan's up-front estimate
/// (`SCGAN_MEMORY_LIMIT`), which is itself under test; run libFuzzer with `-rss_limit_mb=2048`.
const FUZZ_MEMORY_LIMIT: &str = "256MiB";

/// Called from each target's `init`.
///
/// libfuzzer-sys aborts on every panic, even one that is caught. scgan wraps the HDF5 library's reader in
/// `catch_unwind` (a malformed file makes hdf5-pure panic in places scgan cannot validate in advance) and turns
/// the panic into an error naming the file, so a panic raised inside a registry crate is tolerated here when it
/// is caught; one that escapes still aborts (libfuzzer-sys catches it around the target and aborts), and any
/// panic in scgan's own code aborts at once.
pub fn init() {
    // SAFETY: called once at start-up, before any other thread exists.
    unsafe { std::env::set_var("SCGAN_MEMORY_LIMIT", FUZZ_MEMORY_LIMIT) };
    std::panic::set_hook(Box::new(|info| {
        let in_dependency = info.location().is_some_and(|l| l.file().contains("/.cargo/registry/"));
        if !in_dependency || std::env::var_os("SCGAN_FUZZ_STRICT").is_some() {
            eprintln!("{info}");
            std::process::abort();
        }
    }));
}

/// A scratch folder of this process.
pub fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
        let dir = base.join(format!("scgan-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch folder");
        dir
    })
}

/// Writes `bytes` to `name` in the scratch folder and returns its path.
pub fn put(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch().join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("scratch sub-folder");
    }
    std::fs::write(&path, bytes).expect("scratch file");
    path
}
