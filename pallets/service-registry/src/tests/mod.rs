//! Unit tests, one behaviour each, split by concept, and a property test of the key space.

mod elections;
mod hooks;
mod instances;
mod keyspace;
mod leases;
mod model;
mod quotas;
mod txn;

use crate::{mock::*, *};
use frame_support::{assert_ok, BoundedVec};

pub(crate) const ALICE: u64 = 1;
pub(crate) const BOB: u64 = 2;
pub(crate) const CAROL: u64 = 3;

pub(crate) fn origin(who: u64) -> RuntimeOrigin {
	RuntimeOrigin::signed(who)
}

/// Grants a lease of `ttl` seconds to `who` and returns its id.
pub(crate) fn grant(who: u64, ttl: u32) -> LeaseId {
	let id = NextLeaseId::<Test>::get();
	assert_ok!(ServiceRegistry::grant_lease(origin(who), ttl));
	id
}

/// Puts `key = value` as `who`.
pub(crate) fn put(who: u64, key: &[u8], value: &[u8], lease: Option<LeaseId>) {
	assert_ok!(ServiceRegistry::put(origin(who), key.to_vec(), value.to_vec(), lease));
}

/// Deletes `[key, range_end)` as `who`.
pub(crate) fn delete(who: u64, key: &[u8], range_end: &[u8]) {
	assert_ok!(ServiceRegistry::delete_range(origin(who), key.to_vec(), range_end.to_vec()));
}

/// The live record of a key, through the runtime API's query.
pub(crate) fn get(key: &[u8]) -> Option<KeyValueInfo> {
	ServiceRegistry::range(RangeRequest { key: key.to_vec(), ..Default::default() })
		.kvs
		.into_iter()
		.next()
}

/// The live keys of `[key, range_end)`, through the runtime API's query.
pub(crate) fn keys(key: &[u8], range_end: &[u8]) -> Vec<Vec<u8>> {
	ServiceRegistry::range(RangeRequest {
		key: key.to_vec(),
		range_end: range_end.to_vec(),
		keys_only: true,
		..Default::default()
	})
	.kvs
	.into_iter()
	.map(|kv| kv.key)
	.collect()
}

/// Every live key.
pub(crate) fn all_keys() -> Vec<Vec<u8>> {
	keys(&[0], &[0])
}

/// The current revision.
pub(crate) fn revision() -> Revision {
	ServiceRegistry::revision()
}

/// Asserts the storage invariants.
pub(crate) fn check_invariants() {
	assert_ok!(ServiceRegistry::do_try_state());
}

/// Registers an instance with small fields.
pub(crate) fn register(who: u64, service: &[u8], instance_id: &[u8], lease: LeaseId) {
	assert_ok!(ServiceRegistry::register_instance(
		origin(who),
		service.to_vec(),
		instance_id.to_vec(),
		b"10.0.0.1:80".to_vec(),
		vec![b"blue".to_vec()],
		vec![(b"zone".to_vec(), b"a".to_vec())],
		lease,
	));
}

/// Whether `event` was deposited in this block.
pub(crate) fn has_event(event: Event<Test>) -> bool {
	events().contains(&event)
}

/// Bounded bytes for building expected events.
pub(crate) fn bounded<S: frame_support::traits::Get<u32>>(bytes: &[u8]) -> BoundedVec<u8, S> {
	BoundedVec::truncate_from(bytes.to_vec())
}

#[test]
fn integrity_test_passes_for_the_mock() {
	new_test_ext().execute_with(|| {
		use frame_support::traits::Hooks;
		ServiceRegistry::integrity_test();
	});
}
