//! Functions that return a closure (`impl Fn…`, `Box<dyn Fn…>`): each call of
//! the returned closure opens a scope with the function's call site, so a hot
//! closure handed out by a tracked function is tracked too.
//!
//! Every value the body returns (its tail expression and each `return e`) is
//! rewritten where it stands, so `?`, early returns and `#[track_caller]` keep
//! working and the closure keeps the expected type that infers its parameters:
//! - a closure literal gets the scope guard as its first statement;
//! - any other value `e` becomes `{ let f = e; move |a0, …| { guard; f(a0, …) } }`
//!   (boxed again for `Box<dyn Fn…>`).
//!
//! One wrapper closure defined at the top of the body and applied to every
//! returned value does not work: its parameter's type is unknown where its body
//! calls it (E0282), and a returned `|s| s.len()` would lose the expected type
//! that infers `s`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote_spanned};
use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr, Item, Pat, ReturnType, Stmt, Type, TypeParamBound};

/// The closure a function returns, read from its declared return type.
pub(crate) struct ReturnedClosure {
    trait_: FnTrait,
    /// The declared `Box<dyn Fn…>`, or `None` for `impl Fn…`.
    boxed: Option<Type>,
    /// The closure's parameter types, unless they can't be written in a
    /// closure (a `for<'a>` binder).
    inputs: Option<Vec<Type>>,
    arity: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FnTrait {
    Fn,
    FnMut,
    FnOnce,
}

impl ReturnedClosure {
    /// Recognises `impl Fn(A) -> R + …` and `Box<dyn Fn(A) -> R + …>` (also
    /// `FnMut`, `FnOnce`).
    pub(crate) fn of(output: &ReturnType) -> Option<Self> {
        let ReturnType::Type(_, ty) = output else { return None };
        match strip_parens(ty) {
            Type::ImplTrait(impl_trait) => Self::from_bounds(impl_trait.bounds.iter(), None),
            Type::Path(path) if path.qself.is_none() => {
                let last = path.path.segments.last()?;
                let syn::PathArguments::AngleBracketed(generics) = &last.arguments else {
                    return None;
                };
                if last.ident != "Box" || generics.args.len() != 1 {
                    return None;
                }
                let syn::GenericArgument::Type(inner) = &generics.args[0] else { return None };
                let Type::TraitObject(object) = strip_parens(inner) else { return None };
                Self::from_bounds(object.bounds.iter(), Some(ty))
            }
            _ => None,
        }
    }

    fn from_bounds<'a>(
        mut bounds: impl Iterator<Item = &'a TypeParamBound>,
        boxed: Option<&Type>,
    ) -> Option<Self> {
        bounds.find_map(|bound| {
            let TypeParamBound::Trait(bound) = bound else { return None };
            let last = bound.path.segments.last()?;
            let syn::PathArguments::Parenthesized(args) = &last.arguments else { return None };
            let trait_ = match last.ident.to_string().as_str() {
                "Fn" => FnTrait::Fn,
                "FnMut" => FnTrait::FnMut,
                "FnOnce" => FnTrait::FnOnce,
                _ => return None,
            };
            let inputs: Vec<Type> = args.inputs.iter().map(|arg| arg.ty.clone()).collect();
            Some(ReturnedClosure {
                trait_,
                boxed: boxed.cloned(),
                arity: inputs.len(),
                inputs: bound.lifetimes.is_none().then_some(inputs),
            })
        })
    }

    /// Rewrites every value `block` returns. `guard` opens the scope
    /// (`let __hmr_guard = enter(&SITE);`); `runtime` is the runtime's hidden
    /// module. `annotate_literals` gives returned closure literals their
    /// parameter types, for bodies (`async fn`) where the declared return type
    /// no longer reaches the closure.
    pub(crate) fn rewrite(
        &self,
        block: &mut Block,
        guard: &TokenStream,
        runtime: &TokenStream,
        annotate_literals: bool,
    ) {
        let rewriter = &mut Rewriter { closure: self, guard, runtime, annotate_literals };
        for stmt in &mut block.stmts {
            rewriter.visit_stmt_mut(stmt);
        }
        match block.stmts.last_mut() {
            Some(Stmt::Expr(tail, None)) => rewriter.wrap(tail),
            Some(stmt @ Stmt::Macro(_)) => {
                if let Stmt::Macro(mac) = stmt
                    && mac.semi_token.is_none()
                    && !diverges(&mac.mac)
                {
                    let mut tail = Expr::Macro(syn::ExprMacro {
                        attrs: mac.attrs.clone(),
                        mac: mac.mac.clone(),
                    });
                    rewriter.wrap(&mut tail);
                    *stmt = Stmt::Expr(tail, None);
                }
            }
            _ => {}
        }
    }
}

struct Rewriter<'a> {
    closure: &'a ReturnedClosure,
    guard: &'a TokenStream,
    runtime: &'a TokenStream,
    annotate_literals: bool,
}

impl Rewriter<'_> {
    /// Wraps one returned value, descending through blocks, `if` and `match`
    /// to the values they produce.
    fn wrap(&self, expr: &mut Expr) {
        match expr {
            Expr::Paren(inner) => self.wrap(&mut inner.expr),
            Expr::Group(inner) => self.wrap(&mut inner.expr),
            Expr::Block(block) if block.label.is_none() => self.wrap_tail(&mut block.block),
            Expr::Unsafe(block) => self.wrap_tail(&mut block.block),
            Expr::If(if_) => {
                self.wrap_tail(&mut if_.then_branch);
                if let Some((_, else_)) = &mut if_.else_branch {
                    self.wrap(else_);
                }
            }
            Expr::Match(match_) => {
                for arm in &mut match_.arms {
                    self.wrap(&mut arm.body);
                }
            }
            // `return e` is rewritten by the visitor; the others diverge.
            Expr::Return(_) | Expr::Break(_) | Expr::Continue(_) => {}
            Expr::Macro(mac) if diverges(&mac.mac) => {}
            Expr::Closure(closure)
                if self.closure.boxed.is_none()
                    && closure.asyncness.is_none()
                    && closure.constness.is_none() =>
            {
                self.instrument_literal(closure);
            }
            _ => self.wrap_value(expr),
        }
    }

    fn wrap_tail(&self, block: &mut Block) {
        if let Some(Stmt::Expr(tail, None)) = block.stmts.last_mut() {
            self.wrap(tail);
        }
    }

    /// `|s| body` → `|s| { guard; body }`: the literal keeps the expected type
    /// that infers its parameters, and captures nothing new (the call site
    /// is a `static`).
    fn instrument_literal(&self, closure: &mut syn::ExprClosure) {
        let guard = self.guard;
        match &mut *closure.body {
            Expr::Block(body) if body.label.is_none() => {
                body.block.stmts.insert(0, syn::parse_quote!(#guard));
            }
            body => {
                let inner = &*body;
                *body = syn::parse_quote_spanned!(Span::mixed_site()=> { #guard #inner });
            }
        }
        if self.annotate_literals
            && let Some(inputs) = &self.closure.inputs
            && inputs.len() == closure.inputs.len()
        {
            for (pat, ty) in closure.inputs.iter_mut().zip(inputs) {
                if !matches!(pat, Pat::Type(_)) {
                    let untyped = pat.clone();
                    *pat = Pat::Type(syn::parse_quote!(#untyped: #ty));
                }
            }
        }
    }

    /// `e` → `{ let f = e; move |a0, …| { guard; f(a0, …) } }`.
    fn wrap_value(&self, expr: &mut Expr) {
        let guard = self.guard;
        let args: Vec<_> = (0..self.closure.arity)
            .map(|i| format_ident!("__hmr_a{}", i, span = Span::mixed_site()))
            .collect();
        let params: Vec<TokenStream> = match &self.closure.inputs {
            Some(inputs) => args
                .iter()
                .zip(inputs)
                .map(|(arg, ty)| quote_spanned!(Span::mixed_site()=> #arg: #ty))
                .collect(),
            None => args.iter().map(|arg| quote_spanned!(Span::mixed_site()=> #arg)).collect(),
        };
        let binding = match self.closure.trait_ {
            FnTrait::FnMut => quote_spanned!(Span::mixed_site()=> mut __hmr_f),
            FnTrait::Fn | FnTrait::FnOnce => quote_spanned!(Span::mixed_site()=> __hmr_f),
        };
        let closure = quote_spanned! {Span::mixed_site()=>
            move |#(#params),*| {
                #guard
                __hmr_f(#(#args),*)
            }
        };
        let value = &*expr;
        *expr = match &self.closure.boxed {
            None => syn::parse_quote_spanned! {Span::mixed_site()=>
                {
                    let #binding = #value;
                    #closure
                }
            },
            Some(boxed) => {
                let runtime = self.runtime;
                syn::parse_quote_spanned! {Span::mixed_site()=>
                    {
                        let #binding: #boxed = #value;
                        #runtime::std::boxed::Box::new(#closure)
                    }
                }
            }
        };
    }
}

impl VisitMut for Rewriter<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            // Their `return` leaves them, not the function.
            Expr::Closure(_) | Expr::Async(_) | Expr::Const(_) => {}
            Expr::Return(ret) => {
                if let Some(value) = &mut ret.expr {
                    self.visit_expr_mut(value);
                    self.wrap(value);
                }
            }
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_item_mut(&mut self, _: &mut Item) {}
}

fn strip_parens(ty: &Type) -> &Type {
    match ty {
        Type::Paren(inner) => strip_parens(&inner.elem),
        Type::Group(inner) => strip_parens(&inner.elem),
        ty => ty,
    }
}

/// `panic!()`, `todo!()`, … produce no closure to wrap.
fn diverges(mac: &syn::Macro) -> bool {
    mac.path.segments.last().is_some_and(|last| {
        ["panic", "todo", "unimplemented", "unreachable"].iter().any(|name| last.ident == name)
    })
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::{FnTrait, ReturnedClosure};

    fn of(output: &syn::ReturnType) -> Option<ReturnedClosure> {
        ReturnedClosure::of(output)
    }

    #[test]
    fn recognises_impl_and_boxed_closures() {
        let closure = of(&parse_quote!(-> impl Fn(&str, u8) -> usize + Send + 'static)).unwrap();
        assert!(closure.trait_ == FnTrait::Fn && closure.boxed.is_none() && closure.arity == 2);
        let closure = of(&parse_quote!(-> Box<dyn FnMut(u8) + Send + '_>)).unwrap();
        assert!(closure.trait_ == FnTrait::FnMut && closure.boxed.is_some());
        let closure = of(&parse_quote!(-> std::boxed::Box<dyn FnOnce()>)).unwrap();
        assert!(closure.trait_ == FnTrait::FnOnce && closure.arity == 0);
        assert!(of(&parse_quote!(-> impl for<'a> Fn(&'a str))).unwrap().inputs.is_none());
    }

    #[test]
    fn ignores_everything_else() {
        assert!(of(&parse_quote!(-> u32)).is_none());
        assert!(of(&parse_quote!(-> impl Iterator<Item = u8>)).is_none());
        assert!(of(&parse_quote!(-> Box<dyn std::error::Error>)).is_none());
        assert!(of(&parse_quote!(-> Option<impl Fn()>)).is_none());
        assert!(of(&parse_quote!()).is_none());
    }
}
