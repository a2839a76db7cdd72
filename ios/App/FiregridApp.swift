// The SwiftUI app: one store per process in Application Support (excluded from iCloud and
// device backups), tokens in the Keychain, the view models from FiregridKit, and background
// sync with BGTaskScheduler. Views only render the models' published state.
import BackgroundTasks
import FiregridFFI
import FiregridKit
import SwiftUI

/// The app's long-lived objects.
@MainActor
final class AppModel: ObservableObject {
    static let syncTask = "org.firegrid.app.sync"

    let store: FiregridStore
    let session = Session(vault: KeychainTokenVault())
    let texts = Texts()
    let signIn: SignInViewModel
    let premises: PremisesSearchViewModel
    let hazards: MyHazardsViewModel
    let sync: SyncStatusViewModel
    let addPhoto: @Sendable (Data) throws -> PhotoRef

    init() throws {
        store = try FiregridStore.open(path: try Self.storeURL().path)
        let store = self.store
        // The worker's choice (the sync tab's switch), on by default: the before/after distance
        // check needs the position.
        addPhoto = { data in
            let keep = UserDefaults.standard.object(forKey: "keep_photo_location") as? Bool ?? true
            return try store.addPhoto(image: data, keepLocation: keep)
        }
        signIn = SignInViewModel(store: store, session: session, texts: texts)
        premises = PremisesSearchViewModel(store: store, texts: texts)
        hazards = MyHazardsViewModel(store: store, texts: texts, addPhoto: addPhoto)
        sync = SyncStatusViewModel(store: store, session: session, texts: texts)
    }

    /// Application Support/Firegrid/firegrid.db; the folder (and so the photos beside the
    /// database) is excluded from backups.
    static func storeURL() throws -> URL {
        var dir = try FileManager.default.url(for: .applicationSupportDirectory, in: .userDomainMask,
                                              appropriateFor: nil, create: true)
            .appendingPathComponent("Firegrid", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        try dir.setResourceValues(values)
        return dir.appendingPathComponent("firegrid.db")
    }

    func inspection() -> InspectionViewModel {
        InspectionViewModel(store: store, texts: texts, addPhoto: addPhoto)
    }

    /// Asks iOS for a background sync when a network is up, at the earliest in 15 minutes.
    nonisolated static func scheduleSync() {
        let request = BGProcessingTaskRequest(identifier: syncTask)
        request.requiresNetworkConnectivity = true
        request.earliestBeginDate = Date(timeIntervalSinceNow: 15 * 60)
        try? BGTaskScheduler.shared.submit(request)
    }
}

@main
struct FiregridMain: App {
    @StateObject private var app: AppModel
    @Environment(\.scenePhase) private var phase

    /// The one AppModel of the process (the background task uses it too: one store per file).
    @MainActor static var shared: AppModel?

    init() {
        do {
            let model = try AppModel()
            Self.shared = model
            _app = StateObject(wrappedValue: model)
        } catch {
            fatalError("the store could not be opened: \(error)")
        }
        BGTaskScheduler.shared.register(forTaskWithIdentifier: AppModel.syncTask, using: nil) { task in
            Self.runBackgroundSync(task)
        }
    }

    /// The background task: one sync; reschedule; tell iOS whether it worked.
    private static func runBackgroundSync(_ task: BGTask) {
        AppModel.scheduleSync()
        let work = Task { @MainActor in
            guard let app = FiregridMain.shared else { return false }
            return await app.sync.sync()
        }
        task.expirationHandler = { work.cancel() }
        Task {
            let ok = await work.value
            task.setTaskCompleted(success: ok)
        }
    }

    var body: some Scene {
        WindowGroup {
            RootView()
                .environmentObject(app)
                .environmentObject(app.signIn)
        }
        .onChange(of: phase) { newPhase in
            if newPhase == .background { AppModel.scheduleSync() }
        }
    }
}

/// Sign-in until someone is signed in, then the three tabs.
struct RootView: View {
    @EnvironmentObject private var app: AppModel
    @EnvironmentObject private var signIn: SignInViewModel

    var body: some View {
        Group {
            if signIn.user == nil {
                SignInView(model: signIn)
            } else {
                TabView {
                    NavigationStack { PremisesView(model: app.premises) }
                        .tabItem { Label("tab.premises", systemImage: "building.2") }
                    NavigationStack { HazardsView(model: app.hazards) }
                        .tabItem { Label("tab.hazards", systemImage: "exclamationmark.triangle") }
                    NavigationStack { SyncView(model: app.sync, signIn: signIn, deviceId: app.store.deviceId()) }
                        .tabItem { Label("tab.sync", systemImage: "arrow.triangle.2.circlepath") }
                }
            }
        }
        .task { await signIn.restore() }
    }
}
