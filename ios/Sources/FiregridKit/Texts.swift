// Every text the view models produce, in one bilingual table: zh-Hans first (the street's
// working language), en second — the same table as android/model/Texts.kt. The views' own
// labels are in App/Resources/*.lproj/Localizable.strings.
import Foundation
import FiregridFFI

public enum Msg: String, CaseIterable {
    case serverUrlRequired, serverUrlInvalid, userRequired, passwordRequired, wrongCredentials
    case sessionExpired, unsyncedBeforeWipe, signedOut
    case notSignedIn, forbidden, notFound, invalid, inspectionFinished, incomplete, transition
    case storageFull, alreadySyncing, offline, serverBusy, serverError, storeTooNew, corrupt, storage, `internal`
    case noInspection, photoUnusable
    case pairFix, pairHandling, pairVerification, pairDistance, pairNoDistance, pairFar, photoLoading, photoNotAvailable
    case photosWaiting, photoProgress, photosDone, photosRefused, photosDamaged
    case statusDiscovered, statusFiled, statusDispatched, statusHandled, statusVerified, statusClosed
    case overdue, dueToday, dueInDays, noDeadline, actionDone
    case neverSynced, syncing, syncDone, syncRefused, unsynced

    /// (zh-Hans, en); `%@` placeholders are filled in order.
    var texts: (zh: String, en: String) {
        switch self {
        case .serverUrlRequired: return ("请填写服务器地址", "Enter the server address")
        case .serverUrlInvalid: return ("服务器地址无效：%@", "The server address is not valid: %@")
        case .userRequired: return ("请填写用户名", "Enter your user name")
        case .passwordRequired: return ("请填写密码", "Enter your password")
        case .wrongCredentials: return ("用户名或密码错误", "Wrong user name or password")
        case .sessionExpired: return ("登录已过期，请重新登录", "Your sign-in has expired: sign in again")
        case .unsyncedBeforeWipe: return ("还有 %@ 条记录、%@ 张照片未同步到服务器。联网同步后再退出，或确认放弃它们。",
                                          "%@ records and %@ photos have not reached the server. Sync before signing out, or confirm to give them up.")
        case .signedOut: return ("已退出，本机数据已清除", "Signed out; this phone's data is removed")
        case .notSignedIn: return ("请先登录", "Please sign in")
        case .forbidden: return ("无权操作：%@", "Not allowed: %@")
        case .notFound: return ("本机没有该记录（%@ %@），请先同步", "This record is not on the phone (%@ %@): sync first")
        case .invalid: return ("%@：%@", "%@: %@")
        case .inspectionFinished: return ("检查已完成，不能再修改", "The inspection is finished")
        case .incomplete: return ("还有 %@ 项未回答，%@ 项缺少照片", "%@ unanswered, %@ without the required photo")
        case .transition: return ("当前状态（%@）不能执行此操作：%@", "Not possible while %@: %@")
        case .storageFull: return ("手机存储空间已满", "The phone's storage is full")
        case .alreadySyncing: return ("正在同步，请稍候", "A sync is already running")
        case .offline: return ("无法连接服务器，已保存在本机，稍后自动同步", "The server cannot be reached; saved on the phone, it syncs later")
        case .serverBusy: return ("服务器繁忙，请 %@ 秒后再试", "The server is busy; try again in %@ s")
        case .serverError: return ("服务器错误 %@", "Server error %@")
        case .storeTooNew: return ("数据来自更新版本的应用，请升级应用", "The data needs a newer app: update the app")
        case .corrupt: return ("本机数据已损坏，请联系管理员", "The data on this phone is damaged: contact the administrator")
        case .storage: return ("本机存储读写失败，请联系管理员", "The phone's storage failed: contact the administrator")
        case .internal: return ("程序错误，请联系管理员", "Something went wrong: contact the administrator")
        case .noInspection: return ("请先开始检查", "Start the inspection first")
        case .statusDiscovered: return ("待立案", "Discovered")
        case .statusFiled: return ("已立案", "Filed")
        case .statusDispatched: return ("已派遣", "Dispatched")
        case .statusHandled: return ("已处置", "Handled")
        case .statusVerified: return ("已核查", "Verified")
        case .statusClosed: return ("已结案", "Closed")
        case .overdue: return ("已逾期 %@ 天", "Overdue by %@ days")
        case .dueToday: return ("今天到期", "Due today")
        case .dueInDays: return ("%@ 天后到期", "Due in %@ days")
        case .noDeadline: return ("无期限", "No deadline")
        case .actionDone: return ("已记录", "Recorded")
        case .neverSynced: return ("尚未同步", "Not synced yet")
        case .syncing: return ("正在同步…", "Syncing…")
        case .syncDone: return ("同步完成：发送 %@，接收 %@", "Synced: %@ sent, %@ received")
        case .syncRefused: return ("服务器拒收 %@ 条记录", "The server refused %@ records")
        case .unsynced: return ("%@ 条记录待同步", "%@ records waiting to sync")
        case .photoUnusable: return ("无法使用这张照片（不是照片、格式不支持或文件已损坏），请重新拍摄",
                                     "This picture cannot be used (not a photo, an unsupported format or a damaged file): take it again")
        case .pairFix: return ("整改后", "After the fix")
        case .pairHandling: return ("处置后", "After handling")
        case .pairVerification: return ("核查时", "At verification")
        case .pairDistance: return ("与整改前照片相距 %@ 米", "%@ m from the before photo")
        case .pairNoDistance: return ("拍摄位置未知", "Where it was taken is not known")
        case .pairFar: return ("拍摄地点距整改前照片过远，已标记待核实", "Taken far from the before photo: flagged for checking")
        case .photoLoading: return ("正在下载照片…", "Downloading the photo…")
        case .photoNotAvailable: return ("照片暂不可用（联网后可下载）", "The photo is not available yet (it downloads when online)")
        case .photosWaiting: return ("%@ 张照片待上传", "%@ photos waiting to upload")
        case .photoProgress: return ("照片 %@/%@，%@/%@ KB", "Photos %@/%@, %@/%@ KB")
        case .photosDone: return ("照片：上传 %@ 张，服务器已有 %@ 张", "Photos: %@ uploaded, %@ already on the server")
        case .photosRefused: return ("服务器拒收 %@ 张照片（保留在本机，下次重试）", "The server refused %@ photos (kept on the phone, retried next time)")
        case .photosDamaged: return ("%@ 张照片在本机已损坏，请重新拍摄", "%@ photos are damaged on this phone: take them again")
        }
    }
}

/// The texts of one language: zh (any `zh*` tag) or en.
public struct Texts: Sendable {
    public let zh: Bool

    public init(language: String = Locale.preferredLanguages.first ?? "zh-Hans") {
        zh = language.lowercased().hasPrefix("zh")
    }

    public func get(_ msg: Msg, _ args: CustomStringConvertible...) -> String {
        let format = zh ? msg.texts.zh : msg.texts.en
        return String(format: format, arguments: args.map { $0.description as NSString as CVarArg })
    }

    public func of(_ text: Localized) -> String { zh ? text.zh : text.en }

    /// Between two results in one line.
    public var separator: String { zh ? "；" : "; " }

    public func status(_ s: HazardStatus) -> String {
        switch s {
        case .discovered: return get(.statusDiscovered)
        case .filed: return get(.statusFiled)
        case .dispatched: return get(.statusDispatched)
        case .handled: return get(.statusHandled)
        case .verified: return get(.statusVerified)
        case .closed: return get(.statusClosed)
        }
    }

    /// A message for people about a failure: what happened and what to do (ids only).
    public func describe(_ error: Error) -> String {
        guard let error = error as? FiregridError else { return get(.internal) }
        switch error {
        case .NotSignedIn: return get(.notSignedIn)
        case .Unauthorized: return get(.sessionExpired)
        case let .Forbidden(detail): return get(.forbidden, detail)
        case let .NotFound(kind, id): return get(.notFound, kind, id)
        case let .Invalid(field, reason): return get(.invalid, field, reason)
        case .InspectionFinished: return get(.inspectionFinished)
        case let .IncompleteInspection(_, unanswered, missingPhotos): return get(.incomplete, unanswered.count, missingPhotos.count)
        case let .HazardTransition(_, _, status, reason): return get(.transition, status, reason)
        case .StorageFull: return get(.storageFull)
        case let .UnsyncedChanges(records, photos): return get(.unsyncedBeforeWipe, records, photos)
        case .AlreadySyncing: return get(.alreadySyncing)
        case .Network: return get(.offline)
        case let .ServerBusy(retryAfterS): return get(.serverBusy, retryAfterS)
        case let .Server(status, _): return get(.serverError, status)
        case .StoreTooNew: return get(.storeTooNew)
        case .Corrupt: return get(.corrupt)
        case .Storage: return get(.storage)
        case .Internal: return get(.internal)
        }
    }
}
