use hmr_runtime::hmr_track;

macro_rules! or_else {
    ($value:expr, $otherwise:expr) => {
        match $value {
            Some(value) => value,
            None => $otherwise,
        }
    };
}

// The `return` sits in a macro call, where the attribute cannot rewrite it:
// the closure it returns would go untracked.
#[hmr_track]
fn make(k: Option<u32>) -> Box<dyn Fn(u32) -> u32> {
    let k = or_else!(k, return Box::new(|x| x));
    Box::new(move |x| x + k)
}

fn main() {
    let _ = make(Some(1));
}
