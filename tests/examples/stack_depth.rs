//! The deepest async recursion each form reaches on an 8 MiB thread, tracked
//! (`#[hmr_track]`) and untracked: a binary search over child processes,
//! since a stack overflow aborts the process that has it.
//!
//! ```text
//! cargo run -p hmr-tests --example stack_depth [--release]
//! ```
//!
//! The example runs itself again as `stack_depth <form> <depth>`: that child
//! polls the recursion to `depth` on a thread with an 8 MiB stack and exits
//! 0; an overflow kills it (SIGABRT after Rust's "has overflowed its stack",
//! or SIGSEGV). `tests/tests/stack.rs` measures the bytes per level directly.

use std::future::Future;
use std::pin::Pin;
use std::process::{Command, Stdio};

use futures::executor::block_on;
use hmr_runtime::hmr_track;

/// The stack of the thread the recursion runs on, as in the issue.
const STACK: usize = 8 << 20;

/// Past this the search stops: the form is deeper than anyone needs.
const CEILING: usize = 1 << 24;

async fn plain(n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    Box::pin(plain(n - 1)).await + 1
}

#[hmr_track]
async fn tracked(n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    Box::pin(tracked(n - 1)).await + 1
}

type Form = fn(usize) -> Pin<Box<dyn Future<Output = usize>>>;

const FORMS: [(&str, Form); 2] =
    [("plain", |n| Box::pin(plain(n))), ("tracked", |n| Box::pin(tracked(n)))];

/// The size of `form`'s future (an `async fn`'s type has no name).
fn future_size(form: &str) -> usize {
    match form {
        "plain" => size_of_val(&plain(1)),
        "tracked" => size_of_val(&tracked(1)),
        _ => unreachable!(),
    }
}

/// The child: runs `form` to `depth` on an 8 MiB thread.
fn child(form: &str, depth: usize) -> ! {
    let (_, make) = *FORMS.iter().find(|(name, ..)| *name == form).expect("a known form");
    let reached = std::thread::Builder::new()
        .name("stack-depth".into())
        .stack_size(STACK)
        .spawn(move || block_on(make(depth)))
        .expect("spawn the recursion's thread")
        .join()
        .expect("the recursion's thread");
    assert_eq!(reached, depth);
    std::process::exit(0)
}

/// Whether `form` reaches `depth` (in a child process).
fn reaches(form: &str, depth: usize) -> bool {
    let exe = std::env::current_exe().expect("the example's path");
    Command::new(exe)
        .args([form, &depth.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run the child")
        .success()
}

/// The greatest depth `form` reaches, or `None` past [`CEILING`].
fn max_depth(form: &str) -> Option<usize> {
    // Doubling up to the first failure, then bisection.
    let (mut ok, mut fail) = (0, 1024);
    while reaches(form, fail) {
        ok = fail;
        fail *= 2;
        if fail > CEILING {
            return None;
        }
    }
    while fail - ok > 1 {
        let mid = ok + (fail - ok) / 2;
        if reaches(form, mid) {
            ok = mid;
        } else {
            fail = mid;
        }
    }
    Some(ok)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [form, depth] = args.as_slice() {
        child(form, depth.parse().expect("a depth"));
    }
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    println!("async recursion on an {} MiB thread ({profile})", STACK >> 20);
    println!(
        "{:<10} {:>14} {:>12} {:>16}",
        "form", "size_of future", "max depth", "stack per level"
    );
    let mut depths = Vec::new();
    for (form, _) in FORMS {
        let depth = max_depth(form);
        let shown = depth.map_or_else(|| format!("> {CEILING}"), |d| d.to_string());
        let per_level = depth.map_or_else(|| "-".to_owned(), |d| format!("~{} B", STACK / d));
        println!("{form:<10} {:>14} {shown:>12} {per_level:>16}", future_size(form));
        depths.push(depth);
    }
    if let [Some(plain), Some(tracked)] = depths[..] {
        #[allow(clippy::cast_precision_loss, reason = "a ratio, printed")]
        let ratio = tracked as f64 / plain as f64;
        // The target holds for debug builds, the live-editing build.
        let target = if cfg!(debug_assertions) { " (target: >= 0.50)" } else { "" };
        println!("tracked reaches {ratio:.2} of the untracked depth{target}");
    }
}
