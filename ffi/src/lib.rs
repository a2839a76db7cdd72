//! `firegrid-ffi`: the uniffi surface of Firegrid for Kotlin (Android) and Swift (iOS).
//!
//! This crate will own every exported type and function, each a one-line delegation to
//! `firegrid-core` plus conversion (the native-surface issue, #6). Until then it only links the
//! core, so the workspace layout and the cross-crate build are in place and tested.

/// The version of the core this surface is built against.
pub fn core_version() -> &'static str {
    firegrid_core::VERSION
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_surface_links_the_core() {
        assert_eq!(super::core_version(), env!("CARGO_PKG_VERSION"));
    }
}
