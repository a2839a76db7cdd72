#!/usr/bin/env bash
# macOS only: builds the Rust library for iOS devices and simulators, generates the Swift
# bindings, and assembles ios/build/FiregridFFIFFI.xcframework plus
# ios/Sources/FiregridFFI/FiregridFFI.swift for Package.swift. Needs Xcode and
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios \
#       aarch64-apple-darwin x86_64-apple-darwin
# The macOS slice lets `swift test` run the package's tests on the Mac itself.
# Not run on Linux CI (the Swift there is only syntax-checked by scripts/foreign-tests).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(uname -s)" = Darwin ] || { echo "build-xcframework.sh needs macOS and Xcode" >&2; exit 1; }

PROFILE=${PROFILE:-release}
TARGET=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
OUT=ios/build
rm -rf "$OUT" && mkdir -p "$OUT/headers" ios/Sources/FiregridFFI

# A static library for Apple platforms (the crate's own types are cdylib + lib for JNA and
# for the generator; `cargo rustc` adds staticlib for these builds only).
for t in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios aarch64-apple-darwin x86_64-apple-darwin; do
    cargo rustc -p firegrid-ffi --lib --crate-type staticlib --profile "$PROFILE" --target "$t"
done
# The generator runs on the Mac itself, reading the metadata from the device library.
cargo build -p firegrid-ffi --features cli --bin uniffi-bindgen
"$TARGET/debug/uniffi-bindgen" generate --library "$TARGET/aarch64-apple-ios/$PROFILE/libfiregrid_ffi.a" \
    --language swift --out-dir "$OUT/generated"

cp "$OUT/generated/FiregridFFIFFI.h" "$OUT/headers/"
# The xcframework's headers need a module map named module.modulemap.
cp "$OUT/generated/FiregridFFIFFI.modulemap" "$OUT/headers/module.modulemap"
cp "$OUT/generated/FiregridFFI.swift" ios/Sources/FiregridFFI/

mkdir -p "$OUT/sim" "$OUT/macos"
lipo -create "$TARGET/aarch64-apple-ios-sim/$PROFILE/libfiregrid_ffi.a" \
    "$TARGET/x86_64-apple-ios/$PROFILE/libfiregrid_ffi.a" -output "$OUT/sim/libfiregrid_ffi.a"
lipo -create "$TARGET/aarch64-apple-darwin/$PROFILE/libfiregrid_ffi.a" \
    "$TARGET/x86_64-apple-darwin/$PROFILE/libfiregrid_ffi.a" -output "$OUT/macos/libfiregrid_ffi.a"
xcodebuild -create-xcframework \
    -library "$TARGET/aarch64-apple-ios/$PROFILE/libfiregrid_ffi.a" -headers "$OUT/headers" \
    -library "$OUT/sim/libfiregrid_ffi.a" -headers "$OUT/headers" \
    -library "$OUT/macos/libfiregrid_ffi.a" -headers "$OUT/headers" \
    -output "$OUT/FiregridFFIFFI.xcframework"
echo "built $OUT/FiregridFFIFFI.xcframework and ios/Sources/FiregridFFI/FiregridFFI.swift"
