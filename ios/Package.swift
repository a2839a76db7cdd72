// swift-tools-version:5.9
// The Swift package wrapping Firegrid's Rust core for the iOS app. Build the native library and
// the generated bindings first, on macOS: `scripts/build-xcframework.sh` (see README.md).
import PackageDescription

let package = Package(
    name: "Firegrid",
    platforms: [.iOS(.v16), .macOS(.v13)],
    products: [
        .library(name: "FiregridKit", targets: ["FiregridKit"]),
    ],
    targets: [
        // The Rust library for device and simulator, with the C header and module map that
        // uniffi generates (build/ is made by scripts/build-xcframework.sh, not committed).
        .binaryTarget(name: "FiregridFFIFFI", path: "build/FiregridFFIFFI.xcframework"),
        // The generated Swift bindings (FiregridFFI.swift, copied here by the script).
        .target(name: "FiregridFFI", dependencies: ["FiregridFFIFFI"], path: "Sources/FiregridFFI"),
        // The app's logic in plain Swift (view models); the SwiftUI screens (App/, an Xcode app
        // target that depends on this package) stay thin.
        .target(name: "FiregridKit", dependencies: ["FiregridFFI"], path: "Sources/FiregridKit"),
        .testTarget(name: "FiregridKitTests", dependencies: ["FiregridKit"], path: "Tests/FiregridKitTests"),
    ]
)
