//! Leaf utilities every layer may use; this module imports nothing of the
//! crate.

/// The message of a panic's payload (`panic!("…")` gives a `&str` or a
/// `String`).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}
