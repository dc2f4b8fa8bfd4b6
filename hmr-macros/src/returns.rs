//! The value a function's body returns, gathered into one expression so that
//! a wrapper (around a returned closure or stream) is applied once, whichever
//! way the body returns.

use std::mem;

use proc_macro2::Span;
use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr, ExprMacro, Item, Lifetime, Stmt, StmtMacro};

/// Takes the returned value out of `body`: its tail, or, when the body has
/// `return`s of its own, `'__hmr_body: { …statements… }` with each `return e`
/// turned into `break '__hmr_body e`. Without an immediately-invoked closure,
/// so `?`, `#[track_caller]` and borrows of the arguments work as before.
///
/// `None`, and the body unchanged, when it diverges (no tail, no `return`):
/// there is no value to wrap.
pub(crate) fn take_value(body: &mut Block) -> Option<Expr> {
    let label = Lifetime::new("'__hmr_body", Span::mixed_site());
    let mut found = false;
    OwnReturns {
        f: &mut |expr| {
            if let Expr::Return(ret) = expr {
                let (attrs, value) = (&ret.attrs, &ret.expr);
                *expr = syn::parse_quote_spanned!(Span::mixed_site()=>
                    #(#attrs)* break #label #value);
                found = true;
            }
        },
    }
    .visit_body(body);
    if found {
        let stmts = mem::take(&mut body.stmts);
        return Some(syn::parse_quote_spanned!(Span::mixed_site()=> #label: { #(#stmts)* }));
    }
    // Only the tail is returned: take it where it stands.
    match body.stmts.pop() {
        // A placeholder (`todo!()`): wrapping it would only add an
        // unreachable wrapper, and lints the plain function does not have.
        Some(
            tail @ (Stmt::Macro(StmtMacro { semi_token: None, .. })
            | Stmt::Expr(Expr::Macro(_), None)),
        ) if is_placeholder(&tail) => {
            body.stmts.push(tail);
            None
        }
        Some(Stmt::Expr(tail, None)) => Some(tail),
        Some(Stmt::Macro(tail)) if tail.semi_token.is_none() => Some(syn::parse_quote!(#tail)),
        other => {
            body.stmts.extend(other);
            None
        }
    }
}

/// `todo!(…)`, `unimplemented!(…)`, `panic!(…)`, `unreachable!(…)`, also
/// through `std::` or `core::`: the body never returns a value.
fn is_placeholder(tail: &Stmt) -> bool {
    let path = match tail {
        Stmt::Macro(StmtMacro { mac, .. }) | Stmt::Expr(Expr::Macro(ExprMacro { mac, .. }), _) => {
            &mac.path
        }
        _ => return false,
    };
    let mut segments = path.segments.iter().rev();
    let Some(last) = segments.next() else { return false };
    let prefix_ok = match (segments.next(), segments.next()) {
        (None, _) => true,
        (Some(krate), None) => krate.ident == "std" || krate.ident == "core",
        _ => false,
    };
    prefix_ok
        && ["todo", "unimplemented", "panic", "unreachable"].iter().any(|name| last.ident == name)
}

/// Visits the function's own `return` expressions (not those of closures,
/// async blocks, const blocks or nested items), innermost first, handing
/// each whole `return` expression to `f`, which may inspect or replace it.
pub(crate) struct OwnReturns<'a> {
    pub(crate) f: &'a mut dyn FnMut(&mut Expr),
}

impl OwnReturns<'_> {
    pub(crate) fn visit_body(&mut self, body: &mut Block) {
        for stmt in &mut body.stmts {
            self.visit_stmt_mut(stmt);
        }
    }
}

impl VisitMut for OwnReturns<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Closure(_) | Expr::Async(_) | Expr::Const(_) => {}
            Expr::Return(ret) => {
                if let Some(value) = &mut ret.expr {
                    self.visit_expr_mut(value);
                }
                (self.f)(expr);
            }
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_item_mut(&mut self, _: &mut Item) {}
}
