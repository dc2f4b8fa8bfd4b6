use hmr_runtime::hmr_track;

/// The statements move into a future that re-enters the scope on each poll;
/// the fake return edge types the async block before its body.
#[hmr_track]
pub async fn load(text: &str) -> Result<u32, std::num::ParseIntError> {
    let value: u32 = text.parse()?;
    Ok(value)
}

/// `impl Trait` can't be named in the body: no edge, `_` in the turbofish.
#[hmr_track]
pub async fn shown() -> impl std::fmt::Display {
    1
}

fn main() {
    drop(load("1"));
    drop(shown());
}
