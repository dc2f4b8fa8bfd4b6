// Two mistakes, two errors: they are collected, not reported one per build.
use hmr_runtime::hmr_track;

#[hmr_track(rest)]
const fn answer() -> u32 {
    42
}

fn main() {
    let _ = answer();
}
