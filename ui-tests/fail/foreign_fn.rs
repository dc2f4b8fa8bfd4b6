use hmr_runtime::hmr_track;

unsafe extern "C" {
    #[hmr_track]
    fn abs(x: i32) -> i32;
}

fn main() {
    let _ = unsafe { abs(-1) };
}
