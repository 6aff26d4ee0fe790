//! Who may write: the orchestrators' membership, and the transaction extension that refuses
//! everyone else at the door.
//!
//! Members are the accounts of the `Orchestrators` membership pallet, changed by governance.
//! When the set changes, [`OrchestratorsChanged`] keeps the governing collective (`Council`) equal
//! to it and gives each new member an account provider: a chain without fees still refuses
//! transactions from accounts that do not exist.

use codec::{Decode, DecodeWithMemTracking, Encode};
use core::marker::PhantomData;
use frame_support::{
	pallet_prelude::TransactionSource,
	traits::{ChangeMembers, Contains, InitializeMembers, OriginTrait},
	weights::Weight,
	CloneNoBound, DefaultNoBound, EqNoBound, PartialEqNoBound,
};
use scale_info::TypeInfo;
use sp_runtime::{
	impl_tx_ext_default,
	traits::{DispatchInfoOf, TransactionExtension},
	transaction_validity::InvalidTransaction,
};

use crate::{AccountId, Council, Orchestrators, Runtime, RuntimeCall};
use frame_support::traits::Get;

/// Keeps the collective equal to the membership, and gives new members a provider.
///
/// A member that leaves keeps its provider: reaping its account would reset its nonce and let
/// its old immortal transactions be replayed. It can no longer transact anyway, since
/// [`CheckMember`] refuses non-members.
pub struct OrchestratorsChanged;

impl ChangeMembers<AccountId> for OrchestratorsChanged {
	fn change_members_sorted(incoming: &[AccountId], outgoing: &[AccountId], new: &[AccountId]) {
		for who in incoming {
			frame_system::Pallet::<Runtime>::inc_providers(who);
		}
		<Council as ChangeMembers<AccountId>>::change_members_sorted(incoming, outgoing, new);
	}

	fn set_prime(prime: Option<AccountId>) {
		<Council as ChangeMembers<AccountId>>::set_prime(prime);
	}

	fn get_prime() -> Option<AccountId> {
		<Council as ChangeMembers<AccountId>>::get_prime()
	}
}

impl InitializeMembers<AccountId> for OrchestratorsChanged {
	fn initialize_members(members: &[AccountId]) {
		for who in members {
			frame_system::Pallet::<Runtime>::inc_providers(who);
		}
		<Council as InitializeMembers<AccountId>>::initialize_members(members);
	}
}

/// Makes a signed transaction from a non-member invalid when the pool validates it, so that it
/// never enters a block.
///
/// It refuses with [`InvalidTransaction::BadSigner`], which clients show as "Invalid signing
/// address". It adds nothing to the signed payload (no extra, no implicit data), so generic
/// clients such as polkadot.js sign without knowing it. Place it before `CheckNonce`, so that a
/// non-member hears "not a member" rather than a nonce or fee complaint.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	DefaultNoBound,
	CloneNoBound,
	EqNoBound,
	PartialEqNoBound,
	TypeInfo,
)]
#[scale_info(skip_type_params(M))]
pub struct CheckMember<M>(PhantomData<M>);

impl<M> core::fmt::Debug for CheckMember<M> {
	fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
		write!(f, "CheckMember")
	}
}

impl<M> CheckMember<M> {
	/// The extension, as a signer puts it in a transaction.
	pub fn new() -> Self {
		Self(PhantomData)
	}
}

impl<M: Contains<AccountId> + Send + Sync + 'static> TransactionExtension<RuntimeCall>
	for CheckMember<M>
{
	const IDENTIFIER: &'static str = "CheckMember";
	type Implicit = ();
	type Val = ();
	type Pre = ();

	fn weight(&self, _: &RuntimeCall) -> Weight {
		// One read of the (small, bounded) member list.
		<Runtime as frame_system::Config>::DbWeight::get().reads(1)
	}

	fn validate(
		&self,
		origin: <RuntimeCall as sp_runtime::traits::Dispatchable>::RuntimeOrigin,
		_call: &RuntimeCall,
		_info: &DispatchInfoOf<RuntimeCall>,
		_len: usize,
		_self_implicit: Self::Implicit,
		_inherited_implication: &impl Encode,
		_source: TransactionSource,
	) -> sp_runtime::traits::ValidateResult<Self::Val, RuntimeCall> {
		if let Some(who) = origin.as_signer() {
			if !M::contains(who) {
				return Err(InvalidTransaction::BadSigner.into());
			}
		}
		Ok((Default::default(), (), origin))
	}

	impl_tx_ext_default!(RuntimeCall; prepare);
}

/// Membership of the `Orchestrators` pallet, for [`CheckMember`] and the registry's write check.
pub type IsOrchestrator = Orchestrators;

/// The most additional connections one node may hold in `NodeAuthorization` (its owner adds them
/// with `addConnections`).
pub const MAX_ADDITIONAL_CONNECTIONS: usize = 16;

/// The calls no origin but root may make, and the bounds the pallets we build on do not check
/// themselves (`frame_system::Config::BaseCallFilter`). A refused call fails with
/// `CallFiltered` and changes nothing.
///
/// - `orchestrators.changeKey`: a member would move its membership to a fresh account without a
///   vote, while everything the registry counts against its quota (and any per-account quota
///   governance gave it) stays with the old one; so it could fill another quota, and a
///   `changeKey` just before a removal motion closes would make that removal fail. The
///   registry attributes every lease, instance and key to the account that made it, and moving
///   them all in one call would cost in proportion to what the member holds, so the call is
///   refused rather than carried over. Governance rotates a member's key with `swapMember`.
/// - `nodeAuthorization.claimNode`: any member could claim any number of peer ids, each a
///   storage entry no one else can remove. Governance assigns a node and its owner with
///   `addWellKnownNode`.
/// - `nodeAuthorization.addConnections`: each peer id at most `MaxPeerIdLength` bytes (as the
///   pallet checks for the node itself, but not for its connections), and at most
///   [`MAX_ADDITIONAL_CONNECTIONS`] per node, so that the set the call reads and rewrites, and
///   the weight charged for it ([`NodeAuthorizationWeights`]), stay bounded;
///   `removeConnections` at most as many at once.
pub struct CallFilter;

impl Contains<RuntimeCall> for CallFilter {
	fn contains(call: &RuntimeCall) -> bool {
		use pallet_node_authorization::Call as NodeAuthorizationCall;
		match call {
			RuntimeCall::Orchestrators(pallet_membership::Call::change_key { .. }) => false,
			RuntimeCall::NodeAuthorization(NodeAuthorizationCall::claim_node { .. }) => false,
			RuntimeCall::NodeAuthorization(NodeAuthorizationCall::add_connections {
				node,
				connections,
			}) => connections_within_bounds(node, connections),
			RuntimeCall::NodeAuthorization(NodeAuthorizationCall::remove_connections {
				connections,
				..
			}) => connections.len() <= MAX_ADDITIONAL_CONNECTIONS,
			_ => true,
		}
	}
}

/// Whether adding `connections` to `node` keeps every peer id within the pallet's length limit
/// and the node's set within [`MAX_ADDITIONAL_CONNECTIONS`].
fn connections_within_bounds(
	node: &sp_core::OpaquePeerId,
	connections: &[sp_core::OpaquePeerId],
) -> bool {
	let max_len =
		<<Runtime as pallet_node_authorization::Config>::MaxPeerIdLength as Get<u32>>::get()
			as usize;
	if connections.len() > MAX_ADDITIONAL_CONNECTIONS
		|| connections.iter().any(|c| c.0.len() >= max_len)
	{
		return false;
	}
	let mut set = pallet_node_authorization::AdditionalConnections::<Runtime>::get(node);
	set.extend(connections.iter().filter(|c| *c != node).cloned());
	set.len() <= MAX_ADDITIONAL_CONNECTIONS
}

/// `NodeAuthorization`'s weights: the pallet ships none (its `()` charges a flat 50 µs and no
/// proof size). Each call reads and writes at most a few entries, the largest being the set of
/// well-known nodes (`MaxWellKnownNodes` peer ids) or a node's additional connections
/// ([`MAX_ADDITIONAL_CONNECTIONS`], bounded by [`CallFilter`]), so each is charged for the
/// database accesses it makes and for the largest values it may read, whatever their size
/// today.
pub struct NodeAuthorizationWeights;

impl NodeAuthorizationWeights {
	/// Execution, apart from database accesses: the pallet's own flat estimate.
	const BASE: u64 = 50_000_000;
	/// The most bytes of one encoded peer id (length prefix included).
	const PEER_ID: u64 = 2 + 128;

	fn weight(reads: u64, writes: u64, peer_ids_read: u64) -> Weight {
		<Runtime as frame_system::Config>::DbWeight::get()
			.reads_writes(reads, writes)
			.saturating_add(Weight::from_parts(
				Self::BASE,
				peer_ids_read * Self::PEER_ID + 64 * reads,
			))
	}
	/// The well-known set: at most `MaxWellKnownNodes` peer ids.
	fn well_known() -> u64 {
		<<Runtime as pallet_node_authorization::Config>::MaxWellKnownNodes as Get<u32>>::get()
			as u64
	}
	const CONNECTIONS: u64 = MAX_ADDITIONAL_CONNECTIONS as u64;
}

impl pallet_node_authorization::WeightInfo for NodeAuthorizationWeights {
	fn add_well_known_node() -> Weight {
		Self::weight(1, 2, Self::well_known())
	}
	fn remove_well_known_node() -> Weight {
		Self::weight(1, 3, Self::well_known())
	}
	fn swap_well_known_node() -> Weight {
		Self::weight(2, 4, Self::well_known() + Self::CONNECTIONS)
	}
	fn reset_well_known_nodes() -> Weight {
		// It also rewrites one owner per node given: the call's length bounds them by
		// `MaxWellKnownNodes`.
		Self::weight(1, 1 + Self::well_known(), Self::well_known())
	}
	fn claim_node() -> Weight {
		Self::weight(1, 1, 1)
	}
	fn remove_claim() -> Weight {
		Self::weight(2, 2, Self::well_known() + 1)
	}
	fn transfer_node() -> Weight {
		Self::weight(1, 1, 1)
	}
	fn add_connections() -> Weight {
		Self::weight(2, 1, 1 + Self::CONNECTIONS)
	}
	fn remove_connections() -> Weight {
		Self::weight(2, 1, 1 + Self::CONNECTIONS)
	}
}
