// Shared helpers of the FiregridKit tests (macOS only: `swift test` after
// scripts/build-xcframework.sh): stores with the fixtures, and the photo step that stands in
// for the photo pipeline (the SHA-256 of the bytes).
import CryptoKit
import Foundation
import FiregridFFI
import XCTest

let patroller = "u.gp001"
let office = "u.so001"
let samplePassword = "zhenru-sample"

func newStore(signedInAs user: String? = nil) throws -> FiregridStore {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let store = try FiregridStore.open(path: dir.appendingPathComponent("firegrid.db").path)
    let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures").path
    _ = try store.importFixtures(dir: fixtures)
    if let user { _ = try store.setCurrentUser(userId: user) }
    return store
}

let hashingPipeline: @Sendable (Data) throws -> PhotoRef = { data in
    if data.isEmpty { throw FiregridError.Invalid(field: "photo", reason: "not an image") }
    let hex = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    return PhotoRef(sha256: hex, capturedAtMs: 1_764_400_000_000, location: nil)
}

/// A `firegrid-server serve --seed-sample` the tests may sync with (FIREGRID_TEST_SERVER).
func testServer() throws -> String {
    guard let url = ProcessInfo.processInfo.environment["FIREGRID_TEST_SERVER"] else {
        throw XCTSkip("set FIREGRID_TEST_SERVER to a `firegrid-server serve --seed-sample` URL")
    }
    return url
}
