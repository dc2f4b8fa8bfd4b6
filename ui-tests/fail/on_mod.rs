use hmr_runtime::hmr_track;

#[hmr_track]
mod app {
    pub fn prices() {}
}

fn main() {
    app::prices();
}
