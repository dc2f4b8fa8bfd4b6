//! An async root calling `reload()` from inside its own run: refused at
//! once, not a deadlock. (In a test binary of its own: the roots it
//! registers are the process's, and every `reload()` runs them all.)

use std::sync::Mutex;

use hmr_runtime::ReloadError;

static INSIDE_RESULT: Mutex<Option<Result<(), ReloadError>>> = Mutex::new(None);

#[test]
fn reload_inside_an_async_root_is_an_error_not_a_deadlock() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    runtime
        .block_on(hmr_runtime::root_async("async-reload-inside", || async {
            tokio::task::yield_now().await;
            let inside = hmr_runtime::reload();
            *INSIDE_RESULT.lock().unwrap() = Some(inside);
        }))
        .unwrap();
    let inside = INSIDE_RESULT.lock().unwrap().take();
    assert_eq!(
        inside,
        Some(Err(ReloadError::Reentrant { module: "async-reload-inside".into() })),
        "refused at once: waiting would need this very run to end"
    );
}
