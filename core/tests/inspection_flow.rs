//! The inspection flow on a real SQLite file with the sample district: start, answer, photos,
//! finish with hazard drafts, lists, and the typed errors of bad input.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on any error")]

mod common;

use common::*;
use firegrid_core::Error;
use firegrid_core::access::{Role, Scope, ScopeKind};
use firegrid_core::hazard::{HazardStatus, NewHazard, Severity};
use firegrid_core::inspection::{AnswerResult, HistoryFilter, InspectionStatus};
use firegrid_core::premises::{Category, PremisesFilter, PremisesKind, Subtype};

fn patroller_and_shop() -> (
    &'static firegrid_core::access::User,
    &'static firegrid_core::premises::Premises,
) {
    let f = loaded();
    for u in f
        .district
        .users
        .iter()
        .filter(|u| u.role == Role::GridPatroller)
    {
        if let Some(p) = premises_in_grid(&u.scope.id, PremisesKind::StreetShop) {
            return (u, p);
        }
    }
    panic!("no grid with a street shop");
}

#[test]
fn a_shop_inspection_with_a_failed_item_creates_a_hazard_draft() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(dir.path());
    let (user, shop) = patroller_and_shop();
    store.set_current_user(&user.id).unwrap();

    let insp = store.start_inspection(&shop.id, None).unwrap();
    assert_eq!(insp.checklist, "street_shop");
    assert_eq!(insp.checklist_version, 1);
    assert_eq!(insp.status, InspectionStatus::InProgress);
    assert!(insp.items.len() >= 20, "{} items", insp.items.len());

    let checklist = store.checklist("street_shop", 1).unwrap();
    let photo_item = checklist
        .items
        .iter()
        .find(|i| i.photo_required_on_fail && insp.items.contains(&i.id))
        .unwrap();
    for item in &insp.items {
        let result = if item == &photo_item.id {
            AnswerResult::Fail
        } else {
            AnswerResult::Pass
        };
        store.answer(&insp.id, item, result, None).unwrap();
    }
    store
        .answer(
            &insp.id,
            &photo_item.id,
            AnswerResult::Fail,
            Some("后门通道堆放纸箱".into()),
        )
        .unwrap();

    // The failed item needs a photo before the inspection can be finished.
    match store.finish_inspection(&insp.id, None) {
        Err(Error::IncompleteInspection {
            unanswered,
            missing_photos,
            ..
        }) => {
            assert!(unanswered.is_empty());
            assert_eq!(missing_photos, vec![photo_item.id.clone()]);
        }
        other => panic!("expected IncompleteInspection, got {other:?}"),
    }
    store
        .attach_photo(&insp.id, &photo_item.id, photo(7))
        .unwrap();
    let report = store.finish_inspection(&insp.id, None).unwrap();
    assert_eq!(report.hazards.len(), 1);

    let hazard = store.hazard(&report.hazards[0]).unwrap();
    assert_eq!(
        store.hazard_case(&hazard.id).unwrap().state.status,
        HazardStatus::Discovered
    );
    assert_eq!(hazard.premises, shop.id);
    assert_eq!(hazard.origin.item.as_deref(), Some(photo_item.id.as_str()));
    assert_eq!(hazard.origin.inspection.as_deref(), Some(insp.id.as_str()));
    assert_eq!(hazard.photos, vec![photo(7)]);
    assert_eq!(hazard.note.as_deref(), Some("后门通道堆放纸箱"));
    assert_eq!(hazard.title, photo_item.text);
    assert_eq!(hazard.severity, photo_item.severity);

    let hazards = store.list_hazards(&shop.id).unwrap();
    assert_eq!(hazards.len(), 1);
    assert_eq!(hazards[0].id, hazard.id);
    let inspections = store.list_inspections(&shop.id).unwrap();
    assert_eq!(inspections.len(), 1);
    assert_eq!(inspections[0].status, InspectionStatus::Finished);
    assert_eq!(inspections[0].failed, 1);
    assert_eq!(inspections[0].answered as usize, insp.items.len());

    let listed = store
        .list_premises(
            &user.scope,
            &PremisesFilter {
                text: Some(shop.name.clone()),
                ..Default::default()
            },
        )
        .unwrap();
    let row = listed.iter().find(|p| p.id == shop.id).unwrap();
    assert_eq!(row.open_hazards, 1);
    assert!(row.last_inspected_ms.is_some());

    // A finished inspection is read-only.
    assert!(matches!(
        store.answer(&insp.id, &insp.items[0], AnswerResult::Fail, None),
        Err(Error::InspectionFinished(_))
    ));
    assert!(matches!(
        store.finish_inspection(&insp.id, None),
        Err(Error::InspectionFinished(_))
    ));

    let history = store
        .record_history(firegrid_core::store::RecordKind::Inspection, &insp.id)
        .unwrap();
    assert_eq!(history.first().unwrap().message, "start");
    assert_eq!(history.last().unwrap().message, "finish");
    assert!(
        history
            .iter()
            .any(|c| c.message == format!("photo {}", photo_item.id))
    );
    assert!(
        history
            .iter()
            .all(|c| c.actor.starts_with(&store.device_id()[..16]))
    );

    store.verify().unwrap();
}

#[test]
fn bad_input_gets_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(dir.path());
    let (user, shop) = patroller_and_shop();

    assert!(matches!(
        store.start_inspection(&shop.id, None),
        Err(Error::NoCurrentUser)
    ));
    assert!(matches!(
        store.set_current_user("u.nobody"),
        Err(Error::NotFound { .. })
    ));
    store.set_current_user(&user.id).unwrap();

    assert!(matches!(
        store.start_inspection("prem.9999", None),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.start_inspection("", None),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        store.start_inspection("'; DROP TABLE record; --", None),
        Err(Error::Invalid { .. })
    ));
    let bad_loc = firegrid_core::vocab::GeoPoint {
        lat: 91.0,
        lon: 0.0,
        accuracy_m: None,
    };
    assert!(matches!(
        store.start_inspection(&shop.id, Some(bad_loc)),
        Err(Error::Invalid { .. })
    ));

    // A premises outside the patroller's grid.
    let other = loaded()
        .district
        .premises
        .iter()
        .find(|p| p.grid != user.scope.id)
        .unwrap();
    assert!(matches!(
        store.start_inspection(&other.id, None),
        Err(Error::Forbidden(_))
    ));

    let insp = store.start_inspection(&shop.id, None).unwrap();
    assert!(matches!(
        store.answer(
            &insp.id,
            "res.not_in_this_checklist",
            AnswerResult::Pass,
            None
        ),
        Err(Error::UnknownItem { .. })
    ));
    assert!(matches!(
        store.answer("insp.unknown", &insp.items[0], AnswerResult::Pass, None),
        Err(Error::NotFound { .. })
    ));
    let mut bad_photo = photo(1);
    bad_photo.sha256 = "not-a-hash".into();
    assert!(matches!(
        store.attach_photo(&insp.id, &insp.items[0], bad_photo),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        store.answer(
            &insp.id,
            &insp.items[0],
            AnswerResult::Pass,
            Some("长".repeat(5000))
        ),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        store.remove_photo(&insp.id, &insp.items[0], &photo(3).sha256),
        Err(Error::NotFound { .. })
    ));
    match store.finish_inspection(&insp.id, None) {
        Err(Error::IncompleteInspection { unanswered, .. }) => {
            assert_eq!(unanswered.len(), insp.items.len() - count_optional(&insp))
        }
        other => panic!("expected IncompleteInspection, got {other:?}"),
    }
    assert!(matches!(
        store.list_premises(
            &user.scope,
            &PremisesFilter {
                limit: Some(0),
                ..Default::default()
            }
        ),
        Err(Error::Invalid { .. })
    ));

    // A department user does not record inspections.
    let dept = user_with_role(Role::Department);
    store.set_current_user(&dept.id).unwrap();
    assert!(matches!(
        store.start_inspection(&shop.id, None),
        Err(Error::Forbidden(_))
    ));
    store.verify().unwrap();
}

fn count_optional(insp: &firegrid_core::inspection::Inspection) -> usize {
    let f = loaded();
    let c = f
        .checklists
        .iter()
        .find(|c| c.id == insp.checklist && c.version == insp.checklist_version)
        .unwrap();
    insp.items
        .iter()
        .filter(|id| !c.item(id).unwrap().required)
        .count()
}

#[test]
fn premises_lists_filter_by_scope_category_grid_subtype_and_text() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(dir.path());
    let f = loaded();
    let street = Scope::new(ScopeKind::Street, f.district.street.id.clone());
    let all = |filter: PremisesFilter| {
        store
            .list_premises(
                &street,
                &PremisesFilter {
                    limit: Some(5000),
                    ..filter
                },
            )
            .unwrap()
    };
    assert_eq!(
        all(PremisesFilter::default()).len(),
        f.district.premises.len()
    );

    let residential = all(PremisesFilter {
        category: Some(Category::Residential),
        ..Default::default()
    });
    let expected = f
        .district
        .premises
        .iter()
        .filter(|p| p.category() == Category::Residential)
        .count();
    assert_eq!(residential.len(), expected);
    assert!(
        residential
            .iter()
            .all(|p| p.kind == PremisesKind::ResidentialCompound)
    );

    let grid = &f.district.grids[0];
    let in_grid = all(PremisesFilter {
        grid: Some(grid.id.clone()),
        ..Default::default()
    });
    assert_eq!(
        in_grid.len(),
        f.district
            .premises
            .iter()
            .filter(|p| p.grid == grid.id)
            .count()
    );
    let grid_scope = store
        .list_premises(
            &Scope::new(ScopeKind::Grid, grid.id.clone()),
            &PremisesFilter::default(),
        )
        .unwrap();
    assert_eq!(
        grid_scope.iter().map(|p| &p.id).collect::<Vec<_>>(),
        in_grid.iter().map(|p| &p.id).collect::<Vec<_>>()
    );

    let three = all(PremisesFilter {
        subtype: Some(Subtype::ThreeInOne),
        ..Default::default()
    });
    assert_eq!(
        three.len(),
        f.district
            .premises
            .iter()
            .filter(|p| p.subtypes.contains(&Subtype::ThreeInOne))
            .count()
    );
    assert!(!three.is_empty());

    // Chinese substring of a name, and of an address.
    let target = &f.district.premises[17];
    let name_part: String = target.name.chars().take(2).collect();
    let by_name = all(PremisesFilter {
        text: Some(name_part.clone()),
        ..Default::default()
    });
    assert!(by_name.iter().any(|p| p.id == target.id));
    assert!(
        by_name
            .iter()
            .all(|p| p.name.contains(&name_part) || p.address.contains(&name_part))
    );
    let by_address = all(PremisesFilter {
        text: Some(target.address.clone()),
        ..Default::default()
    });
    assert!(by_address.iter().any(|p| p.id == target.id));
    // LIKE wildcards in the search text are literal.
    assert!(
        all(PremisesFilter {
            text: Some("%".into()),
            ..Default::default()
        })
        .is_empty()
    );

    // A station's scope covers exactly the communities it serves.
    let station = &f.district.micro_stations[0];
    let st = store
        .list_premises(
            &Scope::new(ScopeKind::Station, station.id.clone()),
            &PremisesFilter {
                limit: Some(5000),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        st.len(),
        f.district
            .premises
            .iter()
            .filter(|p| station.communities.contains(&p.community))
            .count()
    );

    // Paging.
    let page1 = store
        .list_premises(
            &street,
            &PremisesFilter {
                limit: Some(10),
                ..Default::default()
            },
        )
        .unwrap();
    let page2 = store
        .list_premises(
            &street,
            &PremisesFilter {
                limit: Some(10),
                offset: Some(10),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(page1.len(), 10);
    assert!(page1.iter().all(|a| page2.iter().all(|b| a.id != b.id)));
}

#[test]
fn subtype_items_apply_only_to_their_subtype() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(dir.path());
    let office = user_with_role(Role::StreetOffice);
    store.set_current_user(&office.id).unwrap();
    let f = loaded();
    let site = f
        .district
        .premises
        .iter()
        .find(|p| p.kind == PremisesKind::ConstructionSite)
        .unwrap();
    let unit = f
        .district
        .premises
        .iter()
        .find(|p| p.kind == PremisesKind::LargeUnit)
        .unwrap();
    let site_insp = store.start_inspection(&site.id, None).unwrap();
    let unit_insp = store.start_inspection(&unit.id, None).unwrap();
    assert_eq!(site_insp.checklist, "large_unit");
    assert!(site_insp.items.iter().any(|i| i.starts_with("site.")));
    assert!(
        !unit_insp
            .items
            .iter()
            .any(|i| i.starts_with("site.") || i.starts_with("ug."))
    );
    // Category 3 includes the category-2 items.
    assert!(unit_insp.items.iter().any(|i| i.starts_with("shop.")));
    assert!(unit_insp.items.iter().any(|i| i.starts_with("unit.")));

    let high_rise = f
        .district
        .premises
        .iter()
        .find(|p| p.subtypes.contains(&Subtype::HighRiseResidential))
        .unwrap();
    let low = f
        .district
        .premises
        .iter()
        .find(|p| {
            p.kind == PremisesKind::ResidentialCompound
                && !p.subtypes.contains(&Subtype::HighRiseResidential)
        })
        .unwrap();
    let a = store.start_inspection(&high_rise.id, None).unwrap();
    let b = store.start_inspection(&low.id, None).unwrap();
    assert!(
        a.items.len() > b.items.len(),
        "high-rise items apply only to high-rise compounds"
    );
}

#[test]
fn direct_reports_and_history_filters() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(dir.path());
    let (user, shop) = patroller_and_shop();
    store.set_current_user(&user.id).unwrap();
    let h = store
        .report_hazard(NewHazard {
            premises: shop.id.clone(),
            description: "店门口电动车充电".into(),
            severity: Severity::Serious,
            photos: vec![photo(9)],
            location: None,
        })
        .unwrap();
    assert_eq!(
        store.hazard_case(&h.id).unwrap().state.status,
        HazardStatus::Discovered
    );
    assert_eq!(store.list_hazards(&shop.id).unwrap()[0].id, h.id);
    assert!(matches!(
        store.report_hazard(NewHazard {
            premises: shop.id.clone(),
            description: "  ".into(),
            severity: Severity::General,
            photos: vec![],
            location: None
        }),
        Err(Error::Invalid { .. })
    ));

    let a = store.start_inspection(&shop.id, None).unwrap();
    let _b = store.start_inspection(&shop.id, None).unwrap();
    let mine = store
        .inspection_history(&HistoryFilter {
            inspector: Some(user.id.clone()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(mine.len(), 2);
    let in_progress = store
        .inspection_history(&HistoryFilter {
            status: Some(InspectionStatus::InProgress),
            premises: Some(shop.id.clone()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(in_progress.len(), 2);
    let since = store
        .inspection_history(&HistoryFilter {
            since_ms: Some(a.started_at_ms + 1_000_000),
            ..Default::default()
        })
        .unwrap();
    assert!(since.is_empty());
}

#[test]
fn a_full_disk_fails_the_write_cleanly_and_keeps_everything_saved() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_store(dir.path());
    let (user, shop) = patroller_and_shop();
    store.set_current_user(&user.id).unwrap();
    let saved = store.start_inspection(&shop.id, None).unwrap();
    store
        .answer(
            &saved.id,
            &saved.items[0],
            AnswerResult::Fail,
            Some("已保存".into()),
        )
        .unwrap();

    let size = store.size_bytes().unwrap();
    store.set_max_size_bytes(Some(size)).unwrap();
    // Keep writing until the store is full.
    let mut full = false;
    for _ in 0..10_000 {
        match store.start_inspection(&shop.id, None) {
            Ok(_) => {}
            Err(Error::StorageFull) => {
                full = true;
                break;
            }
            Err(other) => panic!("expected StorageFull, got {other:?}"),
        }
    }
    assert!(full, "the cap must be reached");
    assert!(matches!(
        store.answer(
            &saved.id,
            &saved.items[1],
            AnswerResult::Pass,
            Some("长".repeat(1500))
        ),
        Err(Error::StorageFull) | Ok(())
    ));
    store.verify().unwrap();
    let again = store.inspection(&saved.id).unwrap();
    assert_eq!(
        again.answers[&saved.items[0]].note.as_deref(),
        Some("已保存")
    );

    // With room again, work goes on.
    store.set_max_size_bytes(None).unwrap();
    store
        .answer(&saved.id, &saved.items[2], AnswerResult::Pass, None)
        .unwrap();
    store.verify().unwrap();
}

#[test]
fn writes_from_many_threads_are_all_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(seeded_store(dir.path()));
    let office = user_with_role(Role::StreetOffice);
    store.set_current_user(&office.id).unwrap();
    let shop = &patroller_and_shop().1;
    let shared = store.start_inspection(&shop.id, None).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = store.clone();
            let shared = shared.clone();
            let shop = shop.id.clone();
            std::thread::spawn(move || {
                // Each thread answers its own share of the shared inspection and starts its own.
                for (n, item) in shared.items.iter().enumerate().filter(|(n, _)| n % 4 == t) {
                    let r = if n % 3 == 0 {
                        AnswerResult::NotApplicable
                    } else {
                        AnswerResult::Pass
                    };
                    store.answer(&shared.id, item, r, None).unwrap();
                }
                (0..5)
                    .map(|_| store.start_inspection(&shop, None).unwrap().id)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut own = Vec::new();
    for t in threads {
        own.extend(t.join().unwrap());
    }
    let shared = store.inspection(&shared.id).unwrap();
    assert_eq!(
        shared.answers.len(),
        shared.items.len(),
        "no concurrent answer was lost"
    );
    assert_eq!(own.len(), 20);
    for id in &own {
        store.inspection(id).unwrap();
    }
    assert_eq!(store.list_inspections(&shop.id).unwrap().len(), 21);
    store.verify().unwrap();
}
