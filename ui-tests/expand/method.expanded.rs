use hmr_runtime::hmr_track;
pub struct Feed {
    value: u32,
}
impl Feed {
    pub fn quotes(&self, scale: u32) -> u32 {
        let __hmr_guard = {
            fn __hmr_name() -> &'static ::core::primitive::str {
                ::hmr_runtime::__private::type_name_of(__hmr_name)
            }
            static __HMR_SITE: ::hmr_runtime::__private::Callsite = ::hmr_runtime::__private::Callsite::new(
                __hmr_name,
                "ui-tests/expand/method.rs",
                9u32,
                12u32,
                ::core::option::Option::None,
                ::core::option::Option::None,
                false,
            );
            ::hmr_runtime::__private::enter(&__HMR_SITE)
        };
        self.value * scale
    }
}
pub trait Source {
    fn poll(&mut self) -> Option<u32> {
        let __hmr_guard = {
            fn __hmr_name() -> &'static ::core::primitive::str {
                ::hmr_runtime::__private::type_name_of(__hmr_name)
            }
            static __HMR_SITE: ::hmr_runtime::__private::Callsite = ::hmr_runtime::__private::Callsite::new(
                __hmr_name,
                "ui-tests/expand/method.rs",
                16u32,
                8u32,
                ::core::option::Option::None,
                ::core::option::Option::None,
                false,
            );
            ::hmr_runtime::__private::enter(&__HMR_SITE)
        };
        None
    }
}
impl Source for Feed {}
fn main() {
    let mut feed = Feed { value: 1 };
    let _ = feed.quotes(2);
    let _ = feed.poll();
}
