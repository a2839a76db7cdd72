// My hazards on the JVM against a real store: a failed item becomes a case the office files
// (with the dispatch picker's departments), the patroller sees its deadline as due today and
// then overdue, reports the fix with a camera photo, and a refused step is a message.
package org.firegrid.model

import org.firegrid.ffi.AnswerResult
import org.firegrid.ffi.Category
import org.firegrid.ffi.FiregridStore
import org.firegrid.ffi.HazardAction
import org.firegrid.ffi.HazardStatus
import org.firegrid.ffi.PremisesFilter
import org.firegrid.ffi.Role
import org.firegrid.ffi.test.OFFICE
import org.firegrid.ffi.test.PATROLLER
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

private const val DAY = 86_400_000L
private const val SHANGHAI = 480

class MyHazardsModelTest {
    /** A finished inspection of a shop with one failed item: one discovered hazard. */
    private fun failedInspection(store: FiregridStore): String {
        val shop = store.listPremises(PremisesFilter(category = Category.STREET_SHOP))[0]
        val form = InspectionFormModel(store, en, pipeline(store))
        form.start(shop.id)
        val failed = form.state.items.first { it.photoRequiredOnFail }
        for (item in form.state.items) form.answer(item.id, if (item == failed) AnswerResult.FAIL else AnswerResult.PASS)
        form.capture(failed.id, cameraJpeg)
        form.finish()
        return form.state.finishedHazards!!.single()
    }

    @Test
    fun aCaseGoesFromDiscoveredToFiledToFixedWithItsDeadline() {
        storeAs(PATROLLER).use { store ->
            val hazard = failedInspection(store)
            var now = System.currentTimeMillis()
            val patroller = MyHazardsModel(store, en, pipeline(store), now = { now }, utcOffsetMinutes = { SHANGHAI })
            patroller.refresh()
            val row = patroller.state.rows.single { it.id == hazard }
            assertEquals(HazardStatus.DISCOVERED, row.status)
            assertEquals("Discovered", row.statusText)
            assertEquals(listOf(ActionKind.REPORT_FIX), row.actions)

            // The office (same phone, another user) files it; the picker lists the departments.
            store.setCurrentUser(OFFICE)
            val office = MyHazardsModel(store, zh, pipeline(store), now = { now }, utcOffsetMinutes = { SHANGHAI })
            office.refresh()
            assertTrue(office.state.departments.isNotEmpty())
            assertEquals(store.departments(), office.state.departments)
            assertEquals(listOf(ActionKind.FILE), office.state.rows.single { it.id == hazard }.actions)
            // The deadline: one minute before local (Shanghai) midnight, two days after today.
            val localMidnight = Math.floorDiv(now + SHANGHAI * 60_000L, DAY) * DAY - SHANGHAI * 60_000L
            val deadline = localMidnight + 3 * DAY - 60_000
            office.act(hazard, HazardAction.File(deadline, "限期整改"))
            assertNull(office.state.error)
            assertEquals("已记录", office.state.notice)
            val filed = office.state.rows.single { it.id == hazard }
            assertEquals("已立案", filed.statusText)
            assertEquals(deadline, filed.deadlineMs)
            assertEquals(Due.THIS_WEEK, filed.due)
            assertEquals("2 天后到期", filed.deadlineText)
            assertEquals(listOf(ActionKind.DISPATCH, ActionKind.SET_DEADLINE), filed.actions)

            store.setCurrentUser(PATROLLER)
            now = deadline - 60 * 60_000L // the deadline's day
            patroller.refresh()
            val today = patroller.state.rows.single { it.id == hazard }
            assertEquals(Due.TODAY, today.due)
            assertEquals("Due today", today.deadlineText)
            assertEquals(1, patroller.state.dueToday)
            now = deadline + 3 * DAY
            patroller.refresh()
            val late = patroller.state.rows.single { it.id == hazard }
            assertEquals(Due.OVERDUE, late.due)
            assertEquals("Overdue by 3 days", late.deadlineText)
            assertEquals(1, patroller.state.overdue)
            assertEquals(emptyList<Any>(), patroller.state.departments)

            // A refused step is a message and nothing changes.
            patroller.act(hazard, HazardAction.Close("done"))
            val refused = patroller.state.error!!
            assertTrue(refused, refused.startsWith("Not allowed: ") || refused.startsWith("Not possible while Filed: "))
            assertEquals(HazardStatus.FILED, store.hazardCase(hazard).state.status)

            patroller.reportFix(hazard, listOf(otherPicture), "已清理通道")
            assertNull(patroller.state.error)
            val fixed = store.hazardCase(hazard)
            assertEquals(HazardStatus.HANDLED, fixed.state.status)
            assertEquals(HazardStatus.HANDLED, patroller.state.rows.single { it.id == hazard }.status)
            assertEquals(1, fixed.hazard.events.last().photos.size)

            // A fix without a photo is refused by the core, next to its field.
            patroller.reportFix(hazard, emptyList(), null)
            assertEquals("photos: an after photo is required", patroller.state.error)
        }
    }

    @Test
    fun actionsFollowTheRoleTable() {
        assertEquals(listOf(ActionKind.REPORT_HANDLING), MyHazardsModel.actionsFor(Role.DEPARTMENT, HazardStatus.DISPATCHED))
        assertEquals(emptyList<ActionKind>(), MyHazardsModel.actionsFor(Role.DEPARTMENT, HazardStatus.FILED))
        assertEquals(listOf(ActionKind.VERIFY, ActionKind.FAIL_VERIFICATION), MyHazardsModel.actionsFor(Role.STREET_OFFICE, HazardStatus.HANDLED))
        assertEquals(emptyList<ActionKind>(), MyHazardsModel.actionsFor(null, HazardStatus.FILED))
    }
}
