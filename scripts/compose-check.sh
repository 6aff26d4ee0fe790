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
#     and registered again.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

CONTAINERS="$REGCHAIN_ROOT/scripts/containers.sh"
CTL="$CARGO_TARGET_DIR/release/regchainctl"
export ETCDCTL_API=3
T0=$SECONDS

say() { echo "compose-check: $*"; }
fail() {
	say "FAILED: $*"
	for c in regchain-web-1 regchain-web-2 regchain-web-3 regchain-controller-1 regchain-controller-2 regchain-client; do
		echo "----- podman logs $c (last lines)"
		podman logs --tail 15 "$c" 2>&1 | grep -v 'unable to get systemd' || true
	done
	exit 1
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

bash "$CONTAINERS" compose-up --demo

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
say "passed in $((SECONDS - T0)) s"
