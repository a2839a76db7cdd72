// The inspection form's view model against a real store with the fixtures (macOS only): camera
// files through the real pipeline, thumbnails shown, junk and HEIC refused in words.
import XCTest
import FiregridFFI
@testable import FiregridKit

final class InspectionViewModelTests: XCTestCase {
    @MainActor
    func testAFailedItemWithoutPhotoNeedsAttentionThenTheCameraPhotoLetsItFinish() async throws {
        let store = try newStore(signedInAs: patroller)
        let shop = try store.listPremises(filter: PremisesFilter(category: .streetShop))[0]
        let model = InspectionViewModel(store: store, texts: Texts(language: "en"), addPhoto: pipeline(store))
        await model.start(premisesId: shop.id)
        XCTAssertFalse(model.items.isEmpty)
        let failed = try XCTUnwrap(model.items.first { $0.photoRequiredOnFail })
        for item in model.items {
            await model.answer(itemId: item.id, result: item.id == failed.id ? .fail : .pass)
        }
        await model.finish()
        XCTAssertEqual(model.needsAttention, [failed.id])
        XCTAssertEqual(model.errorText, "0 unanswered, 1 without the required photo")
        let unusable = "This picture cannot be used (not a photo, an unsupported format or a damaged file): take it again"
        for junk in [Data(), Data("not a photo".utf8), try cameraFile("truncated.jpg"), try cameraFile("heic-header.heic")] {
            await model.capture(itemId: failed.id, image: junk)
            XCTAssertEqual(model.errorText, unusable)
        }
        let camera = try cameraFile("exif-orientation-6-gps.jpg")
        await model.capture(itemId: failed.id, image: camera)
        await model.capture(itemId: failed.id, image: camera)
        let row = try XCTUnwrap(model.items.first { $0.id == failed.id })
        XCTAssertEqual(row.photos.count, 1)
        XCTAssertTrue(isJpeg(row.thumbnails[row.photos[0]]))
        await model.finish()
        XCTAssertEqual(model.finishedHazards?.count, 1)
    }
}
