// Who is signed in and with which tokens. The tokens live in a `TokenVault`: the Keychain
// (`KeychainTokenVault`, this device only, after first unlock so background sync can read
// them) in the app, `MemoryTokenVault` in tests. `Session` hands out a valid access token,
// refreshing (and saving the rotated pair) a minute before it expires. Its calls block
// (network): call them off the main actor.
import Foundation
import Security
import FiregridFFI

public struct SavedSession: Codable, Equatable, Sendable {
    public var serverUrl: String
    public var userId: String
    public var accessToken: String
    public var accessExpiresMs: Int64
    public var refreshToken: String
    public var refreshExpiresMs: Int64

    public init(serverUrl: String, session: FiregridFFI.Session) {
        self.serverUrl = serverUrl
        userId = session.userId
        accessToken = session.accessToken
        accessExpiresMs = session.accessExpiresMs
        refreshToken = session.refreshToken
        refreshExpiresMs = session.refreshExpiresMs
    }
}

public protocol TokenVault: AnyObject, Sendable {
    func load() -> SavedSession?
    func save(_ session: SavedSession)
    func clear()
}

/// Tokens in memory only: tests, and sessions that must not outlive the process.
public final class MemoryTokenVault: TokenVault, @unchecked Sendable {
    private let lock = NSLock()
    private var saved: SavedSession?
    public init() {}
    public func load() -> SavedSession? { lock.withLock { saved } }
    public func save(_ session: SavedSession) { lock.withLock { saved = session } }
    public func clear() { lock.withLock { saved = nil } }
}

/// Tokens in the Keychain: a generic password item, this device only (never in backups or
/// iCloud Keychain), readable after the first unlock (background sync runs while locked).
public final class KeychainTokenVault: TokenVault, @unchecked Sendable {
    private let service = "org.firegrid.tokens"
    private let account = "session"
    public init() {}

    private var query: [String: Any] {
        [kSecClass as String: kSecClassGenericPassword,
         kSecAttrService as String: service,
         kSecAttrAccount as String: account]
    }

    public func load() -> SavedSession? {
        var q = query
        q[kSecReturnData as String] = true
        q[kSecMatchLimit as String] = kSecMatchLimitOne
        var out: CFTypeRef?
        guard SecItemCopyMatching(q as CFDictionary, &out) == errSecSuccess, let data = out as? Data else { return nil }
        return try? JSONDecoder().decode(SavedSession.self, from: data)
    }

    public func save(_ session: SavedSession) {
        guard let data = try? JSONEncoder().encode(session) else { return }
        SecItemDelete(query as CFDictionary)
        var q = query
        q[kSecValueData as String] = data
        q[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
        SecItemAdd(q as CFDictionary, nil)
    }

    public func clear() {
        SecItemDelete(query as CFDictionary)
    }
}

/// The signed-in session: one `SyncClient` per server (shared) and the tokens in the vault.
public final class Session: @unchecked Sendable {
    private let vault: TokenVault
    private let now: @Sendable () -> Int64
    private let lock = NSLock()
    private var client: (url: String, client: SyncClient)?

    public init(vault: TokenVault, now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }) {
        self.vault = vault
        self.now = now
    }

    public var saved: SavedSession? { vault.load() }

    /// The client of `serverUrl`, made once and shared.
    public func client(serverUrl: String) throws -> SyncClient {
        try lock.withLock {
            if let c = client, c.url == serverUrl { return c.client }
            let made = try SyncClient(serverUrl: serverUrl)
            client = (serverUrl, made)
            return made
        }
    }

    public func remember(serverUrl: String, session: FiregridFFI.Session) {
        vault.save(SavedSession(serverUrl: serverUrl, session: session))
    }

    /// The client and a valid access token; nil when nobody is signed in. A refused refresh
    /// clears the vault (sign in again).
    public func current() throws -> (SyncClient, String)? {
        guard let s = vault.load() else { return nil }
        let client = try client(serverUrl: s.serverUrl)
        if s.accessExpiresMs - 60_000 > now() { return (client, s.accessToken) }
        do {
            let fresh = try client.refresh(refreshToken: s.refreshToken)
            remember(serverUrl: s.serverUrl, session: fresh)
            return (client, fresh.accessToken)
        } catch FiregridError.Unauthorized(let detail) {
            vault.clear()
            throw FiregridError.Unauthorized(detail: detail)
        }
    }

    public func forget() { vault.clear() }
}

/// Runs a blocking store or network call off the main actor.
func offMain<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await Task.detached(priority: .userInitiated) { try work() }.value
}
