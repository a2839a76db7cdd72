// My hazards: the cases the signed-in user works on across premises (a department: those
// dispatched to it), with their deadlines (overdue / due today / this week, from the store's
// reminders, offline) and the closed-loop steps their role can take now. The core decides
// whether a step is allowed (nothing is written when refused); the offered actions are the
// role × status hint that keeps refused buttons off the screen. Every call blocks (SQLite,
// image processing): the screen calls these from a background dispatcher.
package org.firegrid.model

import java.util.TimeZone
import org.firegrid.ffi.Department
import org.firegrid.ffi.FiregridStore
import org.firegrid.ffi.HazardAction
import org.firegrid.ffi.HazardStatus
import org.firegrid.ffi.HazardSummary
import org.firegrid.ffi.Localized
import org.firegrid.ffi.PhotoRef
import org.firegrid.ffi.Role
import org.firegrid.ffi.Severity

/** How close a case's deadline is (from `hazardReminders`). */
enum class Due { OVERDUE, TODAY, THIS_WEEK, LATER, NONE }

/** A step a screen offers as a button. */
enum class ActionKind { FILE, DISPATCH, REPORT_FIX, REPORT_HANDLING, VERIFY, FAIL_VERIFICATION, CLOSE, REOPEN, SET_DEADLINE }

data class HazardRow(
    val id: String,
    val premisesId: String,
    val title: String,
    val status: HazardStatus,
    val statusText: String,
    val severity: Severity,
    val deadlineMs: Long?,
    val due: Due,
    val deadlineText: String,
    val departments: List<String>,
    val actions: List<ActionKind>,
)

data class MyHazardsState(
    val status: HazardStatus? = null,
    val rows: List<HazardRow> = emptyList(),
    val overdue: Int = 0,
    val dueToday: Int = 0,
    /** The dispatch picker (office users). */
    val departments: List<Department> = emptyList(),
    val error: String? = null,
    val notice: String? = null,
)

private const val DAY_MS = 86_400_000L

class MyHazardsModel(
    private val store: FiregridStore,
    texts: Texts = Texts("zh"),
    /** Camera bytes → a stored photo's reference (the photo pipeline), for evidence. */
    private val addPhoto: (ByteArray) -> PhotoRef,
    private val now: () -> Long = System::currentTimeMillis,
    private val utcOffsetMinutes: (Long) -> Int = { TimeZone.getDefault().getOffset(it) / 60_000 },
) : StateModel<MyHazardsState>(MyHazardsState(), texts) {
    private fun fail(message: String) {
        update { it.copy(error = message, notice = null) }
    }

    /** Reloads the list (optionally of one status) and the reminders. */
    fun refresh(status: HazardStatus? = state.status) {
        guarded(::fail) {
            val role = store.currentUser()?.role
            val t = now()
            val offset = utcOffsetMinutes(t)
            val reminders = store.hazardReminders(t, offset)
            val due = HashMap<String, Due>()
            reminders.dueThisWeek.forEach { due[it.id] = Due.THIS_WEEK }
            reminders.dueToday.forEach { due[it.id] = Due.TODAY }
            reminders.overdue.forEach { due[it.id] = Due.OVERDUE }
            val rows = store.myHazards(status, null, null).map { row(it, role, due, t, offset) }
            val departments = if (role == Role.STREET_OFFICE || role == Role.ADMIN) store.departments() else emptyList()
            update {
                it.copy(
                    status = status,
                    rows = rows,
                    overdue = reminders.overdue.size,
                    dueToday = reminders.dueToday.size,
                    departments = departments,
                    error = null,
                )
            }
        }
    }

    private fun row(h: HazardSummary, role: Role?, due: Map<String, Due>, now: Long, offset: Int): HazardRow {
        val d = h.deadlineMs
        val open = h.status != HazardStatus.CLOSED && h.status != HazardStatus.VERIFIED && h.status != HazardStatus.HANDLED
        val kind = when {
            d == null -> Due.NONE
            else -> due[h.id] ?: if (open && d < now) Due.OVERDUE else Due.LATER
        }
        return HazardRow(
            id = h.id,
            premisesId = h.premisesId,
            title = texts.of(h.title),
            status = h.status,
            statusText = texts.status(h.status),
            severity = h.severity,
            deadlineMs = d,
            due = kind,
            deadlineText = deadlineText(d, kind, now, offset),
            departments = h.departments,
            actions = actionsFor(role, h.status),
        )
    }

    /** Whole local days between now and the deadline, in words. */
    private fun deadlineText(deadline: Long?, due: Due, now: Long, offset: Int): String {
        if (deadline == null) return texts.get(Msg.NO_DEADLINE)
        val shift = offset * 60_000L
        val days = Math.floorDiv(deadline + shift, DAY_MS) - Math.floorDiv(now + shift, DAY_MS)
        return when {
            due == Due.OVERDUE -> texts.get(Msg.OVERDUE, maxOf(1L, -days))
            due == Due.TODAY || days == 0L -> texts.get(Msg.DUE_TODAY)
            else -> texts.get(Msg.DUE_IN_DAYS, days)
        }
    }

    /** Takes one step of a case's closed loop; the list reloads after it. */
    fun act(hazardId: String, action: HazardAction) {
        guarded(::fail) {
            store.hazardAction(hazardId, action)
            refresh()
            update { it.copy(notice = texts.get(Msg.ACTION_DONE)) }
        }
    }

    /** A field worker's fix (当场整改 or by the deadline), with after photos from the camera. */
    fun reportFix(hazardId: String, images: List<ByteArray>, note: String?) {
        val photos = guarded(::fail) { images.map(addPhoto) } ?: return
        act(hazardId, HazardAction.ReportFix(photos, note?.takeIf { it.isNotBlank() }))
    }

    /** A department's report of its handling, with evidence photos. */
    fun reportHandling(hazardId: String, images: List<ByteArray>, note: String) {
        val photos = guarded(::fail) { images.map(addPhoto) } ?: return
        act(hazardId, HazardAction.ReportHandling(photos, note))
    }

    /** 核查通过, with the verifier's after photo. */
    fun verify(hazardId: String, images: List<ByteArray>, note: String? = null) {
        val photos = guarded(::fail) { images.map(addPhoto) } ?: return
        act(hazardId, HazardAction.Verify(photos, note?.takeIf { it.isNotBlank() }))
    }

    /** A status in the user's language (filter chips). */
    fun statusText(status: HazardStatus): String = texts.status(status)

    /** A department's (or any localized) name in the user's language. */
    fun name(text: Localized): String = texts.of(text)

    companion object {
        /** The steps a role may take in a status (ARCHITECTURE.md, the role × transition table). */
        fun actionsFor(role: Role?, status: HazardStatus): List<ActionKind> = when (role) {
            Role.STREET_OFFICE, Role.ADMIN -> when (status) {
                HazardStatus.DISCOVERED -> listOf(ActionKind.FILE)
                HazardStatus.FILED -> listOf(ActionKind.DISPATCH, ActionKind.SET_DEADLINE)
                HazardStatus.DISPATCHED -> listOf(ActionKind.SET_DEADLINE)
                HazardStatus.HANDLED -> listOf(ActionKind.VERIFY, ActionKind.FAIL_VERIFICATION)
                HazardStatus.VERIFIED -> listOf(ActionKind.CLOSE)
                HazardStatus.CLOSED -> emptyList()
            }
            Role.DEPARTMENT -> if (status == HazardStatus.DISPATCHED) listOf(ActionKind.REPORT_HANDLING) else emptyList()
            Role.GRID_PATROLLER, Role.RESIDENTIAL_WORKER, Role.STATION_CREW -> when (status) {
                HazardStatus.DISCOVERED, HazardStatus.FILED -> listOf(ActionKind.REPORT_FIX)
                HazardStatus.HANDLED, HazardStatus.VERIFIED, HazardStatus.CLOSED -> listOf(ActionKind.REOPEN)
                HazardStatus.DISPATCHED -> emptyList()
            }
            null -> emptyList()
        }
    }
}
