// Premises search in the signed-in user's area, as android/model/PremisesSearchModel.kt: text,
// a category filter, and paging as the list scrolls. Offline; store calls off the main actor.
import Foundation
import FiregridFFI

@MainActor
public final class PremisesSearchViewModel: ObservableObject {
    @Published public private(set) var items: [PremisesSummary] = []
    @Published public private(set) var canLoadMore = false
    @Published public private(set) var errorText: String?
    @Published public private(set) var query = ""
    @Published public private(set) var category: Category?

    private let store: FiregridStore
    private let texts: Texts
    private let pageSize: UInt32

    public init(store: FiregridStore, texts: Texts = Texts(), pageSize: UInt32 = 50) {
        self.store = store
        self.texts = texts
        self.pageSize = max(1, min(pageSize, 5_000))
    }

    private func page(offset: Int) async -> [PremisesSummary]? {
        let store = self.store
        let text = query.trimmingCharacters(in: .whitespaces)
        let filter = PremisesFilter(category: category, kind: nil, community: nil, grid: nil, subtype: nil,
                                    text: text.isEmpty ? nil : text, limit: pageSize, offset: UInt32(offset))
        do {
            let rows = try await offMain { try store.listPremises(filter: filter) }
            errorText = nil
            return rows
        } catch {
            errorText = texts.describe(error)
            canLoadMore = false
            return nil
        }
    }

    public func search(query: String? = nil, category: Category?? = nil) async {
        if let query { self.query = query }
        if let category { self.category = category }
        guard let rows = await page(offset: 0) else { return }
        items = rows
        canLoadMore = rows.count == Int(pageSize)
    }

    public func loadMore() async {
        guard canLoadMore, let rows = await page(offset: items.count) else { return }
        items += rows
        canLoadMore = rows.count == Int(pageSize)
    }
}
