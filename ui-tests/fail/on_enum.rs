use hmr_runtime::hmr_track;

#[hmr_track]
enum Side {
    Buy,
    Sell,
}

fn main() {
    let _ = [Side::Buy, Side::Sell];
}
