// The inspection form's view model against a real store with the fixtures (macOS only).
import XCTest
import FiregridFFI
@testable import FiregridKit

final class InspectionViewModelTests: XCTestCase {
    @MainActor
    func testAFailedItemWithoutPhotoNeedsAttentionThenTheCameraPhotoLetsItFinish() async throws {
        let store = try newStore(signedInAs: patroller)
        let shop = try store.listPremises(filter: PremisesFilter(category: .streetShop))[0]
        let model = InspectionViewModel(store: store, texts: Texts(language: "en"), addPhoto: hashingPipeline)
        await model.start(premisesId: shop.id)
        XCTAssertFalse(model.items.isEmpty)
        let failed = try XCTUnwrap(model.items.first { $0.photoRequiredOnFail })
        for item in model.items {
            await model.answer(itemId: item.id, result: item.id == failed.id ? .fail : .pass)
        }
        await model.finish()
        XCTAssertEqual(model.needsAttention, [failed.id])
        XCTAssertEqual(model.errorText, "0 unanswered, 1 without the required photo")
        await model.capture(itemId: failed.id, image: Data())
        XCTAssertEqual(model.errorText, "photo: not an image")
        await model.capture(itemId: failed.id, image: Data([1, 2, 3]))
        XCTAssertEqual(model.items.first { $0.id == failed.id }?.photos.count, 1)
        await model.finish()
        XCTAssertEqual(model.finishedHazards?.count, 1)
    }
}
