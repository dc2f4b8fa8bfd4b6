use hmr_runtime::hmr_track;
/// A returned closure literal gets the guard in place; the call site's items
/// sit at the top of the body so the literal can name the `static`.
pub fn length() -> impl Fn(&str) -> usize {
    fn __hmr_name() -> &'static ::core::primitive::str {
        ::hmr_runtime::__private::type_name_of(__hmr_name)
    }
    static __HMR_SITE: ::hmr_runtime::__private::Callsite = ::hmr_runtime::__private::Callsite::new(
        __hmr_name,
        "ui-tests/expand/returned_closure.rs",
        6u32,
        8u32,
        ::core::option::Option::None,
        ::core::option::Option::None,
        false,
    );
    let __hmr_guard = ::hmr_runtime::__private::enter(&__HMR_SITE);
    |s| {
        let __hmr_guard = ::hmr_runtime::__private::enter(&__HMR_SITE);
        s.len()
    }
}
/// Any other returned value is bound once and wrapped: `return` becomes
/// `break` out of a labeled block.
pub fn scaled(k: u32) -> Box<dyn Fn(u32) -> u32 + Send> {
    let __hmr_site: &'static ::hmr_runtime::__private::Callsite = {
        fn __hmr_name() -> &'static ::core::primitive::str {
            ::hmr_runtime::__private::type_name_of(__hmr_name)
        }
        static __HMR_SITE: ::hmr_runtime::__private::Callsite = ::hmr_runtime::__private::Callsite::new(
            __hmr_name,
            "ui-tests/expand/returned_closure.rs",
            13u32,
            8u32,
            ::core::option::Option::None,
            ::core::option::Option::None,
            false,
        );
        &__HMR_SITE
    };
    let __hmr_guard = ::hmr_runtime::__private::enter(__hmr_site);
    let __hmr_f: Box<dyn Fn(u32) -> u32 + Send> = '__hmr_body: {
        if k == 0 {
            break '__hmr_body Box::new(|x| x);
        }
        Box::new(move |x| x * k)
    };
    if ::hmr_runtime::__private::ENABLED {
        ::hmr_runtime::__private::std::boxed::Box::new(move |__hmr_a0: u32| {
            let __hmr_guard = ::hmr_runtime::__private::enter(__hmr_site);
            __hmr_f(__hmr_a0)
        })
    } else {
        __hmr_f
    }
}
fn main() {
    let _ = length()("abc");
    let _ = scaled(2)(3);
}
