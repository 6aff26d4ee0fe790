//! The runtime's own rules, checked on the `local_testnet` genesis: what [`CallFilter`] refuses
//! and bounds, and what governance may do without root.
//!
//! [`CallFilter`]: crate::permissions::CallFilter

use frame_support::{assert_noop, assert_ok, traits::Get};
use sp_core::OpaquePeerId;
use sp_keyring::Sr25519Keyring;
use sp_runtime::{traits::Dispatchable, DispatchError};

use crate::{
	configs::CouncilCollective, permissions::MAX_ADDITIONAL_CONNECTIONS, AccountId, Orchestrators,
	Runtime, RuntimeCall, RuntimeGenesisConfig, RuntimeOrigin,
};

/// `patch` laid over `base`, as a chain spec lays a preset over the default genesis.
fn merge(base: &mut serde_json::Value, patch: serde_json::Value) {
	match (base, patch) {
		(serde_json::Value::Object(base), serde_json::Value::Object(patch)) => {
			for (key, value) in patch {
				merge(base.entry(key).or_insert(serde_json::Value::Null), value);
			}
		},
		(base, patch) => *base = patch,
	}
}

fn new_chain() -> sp_io::TestExternalities {
	let preset = crate::genesis_config_presets::get_preset(&"local_testnet".into()).unwrap();
	let mut genesis = serde_json::to_value(RuntimeGenesisConfig::default()).unwrap();
	merge(&mut genesis, serde_json::from_slice(&preset).unwrap());
	let genesis = serde_json::to_vec(&genesis).unwrap();
	let mut chain = sp_io::TestExternalities::new_empty();
	chain.execute_with(|| {
		frame_support::genesis_builder_helper::build_state::<RuntimeGenesisConfig>(genesis)
			.unwrap();
		frame_system::Pallet::<Runtime>::set_block_number(1);
	});
	chain
}

fn signed(who: Sr25519Keyring) -> RuntimeOrigin {
	RuntimeOrigin::signed(who.to_account_id())
}

/// The origin of a motion of the collective that `ayes` of its four members approved.
fn motion(ayes: u32) -> RuntimeOrigin {
	pallet_collective::RawOrigin::<AccountId, CouncilCollective>::Members(ayes, 4).into()
}

fn filtered() -> DispatchError {
	frame_system::Error::<Runtime>::CallFiltered.into()
}

/// The peer id Alice's node has in the `local_testnet` genesis, which Alice owns.
fn alices_node() -> OpaquePeerId {
	pallet_node_authorization::Owners::<Runtime>::iter()
		.find(|(_, owner)| *owner == Sr25519Keyring::Alice.to_account_id())
		.map(|(node, _)| node)
		.unwrap()
}

fn peer(i: u32, len: usize) -> OpaquePeerId {
	let mut bytes = i.to_le_bytes().to_vec();
	bytes.resize(len, 0xab);
	OpaquePeerId(bytes)
}

#[test]
fn a_member_cannot_move_its_membership_to_another_account() {
	new_chain().execute_with(|| {
		let fresh = Sr25519Keyring::Eve.to_account_id();
		let call = RuntimeCall::Orchestrators(pallet_membership::Call::change_key {
			new: fresh.clone().into(),
		});
		assert_eq!(
			call.dispatch(signed(Sr25519Keyring::Bob)).map_err(|e| e.error),
			Err(filtered())
		);
		let members = Orchestrators::members();
		assert!(members.contains(&Sr25519Keyring::Bob.to_account_id()));
		assert!(!members.contains(&fresh));

		// Governance still rotates a member's key.
		let swap = RuntimeCall::Orchestrators(pallet_membership::Call::swap_member {
			remove: Sr25519Keyring::Bob.to_account_id().into(),
			add: fresh.clone().into(),
		});
		assert_ok!(swap.dispatch(motion(3)));
		assert!(Orchestrators::members().contains(&fresh));
	});
}

#[test]
fn node_claims_are_governance_s_and_connections_are_bounded() {
	new_chain().execute_with(|| {
		use pallet_node_authorization::Call;
		let alice = || signed(Sr25519Keyring::Alice);
		let claim = RuntimeCall::NodeAuthorization(Call::claim_node { node: peer(1, 38) });
		assert_eq!(claim.dispatch(alice()).map_err(|e| e.error), Err(filtered()));
		assert!(!pallet_node_authorization::Owners::<Runtime>::contains_key(peer(1, 38)));

		let node = alices_node();
		let add = |connections: Vec<OpaquePeerId>| {
			RuntimeCall::NodeAuthorization(Call::add_connections {
				node: node.clone(),
				connections,
			})
		};
		let stored = || pallet_node_authorization::AdditionalConnections::<Runtime>::get(&node);
		let max_len: u32 = <Runtime as pallet_node_authorization::Config>::MaxPeerIdLength::get();

		// A peer id longer than the pallet allows for a node is refused, and nothing is stored.
		let long = peer(1, max_len as usize);
		assert_eq!(add(vec![long]).dispatch(alice()).map_err(|e| e.error), Err(filtered()));
		assert!(stored().is_empty());

		// Up to the bound, in several calls; one more is refused.
		let first: Vec<_> = (0..10).map(|i| peer(i, 38)).collect();
		assert_ok!(add(first).dispatch(alice()));
		let rest: Vec<_> = (10..MAX_ADDITIONAL_CONNECTIONS as u32).map(|i| peer(i, 38)).collect();
		assert_ok!(add(rest).dispatch(alice()));
		assert_eq!(stored().len(), MAX_ADDITIONAL_CONNECTIONS);
		let one_more = add(vec![peer(99, 38)]).dispatch(alice());
		assert_eq!(one_more.map_err(|e| e.error), Err(filtered()));
		assert_eq!(stored().len(), MAX_ADDITIONAL_CONNECTIONS);
		// Adding one already there changes nothing and is allowed.
		assert_ok!(add(vec![peer(3, 38)]).dispatch(alice()));

		// Too many at once is refused even when the set is empty.
		let remove = RuntimeCall::NodeAuthorization(Call::remove_connections {
			node: node.clone(),
			connections: (0..MAX_ADDITIONAL_CONNECTIONS as u32).map(|i| peer(i, 38)).collect(),
		});
		assert_ok!(remove.dispatch(alice()));
		let many: Vec<_> = (0..=MAX_ADDITIONAL_CONNECTIONS as u32).map(|i| peer(i, 38)).collect();
		assert_eq!(add(many).dispatch(alice()).map_err(|e| e.error), Err(filtered()));
		assert!(stored().is_empty());
	});
}

#[test]
fn node_authorization_is_charged_for_what_it_reads() {
	use pallet_node_authorization::WeightInfo;
	type W = crate::permissions::NodeAuthorizationWeights;
	let flat = frame_support::weights::Weight::from_parts(50_000_000, 0);
	for weight in [W::add_connections(), W::add_well_known_node(), W::reset_well_known_nodes()] {
		assert!(weight.all_gt(flat), "{weight:?}");
	}
	// The largest set read: every well-known node, each at most MaxPeerIdLength bytes.
	let max_nodes: u32 = <Runtime as pallet_node_authorization::Config>::MaxWellKnownNodes::get();
	let max_len: u32 = <Runtime as pallet_node_authorization::Config>::MaxPeerIdLength::get();
	assert!(W::add_well_known_node().proof_size() >= u64::from(max_nodes * max_len));
	assert!(
		W::add_connections().proof_size()
			>= (MAX_ADDITIONAL_CONNECTIONS as u64) * u64::from(max_len)
	);
}

/// A motion of the collective (threshold 3) to make the remark `remark`.
fn propose(remark: &[u8]) -> RuntimeCall {
	let proposal = RuntimeCall::System(frame_system::Call::remark { remark: remark.to_vec() });
	let length_bound = codec::Encode::encoded_size(&proposal) as u32;
	RuntimeCall::Council(pallet_collective::Call::propose {
		threshold: 3,
		proposal: Box::new(proposal),
		length_bound,
	})
}

fn open_motions() -> Vec<sp_core::H256> {
	pallet_collective::Proposals::<Runtime, CouncilCollective>::get().into_inner()
}

#[test]
fn the_collective_refuses_and_removes_motions_without_root() {
	new_chain().execute_with(|| {
		assert_ok!(propose(b"spam").dispatch(signed(Sr25519Keyring::Bob)));
		assert_ok!(propose(b"more spam").dispatch(signed(Sr25519Keyring::Bob)));
		let hashes = open_motions();
		assert_eq!(hashes.len(), 2);
		let disapprove = |hash| {
			RuntimeCall::Council(pallet_collective::Call::disapprove_proposal {
				proposal_hash: hash,
			})
		};
		let kill =
			|hash| RuntimeCall::Council(pallet_collective::Call::kill { proposal_hash: hash });

		// Not one member, nor a minority.
		for origin in [signed(Sr25519Keyring::Alice), motion(2)] {
			assert_noop!(
				disapprove(hashes[0]).dispatch(origin.clone()).map_err(|e| e.error),
				DispatchError::BadOrigin
			);
			assert_noop!(
				kill(hashes[0]).dispatch(origin).map_err(|e| e.error),
				DispatchError::BadOrigin
			);
		}
		// A majority of the collective.
		assert_ok!(disapprove(hashes[0]).dispatch(motion(3)));
		assert_ok!(kill(hashes[1]).dispatch(motion(3)));
		assert!(pallet_collective::Proposals::<Runtime, CouncilCollective>::get().is_empty());
	});
}

#[test]
fn one_member_holds_at_most_its_share_of_the_open_motions() {
	use crate::configs::MAX_OPEN_MOTIONS_PER_MEMBER as MAX;
	new_chain().execute_with(|| {
		let bob = signed(Sr25519Keyring::Bob);
		for i in 0..MAX {
			assert_ok!(propose(&[b'b', i as u8]).dispatch(bob.clone()));
		}
		let too_many: DispatchError =
			pallet_supermajority::Error::<Runtime>::TooManyOpenMotions.into();
		assert_noop!(propose(b"one more").dispatch(bob.clone()).map_err(|e| e.error), too_many);
		// The others still propose: here the removal of the spammer.
		assert_ok!(propose(b"alice").dispatch(signed(Sr25519Keyring::Alice)));
		let bobs: Vec<_> = open_motions().into_iter().take(MAX as usize).collect();

		// A killed motion gives its place back at once.
		let kill = RuntimeCall::Council(pallet_collective::Call::kill { proposal_hash: bobs[0] });
		assert_ok!(kill.dispatch(motion(3)));
		assert_ok!(propose(b"again").dispatch(bob.clone()));
		assert_noop!(propose(b"one more").dispatch(bob.clone()).map_err(|e| e.error), too_many);

		// A closed motion, once released by anyone.
		let end: u32 = 1
			+ <<Runtime as pallet_collective::Config<CouncilCollective>>::MotionDuration as Get<
				u32,
			>>::get();
		frame_system::Pallet::<Runtime>::set_block_number(end + 1);
		let close = RuntimeCall::Council(pallet_collective::Call::close {
			proposal_hash: bobs[1],
			index: 1,
			proposal_weight_bound: frame_support::weights::Weight::zero(),
			length_bound: 100,
		});
		assert_ok!(close.dispatch(signed(Sr25519Keyring::Charlie)));
		assert!(!open_motions().contains(&bobs[1]));
		assert_noop!(propose(b"one more").dispatch(bob.clone()).map_err(|e| e.error), too_many);
		let release = RuntimeCall::Council(pallet_collective::Call::release_proposal_cost {
			proposal_hash: bobs[1],
		});
		assert_ok!(release.dispatch(signed(Sr25519Keyring::Charlie)));
		assert_ok!(propose(b"one more").dispatch(bob));
		assert_eq!(
			pallet_supermajority::OpenMotions::<Runtime>::get(Sr25519Keyring::Bob.to_account_id()),
			MAX
		);
		assert_eq!(
			pallet_supermajority::OpenMotions::<Runtime>::get(
				Sr25519Keyring::Alice.to_account_id()
			),
			1
		);
	});
}

#[test]
fn members_who_do_not_vote_count_against_the_motion_even_with_a_prime() {
	new_chain().execute_with(|| {
		// Governance made Alice the prime; she and Bob vote aye on a two-thirds motion (3 of 4),
		// Charlie and Dave stay silent.
		assert_ok!(RuntimeCall::Orchestrators(pallet_membership::Call::set_prime {
			who: sp_runtime::MultiAddress::Id(Sr25519Keyring::Alice.to_account_id()),
		})
		.dispatch(motion(3)));
		assert_eq!(
			pallet_collective::Prime::<Runtime, CouncilCollective>::get(),
			Some(Sr25519Keyring::Alice.to_account_id())
		);
		let hash = sp_core::H256::repeat_byte(9);
		let proposal = RuntimeCall::Supermajority(pallet_supermajority::Call::dispatch_as_root {
			call: Box::new(RuntimeCall::System(frame_system::Call::authorize_upgrade {
				code_hash: hash,
			})),
		});
		let length_bound = codec::Encode::encoded_size(&proposal) as u32;
		assert_ok!(RuntimeCall::Council(pallet_collective::Call::propose {
			threshold: 3,
			proposal: Box::new(proposal.clone()),
			length_bound,
		})
		.dispatch(signed(Sr25519Keyring::Alice)));
		let proposal_hash = open_motions()[0];
		for who in [Sr25519Keyring::Alice, Sr25519Keyring::Bob] {
			assert_ok!(RuntimeCall::Council(pallet_collective::Call::vote {
				proposal: proposal_hash,
				index: 0,
				approve: true
			})
			.dispatch(signed(who)));
		}
		let end: u32 = 1
			+ <<Runtime as pallet_collective::Config<CouncilCollective>>::MotionDuration as Get<
				u32,
			>>::get();
		frame_system::Pallet::<Runtime>::set_block_number(end + 1);
		assert_ok!(RuntimeCall::Council(pallet_collective::Call::close {
			proposal_hash,
			index: 0,
			proposal_weight_bound: frame_support::dispatch::GetDispatchInfo::get_dispatch_info(
				&proposal
			)
			.call_weight,
			length_bound,
		})
		.dispatch(signed(Sr25519Keyring::Charlie)));
		assert!(open_motions().is_empty());
		assert!(
			frame_system::Pallet::<Runtime>::authorized_upgrade().is_none(),
			"two ayes of four reached root"
		);
	});
}

#[test]
fn only_two_thirds_of_the_collective_reach_root() {
	new_chain().execute_with(|| {
		let hash = sp_core::H256::repeat_byte(7);
		let authorize =
			RuntimeCall::System(frame_system::Call::authorize_upgrade { code_hash: hash });
		let as_root = RuntimeCall::Supermajority(pallet_supermajority::Call::dispatch_as_root {
			call: Box::new(authorize.clone()),
		});
		let members = |ayes, total| -> RuntimeOrigin {
			pallet_collective::RawOrigin::<AccountId, CouncilCollective>::Members(ayes, total)
				.into()
		};
		// Root-only calls are out of governance's reach as such, even for a unanimous motion.
		assert_noop!(
			authorize.clone().dispatch(members(4, 4)).map_err(|e| e.error),
			DispatchError::BadOrigin
		);
		// One member, half of four, and a simple majority below two thirds (3 of 5) are refused.
		for origin in [signed(Sr25519Keyring::Alice), members(2, 4), members(3, 5)] {
			assert_noop!(
				as_root.clone().dispatch(origin).map_err(|e| e.error),
				DispatchError::BadOrigin
			);
		}
		assert!(frame_system::Pallet::<Runtime>::authorized_upgrade().is_none());
		// Two thirds (3 of 4) dispatch it as root.
		assert_ok!(as_root.dispatch(members(3, 4)));
		assert_eq!(
			frame_system::Pallet::<Runtime>::authorized_upgrade().map(|a| *a.code_hash()),
			Some(hash)
		);
		assert!(frame_system::Pallet::<Runtime>::events().iter().any(|record| matches!(
			record.event,
			crate::RuntimeEvent::Supermajority(pallet_supermajority::Event::DispatchedAsRoot {
				result: Ok(())
			})
		)));
	});
}

#[test]
fn a_runtime_upgrade_fits_in_a_block() {
	use frame_support::dispatch::GetDispatchInfo;
	let code = crate::WASM_BINARY.expect("built with the wasm").to_vec();
	let info = RuntimeCall::System(frame_system::Call::apply_authorized_upgrade { code })
		.get_dispatch_info();
	let weights = <Runtime as frame_system::Config>::BlockWeights::get();
	let class = weights.get(info.class);
	assert!(
		info.call_weight.all_lte(class.max_extrinsic.expect("a limit")),
		"{:?} above the {:?} limit {:?}",
		info.call_weight,
		info.class,
		class.max_extrinsic
	);
	// Normal extrinsics (the registry's batches) keep their limits.
	let normal = weights.get(frame_support::dispatch::DispatchClass::Normal);
	let slot = crate::configs::MAXIMUM_BLOCK_WEIGHT.ref_time();
	assert_eq!(normal.max_total.map(|w| w.ref_time()), Some(slot / 4 * 3));
	assert!(normal.max_extrinsic.expect("a limit").ref_time() < slot / 4 * 3 - slot / 10 + 1);
}
