//! Functions that return a closure (`impl Fn…`, `Box<dyn Fn…>`): each call of
//! the returned closure opens a scope with the function's call site, so a hot
//! closure handed out by a tracked function is tracked too.
//!
//! Two rewrites, both without an immediately-invoked closure, so `?`, early
//! returns and `#[track_caller]` keep working:
//! - **A returned closure literal** (`|s| s.len()`) gets the scope guard as its
//!   first statement, where it stands: it keeps the expected type that infers
//!   its parameters, and captures nothing new (the call site is a `static`).
//! - **Any other returned value** (`Box::new(…)`, a variable, a call) flows
//!   into one binding, `let f = 'body: { …; break 'body e; … };` for each
//!   `return e`, which one wrapper closure calls:
//!   `move |a0, …| { guard; f(a0, …) }` (boxed again for `Box<dyn Fn…>`).
//!   One wrapper, so a body returning the same closure from several places
//!   still returns one type.
//!
//! A wrapper closure defined at the top of the body and applied to each
//! returned value does not compile: its parameter's type is unknown where its
//! body calls it (E0282).

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote_spanned};
use syn::{Block, Expr, Pat, ReturnType, Stmt, Type, TypeParamBound};

use crate::returns::{self, OwnReturns};

/// The closure a function returns, read from its declared return type.
pub(crate) struct ReturnedClosure {
    trait_: FnTrait,
    /// The declared `Box<dyn Fn…>`, or `None` for `impl Fn…`.
    boxed: Option<Type>,
    /// The closure's parameter types, unless they can't be written in a
    /// closure (a `for<'a>` binder).
    inputs: Option<Vec<Type>>,
    arity: usize,
    /// The declared `Fn…(…) -> …` bound of an `impl Fn…` return type.
    signature: Option<syn::TraitBound>,
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
                signature: boxed.is_none().then(|| bound.clone()),
            })
        })
    }

    /// In an `async fn` the declared return type does not reach the closures
    /// the body returns (they are built inside the future), so a closure
    /// like `|s| s` for `impl Fn(&str) -> &str` would not get its
    /// higher-ranked signature. `fn __hmr_expect<F: Fn(&str) -> &str>(f: F) -> F`
    /// gives it back. `None` when the bound names the function's generics or
    /// `Self` (a nested fn cannot see them): parameters are annotated instead.
    pub(crate) fn expect_fn(&self, generics: &syn::Generics) -> Option<TokenStream> {
        let signature = self.signature.as_ref()?;
        let mut outer: Vec<String> = generics
            .params
            .iter()
            .map(|param| match param {
                syn::GenericParam::Type(t) => t.ident.to_string(),
                syn::GenericParam::Lifetime(l) => l.lifetime.ident.to_string(),
                syn::GenericParam::Const(c) => c.ident.to_string(),
            })
            .collect();
        outer.extend(["Self".to_owned(), "impl".to_owned()]);
        if mentions_any(signature.to_token_stream(), &outer) {
            return None;
        }
        Some(quote_spanned! {Span::mixed_site()=>
            fn __hmr_expect<__HmrF: #signature>(f: __HmrF) -> __HmrF {
                f
            }
        })
    }

    /// Whether the body returns a closure literal (then the function returns
    /// `impl Fn…`: a literal is never a `Box`).
    pub(crate) fn returns_literal(&self, body: &mut Block) -> bool {
        let mut found = false;
        if self.boxed.is_none() {
            for_each_returned(body, &mut |value| found |= as_literal(value).is_some());
        }
        found
    }

    /// Puts `guard` first in every returned closure literal. With
    /// `annotate`, unannotated parameters get their declared types: in an
    /// `async fn` the declared return type no longer reaches the literal.
    pub(crate) fn instrument_literals(
        &self,
        body: &mut Block,
        guard: &TokenStream,
        annotate: bool,
        expect: bool,
    ) {
        for_each_returned(body, &mut |value| {
            if expect && as_literal(value).is_some() {
                self.instrument_literals_in(value, guard, false);
                let literal = &*value;
                *value = syn::parse_quote_spanned!(Span::mixed_site()=> __hmr_expect(#literal));
                return;
            }
            self.instrument_literals_in(value, guard, annotate);
        });
    }

    fn instrument_literals_in(&self, value: &mut Expr, guard: &TokenStream, annotate: bool) {
        {
            let Some(closure) = as_literal(value) else { return };
            match &mut *closure.body {
                Expr::Block(body) if body.label.is_none() => {
                    body.block.stmts.insert(0, syn::parse_quote!(#guard));
                }
                body => {
                    let inner = &*body;
                    *body = syn::parse_quote_spanned!(Span::mixed_site()=> { #guard #inner });
                }
            }
            if annotate
                && let Some(inputs) = &self.inputs
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
    }

    /// Binds what the body returns and returns the wrapper instead. `site`
    /// is a `&'static Callsite` expression the wrapper can capture by copy.
    /// With `expect`, the wrapper goes through `__hmr_expect` (see
    /// [`Self::expect_fn`]) instead of having its parameters annotated.
    pub(crate) fn wrap_returned_value(
        &self,
        body: &mut Block,
        site: &TokenStream,
        runtime: &TokenStream,
        expect: bool,
    ) {
        // The body diverges: there is no closure to wrap.
        let Some(value) = returns::take_value(body) else { return };
        let args: Vec<_> = (0..self.arity)
            .map(|i| format_ident!("__hmr_a{}", i, span = Span::mixed_site()))
            .collect();
        let params: Vec<TokenStream> = match &self.inputs {
            Some(inputs) if !expect => args
                .iter()
                .zip(inputs)
                .map(|(arg, ty)| quote_spanned!(Span::mixed_site()=> #arg: #ty))
                .collect(),
            _ => args.iter().map(|arg| quote_spanned!(Span::mixed_site()=> #arg)).collect(),
        };
        let binding = match self.trait_ {
            FnTrait::FnMut => quote_spanned!(Span::mixed_site()=> mut __hmr_f),
            FnTrait::Fn | FnTrait::FnOnce => quote_spanned!(Span::mixed_site()=> __hmr_f),
        };
        let wrapper = quote_spanned! {Span::mixed_site()=>
            move |#(#params),*| {
                let __hmr_guard = #runtime::enter(#site);
                __hmr_f(#(#args),*)
            }
        };
        let wrapper = if expect {
            quote_spanned!(Span::mixed_site()=> __hmr_expect(#wrapper))
        } else {
            wrapper
        };
        let (bind, wrapper) = match &self.boxed {
            None => (quote_spanned!(Span::mixed_site()=> let #binding = #value;), wrapper),
            // Boxed again only when recording: with the runtime's `enabled`
            // feature off the function returns its own box, as without the
            // attribute (`ENABLED` is a constant; the branch folds away).
            Some(boxed) => (
                quote_spanned!(Span::mixed_site()=> let #binding: #boxed = #value;),
                quote_spanned! {Span::mixed_site()=>
                    if #runtime::ENABLED {
                        #runtime::std::boxed::Box::new(#wrapper)
                    } else {
                        __hmr_f
                    }
                },
            ),
        };
        body.stmts.push(syn::parse_quote!(#bind));
        body.stmts.push(Stmt::Expr(syn::parse_quote!(#wrapper), None));
    }
}

/// Calls `f` on every value the body returns: its tail and each `return`'s
/// operand, descending through blocks, `if` and `match` to the values they
/// produce. Diverging values (`panic!()`, `break`) produce no closure.
fn for_each_returned(body: &mut Block, f: &mut dyn FnMut(&mut Expr)) {
    OwnReturns {
        f: &mut |expr| {
            if let Expr::Return(syn::ExprReturn { expr: Some(value), .. }) = expr {
                each_value(value, f);
            }
        },
    }
    .visit_body(body);
    if let Some(Stmt::Expr(tail, None)) = body.stmts.last_mut() {
        each_value(tail, f);
    }
}

fn each_value(expr: &mut Expr, f: &mut dyn FnMut(&mut Expr)) {
    let tail = |block: &mut Block, f: &mut dyn FnMut(&mut Expr)| {
        if let Some(Stmt::Expr(tail, None)) = block.stmts.last_mut() {
            each_value(tail, f);
        }
    };
    match expr {
        Expr::Paren(inner) => each_value(&mut inner.expr, f),
        Expr::Group(inner) => each_value(&mut inner.expr, f),
        Expr::Block(block) if block.label.is_none() => tail(&mut block.block, f),
        Expr::Unsafe(block) => tail(&mut block.block, f),
        Expr::If(if_) => {
            tail(&mut if_.then_branch, f);
            if let Some((_, else_)) = &mut if_.else_branch {
                each_value(else_, f);
            }
        }
        Expr::Match(match_) => {
            for arm in &mut match_.arms {
                each_value(&mut arm.body, f);
            }
        }
        // A `return` is visited on its own; the others diverge.
        Expr::Return(_) | Expr::Break(_) | Expr::Continue(_) => {}
        value => f(value),
    }
}

fn as_literal(value: &mut Expr) -> Option<&mut syn::ExprClosure> {
    match value {
        Expr::Closure(closure) if closure.asyncness.is_none() && closure.constness.is_none() => {
            Some(closure)
        }
        _ => None,
    }
}

fn mentions_any(tokens: TokenStream, names: &[String]) -> bool {
    tokens.into_iter().any(|token| match token {
        proc_macro2::TokenTree::Ident(ident) => names.iter().any(|name| ident == name),
        proc_macro2::TokenTree::Group(group) => mentions_any(group.stream(), names),
        _ => false,
    })
}

pub(crate) fn strip_parens(ty: &Type) -> &Type {
    match ty {
        Type::Paren(inner) => strip_parens(&inner.elem),
        Type::Group(inner) => strip_parens(&inner.elem),
        ty => ty,
    }
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
