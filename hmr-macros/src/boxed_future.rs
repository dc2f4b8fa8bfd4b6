//! Sync functions that return a boxed `async` block: the shape
//! `#[async_trait]` writes (`Box::pin(async move { … })`) and its hand-written
//! twins (`async move { … }.boxed()`). The work happens when the future is
//! polled, not when the function returns it, so the scope goes around the
//! block, as for an `async fn`: its calls are children of the track, and the
//! call's outcome is the future's (returned, cancelled, unwound).

use std::mem;

use proc_macro2::{Span, TokenStream};
use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr, ExprPath, Item, Stmt};

/// The `async` block that the body's tail boxes, if the tail is
/// `Box::pin(async …)` (any path ending in `Box::pin`), or
/// `async … .boxed()` / `.boxed_local()`.
///
/// Only when the body always ends there: with an early `return` or `?`
/// (which may return another future, or none of the tail's), the scope stays
/// around the function's call.
pub(crate) fn tail_async(body: &mut Block) -> Option<&mut Expr> {
    if exits_early(body) {
        return None;
    }
    let Some(Stmt::Expr(tail, None)) = body.stmts.last_mut() else { return None };
    match tail {
        Expr::Call(call) if call.args.len() == 1 && is_box_pin(&call.func) => {
            call.args.first_mut().filter(|arg| matches!(arg, Expr::Async(_)))
        }
        Expr::MethodCall(call)
            if call.args.is_empty()
                && call.turbofish.is_none()
                && (call.method == "boxed" || call.method == "boxed_local") =>
        {
            Some(&mut *call.receiver).filter(|receiver| matches!(receiver, Expr::Async(_)))
        }
        _ => None,
    }
}

/// A `return` or `?` of the function itself (not of a closure, an `async`
/// block, a `const` block or a nested item).
fn exits_early(body: &mut Block) -> bool {
    struct Exits(bool);
    impl VisitMut for Exits {
        fn visit_expr_mut(&mut self, expr: &mut Expr) {
            match expr {
                Expr::Closure(_) | Expr::Async(_) | Expr::Const(_) => {}
                Expr::Return(_) | Expr::Try(_) => self.0 = true,
                _ => visit_mut::visit_expr_mut(self, expr),
            }
        }
        fn visit_item_mut(&mut self, _: &mut Item) {}
    }
    let mut exits = Exits(false);
    exits.visit_block_mut(body);
    exits.0
}

/// `Box::pin`, `std::boxed::Box::pin`, `::alloc::boxed::Box::pin`, …
fn is_box_pin(func: &Expr) -> bool {
    let Expr::Path(ExprPath { qself: None, path, .. }) = func else { return false };
    let mut segments = path.segments.iter().rev();
    matches!(
        (segments.next(), segments.next()),
        (Some(pin), Some(boxed)) if pin.ident == "pin" && boxed.ident == "Box"
            && pin.arguments.is_none() && boxed.arguments.is_none()
    )
}

/// Puts the block inside `instrument(site, …)`, the future of a tracked
/// `async fn`, which opens the scope at its first poll.
pub(crate) fn instrument_block(block: &mut Expr, site: &TokenStream, runtime: &TokenStream) {
    let inner = mem::replace(block, Expr::Verbatim(TokenStream::new()));
    *block = syn::parse_quote_spanned!(Span::mixed_site()=>
        #runtime::instrument(#site, #inner));
}
