// Premises search: text, a category filter, and a list that loads the next page at its end.
import FiregridFFI
import FiregridKit
import SwiftUI

struct PremisesView: View {
    @ObservedObject var model: PremisesSearchViewModel
    @EnvironmentObject private var app: AppModel
    @State private var text = ""

    private let categories: [(Category?, LocalizedStringKey)] = [
        (nil, "premises.all"), (.residential, "premises.residential"),
        (.streetShop, "premises.street_shop"), (.largeSite, "premises.large_site"),
    ]

    var body: some View {
        List {
            Picker("premises.category", selection: Binding(
                get: { model.category },
                set: { c in Task { await model.search(category: .some(c)) } })
            ) {
                ForEach(categories.indices, id: \.self) { i in
                    Text(categories[i].1).tag(categories[i].0)
                }
            }
            .pickerStyle(.segmented)
            if let error = model.errorText { Text(error).foregroundStyle(.red) }
            ForEach(model.items, id: \.id) { p in
                NavigationLink {
                    InspectionView(model: app.inspection(), premisesId: p.id)
                } label: {
                    VStack(alignment: .leading) {
                        Text(p.name).font(.headline)
                        Text(p.address).font(.caption)
                        if p.openHazards > 0 {
                            Text("premises.open_hazards \(Int(p.openHazards))").foregroundStyle(.red)
                        }
                    }
                }
                .task {
                    if p.id == model.items.last?.id && model.canLoadMore { await model.loadMore() }
                }
            }
        }
        .searchable(text: $text, prompt: Text("premises.search"))
        .onChange(of: text) { q in Task { await model.search(query: q) } }
        .task { await model.search() }
        .navigationTitle("tab.premises")
    }
}
