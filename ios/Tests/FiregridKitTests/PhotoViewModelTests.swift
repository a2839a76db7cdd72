// Photos in the sync status and the hazard detail against a real server (macOS only, with
// FIREGRID_TEST_SERVER): the patroller's photos upload after the documents with progress; the
// office's phone fetches the before/after thumbnails on demand and sees the far-away flag.
import XCTest
import FiregridFFI
@testable import FiregridKit

final class PhotoViewModelTests: XCTestCase {
    @MainActor
    private func signedIn(_ store: FiregridStore, _ user: String, _ url: String) async throws -> Session {
        let session = Session(vault: MemoryTokenVault())
        let signIn = SignInViewModel(store: store, session: session, texts: Texts(language: "en"))
        signIn.serverUrl = url
        signIn.userId = user
        await signIn.signIn(password: samplePassword)
        XCTAssertEqual(signIn.user?.id, user)
        return session
    }

    @MainActor
    func testPhotosUploadAfterDocumentsAndTheOfficeSeesThePairs() async throws {
        let url = try testServer()
        let phone = try newStore()
        let session = try await signedIn(phone, patroller, url)
        let shop = try XCTUnwrap(try phone.listPremises(filter: PremisesFilter()).first)
        let before = try phone.addPhoto(image: try cameraFile("exif-orientation-6-gps.jpg"), keepLocation: true)
        let location = try XCTUnwrap(before.location)
        let hazard = try phone.reportHazard(hazard: NewHazard(premisesId: shop.id, description: "疏散通道堆放杂物",
                                                              severity: .serious, photos: [before]))
        var fix = try phone.addPhoto(image: try cameraFile("transparent.png"), keepLocation: false)
        fix.location = GeoPoint(lat: location.lat + 0.01, lon: location.lon, accuracyM: nil)
        _ = try phone.hazardAction(hazardId: hazard.id, action: .reportFix(photos: [fix], note: "已清理通道"))

        let sync = SyncStatusViewModel(store: phone, session: session, texts: Texts(language: "en"))
        await sync.refresh()
        XCTAssertEqual(sync.photosWaiting, 2)
        let ok = await sync.sync()
        XCTAssertTrue(ok)
        XCTAssertNil(sync.errorText)
        XCTAssertEqual(sync.photoResult, "Photos: 2 uploaded, 0 already on the server")
        XCTAssertEqual(sync.photosWaiting, 0)
        XCTAssertEqual(sync.photosWaitingText, "0 photos waiting to upload")
        XCTAssertTrue(sync.photoRefusals.isEmpty)

        let officePhone = try newStore()
        let officeSession = try await signedIn(officePhone, office, url)
        _ = await SyncStatusViewModel(store: officePhone, session: officeSession).sync()
        let detail = HazardDetailViewModel(store: officePhone, session: officeSession, texts: Texts(language: "zh-Hans"))
        await detail.open(hazardId: hazard.id)
        XCTAssertNil(detail.errorText)
        let pair = try XCTUnwrap(detail.pairs.first)
        XCTAssertEqual(pair.kindText, "整改后")
        XCTAssertEqual(pair.before.sha256, before.sha256)
        XCTAssertTrue(isJpeg(pair.before.thumbnail))
        XCTAssertTrue(isJpeg(pair.after.thumbnail))
        XCTAssertTrue(pair.far)
        XCTAssertEqual(pair.farText, "拍摄地点距整改前照片过远，已标记待核实")
        XCTAssertGreaterThan(pair.distanceM ?? 0, 1_000)
    }
}
