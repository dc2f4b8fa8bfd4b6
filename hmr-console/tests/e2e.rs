//! The real console attached to a real program, in a real terminal (tmux):
//! `examples/watched.rs` serves its console, `hmr-console` attaches, the
//! screen shows version 1; Enter in the program's window runs version 2,
//! and the console's screen shows the update, items flowing, the marbles
//! of a pipeline with items that met the new code, then the reloads view.
//!
//! Needs tmux (`.ci/run` installs it).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of its own, killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux: install it (apt-get install tmux); .ci/run does");
        assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The text of a window's screen.
    fn screen(&self, window: &str) -> String {
        self.run(&["capture-pane", "-p", "-t", window])
    }

    /// Waits until `window`'s screen shows every one of `texts`.
    fn wait_for(&self, window: &str, texts: &[&str]) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen(window);
            if texts.iter().all(|t| screen.contains(t)) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{window} never showed {texts:?}; it shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).output();
    }
}

/// Builds the watched program (an example: it needs tracking on).
fn watched() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "-p", "hmr-console", "--example", "watched"])
        .status()
        .unwrap();
    assert!(status.success());
    let mut path = PathBuf::from(env!("CARGO_BIN_EXE_hmr-console"));
    path.pop();
    path.push("examples");
    path.push("watched");
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn the_console_follows_a_running_program_through_a_reload() {
    let program = watched();
    let addr = format!("127.0.0.1:{}", free_port());
    let tmux = Tmux { socket: format!("hmr-e2e-{}", std::process::id()) };
    tmux.run(&["new-session", "-d", "-s", "e2e", "-x", "120", "-y", "30", "-n", "program"]);
    tmux.run(&[
        "send-keys",
        "-t",
        "e2e:program",
        &format!("HMR_CONSOLE={addr} {}", program.display()),
        "Enter",
    ]);
    tmux.wait_for("e2e:program", &["v1 committed"]);
    tmux.run(&[
        "new-window",
        "-t",
        "e2e",
        "-n",
        "console",
        env!("CARGO_BIN_EXE_hmr-console"),
        &addr,
    ]);

    let v1 = tmux.wait_for("e2e:console", &["module desk v1", "[\"MSFT\"]/desk::prices#0"]);
    assert!(v1.contains("watched (pid"), "attached: {v1}");

    // A reload in the program: the console shows it without being touched.
    tmux.run(&["send-keys", "-t", "e2e:program", "Enter"]);
    let v2 = tmux.wait_for("e2e:console", &["module desk v2", "fn-only"]);
    assert!(v2.contains("v2 fn-only"), "{v2}");
    // The pipelines tick: items per second through each, and the last item.
    let flowing = tmux.wait_for("e2e:console", &["/s  last "]);
    assert!(flowing.contains("subscribe(source.hot_map(fn))"), "{flowing}");
    assert!(flowing.contains("task running"), "each pipeline's task: {flowing}");

    // Enter: the marbles of the module's first pipeline. Items that met
    // the second version's closure say so (code 1): × 100, not × 10.
    tmux.run(&["send-keys", "-t", "e2e:console", "Enter"]);
    let marbles = tmux.wait_for("e2e:console", &["hot_map(fn)", "(code 1,", "┃"]);
    assert!(marbles.contains("[\"AAPL\"]/desk::prices#0"), "{marbles}");
    let last = marbles.lines().find(|l| l.contains("last ") && l.contains("(code 1,")).unwrap();
    let item: u64 =
        last.split("last ").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert!(item.is_multiple_of(100), "the new code's item: {last}");
    tmux.run(&["send-keys", "-t", "e2e:console", "Enter"]);
    tmux.wait_for("e2e:console", &["module desk v2"]);

    tmux.run(&["send-keys", "-t", "e2e:console", "Tab"]);
    // Version 1 ran before the console attached: the graph showed it (the
    // state sent at attach), the reloads view starts at version 2.
    let reloads = tmux.wait_for("e2e:console", &["desk v2", "committed  new 0  updated 3"]);
    assert!(!reloads.contains("desk v1"), "{reloads}");

    tmux.run(&["send-keys", "-t", "e2e:console", "q"]);
}
