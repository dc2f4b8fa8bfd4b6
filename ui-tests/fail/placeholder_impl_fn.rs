// `-> impl Fn` with a placeholder body does not compile without the
// attribute either: the error is rustc's own (E0277 on the return type),
// not one pointing at the attribute.
use hmr_runtime::hmr_track;

#[hmr_track]
fn adder(k: u32) -> impl Fn(u32) -> u32 {
    let _ = k;
    todo!()
}

fn main() {
    let _ = adder(1);
}
