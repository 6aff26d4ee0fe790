//! Service instances.

use super::*;
use frame_support::{assert_noop, assert_ok, traits::ConstU32};

fn register_call(
	who: u64,
	service: Vec<u8>,
	instance_id: Vec<u8>,
	endpoint: Vec<u8>,
	tags: Vec<Vec<u8>>,
	metadata: Vec<(Vec<u8>, Vec<u8>)>,
	lease: LeaseId,
) -> frame_support::dispatch::DispatchResult {
	ServiceRegistry::register_instance(
		origin(who),
		service,
		instance_id,
		endpoint,
		tags,
		metadata,
		lease,
	)
}

#[test]
fn register_instance_stores_it_with_unknown_health() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 10);
		register(ALICE, b"web", b"w1", lease);
		let found = ServiceRegistry::instances(b"web".to_vec(), None);
		assert_eq!(found.len(), 1);
		assert_eq!(found[0].owner, ALICE);
		assert_eq!(found[0].endpoint, b"10.0.0.1:80".to_vec());
		assert_eq!(found[0].health, Health::Unknown);
		assert_eq!(found[0].lease, lease);
		assert!(has_event(Event::InstanceRegistered {
			service: bounded(b"web"),
			instance_id: bounded(b"w1"),
			owner: ALICE,
			lease
		}));
		assert_eq!(Services::<Test>::get(bounded::<ConstU32<32>>(b"web")), 1);
		check_invariants();
	});
}

#[test]
fn register_instance_with_an_unknown_lease_fails() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			register_call(ALICE, b"web".to_vec(), b"w1".to_vec(), vec![], vec![], vec![], 9),
			Error::<Test>::LeaseNotFound
		);
	});
}

#[test]
fn register_instance_with_an_expired_lease_fails() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 1);
		Now::set(START_MS + 1_000);
		assert_noop!(
			register_call(ALICE, b"web".to_vec(), b"w1".to_vec(), vec![], vec![], vec![], lease),
			Error::<Test>::LeaseExpired
		);
	});
}

#[test]
fn registering_a_live_instance_twice_fails() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 10);
		register(ALICE, b"web", b"w1", lease);
		assert_noop!(
			register_call(BOB, b"web".to_vec(), b"w1".to_vec(), vec![], vec![], vec![], lease),
			Error::<Test>::InstanceAlreadyRegistered
		);
	});
}

#[test]
fn registering_over_an_expired_instance_replaces_it() {
	new_test_ext().execute_with(|| {
		let old = grant(ALICE, 1);
		register(ALICE, b"web", b"w1", old);
		Now::set(START_MS + 1_000);
		let new = grant(BOB, 10);
		register(BOB, b"web", b"w1", new);
		let found = ServiceRegistry::instances(b"web".to_vec(), None);
		assert_eq!(found.len(), 1);
		assert_eq!(found[0].owner, BOB);
		assert!(has_event(Event::InstanceRemoved {
			service: bounded(b"web"),
			instance_id: bounded(b"w1"),
			lease: old
		}));
		check_invariants();
		next_block(0);
		assert_eq!(ServiceRegistry::instances(b"web".to_vec(), None).len(), 1);
		check_invariants();
	});
}

#[test]
fn register_instance_refuses_bad_names() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 10);
		assert_noop!(
			register_call(ALICE, vec![], b"w1".to_vec(), vec![], vec![], vec![], lease),
			Error::<Test>::EmptyName
		);
		assert_noop!(
			register_call(ALICE, vec![b's'; 33], b"w1".to_vec(), vec![], vec![], vec![], lease),
			Error::<Test>::NameTooLong
		);
		assert_noop!(
			register_call(ALICE, b"web".to_vec(), vec![b'i'; 33], vec![], vec![], vec![], lease),
			Error::<Test>::NameTooLong
		);
	});
}

#[test]
fn register_instance_refuses_oversized_fields() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 10);
		let call = |endpoint: Vec<u8>, tags: Vec<Vec<u8>>, metadata: Vec<(Vec<u8>, Vec<u8>)>| {
			register_call(ALICE, b"web".to_vec(), b"w1".to_vec(), endpoint, tags, metadata, lease)
		};
		assert_noop!(call(vec![0; 65], vec![], vec![]), Error::<Test>::EndpointTooLong);
		assert_noop!(call(vec![], vec![vec![]; 5], vec![]), Error::<Test>::TooManyTags);
		assert_noop!(call(vec![], vec![vec![0; 17]], vec![]), Error::<Test>::TagTooLong);
		assert_noop!(
			call(vec![], vec![], vec![(vec![], vec![]); 5]),
			Error::<Test>::TooManyMetadataEntries
		);
		assert_noop!(
			call(vec![], vec![], vec![(vec![0; 17], vec![])]),
			Error::<Test>::MetadataKeyTooLong
		);
		assert_noop!(
			call(vec![], vec![], vec![(vec![], vec![0; 33])]),
			Error::<Test>::MetadataValueTooLong
		);
	});
}

#[test]
fn register_instance_refuses_more_than_the_lease_bound() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 10);
		for i in 0..4u8 {
			register(ALICE, b"web", &[i], lease);
		}
		assert_noop!(
			register_call(ALICE, b"web".to_vec(), vec![9], vec![], vec![], vec![], lease),
			Error::<Test>::TooManyLeaseInstances
		);
	});
}

#[test]
fn update_instance_replaces_only_the_given_fields() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 10);
		register(ALICE, b"web", b"w1", lease);
		assert_ok!(ServiceRegistry::update_instance(
			origin(ALICE),
			b"web".to_vec(),
			b"w1".to_vec(),
			Some(b"10.0.0.2:81".to_vec()),
			None,
			Some(vec![]),
		));
		let found = &ServiceRegistry::instances(b"web".to_vec(), None)[0];
		assert_eq!(found.endpoint, b"10.0.0.2:81".to_vec());
		assert_eq!(found.tags, vec![b"blue".to_vec()]);
		assert!(found.metadata.is_empty());
		assert!(has_event(Event::InstanceUpdated {
			service: bounded(b"web"),
			instance_id: bounded(b"w1"),
			who: ALICE
		}));
	});
}

#[test]
fn update_instance_by_another_account_fails() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 10);
		register(ALICE, b"web", b"w1", lease);
		assert_noop!(
			ServiceRegistry::update_instance(
				origin(BOB),
				b"web".to_vec(),
				b"w1".to_vec(),
				None,
				None,
				None
			),
			Error::<Test>::NotOwner
		);
	});
}

#[test]
fn update_of_an_unknown_instance_fails() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			ServiceRegistry::update_instance(
				origin(ALICE),
				b"web".to_vec(),
				b"w1".to_vec(),
				None,
				None,
				None
			),
			Error::<Test>::InstanceNotFound
		);
	});
}

#[test]
fn update_instance_refuses_oversized_fields() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 10);
		register(ALICE, b"web", b"w1", lease);
		assert_noop!(
			ServiceRegistry::update_instance(
				origin(ALICE),
				b"web".to_vec(),
				b"w1".to_vec(),
				Some(vec![0; 65]),
				None,
				None
			),
			Error::<Test>::EndpointTooLong
		);
	});
}

#[test]
fn deregister_removes_the_instance_and_the_empty_service() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 10);
		register(ALICE, b"web", b"w1", lease);
		assert_ok!(ServiceRegistry::deregister_instance(
			origin(ALICE),
			b"web".to_vec(),
			b"w1".to_vec()
		));
		assert!(ServiceRegistry::instances(b"web".to_vec(), None).is_empty());
		assert!(ServiceRegistry::services().is_empty());
		assert!(!Services::<Test>::contains_key(bounded::<ConstU32<32>>(b"web")));
		assert_eq!(Leases::<Test>::get(lease).unwrap().instances, 0);
		check_invariants();
	});
}

#[test]
fn deregister_by_another_account_fails() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 10);
		register(ALICE, b"web", b"w1", lease);
		assert_noop!(
			ServiceRegistry::deregister_instance(origin(BOB), b"web".to_vec(), b"w1".to_vec()),
			Error::<Test>::NotOwner
		);
	});
}

#[test]
fn deregister_of_an_unknown_instance_fails() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			ServiceRegistry::deregister_instance(origin(ALICE), b"web".to_vec(), b"w1".to_vec()),
			Error::<Test>::InstanceNotFound
		);
	});
}

#[test]
fn report_health_records_the_status() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 10);
		register(ALICE, b"web", b"w1", lease);
		next_block(500);
		assert_ok!(ServiceRegistry::report_health(
			origin(ALICE),
			b"web".to_vec(),
			b"w1".to_vec(),
			Health::Passing
		));
		let found = &ServiceRegistry::instances(b"web".to_vec(), None)[0];
		assert_eq!(found.health, Health::Passing);
		assert_eq!(found.updated_at_ms, START_MS + 500);
	});
}

#[test]
fn report_health_by_another_account_fails() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 10);
		register(ALICE, b"web", b"w1", lease);
		assert_noop!(
			ServiceRegistry::report_health(
				origin(BOB),
				b"web".to_vec(),
				b"w1".to_vec(),
				Health::Critical
			),
			Error::<Test>::NotOwner
		);
	});
}

#[test]
fn report_health_of_an_unknown_instance_fails() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			ServiceRegistry::report_health(
				origin(ALICE),
				b"web".to_vec(),
				b"w1".to_vec(),
				Health::Passing
			),
			Error::<Test>::InstanceNotFound
		);
	});
}

#[test]
fn instances_query_filters_by_tag() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 10);
		register(ALICE, b"web", b"w1", lease);
		assert_ok!(register_call(
			ALICE,
			b"web".to_vec(),
			b"w2".to_vec(),
			vec![],
			vec![b"green".to_vec()],
			vec![],
			lease
		));
		let ids = |tag: Option<&[u8]>| -> Vec<Vec<u8>> {
			ServiceRegistry::instances(b"web".to_vec(), tag.map(|t| t.to_vec()))
				.into_iter()
				.map(|i| i.instance_id)
				.collect()
		};
		assert_eq!(ids(None), vec![b"w1".to_vec(), b"w2".to_vec()]);
		assert_eq!(ids(Some(b"green")), vec![b"w2".to_vec()]);
		assert!(ids(Some(b"red")).is_empty());
	});
}

#[test]
fn services_lists_the_services_with_live_instances() {
	new_test_ext().execute_with(|| {
		let short = grant(ALICE, 1);
		let long = grant(ALICE, 10);
		register(ALICE, b"db", b"d1", long);
		register(ALICE, b"web", b"w1", long);
		register(ALICE, b"web", b"w2", long);
		register(ALICE, b"cache", b"c1", short);
		Now::set(START_MS + 1_000);
		let services = ServiceRegistry::services();
		assert_eq!(
			services,
			vec![
				ServiceInfo { name: b"db".to_vec(), instances: 1 },
				ServiceInfo { name: b"web".to_vec(), instances: 2 },
			]
		);
	});
}

#[test]
fn instance_disappears_when_its_lease_ends() {
	new_test_ext().execute_with(|| {
		let lease = grant(ALICE, 2);
		register(ALICE, b"web", b"w1", lease);
		next_block(2_000);
		assert!(Instances::<Test>::iter().next().is_none());
		assert!(has_event(Event::InstanceRemoved {
			service: bounded(b"web"),
			instance_id: bounded(b"w1"),
			lease
		}));
		check_invariants();
	});
}
