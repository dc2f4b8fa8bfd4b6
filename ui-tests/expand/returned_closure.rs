use hmr_runtime::hmr_track;

/// A returned closure literal gets the guard in place; the call site's items
/// sit at the top of the body so the literal can name the `static`.
#[hmr_track]
pub fn length() -> impl Fn(&str) -> usize {
    |s| s.len()
}

/// Any other returned value is bound once and wrapped: `return` becomes
/// `break` out of a labeled block.
#[hmr_track]
pub fn scaled(k: u32) -> Box<dyn Fn(u32) -> u32 + Send> {
    if k == 0 {
        return Box::new(|x| x);
    }
    Box::new(move |x| x * k)
}

fn main() {
    let _ = length()("abc");
    let _ = scaled(2)(3);
}
