#!/usr/bin/env bash
# Entry point of the `patroni` image (docker/compose.yml, profile `patroni`): one PostgreSQL 15
# member under Patroni, whose DCS is regchain's etcd v3 API. It fills the template of
# scripts/demo-patroni.sh (/etc/patroni/patroni.yml.in) for this member, then runs Patroni.
#
# Environment: PATRONI_MEMBER (the member's name), PG_PORT, REST_PORT, ETCD_HOSTS (the
# validators' etcd endpoints, "127.0.0.1:12379, 127.0.0.1:12380, ..."), and optionally
# PATRONI_SCOPE (regchain-compose), DCS_TTL (20), DCS_LOOP_WAIT (2), DCS_RETRY_TIMEOUT (5),
# PATRONI_LOG_LEVEL (INFO). Data under /var/lib/postgresql/MEMBER (the volume).
set -euo pipefail
: "${PATRONI_MEMBER:?}" "${PG_PORT:?}" "${REST_PORT:?}" "${ETCD_HOSTS:?}"
dir="/var/lib/postgresql/$PATRONI_MEMBER"
mkdir -p "$dir"
chmod 700 "$dir"
sed -e "s|@SCOPE@|${PATRONI_SCOPE:-regchain-compose}|g; s|@NAME@|$PATRONI_MEMBER|g" \
	-e "s|@LOG_LEVEL@|${PATRONI_LOG_LEVEL:-INFO}|g; s|@REST_PORT@|$REST_PORT|g; s|@PG_PORT@|$PG_PORT|g" \
	-e "s|@ETCD_HOSTS@|[$ETCD_HOSTS]|g; s|@TTL@|${DCS_TTL:-20}|g; s|@LOOP_WAIT@|${DCS_LOOP_WAIT:-2}|g" \
	-e "s|@RETRY_TIMEOUT@|${DCS_RETRY_TIMEOUT:-5}|g; s|@DATA_DIR@|$dir/data|g" \
	-e "s|@BIN_DIR@|/usr/lib/postgresql/15/bin|g; s|@MEMBER_DIR@|$dir|g" \
	/etc/patroni/patroni.yml.in >"$dir/patroni.yml"
if grep -q '@[A-Z_]*@' "$dir/patroni.yml"; then
	echo "patroni-member: unfilled placeholder in $dir/patroni.yml" >&2
	exit 1
fi
# Start Patroni once every validator's etcd API reports healthy, as scripts/demo-patroni.sh does:
# compose starts everything at once, and a Patroni started against a chain still coming up was
# once seen (2026-11-28) keeping a stale view of the leader key for minutes (not understood yet).
IFS=',' read -r -a hosts <<<"$ETCD_HOSTS"
said=""
for host in "${hosts[@]}"; do
	host=${host// /}
	until [ "$(curl -s -m 2 "http://$host/health" 2>/dev/null)" = '{"health":"true"}' ]; do
		[ -n "$said" ] || { echo "patroni-member: waiting until the etcd API at $ETCD_HOSTS is healthy"; said=1; }
		sleep 1
	done
done
exec patroni "$dir/patroni.yml"
