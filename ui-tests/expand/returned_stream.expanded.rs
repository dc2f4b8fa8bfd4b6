use futures::stream::{self, BoxStream, Stream, StreamExt};
use hmr_runtime::hmr_track;
/// The body's value goes through the runtime's dispatch before the scope
/// closes: a `Send + 'static` stream comes back as a stable `Source`.
pub fn prices(
    input: impl Stream<Item = u32> + Send + 'static,
) -> impl Stream<Item = u32> {
    let __hmr_guard = {
        fn __hmr_name() -> &'static ::core::primitive::str {
            ::hmr_runtime::__private::type_name_of(__hmr_name)
        }
        static __HMR_SITE: ::hmr_runtime::__private::Callsite = ::hmr_runtime::__private::Callsite::new(
            __hmr_name,
            "ui-tests/expand/returned_stream.rs",
            7u32,
            8u32,
            ::core::option::Option::None,
            ::core::option::Option::None,
            false,
        );
        ::hmr_runtime::__private::enter(&__HMR_SITE)
    };
    let __hmr_stream = input.map(|x| x * 2);
    {
        use ::hmr_runtime::__private::{
            ReturnedOther as _, ReturnedSource as _, ReturnedStream as _,
        };
        (&&&::hmr_runtime::__private::Returned::new(__hmr_stream)).__hmr_returned()
    }
}
/// A boxed stream is bound at its declared type and boxed again only when
/// recording; `return` becomes `break` out of a labeled block.
pub fn ticks(n: u32) -> BoxStream<'static, u32> {
    let __hmr_guard = {
        fn __hmr_name() -> &'static ::core::primitive::str {
            ::hmr_runtime::__private::type_name_of(__hmr_name)
        }
        static __HMR_SITE: ::hmr_runtime::__private::Callsite = ::hmr_runtime::__private::Callsite::new(
            __hmr_name,
            "ui-tests/expand/returned_stream.rs",
            14u32,
            8u32,
            ::core::option::Option::None,
            ::core::option::Option::None,
            false,
        );
        ::hmr_runtime::__private::enter(&__HMR_SITE)
    };
    let __hmr_stream: BoxStream<'static, u32> = '__hmr_body: {
        if n == 0 {
            break '__hmr_body stream::empty().boxed();
        }
        stream::iter(0..n).boxed()
    };
    if ::hmr_runtime::__private::ENABLED {
        ::hmr_runtime::__private::std::boxed::Box::pin({
            use ::hmr_runtime::__private::{
                ReturnedOther as _, ReturnedSource as _, ReturnedStream as _,
            };
            (&&&::hmr_runtime::__private::Returned::new(__hmr_stream)).__hmr_returned()
        })
    } else {
        __hmr_stream
    }
}
fn main() {
    let _ = prices(stream::iter([1, 2]));
    let _ = ticks(3);
}
