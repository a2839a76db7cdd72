// One hazard case: its status and the before/after photo pairs side by side (整改前后对比),
// each with the distance between the photos and the far-away warning. The model fetches the
// thumbnails the phone lacks; they appear as they arrive.
import FiregridKit
import SwiftUI

struct HazardDetailView: View {
    @StateObject private var model: HazardDetailViewModel
    let hazardId: String

    /// The model is made once per shown detail (the navigation destination may be rebuilt).
    init(model: @autoclosure @escaping () -> HazardDetailViewModel, hazardId: String) {
        _model = StateObject(wrappedValue: model())
        self.hazardId = hazardId
    }

    var body: some View {
        List {
            Text(model.statusText)
            if let error = model.errorText { Text(error).foregroundStyle(.red) }
            if model.pairs.isEmpty { Text("detail.no_pairs") }
            ForEach(model.pairs) { pair in
                VStack(alignment: .leading, spacing: 6) {
                    Text(pair.kindText).font(.headline)
                    HStack(spacing: 8) {
                        VStack { Text("detail.before").font(.caption); Thumbnail(jpeg: pair.before.thumbnail, placeholder: pair.before.placeholder, size: 140) }
                        VStack { Text(pair.kindText).font(.caption); Thumbnail(jpeg: pair.after.thumbnail, placeholder: pair.after.placeholder, size: 140) }
                    }
                    Text(pair.distanceText).font(.caption)
                    if let far = pair.farText { Text(far).foregroundStyle(.red) }
                }
            }
            Button("detail.download") { Task { await model.fetchMissing() } }
        }
        .navigationTitle(model.title)
        .task(id: hazardId) { await model.open(hazardId: hazardId) }
    }
}
