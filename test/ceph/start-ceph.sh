#!/usr/bin/env bash
# Starts a throw-away single-node Ceph (one mon, one memstore OSD, radosgw) bound to
# 127.0.0.1, for tests that need a real S3 server. Needs root and the Debian packages
# ceph-mon, ceph-osd and radosgw (see .ci/packages.txt); installs nothing itself.
#
# Settings (environment):
#   CEPH_DIR        working directory            (default /tmp/cairn-ceph)
#   CEPH_RGW_PORT   S3 port of the gateway       (default 7480)
#   CEPH_MON_PORT   v2 port of the monitor       (default 3300; v1 uses it + 1)
#   CEPH_MEMSTORE_BYTES  RAM the OSD may fill     (default 2 GiB; benchmarks need more)
#
# On success it writes $CEPH_DIR/s3.env (CAIRN_TEST_S3_ENDPOINT, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_REGION) and prints it. If a gateway started from the same
# CEPH_DIR still answers, it is reused; otherwise any old instance there is stopped and
# a fresh one is made (memstore keeps nothing across restarts anyway).
set -euo pipefail

CEPH_DIR=${CEPH_DIR:-/tmp/cairn-ceph}
RGW_PORT=${CEPH_RGW_PORT:-7480}
MON_PORT=${CEPH_MON_PORT:-3300}
MEMSTORE_BYTES=${CEPH_MEMSTORE_BYTES:-2147483648}
ACCESS_KEY=cairntestaccesskey
SECRET_KEY=cairntestsecretkey0123456789
HERE=$(cd "$(dirname "$0")" && pwd)
CONF=$CEPH_DIR/ceph.conf
ENDPOINT=http://127.0.0.1:$RGW_PORT

die() { echo "start-ceph: $*" >&2; exit 1; }
log() { echo "start-ceph: [${SECONDS}s] $*" >&2; }

for tool in ceph ceph-mon ceph-osd radosgw radosgw-admin monmaptool; do
  command -v "$tool" >/dev/null || die "$tool is missing: install the Debian packages ceph-mon ceph-osd radosgw"
done
[[ $MEMSTORE_BYTES =~ ^[0-9]+$ ]] || die "CEPH_MEMSTORE_BYTES must be a number of bytes, not '$MEMSTORE_BYTES'"
[ "$(id -u)" = 0 ] || die "must run as root (ceph daemons need it here)"

# Answers any HTTP at all? Uses bash's /dev/tcp so curl is not needed.
gateway_answers() {
  timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$RGW_PORT && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && head -c 12 <&3" 2>/dev/null | grep -q '^HTTP/1'
}

if [ -f "$CEPH_DIR/s3.env" ] && gateway_answers; then
  log "reusing the running gateway at $ENDPOINT"
  cat "$CEPH_DIR/s3.env"
  exit 0
fi

# Test processes running side by side may call this at the same time: one starts, the
# others wait and then reuse it. The daemons get `9>&-` so they do not inherit the lock.
exec 9>"$CEPH_DIR.lock"
flock -w 120 9 || die "timed out waiting for another start-ceph.sh (lock $CEPH_DIR.lock)"
if [ -f "$CEPH_DIR/s3.env" ] && gateway_answers; then
  log "reusing the gateway that another caller just started at $ENDPOINT"
  cat "$CEPH_DIR/s3.env"
  exit 0
fi

"$HERE/stop-ceph.sh" >/dev/null 2>&1 || true
rm -rf "$CEPH_DIR"
mkdir -p "$CEPH_DIR"/{mon,osd0,rgw,run,log}

FSID=$(cat /proc/sys/kernel/random/uuid)
cat >"$CONF" <<EOF
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$((MON_PORT + 1))]
public addr = 127.0.0.1
public network = 127.0.0.0/8
cluster network = 127.0.0.0/8
ms bind ipv4 = true
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
# Daemons default to the "secure" mode towards the monitor, which needs cephx.
ms mon client mode = crc
run dir = $CEPH_DIR/run
admin socket = $CEPH_DIR/run/\$name.asok
pid file = $CEPH_DIR/run/\$name.pid
log file = $CEPH_DIR/log/\$name.log
keyring = $CEPH_DIR/keyring
# One OSD: no replication, no redundancy warnings, few placement groups.
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
osd crush chooseleaf type = 0
mon allow pool delete = true
# Test machines may have little free disk; the data lives in memory anyway.
mon data avail warn = 2
mon data avail crit = 1

[mon.a]
mon data = $CEPH_DIR/mon

[osd.0]
osd data = $CEPH_DIR/osd0
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES

[client.rgw.a]
# tcp_nodelay: without it the gateway's Nagle held back the end of each small response
# until the client's delayed ACK (40 ms), once a connection was past its first request.
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw data = $CEPH_DIR/rgw
rgw enable usage log = false
rgw thread pool size = 64
# Deleted objects are reclaimed by the gateway's garbage collector, by default two hours
# later; memstore would stay full of deleted test buckets until then.
rgw gc obj min wait = 5
rgw gc processor period = 10
EOF
: >"$CEPH_DIR/keyring"

log "monitor"
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$((MON_PORT + 1))]" "$CEPH_DIR/monmap" >/dev/null
ceph-mon -c "$CONF" -i a --mkfs --monmap "$CEPH_DIR/monmap" >/dev/null
ceph-mon -c "$CONF" -i a 9>&-
timeout 20 ceph -c "$CONF" mon stat >/dev/null || die "monitor did not come up; see $CEPH_DIR/log/mon.a.log"

log "osd"
OSD_ID=$(ceph -c "$CONF" osd create)
[ "$OSD_ID" = 0 ] || die "expected osd id 0, got $OSD_ID"
ceph-osd -c "$CONF" -i 0 --mkfs >/dev/null 2>&1 || die "ceph-osd --mkfs failed; see $CEPH_DIR/log/osd.0.log"
ceph-osd -c "$CONF" -i 0 2>/dev/null 9>&-
for _ in $(seq 1 60); do
  ceph -c "$CONF" osd stat 2>/dev/null | grep -q '1 up' && break
  sleep 0.5
done
ceph -c "$CONF" osd stat | grep -q '1 up' || die "osd.0 did not come up; see $CEPH_DIR/log/osd.0.log"

start_gateway() {
  # radosgw only daemonizes after it has reached the cluster; bound that wait.
  timeout 40 radosgw -c "$CONF" -n client.rgw.a 9>&- || die "radosgw failed to start; see $CEPH_DIR/log/client.rgw.a.log"
  for _ in $(seq 1 80); do
    gateway_answers && return 0
    sleep 0.25
  done
  die "radosgw does not answer on $ENDPOINT; see $CEPH_DIR/log/client.rgw.a.log"
}

log "gateway"
start_gateway
radosgw-admin -c "$CONF" user create --uid=cairn --display-name=cairn \
  --access-key="$ACCESS_KEY" --secret="$SECRET_KEY" >/dev/null \
  || die "radosgw-admin user create failed"

# A second storage class, so tests can check which objects get --s3-storage-class.
# The default zone exists only once the gateway has run, and the gateway reads the
# placement only at start, hence the restart.
log "storage class COLD"
radosgw-admin -c "$CONF" zonegroup placement add --rgw-zonegroup default \
  --placement-id default-placement --storage-class COLD >/dev/null \
  && radosgw-admin -c "$CONF" zone placement add --rgw-zone default \
  --placement-id default-placement --storage-class COLD --data-pool default.rgw.cold.data >/dev/null \
  || die "could not add the COLD storage class"
RGW_PID=$(cat "$CEPH_DIR/run/client.rgw.a.pid")
# A clean stop: a killed gateway leaves its watches behind, and every bucket creation
# then waits for them to time out (tens of seconds).
kill "$RGW_PID"
for _ in $(seq 1 120); do kill -0 "$RGW_PID" 2>/dev/null || break; sleep 0.25; done
if kill -0 "$RGW_PID" 2>/dev/null; then
  # Slow to stop on a loaded machine: a killed gateway still works, only bucket creation
  # may wait for its stale watches.
  log "radosgw (pid $RGW_PID) did not stop within 30 s; killing it"
  kill -9 "$RGW_PID" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$RGW_PID" 2>/dev/null || break; sleep 0.25; done
fi
start_gateway

cat >"$CEPH_DIR/s3.env" <<EOF
CAIRN_TEST_S3_ENDPOINT=$ENDPOINT
AWS_ACCESS_KEY_ID=$ACCESS_KEY
AWS_SECRET_ACCESS_KEY=$SECRET_KEY
AWS_REGION=us-east-1
EOF
log "ready at $ENDPOINT"
cat "$CEPH_DIR/s3.env"
