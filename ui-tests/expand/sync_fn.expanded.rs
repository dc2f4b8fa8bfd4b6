use hmr_runtime::hmr_track;
/// Splices a guard in front of the user's statements, after inner
/// attributes and leading items.
pub fn prices(base: u32) -> Result<u32, String> {
    #![allow(clippy::needless_return)]
    const SCALE: u32 = 2;
    let __hmr_guard = {
        fn __hmr_name() -> &'static ::core::primitive::str {
            ::hmr_runtime::__private::type_name_of(__hmr_name)
        }
        static __HMR_SITE: ::hmr_runtime::__private::Callsite = ::hmr_runtime::__private::Callsite::new(
            __hmr_name,
            "ui-tests/expand/sync_fn.rs",
            6u32,
            8u32,
            ::core::option::Option::None,
            ::core::option::Option::None,
            false,
        );
        ::hmr_runtime::__private::enter(&__HMR_SITE)
    };
    if base == 0 {
        return Err("no base".to_owned());
    }
    Ok(base * SCALE)
}
fn quotes() {
    let __hmr_guard = {
        fn __hmr_name() -> &'static ::core::primitive::str {
            ::hmr_runtime::__private::type_name_of(__hmr_name)
        }
        static __HMR_SITE: ::hmr_runtime::__private::Callsite = ::hmr_runtime::__private::Callsite::new(
            __hmr_name,
            "ui-tests/expand/sync_fn.rs",
            16u32,
            4u32,
            ::core::option::Option::Some("app::quotes"),
            ::core::option::Option::Some("Quotes"),
            true,
        );
        ::hmr_runtime::__private::enter(&__HMR_SITE)
    };
}
fn main() {
    let _ = prices(1);
    quotes();
}
