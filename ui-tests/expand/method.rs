use hmr_runtime::hmr_track;

pub struct Feed {
    value: u32,
}

impl Feed {
    #[hmr_track]
    pub fn quotes(&self, scale: u32) -> u32 {
        self.value * scale
    }
}

pub trait Source {
    #[hmr_track]
    fn poll(&mut self) -> Option<u32> {
        None
    }
}

impl Source for Feed {}

fn main() {
    let mut feed = Feed { value: 1 };
    let _ = feed.quotes(2);
    let _ = feed.poll();
}
