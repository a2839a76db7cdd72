// Sync status: a progress bar while a sync runs, then the photo upload's bar (photos and bytes),
// the last results and refusals (records and photos), what waits to be sent, whether photos
// keep their position, and sign-out (which asks before giving up unsent work).
import FiregridKit
import SwiftUI

struct SyncView: View {
    @ObservedObject var model: SyncStatusViewModel
    @ObservedObject var signIn: SignInViewModel
    let deviceId: String
    @AppStorage("keep_photo_location") private var keepPhotoLocation = true

    var body: some View {
        List {
            if model.running {
                if let progress = model.progress { ProgressView(value: progress) } else { ProgressView() }
            }
            if model.running, model.photoProgress != nil {
                if let fraction = model.photoFraction { ProgressView(value: fraction) } else { ProgressView() }
                Text(model.photoProgressText)
            }
            Text(model.lastResult)
            if !model.photoResult.isEmpty { Text(model.photoResult) }
            Text(model.unsyncedText)
            Text(model.photosWaitingText)
            if let last = model.lastSync { Text("sync.last \(last.formatted())") }
            if let error = model.errorText { Text(error).foregroundStyle(.red) }
            if !model.refusals.isEmpty {
                Section("sync.refused") { ForEach(model.refusals, id: \.self) { Text($0).font(.caption) } }
            }
            if !model.photoRefusals.isEmpty {
                Section("sync.photo_refused") { ForEach(model.photoRefusals, id: \.self) { Text($0).font(.caption) } }
            }
            Toggle("photo.keep_location", isOn: $keepPhotoLocation)
            Button("sync.now") { Task { await model.sync() } }.disabled(model.running)
            Button("sign_out.button", role: .destructive) { Task { await signIn.signOut() } }.disabled(signIn.busy)
            if let error = signIn.errorText { Text(error).foregroundStyle(.red) }
            Text("sync.device \(deviceId)").font(.caption)
        }
        .task { await model.refresh() }
        .navigationTitle("tab.sync")
        .alert("sign_out.button", isPresented: Binding(
            get: { signIn.unsyncedAtSignOut != nil },
            set: { if !$0 { signIn.dismissSignOut() } })
        ) {
            Button("sign_out.anyway", role: .destructive) { Task { await signIn.signOut(force: true) } }
            Button("common.cancel", role: .cancel) { signIn.dismissSignOut() }
        } message: {
            Text(signIn.errorText ?? "")
        }
    }
}
