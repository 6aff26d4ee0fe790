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
	Encode, Decode, DecodeWithMemTracking, DefaultNoBound, CloneNoBound, EqNoBound, PartialEqNoBound, TypeInfo,
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
