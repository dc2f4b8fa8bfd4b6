//! Functions that return a stream: the stream becomes a stable handle
//! (docs/design.md §5.6), a `Source<T>` whose first holder keeps receiving from the newest
//! version of the function.
//!
//! The runtime decides at the value's type, by autoref specialisation on
//! `(&&&Returned::new(value)).__hmr_returned()`: a `Source` passes, a
//! `Stream + Send + 'static` is wrapped, anything else passes unchanged. This
//! file decides from the declared return type where that call goes:
//! - `impl Stream<Item = T>` (`+ Send`, `+ Unpin`, `+ 'static` allowed): the
//!   call is the returned value.
//! - `BoxStream<'static, T>`, `Pin<Box<dyn Stream<Item = T> + Send>>`: its
//!   value is boxed again, and only when recording (`ENABLED`), so that with
//!   the runtime's `enabled` feature off the function returns its own box.
//!
//! With the feature off (and in `__private::disabled`) the three dispatch
//! traits are one, the pass-through: an `impl Stream` comes back as it is.
//!
//! The call comes after the body's value, before the scope guard drops: the
//! stable stream is an entity of the function's track.
//!
//! Method resolution does not look at lifetimes: a stream that borrows would
//! select the wrapping impl and fail to compile (it must be `'static`) instead
//! of passing through. So the stream is wrapped only where the signature
//! shows it cannot borrow (see [`lifetime_safe`]).

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote_spanned};
use syn::punctuated::Punctuated;
use syn::{
    Block, FnArg, GenericArgument, PathArguments, ReturnType, Signature, Stmt, Token, TraitBound,
    Type, TypeParamBound, WherePredicate,
};

use crate::returned_closure::strip_parens;
use crate::returns;

/// The stream a sync function returns, read from its signature.
pub(crate) struct ReturnedStream {
    /// The declared `BoxStream<'static, T>` or `Pin<Box<dyn Stream…>>`, or
    /// `None` for `impl Stream…`.
    boxed: Option<Type>,
}

impl ReturnedStream {
    /// A sync function that returns one of the recognised stream types, and
    /// whose signature shows the stream cannot borrow. `async fn` is left
    /// alone: its stream is built inside the future.
    pub(crate) fn of(sig: &Signature) -> Option<Self> {
        if sig.asyncness.is_some() {
            return None;
        }
        let ReturnType::Type(_, ty) = &sig.output else { return None };
        let (boxed, bounded_static) = match strip_parens(ty) {
            Type::ImplTrait(impl_trait) => (None, stream_bounds(&impl_trait.bounds, false)?),
            Type::Path(path) if path.qself.is_none() => {
                let last = path.path.segments.last()?;
                let bounded_static = match (last.ident.to_string().as_str(), &*angle_args(last)?) {
                    (
                        "BoxStream",
                        [GenericArgument::Lifetime(lifetime), GenericArgument::Type(_)],
                    ) if lifetime.ident == "static" => true,
                    ("Pin", [GenericArgument::Type(inner)]) => dyn_stream_bounds(inner)?,
                    _ => return None,
                };
                (Some((**ty).clone()), bounded_static)
            }
            _ => return None,
        };
        lifetime_safe(sig, ty, bounded_static).then_some(ReturnedStream { boxed })
    }

    /// Binds what the body returns, once (see [`returns::take_value`]), and
    /// returns it through the runtime's dispatch instead.
    pub(crate) fn wrap_returned_value(&self, body: &mut Block, runtime: &TokenStream) {
        // The body diverges: there is no stream to wrap.
        let Some(value) = returns::take_value(body) else { return };
        let stable = quote_spanned! {Span::mixed_site()=>
            {
                use #runtime::{ReturnedOther as _, ReturnedSource as _, ReturnedStream as _};
                (&&&#runtime::Returned::new(__hmr_stream)).__hmr_returned()
            }
        };
        let (bind, tail) = match &self.boxed {
            None => (quote_spanned!(Span::mixed_site()=> let __hmr_stream = #value;), stable),
            // `ENABLED` is a constant; the branch folds away.
            Some(boxed) => (
                quote_spanned!(Span::mixed_site()=> let __hmr_stream: #boxed = #value;),
                quote_spanned! {Span::mixed_site()=>
                    if #runtime::ENABLED {
                        #runtime::std::boxed::Box::pin(#stable)
                    } else {
                        __hmr_stream
                    }
                },
            ),
        };
        body.stmts.push(syn::parse_quote!(#bind));
        body.stmts.push(Stmt::Expr(syn::parse_quote!(#tail), None));
    }
}

/// The bounds of `impl Stream<…> + …` or `dyn Stream<…> + …`: one `Stream`,
/// and only `Send`, `Unpin` and `'static` besides (a `dyn` must be `Send`:
/// the stable stream is). `Some(true)` if `'static` is among them. Anything
/// else the stable stream may not satisfy (`Sync`, `FusedStream`, `+ 'a`,
/// `use<…>`) leaves the function alone.
fn stream_bounds(bounds: &Punctuated<TypeParamBound, Token![+]>, dyn_: bool) -> Option<bool> {
    let (mut stream, mut send, mut bounded_static) = (false, false, false);
    for bound in bounds {
        match bound {
            TypeParamBound::Trait(bound) if plain(bound) => {
                let last = bound.path.segments.last()?;
                match (last.ident.to_string().as_str(), &last.arguments) {
                    ("Stream", PathArguments::None | PathArguments::AngleBracketed(_))
                        if !stream =>
                    {
                        stream = true;
                    }
                    ("Send", PathArguments::None) => send = true,
                    ("Unpin", PathArguments::None) => {}
                    _ => return None,
                }
            }
            TypeParamBound::Lifetime(lifetime) if lifetime.ident == "static" => {
                bounded_static = true;
            }
            _ => return None,
        }
    }
    (stream && (send || !dyn_)).then_some(bounded_static)
}

/// `Box<dyn Stream<…> + Send …>`, the argument of `Pin<…>`.
fn dyn_stream_bounds(ty: &Type) -> Option<bool> {
    let Type::Path(path) = strip_parens(ty) else { return None };
    let last = path.path.segments.last()?;
    if path.qself.is_some() || last.ident != "Box" {
        return None;
    }
    let [GenericArgument::Type(inner)] = &*angle_args(last)? else { return None };
    let Type::TraitObject(object) = strip_parens(inner) else { return None };
    stream_bounds(&object.bounds, true)
}

/// A bound with no `?`, `for<…>` or modifier.
fn plain(bound: &TraitBound) -> bool {
    bound.maybe.is_none() && bound.lifetimes.is_none() && bound.modifiers.require_empty().is_ok()
}

fn angle_args(segment: &syn::PathSegment) -> Option<Vec<&GenericArgument>> {
    match &segment.arguments {
        PathArguments::AngleBracketed(args) => Some(args.args.iter().collect()),
        _ => None,
    }
}

/// Whether the returned value provably cannot borrow, so that the runtime's
/// `'static` requirement holds wherever it picks the wrapping impl:
/// - the return type mentions no lifetime but `'static`, no reference
///   without one, no `Self`, and no type parameter not bounded by `'static`;
/// - and either it is itself bounded by `'static` (`impl Stream… + 'static`,
///   `BoxStream<'static, …>`, `dyn Stream… + 'static`), or nothing in the
///   signature could lend it a lifetime: no receiver, no lifetime parameter,
///   every type parameter (also an `impl Trait` argument) bounded by
///   `'static`, and argument types held to the same rule as the return type.
///
/// Parameters of an enclosing `impl` are not visible here.
fn lifetime_safe(sig: &Signature, output: &Type, bounded_static: bool) -> bool {
    let not_static = not_static_params(&sig.generics);
    let output = match strip_parens(output) {
        Type::ImplTrait(impl_trait) => impl_trait.bounds.to_token_stream(),
        output => output.to_token_stream(),
    };
    if !static_type(output, &not_static) {
        return false;
    }
    if bounded_static {
        return true;
    }
    sig.generics.lifetimes().next().is_none()
        && not_static.is_empty()
        && sig.variadic.is_none()
        && sig.inputs.iter().all(|arg| match arg {
            FnArg::Receiver(_) => false,
            FnArg::Typed(arg) => match strip_parens(&arg.ty) {
                // An anonymous type parameter.
                Type::ImplTrait(impl_trait) => {
                    bounds_static(&impl_trait.bounds)
                        && static_type(impl_trait.bounds.to_token_stream(), &[])
                }
                ty => static_type(ty.to_token_stream(), &[]),
            },
        })
}

/// The type parameters bounded by `'static` neither where declared nor in
/// the `where` clause.
fn not_static_params(generics: &syn::Generics) -> Vec<Ident> {
    generics
        .type_params()
        .filter(|param| {
            let in_where = generics.where_clause.iter().flat_map(|w| &w.predicates).any(|p| {
                matches!(p, WherePredicate::Type(p)
                    if matches!(&p.bounded_ty, Type::Path(ty)
                        if ty.qself.is_none() && ty.path.is_ident(&param.ident))
                        && bounds_static(&p.bounds))
            });
            !bounds_static(&param.bounds) && !in_where
        })
        .map(|param| param.ident.clone())
        .collect()
}

fn bounds_static(bounds: &Punctuated<TypeParamBound, Token![+]>) -> bool {
    bounds.iter().any(|b| matches!(b, TypeParamBound::Lifetime(l) if l.ident == "static"))
}

/// The tokens of a type that cannot hold a borrow: no lifetime but
/// `'static`, no `&` without one, no `Self`, no nested `impl Trait`, none of
/// `not_static`.
fn static_type(tokens: TokenStream, not_static: &[Ident]) -> bool {
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        let fine = match &token {
            TokenTree::Punct(p) if p.as_char() == '\'' => {
                matches!(tokens.peek(), Some(TokenTree::Ident(i)) if i == "static")
            }
            TokenTree::Punct(p) if p.as_char() == '&' => {
                matches!(tokens.peek(), Some(TokenTree::Punct(q)) if q.as_char() == '\'')
            }
            TokenTree::Ident(i) => i != "Self" && i != "impl" && !not_static.contains(i),
            TokenTree::Group(group) => static_type(group.stream(), not_static),
            TokenTree::Punct(_) | TokenTree::Literal(_) => true,
        };
        if !fine {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use syn::{Signature, parse_quote};

    use super::ReturnedStream;

    /// `Some(boxed)` if the signature's stream is wrapped.
    fn wrapped(sig: &Signature) -> Option<bool> {
        ReturnedStream::of(sig).map(|stream| stream.boxed.is_some())
    }

    #[test]
    fn recognises_stream_types() {
        assert_eq!(wrapped(&parse_quote!(fn f() -> impl Stream<Item = u32>)), Some(false));
        assert_eq!(
            wrapped(&parse_quote!(fn f() -> (impl futures::Stream<Item = u32> + Send + Unpin))),
            Some(false)
        );
        assert_eq!(wrapped(&parse_quote!(fn f() -> BoxStream<'static, u32>)), Some(true));
        assert_eq!(
            wrapped(&parse_quote!(fn f() -> Pin<Box<dyn Stream<Item = u32> + Send>>)),
            Some(true)
        );
        assert_eq!(
            wrapped(&parse_quote!(
                fn f() -> std::pin::Pin<std::boxed::Box<dyn Stream<Item = u32> + Send + 'static>>
            )),
            Some(true)
        );
    }

    #[test]
    fn leaves_other_types_and_bounds() {
        for sig in [
            parse_quote!(fn f() -> impl Stream<Item = u32> + Sync),
            parse_quote!(fn f() -> impl Stream<Item = u32> + FusedStream),
            parse_quote!(fn f() -> impl Stream<Item = u32> + use<>),
            parse_quote!(fn f() -> impl Stream<Item = u32> + Stream<Item = u8>),
            parse_quote!(fn f() -> impl Iterator<Item = u32>),
            parse_quote!(fn f() -> LocalBoxStream<'static, u32>),
            parse_quote!(fn f() -> BoxStream<'_, u32>),
            parse_quote!(fn f() -> Pin<Box<dyn Stream<Item = u32>>>),
            parse_quote!(fn f() -> Pin<Box<dyn Stream<Item = u32> + Send + Sync>>),
            parse_quote!(fn f() -> Box<dyn Stream<Item = u32> + Send>),
            parse_quote!(fn f() -> Source<u32>),
            parse_quote!(async fn f() -> impl Stream<Item = u32>),
            parse_quote!(fn f()),
        ] {
            assert_eq!(wrapped(&sig), None, "{}", quote::quote!(#sig));
        }
    }

    #[test]
    fn wraps_only_streams_that_cannot_borrow() {
        for sig in [
            parse_quote!(fn f(n: u32, s: String) -> impl Stream<Item = u32>),
            parse_quote!(fn f(s: &'static str) -> impl Stream<Item = &'static str>),
            parse_quote!(fn f(s: impl Stream<Item = u32> + Send + 'static) -> impl Stream<Item = u32>),
            parse_quote!(fn f<T: Send + 'static>(t: T) -> impl Stream<Item = T>),
            parse_quote!(fn f<T, const N: usize>(t: [T; N]) -> impl Stream<Item = T> where T: 'static),
            // Declared `'static`: whatever the arguments.
            parse_quote!(fn f<'a>(&self, s: &'a str) -> impl Stream<Item = String> + 'static),
            parse_quote!(fn f(s: &str) -> BoxStream<'static, String>),
        ] {
            assert!(wrapped(&sig).is_some(), "{}", quote::quote!(#sig));
        }
        for sig in [
            parse_quote!(fn f(s: &str) -> impl Stream<Item = usize>),
            parse_quote!(fn f(s: Cow<'_, str>) -> impl Stream<Item = usize>),
            parse_quote!(fn f(&self) -> impl Stream<Item = u32>),
            parse_quote!(fn f(self) -> impl Stream<Item = u32>),
            parse_quote!(fn f<'a>() -> impl Stream<Item = u32>),
            parse_quote!(fn f<T: Send>(t: T) -> impl Stream<Item = T>),
            parse_quote!(fn f(s: impl Stream<Item = u32> + Send) -> impl Stream<Item = u32>),
            parse_quote!(fn f(s: Vec<impl Send + 'static>) -> impl Stream<Item = u32>),
            parse_quote!(fn f(s: Self) -> impl Stream<Item = u32>),
            parse_quote!(fn f() -> impl Stream<Item = Self>),
            parse_quote!(fn f<'a>(s: &'a str) -> impl Stream<Item = &'a str> + 'static),
            parse_quote!(fn f<T: Send>(t: T) -> BoxStream<'static, T>),
            parse_quote!(fn f(s: &str) -> Pin<Box<dyn Stream<Item = &str> + Send>>),
        ] {
            assert_eq!(wrapped(&sig), None, "{}", quote::quote!(#sig));
        }
    }
}
