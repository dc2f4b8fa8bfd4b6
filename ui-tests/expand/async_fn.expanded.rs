use hmr_runtime::hmr_track;
/// The statements move into a future that re-enters the scope on each poll;
/// the fake return edge types the async block before its body.
pub fn load(
    text: &str,
) -> impl ::core::future::Future<Output = Result<u32, std::num::ParseIntError>> {
    let __hmr_site: &'static ::hmr_runtime::__private::Callsite = {
        fn __hmr_name() -> &'static ::core::primitive::str {
            ::hmr_runtime::__private::type_name_of(__hmr_name)
        }
        static __HMR_SITE: ::hmr_runtime::__private::Callsite = ::hmr_runtime::__private::Callsite::new(
            __hmr_name,
            "ui-tests/expand/async_fn.rs",
            6u32,
            14u32,
            ::core::option::Option::None,
            ::core::option::Option::None,
            false,
        );
        &__HMR_SITE
    };
    ::hmr_runtime::__private::instrument::<
        Result<u32, std::num::ParseIntError>,
        _,
    >(
        __hmr_site,
        async move {
            let text = text;
            #[allow(
                unreachable_code,
                reason = "the edge is never taken; it only types the block"
            )]
            if false {
                let __hmr_return: Result<u32, std::num::ParseIntError> = loop {};
                return __hmr_return;
            }
            let value: u32 = std::future::ready(text.parse()).await?;
            Ok(value)
        },
    )
}
/// `impl Trait` can't be named in the body: no edge, `_` in the turbofish.
pub fn shown() -> impl ::core::future::Future<Output = impl std::fmt::Display> {
    let __hmr_site: &'static ::hmr_runtime::__private::Callsite = {
        fn __hmr_name() -> &'static ::core::primitive::str {
            ::hmr_runtime::__private::type_name_of(__hmr_name)
        }
        static __HMR_SITE: ::hmr_runtime::__private::Callsite = ::hmr_runtime::__private::Callsite::new(
            __hmr_name,
            "ui-tests/expand/async_fn.rs",
            13u32,
            14u32,
            ::core::option::Option::None,
            ::core::option::Option::None,
            false,
        );
        &__HMR_SITE
    };
    ::hmr_runtime::__private::instrument::<
        _,
        _,
    >(__hmr_site, async move { std::future::ready(1).await })
}
/// No `.await`: the body runs in one poll, in a sync call's scope.
pub async fn quick(x: u32) -> u32 {
    let __hmr_guard = {
        fn __hmr_name() -> &'static ::core::primitive::str {
            ::hmr_runtime::__private::type_name_of(__hmr_name)
        }
        static __HMR_SITE: ::hmr_runtime::__private::Callsite = ::hmr_runtime::__private::Callsite::new(
            __hmr_name,
            "ui-tests/expand/async_fn.rs",
            19u32,
            14u32,
            ::core::option::Option::None,
            ::core::option::Option::None,
            false,
        );
        ::hmr_runtime::__private::enter(&__HMR_SITE)
    };
    x + 1
}
fn main() {
    drop(load("1"));
    drop(shown());
    drop(quick(1));
}
