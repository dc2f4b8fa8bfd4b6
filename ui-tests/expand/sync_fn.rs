use hmr_runtime::hmr_track;

/// Splices a guard in front of the user's statements, after inner
/// attributes and leading items.
#[hmr_track]
pub fn prices(base: u32) -> Result<u32, String> {
    #![allow(clippy::needless_return)]
    const SCALE: u32 = 2;
    if base == 0 {
        return Err("no base".to_owned());
    }
    Ok(base * SCALE)
}

#[hmr_track(key = "app::quotes", name = "Quotes", reset)]
fn quotes() {}

fn main() {
    let _ = prices(1);
    quotes();
}
