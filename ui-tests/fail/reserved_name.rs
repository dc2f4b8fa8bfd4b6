// Beside a returned closure literal the expansion's `fn __hmr_name` is in
// scope of the body, so the body cannot use that name.
use hmr_runtime::hmr_track;

#[hmr_track]
fn adder(__hmr_name: u32) -> impl Fn(u32) -> u32 {
    move |x| x + __hmr_name
}

fn main() {
    let _ = adder(1)(2);
}
