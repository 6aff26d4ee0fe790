//! Service instances: typed registrations attached to a lease, changed only by their owner.
//!
//! An instance is live while its lease is. One whose lease has expired but not yet been swept
//! is invisible to queries and may be registered over (the stale one is removed first, with
//! `InstanceRemoved`).

use crate::{pallet::*, quotas::Holding, types::*};
use alloc::vec::Vec;
use frame_support::{
	ensure,
	pallet_prelude::{BoundedVec, DispatchResult, Get},
	traits::Time,
};

impl<T: Config> Pallet<T> {
	/// Whether the instance's lease is live at `now`.
	pub(crate) fn instance_live(instance: &Instance<T>, now: u64) -> bool {
		Leases::<T>::get(instance.lease).is_some_and(|lease| lease.expires_at_ms > now)
	}

	/// Decrements a service's instance count, removing it at zero.
	pub(crate) fn service_count_dec(service: &Name<T>) {
		Services::<T>::mutate_exists(service, |count| {
			let left = count.unwrap_or(0).saturating_sub(1);
			*count = if left == 0 { None } else { Some(left) };
		});
	}

	fn check_endpoint(endpoint: Vec<u8>) -> Result<BoundedVec<u8, T::MaxEndpointLen>, Error<T>> {
		BoundedVec::try_from(endpoint).map_err(|_| Error::<T>::EndpointTooLong)
	}

	fn check_tags(tags: Vec<Vec<u8>>) -> Result<Tags<T>, Error<T>> {
		ensure!(tags.len() <= T::MaxTags::get() as usize, Error::<T>::TooManyTags);
		let tags = tags
			.into_iter()
			.map(|tag| BoundedVec::try_from(tag).map_err(|_| Error::<T>::TagTooLong))
			.collect::<Result<Vec<_>, _>>()?;
		BoundedVec::try_from(tags).map_err(|_| Error::<T>::TooManyTags)
	}

	fn check_metadata(metadata: Vec<(Vec<u8>, Vec<u8>)>) -> Result<Metadata<T>, Error<T>> {
		ensure!(
			metadata.len() <= T::MaxMetadataEntries::get() as usize,
			Error::<T>::TooManyMetadataEntries
		);
		let metadata = metadata
			.into_iter()
			.map(|(key, value)| {
				let key = BoundedVec::try_from(key).map_err(|_| Error::<T>::MetadataKeyTooLong)?;
				let value =
					BoundedVec::try_from(value).map_err(|_| Error::<T>::MetadataValueTooLong)?;
				Ok((key, value))
			})
			.collect::<Result<Vec<_>, Error<T>>>()?;
		BoundedVec::try_from(metadata).map_err(|_| Error::<T>::TooManyMetadataEntries)
	}

	/// The live instance and a check that `who` owns it.
	fn owned_instance(
		who: &T::AccountId,
		service: &Name<T>,
		instance_id: &Name<T>,
		now: u64,
	) -> Result<Instance<T>, Error<T>> {
		let instance = Instances::<T>::get(service, instance_id)
			.filter(|i| Self::instance_live(i, now))
			.ok_or(Error::<T>::InstanceNotFound)?;
		ensure!(&instance.owner == who, Error::<T>::NotOwner);
		Ok(instance)
	}

	/// `register_instance`.
	pub(crate) fn do_register_instance(
		who: T::AccountId,
		service: Vec<u8>,
		instance_id: Vec<u8>,
		endpoint: Vec<u8>,
		tags: Vec<Vec<u8>>,
		metadata: Vec<(Vec<u8>, Vec<u8>)>,
		lease: LeaseId,
	) -> DispatchResult {
		let service = Self::check_name(service)?;
		let instance_id = Self::check_name(instance_id)?;
		let endpoint = Self::check_endpoint(endpoint)?;
		let tags = Self::check_tags(tags)?;
		let metadata = Self::check_metadata(metadata)?;
		let now = T::Clock::now();
		let lease_record = Self::live_lease(lease, now)?;
		ensure!(
			lease_record.instances < T::MaxInstancesPerLease::get(),
			Error::<T>::TooManyLeaseInstances
		);
		let stale = Instances::<T>::get(&service, &instance_id);
		if let Some(existing) = &stale {
			ensure!(!Self::instance_live(existing, now), Error::<T>::InstanceAlreadyRegistered);
		}
		// A stale record of the same account is replaced: it frees the slot it takes.
		let replaces_own = stale.as_ref().is_some_and(|s| s.owner == who);
		Self::ensure_quota(&who, Holding::Instances, u32::from(!replaces_own))?;

		if let Some(stale) = stale {
			Self::detach_instance(stale.lease, &service, &instance_id);
			Self::release(&stale.owner, Holding::Instances);
			Self::deposit_event(Event::InstanceRemoved {
				service: service.clone(),
				instance_id: instance_id.clone(),
				lease: stale.lease,
			});
		} else {
			Services::<T>::mutate(&service, |count| *count = count.saturating_add(1));
		}
		Instances::<T>::insert(
			&service,
			&instance_id,
			Instance {
				owner: who.clone(),
				endpoint,
				tags,
				metadata,
				lease,
				health: Health::Unknown,
				registered_at_ms: now,
				updated_at_ms: now,
			},
		);
		LeaseInstances::<T>::insert(lease, (&service, &instance_id), ());
		Leases::<T>::mutate_extant(lease, |l| l.instances = l.instances.saturating_add(1));
		Self::charge(&who, Holding::Instances);
		Self::deposit_event(Event::InstanceRegistered { service, instance_id, owner: who, lease });
		Ok(())
	}

	/// Detaches an instance from its lease, if attached.
	fn detach_instance(lease: LeaseId, service: &Name<T>, instance_id: &Name<T>) {
		if LeaseInstances::<T>::take(lease, (service, instance_id)).is_some() {
			Leases::<T>::mutate_extant(lease, |l| l.instances = l.instances.saturating_sub(1));
		}
	}

	/// `update_instance`.
	pub(crate) fn do_update_instance(
		who: T::AccountId,
		service: Vec<u8>,
		instance_id: Vec<u8>,
		endpoint: Option<Vec<u8>>,
		tags: Option<Vec<Vec<u8>>>,
		metadata: Option<Vec<(Vec<u8>, Vec<u8>)>>,
	) -> DispatchResult {
		let service = Self::check_name(service)?;
		let instance_id = Self::check_name(instance_id)?;
		let endpoint = endpoint.map(Self::check_endpoint).transpose()?;
		let tags = tags.map(Self::check_tags).transpose()?;
		let metadata = metadata.map(Self::check_metadata).transpose()?;
		let now = T::Clock::now();
		let mut instance = Self::owned_instance(&who, &service, &instance_id, now)?;

		if let Some(endpoint) = endpoint {
			instance.endpoint = endpoint;
		}
		if let Some(tags) = tags {
			instance.tags = tags;
		}
		if let Some(metadata) = metadata {
			instance.metadata = metadata;
		}
		instance.updated_at_ms = now;
		Instances::<T>::insert(&service, &instance_id, instance);
		Self::deposit_event(Event::InstanceUpdated { service, instance_id, who });
		Ok(())
	}

	/// `deregister_instance`.
	pub(crate) fn do_deregister_instance(
		who: T::AccountId,
		service: Vec<u8>,
		instance_id: Vec<u8>,
	) -> DispatchResult {
		let service = Self::check_name(service)?;
		let instance_id = Self::check_name(instance_id)?;
		let instance = Self::owned_instance(&who, &service, &instance_id, T::Clock::now())?;

		Instances::<T>::remove(&service, &instance_id);
		Self::detach_instance(instance.lease, &service, &instance_id);
		Self::release(&who, Holding::Instances);
		Self::service_count_dec(&service);
		Self::deposit_event(Event::InstanceDeregistered { service, instance_id, who });
		Ok(())
	}

	/// `report_health`.
	pub(crate) fn do_report_health(
		who: T::AccountId,
		service: Vec<u8>,
		instance_id: Vec<u8>,
		health: Health,
	) -> DispatchResult {
		let service = Self::check_name(service)?;
		let instance_id = Self::check_name(instance_id)?;
		let now = T::Clock::now();
		let mut instance = Self::owned_instance(&who, &service, &instance_id, now)?;

		instance.health = health;
		instance.updated_at_ms = now;
		Instances::<T>::insert(&service, &instance_id, instance);
		Self::deposit_event(Event::HealthReported { service, instance_id, health, who });
		Ok(())
	}

	// ---- runtime API ----------------------------------------------------------------------

	/// The live instances of a service, optionally only those carrying `tag`, by instance id.
	pub fn instances(service: Vec<u8>, tag: Option<Vec<u8>>) -> Vec<InstanceInfo<T::AccountId>> {
		let Ok(name) = Name::<T>::try_from(service) else { return Vec::new() };
		let now = T::Clock::now();
		let mut found: Vec<InstanceInfo<T::AccountId>> = Instances::<T>::iter_prefix(&name)
			.filter(|(_, instance)| Self::instance_live(instance, now))
			.filter(|(_, instance)| {
				tag.as_ref().is_none_or(|tag| instance.tags.iter().any(|t| t[..] == tag[..]))
			})
			.map(|(instance_id, instance)| InstanceInfo {
				service: name.to_vec(),
				instance_id: instance_id.into_inner(),
				owner: instance.owner,
				endpoint: instance.endpoint.into_inner(),
				tags: instance.tags.into_iter().map(|t| t.into_inner()).collect(),
				metadata: instance
					.metadata
					.into_iter()
					.map(|(k, v)| (k.into_inner(), v.into_inner()))
					.collect(),
				lease: instance.lease,
				health: instance.health,
				registered_at_ms: instance.registered_at_ms,
				updated_at_ms: instance.updated_at_ms,
			})
			.collect();
		found.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
		found
	}

	/// The services that have live instances, by name, with their number of live instances.
	pub fn services() -> Vec<ServiceInfo> {
		let now = T::Clock::now();
		let mut services: Vec<ServiceInfo> = Services::<T>::iter_keys()
			.filter_map(|name| {
				let live = Instances::<T>::iter_prefix_values(&name)
					.filter(|instance| Self::instance_live(instance, now))
					.count() as u32;
				(live > 0).then(|| ServiceInfo { name: name.into_inner(), instances: live })
			})
			.collect();
		services.sort_by(|a, b| a.name.cmp(&b.name));
		services
	}
}
