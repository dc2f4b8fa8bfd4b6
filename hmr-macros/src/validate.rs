//! What `#[hmr_track]` accepts: a function with a body that runs at run time.
//!
//! Everything else is reported once, on the offending token. Tokens syn cannot
//! parse at all are left to rustc, which parsed the same tokens before calling
//! the macro and has already reported the syntax error: a second error from
//! here would be noise.

use darling::Error;
use darling::error::Accumulator;
use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use syn::spanned::Spanned;
use syn::{ImplItem, ImplItemFn, Item};

const CONST_FN: &str = "`#[hmr_track]` cannot instrument a `const fn`: it runs at compile time, \
                        where no runtime records calls; remove `const` or the attribute";
const NO_BODY: &str = "`#[hmr_track]` needs a body: a required trait method has none (put \
                       `#[hmr_track]` on the impl's method), nor has a foreign function of an \
                       `extern` block, whose code is not Rust (track the Rust function that \
                       calls it)";
const TWICE: &str = "`#[hmr_track]` is applied twice: the calls would open two nested \
                     scopes; remove one";

/// The function to instrument, or `None` after reporting (into `errors`) why
/// there is none. `None` with no error means rustc reports the problem itself.
pub(crate) fn function(item: &TokenStream, errors: &mut Accumulator) -> Option<ImplItemFn> {
    // `ImplItem` covers free functions, methods (any receiver) and provided
    // trait methods alike, and keeps a `default` modifier visible so that
    // `require_empty` can reject it.
    match syn::parse2::<ImplItem>(item.clone()) {
        Ok(ImplItem::Fn(function)) => {
            check_signature(&function, errors);
            Some(function)
        }
        Ok(ImplItem::Verbatim(_)) if ends_with_semicolon(item).is_some() => {
            reject_missing_body(item, errors);
            None
        }
        parsed => {
            if let Ok(item) = syn::parse2::<Item>(item.clone()) {
                errors.push(not_a_function(&item));
            } else if parsed.is_ok() {
                errors.push(
                    Error::custom("`#[hmr_track]` goes on a function")
                        .with_span(&first_token(item)),
                );
            } else if let Some(function) = with_empty_body(item) {
                // The body has a syntax error that rustc reports; the signature
                // can still be wrong in ways only this macro knows about.
                check_signature(&function, errors);
            }
            None
        }
    }
}

/// `const fn`, modifiers this macro does not know (syn 3 `FnModifiers`),
/// and a second `#[hmr_track]`.
fn check_signature(function: &ImplItemFn, errors: &mut Accumulator) {
    // This attribute is expanding; another one left on the item is a second.
    for attr in &function.attrs {
        if attr.path().segments.last().is_some_and(|s| s.ident == "hmr_track") {
            errors.push(Error::custom(TWICE).with_span(attr.path()));
        }
    }
    errors.handle(function.modifiers.require_empty().map_err(Error::from));
    if let Some(constness) = &function.sig.constness {
        errors.push(Error::custom(CONST_FN).with_span(constness));
    }
}

/// `fn f(&self);` — a required trait method, or a foreign function.
fn reject_missing_body(item: &TokenStream, errors: &mut Accumulator) {
    let Some(semi) = ends_with_semicolon(item) else { return };
    if let Some(function) = replace_last(item, empty_body(semi)) {
        check_signature(&function, errors);
    }
    errors.push(Error::custom(NO_BODY).with_span(&semi));
}

/// The function with its body replaced by `{}`, if the rest parses.
fn with_empty_body(item: &TokenStream) -> Option<ImplItemFn> {
    match item.clone().into_iter().last()? {
        TokenTree::Group(body) if body.delimiter() == Delimiter::Brace => {
            replace_last(item, empty_body(body.span()))
        }
        _ => None,
    }
}

fn replace_last(item: &TokenStream, last: TokenTree) -> Option<ImplItemFn> {
    let mut tokens: Vec<TokenTree> = item.clone().into_iter().collect();
    *tokens.last_mut()? = last;
    match syn::parse2::<ImplItem>(tokens.into_iter().collect()) {
        Ok(ImplItem::Fn(function)) => Some(function),
        _ => None,
    }
}

fn empty_body(span: Span) -> TokenTree {
    let mut body = Group::new(Delimiter::Brace, TokenStream::new());
    body.set_span(span);
    TokenTree::Group(body)
}

fn ends_with_semicolon(item: &TokenStream) -> Option<Span> {
    match item.clone().into_iter().last()? {
        TokenTree::Punct(punct) if punct.as_char() == ';' => Some(punct.span()),
        _ => None,
    }
}

fn first_token(item: &TokenStream) -> Span {
    item.clone().into_iter().next().map_or_else(Span::call_site, |token| token.span())
}

/// The error for an item that is not a function, on its keyword.
fn not_a_function(item: &Item) -> Error {
    let (span, what, hint) = match item {
        Item::Struct(item) => (item.struct_token.span(), "a struct", ""),
        Item::Enum(item) => (item.enum_token.span(), "an enum", ""),
        Item::Union(item) => (item.union_token.span(), "a union", ""),
        Item::Mod(item) => (item.mod_token.span(), "a module", HINT_INSIDE),
        Item::Impl(item) => (item.impl_token.span(), "an impl block", HINT_INSIDE),
        Item::Trait(item) => (item.trait_token.span(), "a trait", HINT_INSIDE),
        Item::TraitAlias(item) => (item.trait_token.span(), "a trait alias", ""),
        Item::Type(item) => (item.type_token.span(), "a type alias", ""),
        Item::Static(item) => (item.static_token.span(), "a static", ""),
        Item::Const(item) => (item.const_token.span(), "a constant", ""),
        Item::Use(item) => (item.use_token.span(), "a `use` declaration", ""),
        Item::ExternCrate(item) => (item.extern_token.span(), "an `extern crate`", ""),
        Item::ForeignMod(item) => (item.abi.extern_token.span(), "an `extern` block", ""),
        Item::Macro(item) => (item.mac.path.span(), "a macro", ""),
        _ => (item.span(), "this item", ""),
    };
    Error::custom(format!("`#[hmr_track]` goes on a function, not on {what}{hint}"))
        .with_span(&span)
}

const HINT_INSIDE: &str = "; put it on each function inside that should be tracked";

#[cfg(test)]
mod tests {
    use darling::Error;
    use quote::quote;

    fn check(item: &proc_macro2::TokenStream) -> (bool, String) {
        let mut errors = Error::accumulator();
        let function = super::function(item, &mut errors);
        let message = errors.finish().err().map(|error| error.to_string()).unwrap_or_default();
        (function.is_some(), message)
    }

    #[test]
    fn accepts_functions_and_methods() {
        assert_eq!(
            check(&quote!(
                pub fn f(x: u32) -> u32 {
                    x
                }
            )),
            (true, String::new())
        );
        assert_eq!(
            check(&quote!(
                fn f(self: Box<Self>) {}
            )),
            (true, String::new())
        );
        assert_eq!(
            check(&quote!(
                async unsafe fn f() {}
            )),
            (true, String::new())
        );
    }

    #[test]
    fn rejects_const_fn() {
        let (_, message) = check(&quote!(
            const fn f() {}
        ));
        assert!(message.contains("cannot instrument a `const fn`"), "{message}");
    }

    #[test]
    fn rejects_items_that_are_not_functions() {
        assert!(
            check(&quote!(
                struct S;
            ))
            .1
            .contains("not on a struct")
        );
        assert!(check(&quote!(impl S {})).1.contains("not on an impl block"));
        assert!(
            check(&quote!(
                static S: u8 = 0;
            ))
            .1
            .contains("not on a static")
        );
    }

    #[test]
    fn rejects_a_missing_body() {
        assert!(
            check(&quote!(
                fn f(&self);
            ))
            .1
            .contains("needs a body")
        );
    }

    #[test]
    fn leaves_body_syntax_errors_to_rustc() {
        assert_eq!(check(&quote!(fn f() { let x = 1 +; })), (false, String::new()));
        let (_, message) = check(&quote!(const fn f() { let x = 1 +; }));
        assert!(message.contains("`const fn`"), "{message}");
    }

    #[test]
    fn rejects_unknown_modifiers() {
        assert!(check(&quote!(default fn f() {})).1.contains("unexpected function modifier"));
    }
}
