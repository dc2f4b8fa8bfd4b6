//! Code generation: the function, unchanged except for a few statements spliced
//! in front of the user's, that open a runtime scope for each call. Two
//! shapes move the body instead: an `async fn` that awaits becomes a `fn`
//! returning its instrumented future (`async_fn`), and a boxed `async` tail
//! goes inside one (`boxed_async_body`).
//!
//! Helper bindings are spanned with `Span::mixed_site()` and named `__hmr_…`,
//! so user code can neither see them nor collide with them; the call site's
//! items live in a block of their own for the same reason (except beside a
//! returned closure literal, which must name them: see `literal_closure_body`).

use std::mem;

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::{Block, FnArg, ImplItemFn, Pat, PatIdent, ReturnType, Stmt};

use crate::args::TrackArgs;
use crate::boxed_future;
use crate::returned_closure::ReturnedClosure;
use crate::returned_stream::ReturnedStream;
use crate::validate;

/// The whole attribute: arguments and item in, item out.
pub(crate) fn hmr_track(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = darling::Error::accumulator();
    let args = errors.handle(TrackArgs::parse(args));
    let function = validate::function(&item, &mut errors);
    let output = match (args, function) {
        (Some(args), Some(function)) => errors.handle(instrument(function, &args)),
        _ => None,
    };
    match (errors.finish(), output) {
        (Ok(()), Some(output)) => output,
        // The original item as well, so that the rest of the crate, and an
        // IDE's completion inside the function, keep working.
        (Err(errors), _) => {
            let errors = errors.write_errors();
            quote!(#errors #item)
        }
        // rustc reports a syntax error in these tokens itself.
        (Ok(()), None) => item,
    }
}

fn instrument(mut function: ImplItemFn, args: &TrackArgs) -> darling::Result<TokenStream> {
    let site = Site::new(&function, args);
    let is_async = function.sig.asyncness.is_some();
    let awaits = is_async && may_await(&function.block);
    let closure = ReturnedClosure::of(&function.sig.output);
    if awaits && closure.is_none() && can_return_its_future(&function) {
        return Ok(async_fn(function, &site));
    }
    let output = &function.sig.output;
    let body = &mut function.block;
    let expect =
        closure.as_ref().filter(|_| is_async).and_then(|c| c.expect_fn(&function.sig.generics));
    match closure {
        // No suspension point: the body runs in one poll, inside a scope
        // opened and closed in that poll, as a sync call's. Also keeps
        // `clippy::unused_async` as it is without the attribute.
        None if is_async && !awaits => sync_body(body, &site),
        None if is_async => async_body(body, &site, output),
        None if boxed_async_body(body, &site) => {}
        None => {
            if let Some(stream) = ReturnedStream::of(&function.sig) {
                stream.wrap_returned_value(body, &site.runtime);
            }
            sync_body(body, &site);
        }
        Some(closure) if closure.returns_literal(body) => {
            check_reserved_names(body)?;
            literal_closure_body(body, &site, output, is_async, expect, &closure);
        }
        Some(closure) => wrapped_closure_body(body, &site, output, is_async, expect, &closure),
    }
    Ok(function.into_token_stream())
}

/// `let __hmr_guard = { items; enter(&__HMR_SITE) };` before the user's
/// statements: the guard drops after every local of the body, on return,
/// `?` and unwinding alike.
fn sync_body(body: &mut Block, site: &Site) {
    let runtime = &site.runtime;
    let items = site.items(&site_static());
    let static_ = site_static();
    let guard = quote_spanned! {Span::mixed_site()=>
        let __hmr_guard = {
            #items
            #runtime::enter(&#static_)
        };
    };
    splice(body, &guard);
}

/// `async fn` keeps its signature; its statements move into a future that
/// re-enters the scope on every poll.
fn async_body(body: &mut Block, site: &Site, output: &ReturnType) {
    let runtime = &site.runtime;
    let items = site.items(&site_static());
    let static_ = site_static();
    let site_ref = quote_spanned!(Span::mixed_site()=> __hmr_site);
    let future = instrumented(body, &site_ref, output, runtime);
    body.stmts = syn::parse_quote_spanned! {Span::mixed_site()=>
        let __hmr_site: &'static #runtime::Callsite = {
            #items
            &#static_
        };
        #future
    };
}

/// The declared output type of an `async fn`, when it can be named in a
/// `Future<Output = …>` bound (`!` cannot).
fn async_output(output: &ReturnType) -> Option<TokenStream> {
    match output {
        ReturnType::Default => Some(quote_spanned!(Span::mixed_site()=> ())),
        ReturnType::Type(_, ty) if matches!(**ty, syn::Type::Never(_)) => None,
        ReturnType::Type(_, ty) => Some(ty.to_token_stream()),
    }
}

/// `async fn f(args) -> R { stmts }` becomes what the compiler would make of
/// it, with the instrumentation as the outermost future:
/// `fn f(args) -> impl Future<Output = R> { instrument::<R, _>(site, async
/// move { rebind args; stmts }) }`. An `async fn` around the instrumented
/// block would be a second state machine, polled once per level of an async
/// recursion: the stack per level would be about twice an untracked one's.
///
/// The arguments are rebound inside the block as `async fn` does, so the
/// future owns all of them (also the unused ones and `_` patterns) and drops
/// them when it completes or is dropped, in the same order.
///
/// Clippy sees the `async fn` form instead (`cfg(clippy)`, which
/// `cargo clippy` sets): some of its lints look at an `async fn`'s body as
/// a future (`missing_errors_doc` for a future of a `Result`), and must fire
/// as without the attribute (ui-tests/differential). Both forms compile the
/// same statements, so they type-check alike.
fn async_fn(function: ImplItemFn, site: &Site) -> TokenStream {
    let mut for_clippy = function.clone();
    let output = for_clippy.sig.output.clone();
    async_body(&mut for_clippy.block, site, &output);
    for_clippy.attrs.push(syn::parse_quote!(#[cfg(clippy)]));
    let mut function = function;
    function.attrs.push(syn::parse_quote!(#[cfg(not(clippy))]));
    rewrite_async_fn(&mut function, site);
    quote!(#function #for_clippy)
}

/// Whether an `async fn` (that awaits, and returns no closure) can become a
/// `fn` returning its instrumented future with nothing else changing.
/// Otherwise it stays an `async fn` that awaits that future:
/// - an attribute rustc does not read itself may be an attribute macro that
///   expands after this one and wants an `async fn` (`#[tokio::test]`,
///   `#[tracing::instrument]`); `#[must_use]` and `#[track_caller]` mean
///   something else on a `fn` returning a future;
/// - a parameter with attributes (`#[cfg(…)]`, `#[allow(…)]`) would need them
///   on its rebinding too;
/// - `-> !` cannot be named as the future's output.
fn can_return_its_future(function: &ImplItemFn) -> bool {
    let plain_parameters = function.sig.inputs.iter().all(|input| match input {
        FnArg::Receiver(receiver) => receiver.attrs.is_empty(),
        FnArg::Typed(typed) => typed.attrs.is_empty(),
    });
    plain_parameters
        && function.attrs.iter().all(is_plain_attribute)
        && async_output(&function.sig.output).is_some()
}

/// An attribute rustc reads that means the same on the `fn` as on the
/// `async fn`.
fn is_plain_attribute(attr: &syn::Attribute) -> bool {
    const PLAIN: &[&str] = &[
        "doc",
        "allow",
        "warn",
        "deny",
        "forbid",
        "expect",
        "cfg",
        "cfg_attr",
        "inline",
        "cold",
        "deprecated",
        "diagnostic",
    ];
    let path = attr.path();
    path.get_ident().is_some_and(|ident| PLAIN.iter().any(|plain| ident == plain))
        || path.segments.first().is_some_and(|s| s.ident == "rustfmt" || s.ident == "clippy")
}

/// [`async_fn`]'s rewrite.
fn rewrite_async_fn(function: &mut ImplItemFn, site: &Site) {
    let runtime = &site.runtime;
    let output = async_output(&function.sig.output).expect("checked by `can_return_its_future`");
    let mut rebind = Vec::new();
    for (index, input) in function.sig.inputs.iter_mut().enumerate() {
        match input {
            FnArg::Receiver(receiver) => {
                let self_ = &receiver.self_token;
                rebind.push(quote_spanned!(Span::mixed_site()=> let _ = &#self_;));
            }
            FnArg::Typed(typed) => match &mut *typed.pat {
                Pat::Ident(PatIdent { by_ref: None, subpat: None, mutability, ident, .. }) => {
                    let mutability = mutability.take();
                    rebind.push(quote!(let #mutability #ident = #ident;));
                }
                pat => {
                    // `mut`, as the `async fn` lowering binds it: the pattern
                    // may borrow it mutably (`ref mut x`).
                    let arg = format_ident!("__hmr_arg{}", index, span = Span::mixed_site());
                    rebind.push(quote! {
                        #[allow(unused_mut)]
                        let mut #arg = #arg;
                        let #pat = #arg;
                    });
                    *pat = syn::parse_quote!(#arg);
                }
            },
        }
    }
    let items = site.items(&site_static());
    let static_ = site_static();
    let stmts = mem::take(&mut function.block.stmts);
    function.sig.asyncness = None;
    function.sig.output = syn::parse_quote_spanned! {Span::mixed_site()=>
        -> impl ::core::future::Future<Output = #output>
    };
    let typed = !mentions_impl(output.clone());
    let edge = typed.then(|| {
        quote_spanned! {Span::mixed_site()=>
            #[allow(unreachable_code, reason = "the edge is never taken; it only types the block")]
            if false {
                let __hmr_return: #output = loop {};
                return __hmr_return;
            }
        }
    });
    let turbofish = if typed { output } else { quote_spanned!(Span::mixed_site()=> _) };
    function.block.stmts = syn::parse_quote_spanned! {Span::mixed_site()=>
        let __hmr_site: &'static #runtime::Callsite = {
            #items
            &#static_
        };
        #runtime::instrument::<#turbofish, _>(__hmr_site, async move {
            #(#rebind)*
            #edge
            #(#stmts)*
        })
    };
}

/// A sync function whose tail boxes an `async` block (see [`boxed_future`]):
/// the block runs inside `instrument(site, …)`; the statements before the
/// tail run as the function's call, outside the scope.
///
/// Returns `false`, and leaves the body alone, when it has no such tail.
fn boxed_async_body(body: &mut Block, site: &Site) -> bool {
    let runtime = &site.runtime;
    let site_ref = quote_spanned!(Span::mixed_site()=> __hmr_site);
    let Some(block) = boxed_future::tail_async(body) else { return false };
    boxed_future::instrument_block(block, &site_ref, runtime);
    let items = site.items(&site_static());
    let static_ = site_static();
    let bind_site = quote_spanned! {Span::mixed_site()=>
        let __hmr_site: &'static #runtime::Callsite = {
            #items
            &#static_
        };
    };
    splice(body, &bind_site);
    true
}

/// A returned closure literal refers to the call site by name: a literal
/// that is not `move` cannot capture a local without borrowing it past the
/// function's end. The call site's items therefore sit at the top of the
/// body, under a name that appears nowhere in the function.
fn literal_closure_body(
    body: &mut Block,
    site: &Site,
    output: &ReturnType,
    is_async: bool,
    expect: Option<TokenStream>,
    closure: &ReturnedClosure,
) {
    let runtime = &site.runtime;
    let static_ = &site.fresh_static;
    let guard = quote_spanned!(Span::mixed_site()=> let __hmr_guard = #runtime::enter(&#static_););
    closure.instrument_literals(body, &guard, is_async, expect.is_some());
    insert_expect(body, expect);
    let items = site.items(static_);
    if is_async {
        let site_ref = quote_spanned!(Span::mixed_site()=> &#static_);
        let future = instrumented(body, &site_ref, output, runtime);
        body.stmts = syn::parse_quote_spanned! {Span::mixed_site()=>
            #items
            #future
        };
    } else {
        splice(body, &guard);
        let items: Vec<Stmt> = syn::parse_quote_spanned!(Span::mixed_site()=> #items);
        body.stmts.splice(0..0, items);
    }
}

/// Any other returned value is bound and wrapped once; the wrapper captures
/// the `&'static Callsite` by copy.
fn wrapped_closure_body(
    body: &mut Block,
    site: &Site,
    output: &ReturnType,
    is_async: bool,
    expect: Option<TokenStream>,
    closure: &ReturnedClosure,
) {
    let runtime = &site.runtime;
    let items = site.items(&site_static());
    let static_ = site_static();
    let site_ref = quote_spanned!(Span::mixed_site()=> __hmr_site);
    let bind_site = quote_spanned! {Span::mixed_site()=>
        let __hmr_site: &'static #runtime::Callsite = {
            #items
            &#static_
        };
    };
    closure.wrap_returned_value(body, &site_ref, runtime, expect.is_some());
    insert_expect(body, expect);
    if is_async {
        let future = instrumented(body, &site_ref, output, runtime);
        body.stmts = syn::parse_quote_spanned! {Span::mixed_site()=>
            #bind_site
            #future
        };
    } else {
        splice(
            body,
            &quote_spanned! {Span::mixed_site()=>
                #bind_site
                let __hmr_guard = #runtime::enter(__hmr_site);
            },
        );
    }
}

/// Puts `fn __hmr_expect` (see `ReturnedClosure::expect_fn`) first in the
/// body, where the rewritten returns can call it.
fn insert_expect(body: &mut Block, expect: Option<TokenStream>) {
    if let Some(expect) = expect {
        body.stmts.insert(0, syn::parse_quote!(#expect));
    }
}

/// Inserts `prologue` before the first statement that is not an item: a
/// `let` above the user's items would make `clippy::items_after_statements`
/// fire on the user's code. Items are visible in the whole block, so the
/// order changes nothing else. Inner attributes are not statements (syn keeps
/// them with the function's attributes) and stay first.
fn splice(body: &mut Block, prologue: &TokenStream) {
    let at = body.stmts.iter().take_while(|stmt| matches!(stmt, Stmt::Item(_))).count();
    let prologue: Vec<Stmt> = syn::parse_quote!(#prologue);
    body.stmts.splice(at..at, prologue);
}

/// `instrument::<R, _>(site, async move { stmts }).await`, taking the
/// body's statements.
///
/// `R`, the declared return type, lets `?` and `.into()` in the body infer
/// their target. It does not reach the async block before its body is
/// checked, though: a mistyped tail would be reported twice, on the
/// attribute. So the block starts with tracing-attributes' fake return edge,
/// `if false { let r: R = loop {}; return r; }`, which fixes the block's
/// return type first, and a mistyped tail is reported once, on its own
/// token. Both are left out where `R` can't be named in a body (`impl Trait`,
/// `!`): there inference works as without the attribute.
fn instrumented(
    body: &mut Block,
    site: &TokenStream,
    output: &ReturnType,
    runtime: &TokenStream,
) -> TokenStream {
    let stmts = mem::take(&mut body.stmts);
    let output = match output {
        ReturnType::Default => Some(quote_spanned!(Span::mixed_site()=> ())),
        ReturnType::Type(_, ty)
            if matches!(**ty, syn::Type::Never(_)) || mentions_impl(ty.to_token_stream()) =>
        {
            None
        }
        ReturnType::Type(_, ty) => Some(ty.to_token_stream()),
    };
    if let Some(output) = output {
        quote_spanned! {Span::mixed_site()=>
            #runtime::instrument::<#output, _>(#site, async move {
                #[allow(unreachable_code, reason = "the edge is never taken; it only types the block")]
                if false {
                    let __hmr_return: #output = loop {};
                    return __hmr_return;
                }
                #(#stmts)*
            })
            .await
        }
    } else {
        quote_spanned! {Span::mixed_site()=>
            #runtime::instrument::<_, _>(#site, async move { #(#stmts)* }).await
        }
    }
}

/// Whether an `async fn` body may suspend: it has an `.await` (also inside
/// a macro call or a nested block), or calls a macro that could await
/// without writing one (`select!`, `join!`). Only the standard library's
/// and the logging crates' usual macros are known not to.
fn may_await(body: &Block) -> bool {
    fn walk(tokens: TokenStream) -> bool {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        tokens.iter().enumerate().any(|(i, token)| match token {
            TokenTree::Ident(ident) if ident == "await" => true,
            TokenTree::Ident(name) => {
                matches!(tokens.get(i + 1), Some(TokenTree::Punct(bang)) if bang.as_char() == '!')
                    && matches!(tokens.get(i + 2), Some(TokenTree::Group(_)))
                    && !NO_AWAIT_MACROS.iter().any(|known| name == known)
            }
            TokenTree::Group(group) => walk(group.stream()),
            _ => false,
        })
    }
    walk(body.to_token_stream())
}

/// Macros whose expansion never awaits (an `.await` in their arguments is
/// seen on its own).
const NO_AWAIT_MACROS: &[&str] = &[
    "assert",
    "assert_eq",
    "assert_ne",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "matches",
    "panic",
    "todo",
    "unimplemented",
    "unreachable",
    "format",
    "format_args",
    "print",
    "println",
    "eprint",
    "eprintln",
    "write",
    "writeln",
    "dbg",
    "vec",
    "concat",
    "stringify",
    "line",
    "column",
    "file",
    "module_path",
    "cfg",
    "env",
    "option_env",
    "include_str",
    "include_bytes",
    "trace",
    "debug",
    "info",
    "warn",
    "error",
    "event",
];

fn mentions_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => mentions_impl(group.stream()),
        _ => false,
    })
}

fn site_static() -> Ident {
    Ident::new("__HMR_SITE", Span::mixed_site())
}

/// One function's call site: the `static Callsite` and the item whose
/// `type_name` names the enclosing path.
struct Site {
    runtime: TokenStream,
    key: TokenStream,
    name: TokenStream,
    reset: bool,
    /// The function's name, whose span `line!()`/`column!()` report.
    ident: Ident,
    /// A static name that no token of the function uses.
    fresh_static: Ident,
}

impl Site {
    fn new(function: &ImplItemFn, args: &TrackArgs) -> Self {
        let mut used = Vec::new();
        collect_idents(function.to_token_stream(), &mut used);
        let mut fresh_static = site_static();
        let mut n = 0_usize;
        while used.contains(&fresh_static) {
            n += 1;
            fresh_static = format_ident!("__HMR_SITE_{}", n, span = Span::mixed_site());
        }
        Site {
            runtime: args.runtime(),
            key: args.key(),
            name: args.name(),
            reset: args.reset(),
            ident: function.sig.ident.clone(),
            fresh_static,
        }
    }

    /// `fn __hmr_name` and `static <name>: Callsite`. The runtime strips the
    /// trailing `::__hmr_name` from the type name, so that name is fixed.
    fn items(&self, static_: &Ident) -> TokenStream {
        let Site { runtime, key, name, reset, ident, .. } = self;
        let line = quote_spanned!(ident.span()=> ::core::line!());
        let column = quote_spanned!(ident.span()=> ::core::column!());
        quote_spanned! {Span::mixed_site()=>
            fn __hmr_name() -> &'static ::core::primitive::str {
                #runtime::type_name_of(__hmr_name)
            }
            static #static_: #runtime::Callsite = #runtime::Callsite::new(
                __hmr_name,
                ::core::file!(),
                #line,
                #column,
                #key,
                #name,
                #reset,
            );
        }
    }
}

fn collect_idents(tokens: TokenStream, into: &mut Vec<Ident>) {
    for token in tokens {
        match token {
            TokenTree::Ident(ident) => into.push(ident),
            TokenTree::Group(group) => collect_idents(group.stream(), into),
            _ => {}
        }
    }
}

/// Beside a returned closure literal, `fn __hmr_name` is visible to the body
/// (see `literal_closure_body`), so the body must not use that name itself.
fn check_reserved_names(body: &Block) -> darling::Result<()> {
    let mut used = Vec::new();
    collect_idents(body.to_token_stream(), &mut used);
    match used.into_iter().find(|ident| ident == "__hmr_name") {
        Some(reserved) => Err(darling::Error::custom(
            "`__hmr_name` is reserved by `#[hmr_track]` in a function that returns a closure \
             literal; rename it",
        )
        .with_span(&reserved)),
        None => Ok(()),
    }
}
