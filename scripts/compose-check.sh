#!/usr/bin/env bash
# Runs docker/compose.yml with its demo services under podman-compose and checks what a user
# would look for, then removes everything (scripts/test.sh runs it; needs root, as Podman here):
#   - the four validators finalize (scripts/containers.sh compose-up waits for it);
#   - a put through Alice's etcd API is read back through Dave's;
#   - the three replicas of `web` are registered and passing, one through each of Alice's, Bob's
#     and Charlie's validators;
#   - one controller leads `web-controller` and writes its fenced status record;
#   - the client, reading through Dave's validator, gets answers from the replicas;
#   - a replica whose main process is killed with SIGKILL is restarted by the container runtime
#     and registered again;
#   - with --patroni, the Patroni members (profile `patroni`) elect a primary through the etcd API, with the
#     other streaming as a replica; a row inserted on the primary survives a SIGKILL of the
#     primary's container (podman kill): the replica is promoted, takes writes, and the old
#     primary, started again, rejoins as a replica; `regchainctl history` shows the leader key's
#     changes.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

CONTAINERS="$REGCHAIN_ROOT/scripts/containers.sh"
CTL="$CARGO_TARGET_DIR/release/regchainctl"
export ETCDCTL_API=3
T0=$SECONDS

say() { echo "compose-check: $*"; }
fail() {
	say "FAILED: $*"
	for c in regchain-web-1 regchain-web-2 regchain-web-3 regchain-controller-1 regchain-controller-2 regchain-client regchain-pg-1 regchain-pg-2; do
		echo "----- podman logs $c (last lines)"
		podman logs --tail 15 "$c" 2>&1 | grep -v 'unable to get systemd' || true
	done
	watch_notes
	exit 1
}
# What the validators' etcd APIs logged about their watchers (a subscription taken up again, or
# given up), if anything.
watch_notes() {
	local c notes
	for c in regchain-alice regchain-bob regchain-charlie regchain-dave; do
		notes=$(podman logs "$c" 2>&1 | grep -E 'etcd-api.*watch [0-9]+:' | tail -5 || true)
		[ -z "$notes" ] || printf -- '----- %s, etcd API watchers:\n%s\n' "$c" "$notes"
	done
}
wait_until() { # wait_until SECONDS WHAT COMMAND...
	local limit=$((SECONDS + $1)) what=$2
	shift 2
	until "$@"; do
		[ "$SECONDS" -lt "$limit" ] || fail "$what: not within the time allowed"
		sleep 1
	done
}
trap 'bash "$CONTAINERS" compose-down >/dev/null 2>&1 || true' EXIT

# --patroni adds the Patroni members (scripts/test.sh passes it).
PATRONI=0
[ "${1:-}" = --patroni ] && PATRONI=1
if [ "$PATRONI" = 1 ]; then bash "$CONTAINERS" compose-up --demo --patroni; else bash "$CONTAINERS" compose-up --demo; fi

ETCDCTL_API=3 etcdctl --endpoints=127.0.0.1:12379 put /ci/compose "put through Alice" >/dev/null ||
	fail "a put through Alice's etcd API"
got=$(etcdctl --endpoints=127.0.0.1:12382 get --print-value-only /ci/compose) || fail "a get through Dave's etcd API"
[ "$got" = "put through Alice" ] || fail "Dave's etcd API returned '$got' for /ci/compose"
say "ok: a put through Alice's etcd API is read back through Dave's"

passing() { # the passing instances of web: "id address lease owner" per line
	"$CTL" --endpoint ws://127.0.0.1:19947 service list web --health passing |
		awk -F'\t' 'NF >= 6 { sub(/^lease /, "", $5); print $2, $3, $5, $6 }'
}
three_passing() { [ "$(passing | grep -c .)" = 3 ]; }
wait_until 90 "three replicas of web passing" three_passing
say "ok: three replicas registered and passing:"
passing | sed 's/^/    /'

leads() { "$CTL" --endpoint ws://127.0.0.1:19947 get /demo/web/controller 2>/dev/null | grep -q 'term [0-9]'; }
wait_until 60 "a controller's fenced status record" leads
say "ok: $("$CTL" --endpoint ws://127.0.0.1:19947 get /demo/web/controller | tail -1)"

answered() { podman logs regchain-client 2>/dev/null | grep -q 'answered by web-'; }
wait_until 30 "the client's answers" answered
say "ok: the client: $(podman logs regchain-client 2>/dev/null | grep 'answered by' | tail -1)"

# A crash, not a stop: `podman kill` counts as stopped by the user, and Podman then does not
# restart the container, whatever its policy.
say "kill -9 of regchain-web-2's main process from the host: the runtime restarts the container and its sidecar registers it again"
before=$(passing | awk '$1 == "web-2"')
kill -9 "$(podman inspect --format '{{.State.Pid}}' regchain-web-2)"
restarted() { [ "$(podman inspect --format '{{.RestartCount}}' regchain-web-2 2>/dev/null || echo 0)" -ge 1 ]; }
wait_until 60 "regchain-web-2 restarted" restarted
# Registered again means under a new lease: the old instance stays listed until its TTL ends.
back() { local now; now=$(passing | awk '$1 == "web-2"'); [ -n "$now" ] && [ "$now" != "$before" ] && three_passing; }
wait_until 90 "web-2 registered again" back
say "ok: web-2 restarted (restart count $(podman inspect --format '{{.RestartCount}}' regchain-web-2)) and passing again: $(passing | awk '$1 == "web-2"') (before: $before)"

if [ "$PATRONI" = 0 ]; then
	watch_notes
	say "passed in $((SECONDS - T0)) s (without the Patroni members: --patroni)"
	exit 0
fi
# Patroni: member i has PostgreSQL on 15431+i and its REST API on 18007+i.
rest() { curl -fs -m 2 -o /dev/null "http://127.0.0.1:$((18007 + $1))/$2"; }
primaries() { local m; for m in 1 2; do rest "$m" primary && echo "$m"; done; return 0; }
settled() { # one primary, the other a streaming replica
	local p
	p=$(primaries)
	[ "$(wc -w <<<"$p")" = 1 ] && rest $((3 - p)) replica
}
sql() { # sql MEMBER STATEMENT: psql inside that member's container, on its own port
	podman exec "regchain-pg-$1" psql -h 127.0.0.1 -p $((15431 + $1)) -U postgres -tAc "$2" 2>&1 |
		{ grep -v 'unable to get systemd' || true; }
}
wait_until 240 "a Patroni primary and a streaming replica" settled
P=$(primaries)
R=$((3 - P))
say "ok: Patroni: pg-$P is primary, pg-$R a streaming replica (REST GET /primary and /replica)"
out=$(sql "$P" "CREATE TABLE IF NOT EXISTS compose_check (n int); INSERT INTO compose_check VALUES (1)") ||
	fail "INSERT on the primary pg-$P: $out"
# podman kill: SIGKILL to Patroni and PostgreSQL, and, unlike a crash, no restart by the runtime
# (a member restarted within the ttl would simply keep its leader key).
say "podman kill of the primary pg-$P (SIGKILL to Patroni and PostgreSQL; it stays down)"
T_KILL=$SECONDS
podman kill "regchain-pg-$P" >/dev/null 2>&1 || fail "podman kill regchain-pg-$P"
promoted() { rest "$R" primary; }
wait_until 120 "pg-$R promoted" promoted
# Patroni reports the primary role as soon as PostgreSQL is promoted; the first write may still
# meet the promotion finishing, so it is tried for a few seconds. The statements are one
# transaction: a failed try inserts nothing.
out=""
written() {
	out=$(sql "$R" "INSERT INTO compose_check VALUES (2); SELECT count(*) FROM compose_check" || true)
	[ "$(tail -1 <<<"$out")" = 2 ]
}
for _ in $(seq 1 10); do written && break; sleep 1; done
[ "$(tail -1 <<<"$out")" = 2 ] || fail "after the failover, pg-$R did not take a write or lost the row written before: $out"
say "ok: pg-$R promoted $((SECONDS - T_KILL)) s after the kill (Patroni ttl 10 s); it has the row written before and takes writes"
podman start "regchain-pg-$P" >/dev/null 2>&1 || fail "podman start regchain-pg-$P"
rejoined() { rest "$P" replica; }
wait_until 180 "pg-$P back as a replica" rejoined
say "ok: pg-$P started again (podman start): it rejoined as a replica of pg-$R"
say "the leader key's history (regchainctl history key /service/regchain-compose/leader):"
"$CTL" --endpoint ws://127.0.0.1:19947 history key /service/regchain-compose/leader | tail -6 | cut -c1-160 | sed 's/^/    /'
watch_notes
say "passed in $((SECONDS - T0)) s"
