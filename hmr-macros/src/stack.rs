//! Room on the stack for deep bodies.
//!
//! syn parses, visits, prints and drops expressions recursively, about 10 KB
//! of stack per nesting level in a debug build of the macro (the default for
//! proc macros). rustc itself grows its stack on demand, so a body nested a
//! thousand levels deep compiles without the attribute; with it, the macro
//! would overflow rustc's 8 MiB thread. So the expansion runs on a larger
//! stack (the same thread, through `stacker`, as rustc does) whenever the
//! item is big enough to need it.

use proc_macro2::{TokenStream, TokenTree};

/// A bound on the stack that expanding `item` needs: the recursion is at
/// most as deep as the item has token trees, each level well under this.
const PER_TOKEN: usize = 16 * 1024;

/// Enough for any item of up to a few hundred tokens, without growing.
const BASE: usize = 256 * 1024;

/// The most ever asked for: about 16 000 nesting levels. (Address space, but
/// some systems commit a new stack up front.)
const MOST: usize = 256 * 1024 * 1024;

/// Runs `expand` on `item` with at least the stack `item` may need.
pub(crate) fn with_room(
    item: TokenStream,
    expand: impl FnOnce(TokenStream) -> TokenStream,
) -> TokenStream {
    let need = BASE.saturating_add(token_trees(&item).saturating_mul(PER_TOKEN)).min(MOST);
    stacker::maybe_grow(need, need, || expand(item))
}

/// The number of token trees in `tokens`, groups included, counted without
/// recursion.
fn token_trees(tokens: &TokenStream) -> usize {
    let mut count = 0;
    let mut pending = vec![tokens.clone()];
    while let Some(stream) = pending.pop() {
        for tree in stream {
            count += 1;
            if let TokenTree::Group(group) = tree {
                pending.push(group.stream());
            }
        }
    }
    count
}
