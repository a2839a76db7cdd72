"""The field scenario through uniffi's Python bindings (for scripting and support tools).

Run by scripts/foreign-tests with PYTHONPATH at the generated `firegrid` module (the host
library copied beside it), FIREGRID_SERVER at the server binary and FIREGRID_FIXTURES at the
fixtures folder. Starts a real server on a free port of 127.0.0.1, then: a grid patroller
inspects a shop with a failed item and a photo and syncs; the office's store sees the hazard
after its sync and files it; a camera JPEG becomes a photo of a hazard, is uploaded by the
photo sync and fetched by the office's store thumbnail first; errors arrive as Python
exceptions with their fields; a panic is an InternalError; stores are freed.
"""

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import firegrid as fg

PASSWORD = "zhenru-sample"
PATROLLER, OFFICE = "u.gp001", "u.so001"
FIXTURES = os.environ["FIREGRID_FIXTURES"]
CHECKS = 0


def check(cond, what):
    """Counts and asserts one check."""
    global CHECKS
    if not cond:
        raise AssertionError(what)
    CHECKS += 1


def raises(exc, fn, *args):
    """Calls fn and returns the exception of type exc it must raise."""
    try:
        fn(*args)
    except exc as e:
        check(True, exc.__name__)
        return e
    raise AssertionError(f"expected {exc.__name__}")


def start_server(tmp):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(os.path.join(tmp, "server.log"), "wb")
    proc = subprocess.Popen(
        [os.environ["FIREGRID_SERVER"], "serve", "--seed-sample", "--data-dir", os.path.join(tmp, "server"),
         "--listen", f"127.0.0.1:{port}", "--fixtures", FIXTURES],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the server did not start: " + open(log.name).read())
        time.sleep(0.2)


def store(tmp, name, seeded=True):
    s = fg.FiregridStore.open(os.path.join(tmp, name + ".db"))
    if seeded:
        s.import_fixtures(FIXTURES)
    return s


def sign_in(s, client, user):
    login = s.login(client, user, PASSWORD)
    check(login.session.device_id == s.device_id(), "tokens for this device")
    s.set_current_user(login.user.id)
    return login.session.access_token


def scenario(tmp, url):
    client = fg.SyncClient(url)
    a, b = store(tmp, "phone-a"), store(tmp, "phone-b")

    raises(fg.FiregridError.Unauthorized, a.login, client, PATROLLER, "wrong password")
    token_a = sign_in(a, client, PATROLLER)
    check(a.current_user().role == fg.Role.GRID_PATROLLER, "role")

    shops = a.list_premises(fg.PremisesFilter(category=fg.Category.STREET_SHOP))
    check(shops and all(p.category == fg.Category.STREET_SHOP for p in shops), "shops in the grid")
    insp = a.start_inspection(shops[0].id, fg.GeoPoint(lat=31.25, lon=121.40, accuracy_m=None))
    checklist = a.checklist(insp.checklist_id, insp.checklist_version)
    photo_items = {i.id for i in checklist.items if i.photo_required_on_fail}
    failed = next(i for i in insp.items if i in photo_items)
    for item in insp.items:
        a.answer(insp.id, item, fg.AnswerResult.FAIL if item == failed else fg.AnswerResult.PASS,
                 "出口被堵" if item == failed else None)
    e = raises(fg.FiregridError.IncompleteInspection, a.finish_inspection, insp.id, None)
    check(e.missing_photos == [failed], "missing photo named")
    e = raises(fg.FiregridError.Invalid, a.attach_photo, insp.id, failed, fg.PhotoRef(sha256="nope"))
    check(e.field == "photo.sha256", "invalid field name")
    a.attach_photo(insp.id, failed, fg.PhotoRef(sha256="ef" * 32))
    hazard_id = a.finish_inspection(insp.id, None).hazards[0]

    progress = []

    class Listener(fg.SyncProgressListener):
        def on_progress(self, p):
            progress.append((threading.current_thread().name, p))

    result = {}
    t = threading.Thread(target=lambda: result.update(r=a.sync(client, token_a, Listener())), name="sync")
    t.start()
    reads = 0
    while t.is_alive():  # the store stays usable while the sync runs on its thread
        a.premises(shops[0].id)
        reads += 1
    t.join()
    report = result["r"]
    check(report.acknowledged == 2 and a.unsynced_count() == 0, "pushed")
    check(len(progress) == report.rounds and all(n == "sync" for n, _ in progress), "progress")
    check(reads > 0, "reads during the sync")

    # A listener that raises ends that sync with InternalError; the store stays usable and
    # the next sync works.
    class Failing(fg.SyncProgressListener):
        def on_progress(self, p):
            raise RuntimeError("listener fails")

    print("(a Rust panic message about the failing listener follows: it is expected)")
    raises(fg.InternalError, a.sync, client, token_a, Failing())
    check(a.sync(client, token_a, None).refused == [], "the next sync works")

    token_b = sign_in(b, client, OFFICE)
    b.sync_with_retry(client, token_b, 3, None)
    case = b.hazard_case(hazard_id)
    check(case.state.status == fg.HazardStatus.DISCOVERED, "the office sees the draft")
    check(case.hazard.origin.item_id == failed and len(case.hazard.photos) == 1, "with its photo")
    filed = b.hazard_action(hazard_id, fg.HazardAction.FILE(deadline_ms=None, note="立案"))
    check(filed.state.status == fg.HazardStatus.FILED and filed.state.deadline_ms, "filed with a deadline")
    e = raises(fg.FiregridError.HazardTransition, b.hazard_action, hazard_id, fg.HazardAction.CLOSE(note=None))
    check((e.action, e.status) == ("closed", "filed"), "transition fields")
    b.sync(client, token_b, None)
    a.sync(client, token_a, None)
    check(next(h for h in a.list_hazards(shops[0].id) if h.id == hazard_id).status == fg.HazardStatus.FILED,
          "the patroller sees it filed")
    raises(fg.FiregridError.Forbidden, a.hazard_action, hazard_id, fg.HazardAction.FILE(deadline_ms=None, note=None))

    e = raises(fg.FiregridError.NotFound, a.premises, "prem.nope")
    check((e.kind, e.id) == ("premises", "prem.nope"), "not found fields")
    raises(fg.FiregridError.Unauthorized, a.sync, client, "0" * 64, None)
    raises(fg.FiregridError.Network, a.sync, fg.SyncClient("http://127.0.0.1:9"), "t", None)
    a.sign_out()
    raises(fg.FiregridError.NotSignedIn, a.list_premises, fg.PremisesFilter())
    del a, b, client


def photos(tmp, url):
    """A camera photo from add_photo to the office's device, and the photo errors."""
    client = fg.SyncClient(url)
    phone, office = store(tmp, "photo-phone"), store(tmp, "photo-office")
    token = sign_in(phone, client, PATROLLER)
    with open(os.path.join(FIXTURES, "photos", "exif-orientation-6-gps.jpg"), "rb") as f:
        camera = f.read()
    ref = phone.add_photo(camera, True)
    check(len(ref.sha256) == 64 and ref.location is not None, "a PhotoRef with its position")
    check(phone.add_photo(camera, False).location is None, "no position unless allowed")
    e = raises(fg.FiregridError.Invalid, phone.add_photo, b"junk bytes", False)
    check(e.field == "photo" and e.reason, "junk refused with its field")
    e = raises(fg.FiregridError.NotFound, phone.photo_bytes, "0" * 64)
    check(e.kind == "photo", "unknown photo")
    shop = phone.list_premises(fg.PremisesFilter())[0]
    hazard = phone.report_hazard(fg.NewHazard(premises_id=shop.id, description="疏散通道堆物",
                                              severity=fg.Severity.SERIOUS, photos=[ref], location=None))
    check(phone.photo_upload_count() == 1, "queued")
    phone.sync(client, token, None)
    seen = []

    class Progress(fg.PhotoSyncListener):
        def on_progress(self, p):
            seen.append(p)

    report = phone.sync_photos(client, token, 3, Progress())
    check(report.uploaded == 1 and not report.refused, "uploaded")
    check(seen and seen[-1].bytes_done == seen[-1].bytes_total, "progress to the end")
    check(phone.photo_upload_count() == 0, "nothing left")

    office_token = sign_in(office, client, OFFICE)
    office.sync(client, office_token, None)
    check([p.sha256 for p in office.hazard(hazard.id).photos] == [ref.sha256], "the office has the reference")
    raises(fg.FiregridError.NotFound, office.photo_thumbnail, ref.sha256)
    thumbs = []

    class Thumb(fg.PhotoFetchListener):
        def on_thumbnail(self, sha256):
            thumbs.append(office.photo_thumbnail(sha256))

    fetched = office.fetch_photo(client, office_token, ref.sha256, True, Thumb())
    check(fetched.thumbnail_fetched and fetched.photo_fetched, "thumbnail then photo")
    check(len(thumbs) == 1 and thumbs[0][:2] == b"\xff\xd8", "the thumbnail shown first")
    check(office.photo_bytes(ref.sha256) == phone.photo_bytes(ref.sha256), "the same bytes")
    raises(fg.FiregridError.NotFound, office.fetch_photo, client, office_token, "ab" * 32, False, None)
    del phone, office, client


def surface(tmp):
    print("(a Rust panic message \"test hook: boom\" follows: it is expected)")
    e = raises(fg.InternalError, fg.test_hooks_panic, "boom")
    check("boom" in str(e), "the panic message")
    path = os.path.join(tmp, "cycles.db")
    base = fg.open_store_count()
    for _ in range(2000):
        s = fg.FiregridStore.open(path)
        s.device_id()
        del s
    check(fg.open_store_count() == base, "stores are freed")


def main():
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="firegrid-py-") as tmp:
        proc, url = start_server(tmp)
        try:
            scenario(tmp, url)
            photos(tmp, url)
            surface(tmp)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    print(f"python scenario: {CHECKS} checks in {time.monotonic() - started:.1f} s")
    print(f"python: {CHECKS} passed, 0 failed")


if __name__ == "__main__":
    sys.exit(main())
