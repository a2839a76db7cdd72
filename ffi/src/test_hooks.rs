//! Hooks for the foreign-language tests only (feature `test-hooks`, off in app builds).

/// Panics inside Rust with `message`, so a test can check the panic reaches the foreign
/// language as an exception and the library keeps working afterwards.
#[uniffi::export]
pub fn test_hooks_panic(message: String) -> crate::Result<()> {
    panic!("test hook: {message}");
}
