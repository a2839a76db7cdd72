// Shared helpers of the FiregridKit tests (macOS only: `swift test` after
// scripts/build-xcframework.sh): stores with the fixtures, the camera files of
// fixtures/photos, and the photo step the app wires (the core's pipeline, `store.addPhoto`).
import Foundation
import FiregridFFI
import XCTest

let patroller = "u.gp001"
let office = "u.so001"
let samplePassword = "zhenru-sample"

let fixturesDir = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("fixtures")

func newStore(signedInAs user: String? = nil) throws -> FiregridStore {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let store = try FiregridStore.open(path: dir.appendingPathComponent("firegrid.db").path)
    _ = try store.importFixtures(dir: fixturesDir.path)
    if let user { _ = try store.setCurrentUser(userId: user) }
    return store
}

/// A file of fixtures/photos, as the camera hands it over.
func cameraFile(_ name: String) throws -> Data {
    try Data(contentsOf: fixturesDir.appendingPathComponent("photos").appendingPathComponent(name))
}

/// The app's photo step: the real pipeline of `store`.
func pipeline(_ store: FiregridStore, keepLocation: Bool = true) -> @Sendable (Data) throws -> PhotoRef {
    { data in try store.addPhoto(image: data, keepLocation: keepLocation) }
}

func isJpeg(_ data: Data?) -> Bool {
    guard let data, data.count > 4 else { return false }
    return data[data.startIndex] == 0xFF && data[data.startIndex + 1] == 0xD8
}

/// A `firegrid-server serve --seed-sample` the tests may sync with (FIREGRID_TEST_SERVER).
func testServer() throws -> String {
    guard let url = ProcessInfo.processInfo.environment["FIREGRID_TEST_SERVER"] else {
        throw XCTSkip("set FIREGRID_TEST_SERVER to a `firegrid-server serve --seed-sample` URL")
    }
    return url
}
