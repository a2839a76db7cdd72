// Runs on macOS only (`swift test` after scripts/build-xcframework.sh): the view model against
// a real store with the fixtures imported.
import XCTest
import FiregridFFI
@testable import FiregridKit

final class InspectionViewModelTests: XCTestCase {
    private func store() throws -> FiregridStore {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let store = try FiregridStore.open(path: dir.appendingPathComponent("firegrid.db").path)
        let fixtures = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("fixtures").path
        _ = try store.importFixtures(dir: fixtures)
        _ = try store.setCurrentUser(userId: "u.gp001")
        return store
    }

    @MainActor
    func testAFailedItemWithoutPhotoNeedsAttention() async throws {
        let store = try store()
        let shop = try store.listPremises(filter: PremisesFilter(category: .streetShop))[0]
        let model = InspectionViewModel(store: store, language: "en")
        await model.start(premisesId: shop.id)
        XCTAssertFalse(model.items.isEmpty)
        let failed = try XCTUnwrap(model.items.first { $0.photoRequiredOnFail })
        for item in model.items {
            await model.answer(itemId: item.id, result: item.id == failed.id ? .fail : .pass)
        }
        await model.finish()
        XCTAssertEqual(model.needsAttention, [failed.id])
        await model.attachPhoto(itemId: failed.id, sha256: String(repeating: "ef", count: 32))
        await model.finish()
        XCTAssertEqual(model.finishedHazards?.count, 1)
    }
}
