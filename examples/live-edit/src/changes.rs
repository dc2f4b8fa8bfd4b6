//! What each reload did to the tracks, printed as it happens: the reload
//! (`-- app v2 (Patch)`), each track's change (`FnOnly`, `Structural`,
//! disposed), and a new version's panic. Shared by both live-editing examples.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use hmr_runtime::{Event, TrackId, events::Path, sinks::Sink};

/// Prints what each reload did to the tracks.
#[derive(Default)]
pub(crate) struct Changes {
    paths: Mutex<HashMap<TrackId, Path>>,
}

impl Sink for Changes {
    fn record(&self, event: &Event) {
        let mut paths = self.paths.lock().unwrap_or_else(PoisonError::into_inner);
        let path = |id: &TrackId| paths.get(id).map_or_else(|| id.to_string(), ToString::to_string);
        match event {
            Event::TrackCall { id, path, .. } => {
                paths.insert(*id, path.clone());
            }
            Event::HmrModuleCall { module, version, reason, .. } => {
                println!("-- {module} v{version} ({reason:?})");
            }
            Event::TrackUpdate { id, change, plain_code, .. } => {
                let why = if *plain_code { " (plain code in the chain: rebuilt)" } else { "" };
                println!("   {}: {change:?}{why}", path(id));
            }
            Event::TrackDispose { id, reason } => {
                println!("   {}: disposed ({reason:?})", path(id));
            }
            Event::ReloadError { module, message, .. } => {
                println!(
                    "   {module}: the new code panicked, the old code keeps running: {message}"
                );
            }
            _ => {}
        }
    }
}
