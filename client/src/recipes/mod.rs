//! Recipes built only from the client's primitives (lease, key space, election calls, reads
//! and watches), as etcd's `clientv3/concurrency` is built on KV, Lease and Watch.

pub mod election;
pub mod lease_keeper;
pub mod watch;
