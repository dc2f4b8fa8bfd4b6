use hmr_runtime::hmr_track;

/// The statements move into a future that re-enters the scope on each poll;
/// the fake return edge types the async block before its body.
#[hmr_track]
pub async fn load(text: &str) -> Result<u32, std::num::ParseIntError> {
    let value: u32 = std::future::ready(text.parse()).await?;
    Ok(value)
}

/// `impl Trait` can't be named in the body: no edge, `_` in the turbofish.
#[hmr_track]
pub async fn shown() -> impl std::fmt::Display {
    std::future::ready(1).await
}

/// No `.await`: the body runs in one poll, in a sync call's scope.
#[hmr_track]
pub async fn quick(x: u32) -> u32 {
    x + 1
}

fn main() {
    drop(load("1"));
    drop(shown());
    drop(quick(1));
}
