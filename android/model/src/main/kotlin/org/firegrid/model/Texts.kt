// Every text the view models produce, in one bilingual table: zh-CN first (the street's working
// language), en second. Screens' own labels live in the platform's resources
// (android/app/src/main/res/values*/strings.xml); what a model computes (errors, statuses,
// deadlines, sync results) comes from here, so it is tested on the JVM.
package org.firegrid.model

import org.firegrid.ffi.FiregridException
import org.firegrid.ffi.HazardStatus
import org.firegrid.ffi.Localized

/** One text in both languages; `%1$s`, `%2$s`… are filled by [Texts.get]. */
enum class Msg(val zh: String, val en: String) {
    // Sign-in
    SERVER_URL_REQUIRED("请填写服务器地址", "Enter the server address"),
    SERVER_URL_INVALID("服务器地址无效：%1\$s", "The server address is not valid: %1\$s"),
    USER_REQUIRED("请填写用户名", "Enter your user name"),
    PASSWORD_REQUIRED("请填写密码", "Enter your password"),
    WRONG_CREDENTIALS("用户名或密码错误", "Wrong user name or password"),
    SESSION_EXPIRED("登录已过期，请重新登录", "Your sign-in has expired: sign in again"),
    UNSYNCED_BEFORE_WIPE(
        "还有 %1\$s 条记录、%2\$s 张照片未同步到服务器。联网同步后再退出，或确认放弃它们。",
        "%1\$s records and %2\$s photos have not reached the server. Sync before signing out, or confirm to give them up.",
    ),
    SIGNED_OUT("已退出，本机数据已清除", "Signed out; this phone's data is removed"),

    // Errors from the store
    NOT_SIGNED_IN("请先登录", "Please sign in"),
    FORBIDDEN("无权操作：%1\$s", "Not allowed: %1\$s"),
    NOT_FOUND("本机没有该记录（%1\$s %2\$s），请先同步", "This record is not on the phone (%1\$s %2\$s): sync first"),
    INVALID("%1\$s：%2\$s", "%1\$s: %2\$s"),
    INSPECTION_FINISHED("检查已完成，不能再修改", "The inspection is finished"),
    INCOMPLETE(
        "还有 %1\$s 项未回答，%2\$s 项缺少照片",
        "%1\$s unanswered, %2\$s without the required photo",
    ),
    TRANSITION("当前状态（%1\$s）不能执行此操作：%2\$s", "Not possible while %1\$s: %2\$s"),
    STORAGE_FULL("手机存储空间已满", "The phone's storage is full"),
    ALREADY_SYNCING("正在同步，请稍候", "A sync is already running"),
    OFFLINE("无法连接服务器，已保存在本机，稍后自动同步", "The server cannot be reached; saved on the phone, it syncs later"),
    SERVER_BUSY("服务器繁忙，请 %1\$s 秒后再试", "The server is busy; try again in %1\$s s"),
    SERVER_ERROR("服务器错误 %1\$s", "Server error %1\$s"),
    STORE_TOO_NEW("数据来自更新版本的应用，请升级应用", "The data needs a newer app: update the app"),
    CORRUPT("本机数据已损坏，请联系管理员", "The data on this phone is damaged: contact the administrator"),
    STORAGE("本机存储读写失败，请联系管理员", "The phone's storage failed: contact the administrator"),
    INTERNAL("程序错误，请联系管理员", "Something went wrong: contact the administrator"),
    NO_CAMERA_PIPELINE("无法保存照片", "The photo could not be stored"),

    // Inspection form
    NO_INSPECTION("请先开始检查", "Start the inspection first"),
    PHOTO_UNUSABLE(
        "无法使用这张照片（不是照片、格式不支持或文件已损坏），请重新拍摄",
        "This picture cannot be used (not a photo, an unsupported format or a damaged file): take it again",
    ),

    // Hazards
    STATUS_DISCOVERED("待立案", "Discovered"),
    STATUS_FILED("已立案", "Filed"),
    STATUS_DISPATCHED("已派遣", "Dispatched"),
    STATUS_HANDLED("已处置", "Handled"),
    STATUS_VERIFIED("已核查", "Verified"),
    STATUS_CLOSED("已结案", "Closed"),
    OVERDUE("已逾期 %1\$s 天", "Overdue by %1\$s days"),
    DUE_TODAY("今天到期", "Due today"),
    DUE_IN_DAYS("%1\$s 天后到期", "Due in %1\$s days"),
    NO_DEADLINE("无期限", "No deadline"),
    ACTION_DONE("已记录", "Recorded"),
    REASON_WRONG_STATE("当前状态不允许", "not in this state"),
    REASON_MISSING_EVIDENCE("缺少照片证据", "a photo is needed as evidence"),
    REASON_DUPLICATE("已经记录过", "already recorded"),
    REASON_ROLE("您的角色不能执行", "your role may not do this"),
    REASON_SCOPE("不在您的辖区", "outside your area"),
    REASON_NOT_DISPATCHED("未派遣给本单位", "not dispatched to your department"),
    REASON_SELF_VERIFICATION("不能核查自己的整改", "you cannot verify your own fix"),

    // Hazard detail: before/after photos (整改前后对比)
    PAIR_FIX("整改后", "After the fix"),
    PAIR_HANDLING("处置后", "After handling"),
    PAIR_VERIFICATION("核查时", "At verification"),
    PAIR_DISTANCE("与整改前照片相距 %1\$s 米", "%1\$s m from the before photo"),
    PAIR_NO_DISTANCE("拍摄位置未知", "Where it was taken is not known"),
    PAIR_FAR("拍摄地点距整改前照片过远，已标记待核实", "Taken far from the before photo: flagged for checking"),
    PHOTO_LOADING("正在下载照片…", "Downloading the photo…"),
    PHOTO_NOT_AVAILABLE("照片暂不可用（联网后可下载）", "The photo is not available yet (it downloads when online)"),

    // Sync
    NEVER_SYNCED("尚未同步", "Not synced yet"),
    SYNCING("正在同步…", "Syncing…"),
    SYNC_DONE("同步完成：发送 %1\$s，接收 %2\$s", "Synced: %1\$s sent, %2\$s received"),
    SYNC_REFUSED("服务器拒收 %1\$s 条记录", "The server refused %1\$s records"),
    UNSYNCED("%1\$s 条记录待同步", "%1\$s records waiting to sync"),
    REFUSED_FORBIDDEN("无权修改", "not allowed"),
    REFUSED_FOREIGN_ACTOR("不是本机的修改", "not made on this phone"),
    REFUSED_INVALID("内容无效", "invalid"),
    REFUSED_TOO_LARGE("内容过大", "too large"),
    PHOTOS_WAITING("%1\$s 张照片待上传", "%1\$s photos waiting to upload"),
    PHOTO_PROGRESS("照片 %1\$s/%2\$s，%3\$s/%4\$s KB", "Photos %1\$s/%2\$s, %3\$s/%4\$s KB"),
    PHOTOS_DONE("照片：上传 %1\$s 张，服务器已有 %2\$s 张", "Photos: %1\$s uploaded, %2\$s already on the server"),
    PHOTOS_REFUSED("服务器拒收 %1\$s 张照片（保留在本机，下次重试）", "The server refused %1\$s photos (kept on the phone, retried next time)"),
    PHOTOS_DAMAGED("%1\$s 张照片在本机已损坏，请重新拍摄", "%1\$s photos are damaged on this phone: take them again"),
    SEPARATOR("；", "; "),
}

/** The texts of one language: zh (any `zh*` tag) or en. */
class Texts(language: String) {
    val zh: Boolean = language.lowercase().startsWith("zh")

    fun get(msg: Msg, vararg args: Any): String = String.format(if (zh) msg.zh else msg.en, *args)

    fun of(t: Localized): String = if (zh) t.zh else t.en

    fun status(s: HazardStatus): String = get(
        when (s) {
            HazardStatus.DISCOVERED -> Msg.STATUS_DISCOVERED
            HazardStatus.FILED -> Msg.STATUS_FILED
            HazardStatus.DISPATCHED -> Msg.STATUS_DISPATCHED
            HazardStatus.HANDLED -> Msg.STATUS_HANDLED
            HazardStatus.VERIFIED -> Msg.STATUS_VERIFIED
            HazardStatus.CLOSED -> Msg.STATUS_CLOSED
        },
    )

    /** Why a closed-loop step was refused (the core's flag reason), in words. */
    fun reason(code: String): String = when (code) {
        "wrong_state" -> get(Msg.REASON_WRONG_STATE)
        "missing_evidence" -> get(Msg.REASON_MISSING_EVIDENCE)
        "duplicate" -> get(Msg.REASON_DUPLICATE)
        "role_not_allowed" -> get(Msg.REASON_ROLE)
        "out_of_scope" -> get(Msg.REASON_SCOPE)
        "not_dispatched_to" -> get(Msg.REASON_NOT_DISPATCHED)
        "self_verification" -> get(Msg.REASON_SELF_VERIFICATION)
        else -> code
    }

    /** A message for people about a failure: what happened and what to do (ids only). */
    fun describe(e: FiregridException): String = when (e) {
        is FiregridException.NotSignedIn -> get(Msg.NOT_SIGNED_IN)
        is FiregridException.Unauthorized -> get(Msg.SESSION_EXPIRED)
        is FiregridException.Forbidden -> get(Msg.FORBIDDEN, e.detail)
        is FiregridException.NotFound -> get(Msg.NOT_FOUND, e.kind, e.id)
        is FiregridException.Invalid -> get(Msg.INVALID, e.field, e.reason)
        is FiregridException.InspectionFinished -> get(Msg.INSPECTION_FINISHED)
        is FiregridException.IncompleteInspection -> get(Msg.INCOMPLETE, e.unanswered.size, e.missingPhotos.size)
        is FiregridException.HazardTransition -> get(
            Msg.TRANSITION,
            HazardStatus.entries.find { it.name.equals(e.status, ignoreCase = true) }?.let(::status) ?: e.status,
            reason(e.reason),
        )
        is FiregridException.StorageFull -> get(Msg.STORAGE_FULL)
        is FiregridException.UnsyncedChanges -> get(Msg.UNSYNCED_BEFORE_WIPE, e.records, e.photos)
        is FiregridException.AlreadySyncing -> get(Msg.ALREADY_SYNCING)
        is FiregridException.Network -> get(Msg.OFFLINE)
        is FiregridException.ServerBusy -> get(Msg.SERVER_BUSY, e.retryAfterS)
        is FiregridException.Server -> get(Msg.SERVER_ERROR, e.status)
        is FiregridException.StoreTooNew -> get(Msg.STORE_TOO_NEW)
        is FiregridException.Corrupt -> get(Msg.CORRUPT)
        is FiregridException.Storage -> get(Msg.STORAGE)
        is FiregridException.Internal -> get(Msg.INTERNAL)
    }
}
