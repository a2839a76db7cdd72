//! `uniffi-bindgen`: generates the Kotlin, Swift and Python bindings from the built library
//! (library mode: `generate --library target/debug/libfiregrid_ffi.so`).

fn main() {
    uniffi::uniffi_bindgen_main()
}
