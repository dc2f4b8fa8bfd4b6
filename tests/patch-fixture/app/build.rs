//! Exports every symbol of `feed_app`, as `dx` does for the binaries it
//! serves: subsecond finds the program's base through `main` (`dlsym`), and a
//! patch's code calls into the running program through these symbols.
fn main() {
    println!("cargo::rustc-link-arg-bins=-rdynamic");
}
