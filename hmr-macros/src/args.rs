//! The attribute's arguments: `#[hmr_track(key = "…", name = "…", reset, crate = path)]`.

use darling::FromMeta;
use darling::ast::NestedMeta;
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{Expr, Lit, LitStr, Meta, Path};

/// What the attribute was given. Every argument is optional.
#[derive(Debug, FromMeta)]
pub(crate) struct TrackArgs {
    /// Replaces the item path as the function's static key, so the key
    /// survives a rename.
    #[darling(default, with = string)]
    key: Option<LitStr>,
    /// A display name for tools; never part of identity.
    #[darling(default, with = string)]
    name: Option<LitStr>,
    /// Rebuild the function's entities on every re-execution.
    #[darling(default, with = flag)]
    reset: bool,
    /// Where the runtime lives when `hmr_runtime` is re-exported or renamed.
    #[darling(rename = "crate")]
    krate: Option<Path>,
}

impl TrackArgs {
    /// Parses the tokens between the attribute's parentheses.
    pub(crate) fn parse(tokens: TokenStream) -> darling::Result<Self> {
        let items = NestedMeta::parse_meta_list(tokens)?;
        // `#[hmr_track("k")]`: arguments are named.
        let mut errors = darling::Error::accumulator();
        for item in &items {
            if let NestedMeta::Lit(lit) = item {
                errors.push(darling::Error::custom(UNNAMED).with_span(lit));
            }
        }
        errors.finish()?;
        let args = Self::from_list(&items)?;
        if let Some(key) = &args.key
            && key.value().is_empty()
        {
            // Every function with an empty key would share one identity.
            return Err(darling::Error::custom("`key` must not be empty").with_span(key));
        }
        Ok(args)
    }

    /// The path of the runtime's hidden module: `::hmr_runtime::__private`,
    /// or `path::__private` for `crate = path`.
    pub(crate) fn runtime(&self) -> TokenStream {
        if let Some(path) = &self.krate {
            quote!(#path::__private)
        } else {
            quote_spanned!(Span::mixed_site()=> ::hmr_runtime::__private)
        }
    }

    /// `key` as an `Option<&'static str>` expression.
    pub(crate) fn key(&self) -> TokenStream {
        optional_str(self.key.as_ref())
    }

    /// `name` as an `Option<&'static str>` expression.
    pub(crate) fn name(&self) -> TokenStream {
        optional_str(self.name.as_ref())
    }

    pub(crate) fn reset(&self) -> bool {
        self.reset
    }
}

const UNNAMED: &str = "expected `key = \"…\"`: the arguments are named \
                       (`key = \"…\"`, `name = \"…\"`, `reset`, `crate = path`)";

/// `key = "…"` or `name = "…"`: a string literal, and an error that says so
/// for anything else (darling's names the meta format or the literal's type).
fn string(meta: &Meta) -> darling::Result<Option<LitStr>> {
    let name = meta.path().get_ident().map_or_else(|| "key".to_owned(), ToString::to_string);
    let expected = format!("expected `{name} = \"…\"`: a string literal");
    match meta {
        Meta::NameValue(name_value) => match &name_value.value {
            Expr::Lit(lit) if matches!(lit.lit, Lit::Str(_)) => {
                let Lit::Str(value) = &lit.lit else { unreachable!("matched above") };
                Ok(Some(value.clone()))
            }
            value => Err(darling::Error::custom(expected).with_span(value)),
        },
        Meta::Path(path) => Err(darling::Error::custom(expected).with_span(path)),
        Meta::List(list) => Err(darling::Error::custom(expected).with_span(list)),
    }
}

/// `reset`, `reset = true` or `reset = false`. darling's `bool` also takes
/// `reset = "yes"` as a string to parse, and its error for that names no type.
fn flag(meta: &Meta) -> darling::Result<bool> {
    let value = match meta {
        Meta::Path(_) => return Ok(true),
        Meta::NameValue(name_value) => &name_value.value,
        Meta::List(list) => return Err(darling::Error::unsupported_format("list").with_span(list)),
    };
    match value {
        Expr::Lit(lit) if matches!(lit.lit, Lit::Bool(_)) => bool::from_expr(value),
        _ => {
            Err(darling::Error::custom("expected `true` or `false`, or no value").with_span(value))
        }
    }
}

fn optional_str(value: Option<&LitStr>) -> TokenStream {
    if let Some(lit) = value {
        quote_spanned!(Span::mixed_site()=> ::core::option::Option::Some(#lit))
    } else {
        quote_spanned!(Span::mixed_site()=> ::core::option::Option::None)
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::TrackArgs;

    fn error(tokens: proc_macro2::TokenStream) -> String {
        TrackArgs::parse(tokens).unwrap_err().to_string()
    }

    #[test]
    fn every_argument_is_optional() {
        let args = TrackArgs::parse(quote!()).unwrap();
        assert!(args.key.is_none() && args.name.is_none() && !args.reset && args.krate.is_none());
    }

    #[test]
    fn parses_every_argument() {
        let args = TrackArgs::parse(quote!(key = "k", name = "n", reset, crate = my::rt)).unwrap();
        assert_eq!(args.key.as_ref().unwrap().value(), "k");
        assert_eq!(args.name.as_ref().unwrap().value(), "n");
        assert!(args.reset);
        assert_eq!(args.runtime().to_string(), quote!(my::rt::__private).to_string());
    }

    #[test]
    fn suggests_the_closest_argument() {
        assert!(error(quote!(keys = "k")).contains("Did you mean `key`?"));
    }

    #[test]
    fn rejects_duplicates_and_wrong_types() {
        assert!(error(quote!(key = "a", key = "b")).contains("Duplicate field `key`"));
        assert!(error(quote!(key = 1)).contains("expected `key = \"…\"`: a string literal"));
        assert!(error(quote!(key)).contains("expected `key = \"…\"`"));
        assert!(error(quote!(name("x"))).contains("expected `name = \"…\"`"));
        assert!(error(quote!("k")).contains("expected `key = \"…\"`: the arguments are named"));
        assert!(error(quote!(reset = "yes")).contains("expected `true` or `false`"));
        assert!(!TrackArgs::parse(quote!(reset = false)).unwrap().reset);
        assert!(error(quote!(key = "")).contains("must not be empty"));
    }
}
