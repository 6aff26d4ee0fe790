// Reads regchain's registry as any polkadot.js user would: types come from the chain's
// metadata only (no hand-written definitions), and a `registry_*` method is called through the
// same connection.
//
//   node registry-check.mjs <ws-url> <block-hash>
//
// Prints one JSON object: the registry's storage at the best block, the registry events of
// <block-hash>, the answer of `registry_revision`, and the statuses of two of Alice's remarks:
// one watched through `author_submitAndWatchExtrinsic` itself, one through `signAndSend`.
// Exits non-zero, with one line on stderr, on any failure.
import { ApiPromise, Keyring, WsProvider } from '@polkadot/api';

// The status types of `signed`, watched through the RPC subscription, until a final one.
function watchStatuses(api, signed) {
  return new Promise((resolve, reject) => {
    const seen = [];
    api.rpc.author
      .submitAndWatchExtrinsic(signed, (status) => {
        seen.push(status.type);
        if (status.isFinalized || status.isInvalid || status.isDropped || status.isUsurped) resolve(seen);
      })
      .catch(reject);
  });
}

// The status types `signAndSend` reports for `tx`, until a final one.
function sendStatuses(tx, pair) {
  return new Promise((resolve, reject) => {
    const seen = [];
    tx.signAndSend(pair, (result) => {
      seen.push(result.status.type);
      if (result.status.isFinalized || result.isError) resolve(seen);
    }).catch(reject);
  });
}

const [url, blockHash] = process.argv.slice(2);
if (!url || !blockHash) {
  console.error('usage: node registry-check.mjs <ws-url> <block-hash>');
  process.exit(2);
}

async function main() {
  const provider = new WsProvider(url, false);
  await provider.connect();
  const api = await ApiPromise.create({ provider, throwOnConnect: true, noInitWarn: true });
  try {
    const revision = (await api.query.serviceRegistry.currentRevision()).toNumber();
    const instances = (await api.query.serviceRegistry.instances.entries()).map(([key, value]) => {
      const [service, instanceId] = key.args.map((arg) => arg.toUtf8());
      const instance = value.unwrap();
      return {
        service,
        instanceId,
        owner: instance.owner.toString(),
        endpoint: instance.endpoint.toUtf8(),
        health: instance.health.toString(),
        lease: instance.lease.toNumber(),
      };
    });
    const leases = (await api.query.serviceRegistry.leases.entries()).map(([key, value]) => ({
      id: key.args[0].toNumber(),
      grantedBy: value.unwrap().grantedBy.toString(),
      ttlSecs: value.unwrap().ttlSecs.toNumber(),
    }));

    const events = (await (await api.at(blockHash)).query.system.events())
      .filter(({ event }) => event.section === 'serviceRegistry')
      .map(({ event }) => ({ method: event.method, data: event.data.toHuman() }));

    const metadataCalls = Object.keys(api.tx.serviceRegistry);
    const rpcRevision = await provider.send('registry_revision', ['best']);

    const alice = new Keyring({ type: 'sr25519' }).addFromUri('//Alice');
    const watched = await watchStatuses(api, await api.tx.system.remark('0x01').signAsync(alice));
    const sent = await sendStatuses(api.tx.system.remark('0x02'), alice);

    console.log(JSON.stringify({ revision, instances, leases, events, metadataCalls, rpcRevision, watched, sent }));
  } finally {
    await api.disconnect();
  }
}

main().catch((error) => {
  console.error(`registry-check: ${error.message ?? error}`);
  process.exit(1);
});
