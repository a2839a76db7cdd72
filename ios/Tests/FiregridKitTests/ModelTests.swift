// The other FiregridKit view models against a real store (macOS only); sign-in and sync also
// against a real server when FIREGRID_TEST_SERVER is set.
import XCTest
import FiregridFFI
@testable import FiregridKit

final class ModelTests: XCTestCase {
    func testTextsAreBilingual() {
        for msg in Msg.allCases {
            XCTAssertFalse(msg.texts.zh.isEmpty, "\(msg)")
            XCTAssertFalse(msg.texts.en.isEmpty, "\(msg)")
        }
        XCTAssertEqual(Texts(language: "zh-Hans").describe(FiregridError.NotSignedIn), "请先登录")
        XCTAssertEqual(Texts(language: "en").get(.dueInDays, 3), "Due in 3 days")
    }

    @MainActor
    func testPremisesPagesCoverTheListOnce() async throws {
        let store = try newStore(signedInAs: patroller)
        let all = try store.listPremises(filter: PremisesFilter(category: .streetShop))
        let model = PremisesSearchViewModel(store: store, texts: Texts(language: "en"), pageSize: 2)
        await model.search(query: "", category: .some(.streetShop))
        while model.canLoadMore { await model.loadMore() }
        XCTAssertEqual(model.items.map(\.id), all.map(\.id))
    }

    @MainActor
    func testMyHazardsFromDiscoveredToFiled() async throws {
        let store = try newStore(signedInAs: patroller)
        let shop = try store.listPremises(filter: PremisesFilter(category: .streetShop))[0]
        let form = InspectionViewModel(store: store, texts: Texts(language: "en"), addPhoto: pipeline(store))
        await form.start(premisesId: shop.id)
        let failed = try XCTUnwrap(form.items.first { $0.photoRequiredOnFail })
        for item in form.items { await form.answer(itemId: item.id, result: item.id == failed.id ? .fail : .pass) }
        await form.capture(itemId: failed.id, image: try cameraFile("exif-orientation-6-gps.jpg"))
        await form.finish()
        let hazard = try XCTUnwrap(form.finishedHazards?.first)

        _ = try store.setCurrentUser(userId: office)
        let model = MyHazardsViewModel(store: store, texts: Texts(language: "zh-Hans"), addPhoto: pipeline(store))
        await model.refresh()
        XCTAssertFalse(model.departments.isEmpty)
        XCTAssertEqual(model.rows.first { $0.id == hazard }?.actions, [.file])
        await model.act(hazardId: hazard, action: .file(deadlineMs: nil, note: nil))
        XCTAssertNil(model.errorText)
        XCTAssertEqual(model.rows.first { $0.id == hazard }?.statusText, "已立案")
    }

    @MainActor
    func testSignInSyncAndSignOutAgainstTheServer() async throws {
        let url = try testServer()
        let store = try newStore()
        let session = Session(vault: MemoryTokenVault())
        let signIn = SignInViewModel(store: store, session: session, texts: Texts(language: "en"))
        signIn.serverUrl = url
        signIn.userId = patroller
        await signIn.signIn(password: "wrong")
        XCTAssertEqual(signIn.errorText, "Wrong user name or password")
        await signIn.signIn(password: samplePassword)
        XCTAssertEqual(signIn.user?.id, patroller)
        let sync = SyncStatusViewModel(store: store, session: session, texts: Texts(language: "en"))
        let ok = await sync.sync()
        XCTAssertTrue(ok)
        XCTAssertEqual(sync.progress, 1)
        await signIn.signOut()
        XCTAssertNil(signIn.user)
        XCTAssertNil(try store.currentUser())
    }
}
